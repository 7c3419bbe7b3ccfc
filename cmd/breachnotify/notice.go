package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/apiclient"
)

const noticeUse = `usage:
  breachnotify notice list INCIDENT [--acknowledged=true|false] [--kind KIND]
  breachnotify notice show ID
  breachnotify notice resend ID
  breachnotify notice unreachable INCIDENT`

func cmdNotice(ctx context.Context, e *env, args []string) error {
	return subcommands(ctx, e, args, noticeUse, map[string]command{
		"list": noticeList, "show": noticeShow, "resend": noticeResend, "unreachable": noticeUnreachable,
	})
}

func noticeList(ctx context.Context, e *env, args []string) error {
	fs, asJSON := newFlags(e, "notice list")
	acked := fs.String("acknowledged", "", "true or false: only notices in that state (initial and follow-up)")
	kind := fs.String("kind", "", "initial, follow_up, reminder or escalation")
	pos, err := parseArgs(fs, args, 1, noticeUse)
	if err != nil {
		return err
	}
	c, err := apiClient(e)
	if err != nil {
		return err
	}
	list, err := apiclient.All(ctx, 0, func(ctx context.Context, p apiclient.Page) (notifier.ListResult[notifier.Notice], error) {
		return c.ListNotices(ctx, pos[0], apiclient.NoticeQuery{Page: p, Acknowledged: *acked, Kind: *kind})
	})
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, notifier.ListResult[notifier.Notice]{Items: nonNil(list)})
	}
	t := newTable(e.stdout, "ID", "WAVE", "KIND", "ORGANIZATION", "ITEMS", "SENT", "ACKNOWLEDGED", "BY", "REMINDERS", "ESCALATED")
	for _, n := range list {
		t.row(n.ID, n.WaveID, n.Kind, n.OrgRef, n.Items, n.CreatedAt, n.AcknowledgedAt, n.AcknowledgedBy, n.RemindersSent, n.EscalatedAt)
	}
	return t.flush()
}

func noticeShow(ctx context.Context, e *env, args []string) error {
	fs, asJSON := newFlags(e, "notice show")
	pos, err := parseArgs(fs, args, 1, noticeUse)
	if err != nil {
		return err
	}
	id, ok := notifier.ParseInt(pos[0])
	if !ok {
		return usageError{"ID must be a notice id"}
	}
	c, err := apiClient(e)
	if err != nil {
		return err
	}
	n, err := c.Notice(ctx, id)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, n)
	}
	out := e.stdout
	fmt.Fprintf(out, "Notice %d (%s) to %s (%s), wave %d\n", n.ID, n.Kind, n.OrgName, n.OrgRef, n.WaveID)
	if n.Disclosure.Minimal() {
		fmt.Fprintln(out, "Sent with minimal disclosure: the mail gave only the reference, the verify address and the portal link")
	}
	if n.AcknowledgedAt != nil {
		fmt.Fprintf(out, "Acknowledged %s by %s\n", cell(n.AcknowledgedAt), n.AcknowledgedBy)
	} else {
		fmt.Fprintf(out, "Not acknowledged; %d reminder(s) sent, escalated: %s\n", n.RemindersSent, cell(n.EscalatedAt))
	}
	fmt.Fprintf(out, "\nItems (%d):\n", len(n.ItemList))
	t := newTable(out, "REF", "KIND", "OCCURRED", "SUBJECT", "SECRETS")
	for _, it := range n.ItemList {
		t.row(it.ItemRef, it.Kind, it.OccurredAt, it.Subject, strings.Join(it.SecretTypes, ";"))
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nDeliveries (%d):\n", len(n.Deliveries))
	t = newTable(out, "ID", "RECIPIENT", "STATUS", "ATTEMPTS", "SENT", "REPLY")
	for _, d := range n.Deliveries {
		t.row(d.ID, d.Recipient, d.Status, d.Attempts, d.SentAt, d.SMTPReply)
	}
	if err := t.flush(); err != nil {
		return err
	}
	if len(n.Chases) > 0 {
		fmt.Fprintf(out, "\nReminders and escalation:\n")
		t = newTable(out, "ID", "KIND", "WAVE", "CREATED")
		for _, ch := range n.Chases {
			t.row(ch.ID, ch.Kind, ch.WaveID, ch.CreatedAt)
		}
		return t.flush()
	}
	return nil
}

func noticeResend(ctx context.Context, e *env, args []string) error {
	fs, asJSON := newFlags(e, "notice resend")
	pos, err := parseArgs(fs, args, 1, noticeUse)
	if err != nil {
		return err
	}
	id, ok := notifier.ParseInt(pos[0])
	if !ok {
		return usageError{"ID must be a notice id"}
	}
	c, err := apiClient(e)
	if err != nil {
		return err
	}
	r, err := c.ResendNotice(ctx, id)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, r)
	}
	fmt.Fprintf(e.stdout, "notice %d: %d deliveries queued; wave %d is %s\n", r.NoticeID, r.Queued, r.Wave.ID, r.Wave.Status)
	return nil
}

func noticeUnreachable(ctx context.Context, e *env, args []string) error {
	fs, asJSON := newFlags(e, "notice unreachable")
	pos, err := parseArgs(fs, args, 1, noticeUse)
	if err != nil {
		return err
	}
	c, err := apiClient(e)
	if err != nil {
		return err
	}
	list, err := apiclient.All(ctx, 0, func(ctx context.Context, p apiclient.Page) (notifier.ListResult[notifier.UnreachableNotice], error) {
		return c.Unreachable(ctx, pos[0], p)
	})
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, notifier.ListResult[notifier.UnreachableNotice]{Items: nonNil(list)})
	}
	t := newTable(e.stdout, "NOTICE", "WAVE", "ORGANIZATION", "CONTACT", "STATUS", "LAST REPLY")
	for _, u := range list {
		for _, ct := range u.Contacts {
			t.row(u.NoticeID, u.WaveID, u.OrgRef, ct.Recipient, ct.Status, ct.Reason)
		}
	}
	return t.flush()
}

const bounceUse = `usage: breachnotify bounce FILE   (an RFC 3464 report as received, .eml; - reads stdin)`

// cmdBounce uploads a bounce report, for relays that deliver DSNs to a
// mailbox rather than to the API.
func cmdBounce(ctx context.Context, e *env, args []string) error {
	fs, asJSON := newFlags(e, "bounce")
	pos, err := parseArgs(fs, args, 1, bounceUse)
	if err != nil {
		return err
	}
	var raw []byte
	if pos[0] == "-" {
		raw, err = readAllLimited(os.Stdin)
	} else {
		raw, err = os.ReadFile(pos[0])
	}
	if err != nil {
		return err
	}
	c, err := apiClient(e)
	if err != nil {
		return err
	}
	res, err := c.RecordBounce(ctx, raw, "message/rfc822")
	if err != nil {
		return explain(ctx, err)
	}
	if *asJSON {
		return printJSON(e.stdout, res)
	}
	t := newTable(e.stdout, "BOUNCE", "KIND", "RECIPIENT", "STATUS", "DELIVERY", "APPLIED")
	for _, b := range res.Items {
		t.row(b.ID, b.Kind, b.Recipient, b.Status, b.DeliveryID, b.Applied)
	}
	return t.flush()
}

// readAllLimited reads at most 10 MB, the largest report the API takes.
func readAllLimited(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, 10<<20+1))
	if err == nil && len(b) > 10<<20 {
		return nil, errors.New("the report is larger than 10 MB")
	}
	return b, err
}
