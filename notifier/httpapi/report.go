package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
)

// reportColumns are the CSV report's columns, one row per delivery.
var reportColumns = []string{"org_ref", "org_name", "contact_email", "contact_name", "contact_role", "wave_id", "notice_id",
	"notice_kind", "disclosure", "delivery_id", "template_version", "message_sha256", "message_id", "reference", "status", "final_reply",
	"queued_at", "sent_at", "attempts", "acknowledged_at", "acknowledged_by", "notify_by", "deadline_obligation", "deadline_met"}

// report streams the proof of notification as CSV or JSON. Rows go out a
// page at a time as the store reads them, so a report of any size needs
// little memory, and a client that reads slowly holds no database
// connection.
func (s *Server) report(w http.ResponseWriter, r *http.Request) {
	ref, err := incidentRef(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q, err := query(r, "format")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	format, err := enumParam(q, "format", []string{"csv", "json"})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if format == "" {
		format = "json"
	}
	inc, err := s.svc.Incident(r.Context(), actor(r), ref)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	name := "breachnotify-report-" + inc.Slug + "-" + time.Now().UTC().Format("20060102T150405Z") + "." + format
	var write func(notifier.ReportRow) error
	var begin, end func() error
	switch format {
	case "csv":
		cw := notifier.NewCSVWriter(w)
		begin = func() error {
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			return cw.Write(reportColumns)
		}
		write = func(row notifier.ReportRow) error { return cw.Write(csvRecord(row)) }
		end = cw.Flush
	default:
		enc := json.NewEncoder(w)
		n := 0
		begin = func() error {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_, err := fmt.Fprintf(w, `{"incident":%q,"generated_at":%q,"rows":[`, inc.Slug, time.Now().UTC().Format(time.RFC3339))
			return err
		}
		write = func(row notifier.ReportRow) error {
			if n++; n > 1 {
				if _, err := w.Write([]byte(",")); err != nil {
					return err
				}
			}
			return enc.Encode(row)
		}
		end = func() error {
			_, err := w.Write([]byte("]}\n"))
			return err
		}
	}
	started := false
	_, err = s.svc.Report(r.Context(), actor(r), inc.Slug, format, func(row notifier.ReportRow) error {
		if !started {
			started = true
			w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
			w.Header().Set("Cache-Control", "no-store")
			if err := begin(); err != nil {
				return err
			}
		}
		return write(row)
	})
	if err != nil {
		if !started {
			s.fail(w, r, err)
			return
		}
		// The status line is gone: abort the response so the client sees a
		// truncated body, never a report that merely looks complete.
		s.logger.ErrorContext(r.Context(), "report interrupted", "request_id", RequestID(r.Context()), "error", err)
		panic(http.ErrAbortHandler)
	}
	if !started {
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
		if err := begin(); err != nil {
			return
		}
	}
	if err := end(); err != nil {
		s.logger.WarnContext(r.Context(), "report write failed", "request_id", RequestID(r.Context()), "error", err)
	}
}

// csvRecord flattens a report row; CSVWriter neutralises its cells
// against spreadsheet formulas.
func csvRecord(row notifier.ReportRow) []string {
	ts := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	var attempts []string
	for _, a := range row.Attempts {
		code := ""
		if a.SMTPCode != nil {
			code = strconv.Itoa(*a.SMTPCode)
		}
		attempts = append(attempts, strings.Join([]string{a.At.UTC().Format(time.RFC3339Nano), a.Type, code, a.Reply}, " "))
	}
	met := "" // no deadline, or not passed yet
	if row.DeadlineMet != nil {
		met = strconv.FormatBool(*row.DeadlineMet)
	}
	return []string{row.OrgRef, row.OrgName, row.ContactEmail, row.ContactName, row.ContactRole,
		strconv.FormatInt(row.WaveID, 10), strconv.FormatInt(row.NoticeID, 10), row.NoticeKind, string(row.Disclosure), strconv.FormatInt(row.DeliveryID, 10),
		row.TemplateVersion, row.MessageSHA256, row.MessageID, row.Reference, string(row.Status), row.FinalReply,
		row.QueuedAt.UTC().Format(time.RFC3339Nano), ts(row.SentAt), strings.Join(attempts, " | "), ts(row.AcknowledgedAt), row.AcknowledgedBy,
		ts(row.NotifyBy), row.DeadlineObligation, met}
}
