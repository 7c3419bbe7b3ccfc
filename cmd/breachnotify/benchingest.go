package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/migrations"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/evidence"
	"github.com/breachnotify/breachnotify/notifier/ingest"
	"github.com/breachnotify/breachnotify/notifier/secrets"
	"github.com/breachnotify/breachnotify/notifier/store"
	"github.com/breachnotify/breachnotify/notifier/vault"
	"github.com/breachnotify/breachnotify/queue"
)

// ingestBenchResult is what `bench ingest --json` prints.
type ingestBenchResult struct {
	Messages          int64   `json:"messages"`
	Organizations     int     `json:"organizations"`
	Bytes             int64   `json:"bytes"`
	Seconds           float64 `json:"seconds"`
	MessagesPerSecond float64 `json:"messages_per_second"`
	MBPerSecond       float64 `json:"mb_per_second"`
	Stored            int64   `json:"stored"`
	Unattributed      int64   `json:"unattributed"`
	ItemsNew          int     `json:"items_new"`
	PeakRSSBytes      int64   `json:"peak_rss_bytes"`
	// The unattributed report's first page, and a re-attribution of every
	// stored message (nothing changed since the import: it reads and
	// attributes them all, and adds nothing).
	UnattributedReportSeconds    float64 `json:"unattributed_report_seconds"`
	UnattributedDomains          int     `json:"unattributed_domains_first_page"`
	ReattributeSeconds           float64 `json:"reattribute_seconds"`
	ReattributeMessagesPerSecond float64 `json:"reattribute_messages_per_second"`
}

// cmdBenchIngest measures importing stolen mail end to end (read, parse,
// attribute, encrypt, store, commit, itemize) on a generated mbox
// streamed through a pipe: nothing of it is ever on disk or whole in
// memory, so the peak RSS is the importer's own.
func cmdBenchIngest(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("bench ingest", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	messages := fs.Int("messages", 20000, "messages in the generated mbox")
	orgs := fs.Int("orgs", 200, "organizations the participants belong to")
	asJSON := fs.Bool("json", false, "print the figures as one JSON object")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the import to this file")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *messages < 1 || *orgs < 1 {
		return usageError{"--messages and --orgs must be positive"}
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	if err := migrate(ctx, &env{stdout: e.stderr, stderr: e.stderr}, cfg); err != nil {
		return err
	}
	pc, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("BREACHNOTIFY_DATABASE_URL: %w", err)
	}
	pc.AfterConnect = migrations.AssumeServiceRole
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return err
	}
	defer pool.Close()
	res, err := runIngestBench(ctx, cfg, pool, *messages, *orgs, *cpuProfile)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(e.stdout).Encode(res)
	}
	fmt.Fprintf(e.stdout, "bench ingest: %d messages (%.1f MB) over %d organizations\n", res.Messages, float64(res.Bytes)/1e6, res.Organizations)
	fmt.Fprintf(e.stdout, "  imported in %.2f s = %.0f messages/s, %.1f MB/s\n", res.Seconds, res.MessagesPerSecond, res.MBPerSecond)
	fmt.Fprintf(e.stdout, "  stored %d, unattributed %d, exposure items %d\n", res.Stored, res.Unattributed, res.ItemsNew)
	fmt.Fprintf(e.stdout, "  unattributed report (first page, %d domains) in %.3f s\n", res.UnattributedDomains, res.UnattributedReportSeconds)
	fmt.Fprintf(e.stdout, "  re-attributed every message in %.2f s = %.0f messages/s\n", res.ReattributeSeconds, res.ReattributeMessagesPerSecond)
	fmt.Fprintf(e.stdout, "  peak RSS: %.1f MiB\n", float64(res.PeakRSSBytes)/(1<<20))
	return nil
}

func runIngestBench(ctx context.Context, cfg *config.Config, pool *pgxpool.Pool, messages, orgs int, cpuProfile string) (ingestBenchResult, error) {
	res := ingestBenchResult{Organizations: orgs}
	jobs, err := queue.NewInserter(pool, slog.New(slog.DiscardHandler))
	if err != nil {
		return res, err
	}
	auditKey := make([]byte, 32)
	rand.Read(auditKey)
	keys, err := notifier.NewAuditKeys(notifier.AuditKey{Secret: auditKey})
	if err != nil {
		return res, err
	}
	st := store.New(pool, store.Config{Jobs: jobs, MessageIDDomain: "bench.example", AuditKeys: keys})
	svc := notifier.NewService(st, notifier.ServiceConfig{AuditKeys: keys})
	by := notifier.LocalActor(osUser())
	stamp := time.Now().UTC().Format("20060102-150405")
	var csv bytes.Buffer
	csv.WriteString("org_ref,org_name,domain,contact_email\n")
	for i := range orgs {
		fmt.Fprintf(&csv, "ingest-%s-%d,Ingest Org %d,o%d-%s.ingest.example,soc@o%d-%s.ingest.example\n", stamp, i, i, i, stamp, i, stamp)
	}
	if _, err := svc.ImportOrganizations(ctx, by, &csv, notifier.FormatCSV); err != nil {
		return res, err
	}
	inc, err := svc.CreateIncident(ctx, by, notifier.NewIncident{Slug: "ingest-" + stamp, Title: "Ingest benchmark " + stamp})
	if err != nil {
		return res, err
	}
	master := make([]byte, vault.KeySize)
	rand.Read(master)
	ring, err := vault.NewKeyring(master)
	if err != nil {
		return res, err
	}
	free, err := evidence.NewFreeMail(evidence.DefaultFreeMailDomains())
	if err != nil {
		return res, err
	}
	fpKey := make([]byte, secrets.MinKeyLen)
	rand.Read(fpKey)
	scanner, err := secrets.NewScanner(fpKey)
	if err != nil {
		return res, err
	}
	im, err := ingest.New(ingest.Config{Store: st, Keyring: ring, FreeMail: free, Secrets: scanner})
	if err != nil {
		return res, err
	}
	reader, err := evidence.NewReader(evidence.Config{})
	if err != nil {
		return res, err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeBenchMbox(pw, messages, orgs, stamp)) }()
	stopProfile, err := startCPUProfile(cpuProfile)
	if err != nil {
		return res, err
	}
	defer stopProfile()
	t0 := time.Now()
	imp, err := im.Import(ctx, by, inc.ID, "bench.mbox", reader.ReadStream(ctx, "bench.mbox", pr, -1))
	if err != nil {
		return res, err
	}
	res.Seconds = time.Since(t0).Seconds()
	res.Messages, res.Bytes, res.Stored, res.Unattributed = imp.Messages, imp.Bytes, imp.Stored, imp.Unattributed
	if imp.Batch != nil {
		res.ItemsNew = imp.Batch.ItemsNew
	}
	res.MessagesPerSecond = float64(res.Messages) / res.Seconds
	res.MBPerSecond = float64(res.Bytes) / 1e6 / res.Seconds
	t0 = time.Now()
	rep, err := im.Unattributed(ctx, by, inc.ID, notifier.Page{}, "")
	if err != nil {
		return res, err
	}
	res.UnattributedReportSeconds, res.UnattributedDomains = time.Since(t0).Seconds(), len(rep.Domains)
	t0 = time.Now()
	run, err := im.Reattribute(ctx, by, inc.ID)
	if err != nil {
		return res, err
	}
	res.ReattributeSeconds = time.Since(t0).Seconds()
	res.ReattributeMessagesPerSecond = float64(run.Messages) / res.ReattributeSeconds
	res.PeakRSSBytes = peakRSS()
	return res, nil
}

// benchWords fill the generated bodies.
var benchWords = strings.Fields(`the quarterly report attached please review before the board meeting
on thursday we need sign off from legal and finance regarding the vendor contract renewal and the
migration plan for the tenant includes new conditional access policies service principals and
rotation of certificates let me know if you have questions thanks regards`)

// writeBenchMbox writes an mboxrd of n messages shaped like a corporate
// mailbox: 2–50 KB, multipart with a text and an HTML part, a third with
// a base64 attachment, participants over orgs organizations (and some
// outside any), 2 % carrying a secret. It is deterministic.
func writeBenchMbox(w io.Writer, n, orgs int, stamp string) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	rng := mrand.New(mrand.NewPCG(1, 2))
	// The same n, orgs and stamp give the same bytes (the attachment
	// too): a corpus written twice is the same messages, as an import
	// resumed after a kill must see them.
	attachment := make([]byte, 8<<10)
	for i := range attachment {
		attachment[i] = byte(rng.Uint32())
	}
	b64 := base64.StdEncoding.EncodeToString(attachment)
	addr := func() string {
		if rng.IntN(10) == 0 {
			return fmt.Sprintf("someone%d@outside%d.example", rng.IntN(1000), rng.IntN(50))
		}
		return fmt.Sprintf("user%d@o%d-%s.ingest.example", rng.IntN(500), rng.IntN(orgs), stamp)
	}
	for i := range n {
		fmt.Fprintf(bw, "From MAILER-DAEMON Mon Nov  2 09:00:00 2026\n")
		fmt.Fprintf(bw, "From: %s\nTo: %s, %s\nCc: %s\nSubject: Re: vendor contract %d\nDate: Mon, 2 Nov 2026 09:%02d:00 +0000\n", addr(), addr(), addr(), addr(), i, i%60)
		fmt.Fprintf(bw, "Message-ID: <bench-%d-%s@mail.example>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b1\"\n\n", i, stamp)
		// 2–50 KB in all: the text, the same as HTML, and a third of the
		// time an attachment of up to 8 KB (11 KB in base64).
		size := 2<<10 + rng.IntN(48<<10)
		var text strings.Builder
		for text.Len() < size*2/5 {
			text.WriteString(benchWords[rng.IntN(len(benchWords))])
			if rng.IntN(12) == 0 {
				text.WriteString(".\n")
			} else {
				text.WriteByte(' ')
			}
		}
		if rng.IntN(50) == 0 {
			text.WriteString("\nthe new password: Winter2026!Vendor and the key AKIAZ3MPLE4BENCH7Q2X\n")
		}
		fmt.Fprintf(bw, "--b1\nContent-Type: multipart/alternative; boundary=\"b2\"\n\n--b2\nContent-Type: text/plain; charset=utf-8\n\n%s\n", text.String())
		fmt.Fprintf(bw, "--b2\nContent-Type: text/html; charset=utf-8\n\n<html><body><p>%s</p></body></html>\n--b2--\n", text.String())
		if rng.IntN(3) == 0 {
			fmt.Fprintf(bw, "--b1\nContent-Type: application/pdf; name=\"report-%d.pdf\"\nContent-Disposition: attachment; filename=\"report-%d.pdf\"\nContent-Transfer-Encoding: base64\n\n", i, i)
			for line := b64[:rng.IntN(len(b64)-76)+76]; len(line) > 0; {
				k := min(76, len(line))
				bw.WriteString(line[:k])
				bw.WriteByte('\n')
				line = line[k:]
			}
		}
		bw.WriteString("--b1--\n\n")
	}
	return bw.Flush()
}
