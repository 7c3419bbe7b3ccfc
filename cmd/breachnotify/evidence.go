package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/breachnotify/breachnotify/notifier/evidence"
)

const evidenceUse = `usage:
  breachnotify evidence import INCIDENT PATH... [--json] [--name NAME]
  breachnotify evidence findings INCIDENT [--type T] [--dismissed=true|false] [--live=true|false] [--json]
  breachnotify evidence dismiss INCIDENT FINDING --reason TEXT [--json]     a false positive no longer counts
  breachnotify evidence undismiss INCIDENT FINDING --reason TEXT [--json]
  breachnotify evidence unattributed INCIDENT [--limit N] [--json]   (the domains of messages no organization was found for)
  breachnotify evidence reattribute INCIDENT [--json]   (attribute the stored messages again, after adding organizations or contacts)
  breachnotify evidence rewrap-keys     (on the server: after a new key is put first in BREACHNOTIFY_EVIDENCE_KEY_FILE)
  breachnotify evidence scan PATH... [--json] [--top N] [--list N] [--max-message-mb MB] [--mboxo]
    PATH: .eml files, mbox files, Maildir folders, directories of those, .zip/.tar.gz/.tgz archives`

// cmdEvidence groups the verbs on stolen mail.
func cmdEvidence(ctx context.Context, e *env, args []string) error {
	return subcommands(ctx, e, args, evidenceUse, map[string]command{
		"import":       cmdEvidenceImport,
		"findings":     evidenceFindings,
		"dismiss":      evidenceDismiss,
		"undismiss":    evidenceUndismiss,
		"rewrap-keys":  cmdEvidenceRewrapKeys,
		"scan":         cmdEvidenceScan,
		"unattributed": cmdEvidenceUnattributed,
		"reattribute":  cmdEvidenceReattribute,
	})
}

// scanItem is one message or input the summary names.
type scanItem struct {
	Source string `json:"source"`
	Reason string `json:"reason"`
	seq    int64
}

// domainCount is how many messages involve a domain.
type domainCount struct {
	Domain   string `json:"domain"`
	Messages int64  `json:"messages"`
}

// scanSummary is what evidence scan reports; it is also its --json output.
type scanSummary struct {
	Inputs             []string         `json:"inputs"`
	Messages           int64            `json:"messages"`
	Bytes              int64            `json:"bytes"`
	Seconds            float64          `json:"seconds"`
	Duplicates         int64            `json:"duplicates"`
	Unparseable        int64            `json:"unparseable"`
	UnparseableReasons map[string]int64 `json:"unparseable_reasons"`
	UnparseableFirst   []scanItem       `json:"unparseable_first"`
	Skipped            int64            `json:"skipped_inputs"`
	SkippedFirst       []scanItem       `json:"skipped_first"`
	WithProblems       int64            `json:"with_problems"`
	NoParticipant      int64            `json:"without_participant_domain"`
	InvalidDomains     int64            `json:"invalid_domains"`
	Domains            int              `json:"distinct_domains"`
	TopDomains         []domainCount    `json:"top_domains"`
}

// cmdEvidenceScan reads stolen mail and reports what it holds, without a
// database: the first step of evidence import (issue 13).
func cmdEvidenceScan(ctx context.Context, e *env, args []string) error {
	fs, asJSON := newFlags(e, "evidence scan")
	fs.Lookup("json").Usage = "print the summary as JSON, for scripts"
	top := fs.Int("top", 20, "how many participant domains to list")
	list := fs.Int("list", 10, "how many unparseable messages and skipped inputs to name")
	maxMB := fs.Int64("max-message-mb", evidence.MaxMessageSizeDefault>>20, "messages larger than this (MiB) are hashed and reported, not parsed")
	mboxo := fs.Bool("mboxo", false, "read mbox files as mboxo: keep \">From \" lines as they are (default mboxrd: remove one \">\")")
	paths, err := parseArgs(fs, args, -1, evidenceUse)
	if err != nil {
		return err
	}
	if len(paths) == 0 || *top < 0 || *list < 0 || *maxMB <= 0 {
		return usageError{evidenceUse}
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return err
		}
	}
	reader, err := evidence.NewReader(evidence.Config{MaxMessageSize: *maxMB << 20, MboxO: *mboxo})
	if err != nil {
		return err
	}
	parser, err := evidence.NewParser(evidence.ParserConfig{})
	if err != nil {
		return err
	}
	start := time.Now()
	stopProgress := func() {}
	if isTerminal(e.stderr) {
		stopProgress = showLine(e.stderr, func() string { return progressText(reader.Progress(), time.Since(start)) })
	}
	s := newScan(paths, *list)
	err = s.run(ctx, reader, parser)
	stopProgress()
	if err != nil {
		return fmt.Errorf("interrupted after %d messages: %w", s.sum.Messages, err)
	}
	s.sum.Seconds = time.Since(start).Seconds()
	s.finish(*top)
	if *asJSON {
		return printJSON(e.stdout, s.sum)
	}
	printScan(e.stdout, s.sum)
	return nil
}

// scan accumulates the summary; its memory is one 32-byte hash per
// message and one counter per domain.
type scan struct {
	sum     scanSummary
	list    int
	seen    map[[32]byte]struct{}
	domains map[string]int64
}

func newScan(paths []string, list int) *scan {
	return &scan{
		sum:     scanSummary{Inputs: paths, UnparseableReasons: map[string]int64{}},
		list:    list,
		seen:    map[[32]byte]struct{}{},
		domains: map[string]int64{},
	}
}

// parsed is a message after parsing, with its place in the input.
type parsed struct {
	seq int64
	msg evidence.Message
	err error
}

// run reads the inputs on this goroutine and parses on one worker per
// CPU (parsing, not reading, is the cost); the channels hold a few
// messages, so memory stays that of a few messages.
func (s *scan) run(ctx context.Context, reader *evidence.Reader, parser *evidence.Parser) error {
	workers := runtime.GOMAXPROCS(0)
	type job struct {
		seq int64
		raw evidence.Raw
	}
	jobs := make(chan job, workers)
	results := make(chan parsed, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				msg, err := parser.Parse(j.raw)
				results <- parsed{seq: j.seq, msg: msg, err: err}
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		for r := range results {
			s.add(r)
		}
		close(done)
	}()
	var readErr error
	var seq int64
	for raw, err := range reader.Read(ctx, s.sum.Inputs...) {
		var se *evidence.SourceError
		switch {
		case errors.As(err, &se):
			s.sum.Skipped++
			s.sum.SkippedFirst = keepFirst(s.sum.SkippedFirst, scanItem{Source: se.Source, Reason: se.Err.Error(), seq: seq}, s.list)
			continue
		case err != nil:
			readErr = err
		}
		if readErr != nil {
			break
		}
		seq++
		jobs <- job{seq: seq, raw: raw}
	}
	close(jobs)
	wg.Wait()
	close(results)
	<-done
	return readErr
}

// add counts one parsed message.
func (s *scan) add(r parsed) {
	s.sum.Messages++
	s.sum.Bytes += r.msg.Size
	if _, dup := s.seen[r.msg.SHA256]; dup {
		s.sum.Duplicates++
	} else {
		s.seen[r.msg.SHA256] = struct{}{}
	}
	if r.err != nil {
		reason := strings.TrimPrefix(r.err.Error(), "unparseable: ")
		s.sum.Unparseable++
		s.sum.UnparseableReasons[reasonKind(reason)]++
		s.sum.UnparseableFirst = keepFirst(s.sum.UnparseableFirst, scanItem{Source: r.msg.Source, Reason: reason, seq: r.seq}, s.list)
	}
	if len(r.msg.Problems) > 0 {
		s.sum.WithProblems++
	}
	domains := map[string]bool{}
	for _, p := range r.msg.Participants {
		switch {
		case p.Domain != "":
			domains[p.Domain] = true
		case p.DomainError != "" && p.DomainError != "no domain":
			s.sum.InvalidDomains++
		}
	}
	if len(domains) == 0 {
		s.sum.NoParticipant++
	}
	for d := range domains {
		s.domains[d]++
	}
}

// reasonKind groups unparseable reasons: "too large: 123 bytes" and
// "too large: 456 bytes" are one kind.
func reasonKind(reason string) string {
	if i := strings.IndexByte(reason, ':'); i > 0 {
		return reason[:i]
	}
	return reason
}

// keepFirst keeps the n items earliest in the input; parsing in parallel
// finishes them slightly out of order.
func keepFirst(items []scanItem, it scanItem, n int) []scanItem {
	items = append(items, it)
	sort.SliceStable(items, func(i, j int) bool { return items[i].seq < items[j].seq })
	if len(items) > n {
		items = items[:n]
	}
	return items
}

// finish ranks the domains.
func (s *scan) finish(top int) {
	s.sum.Domains = len(s.domains)
	s.sum.TopDomains = []domainCount{}
	for d, n := range s.domains {
		s.sum.TopDomains = append(s.sum.TopDomains, domainCount{Domain: d, Messages: n})
	}
	sort.Slice(s.sum.TopDomains, func(i, j int) bool {
		a, b := s.sum.TopDomains[i], s.sum.TopDomains[j]
		return a.Messages > b.Messages || a.Messages == b.Messages && a.Domain < b.Domain
	})
	if len(s.sum.TopDomains) > top {
		s.sum.TopDomains = s.sum.TopDomains[:top]
	}
	if s.sum.UnparseableFirst == nil {
		s.sum.UnparseableFirst = []scanItem{}
	}
	if s.sum.SkippedFirst == nil {
		s.sum.SkippedFirst = []scanItem{}
	}
}

func printScan(w io.Writer, s scanSummary) {
	rate := 0.0
	if s.Seconds > 0 {
		rate = float64(s.Messages) / s.Seconds
	}
	t := newTable(w, "messages", fmt.Sprintf("%d (%.1f MB) in %.1f s, %.0f messages/s", s.Messages, float64(s.Bytes)/1e6, s.Seconds, rate))
	t.row("duplicates", fmt.Sprintf("%d (same SHA-256 as an earlier message)", s.Duplicates))
	t.row("unparseable", fmt.Sprintf("%d%s", s.Unparseable, reasons(s.UnparseableReasons)))
	t.row("skipped inputs", s.Skipped)
	t.row("with problems", fmt.Sprintf("%d (read; malformed parts or headers reported)", s.WithProblems))
	t.row("no participant", fmt.Sprintf("%d (no address with a valid domain)", s.NoParticipant))
	t.row("invalid domains", s.InvalidDomains)
	t.row("domains", fmt.Sprintf("%d distinct", s.Domains))
	t.flush()
	listItems(w, "unparseable", s.UnparseableFirst, s.Unparseable)
	listItems(w, "skipped inputs", s.SkippedFirst, s.Skipped)
	if len(s.TopDomains) > 0 {
		fmt.Fprintf(w, "\nparticipant domains (messages):\n")
		for _, d := range s.TopDomains {
			fmt.Fprintf(w, "  %7d  %s\n", d.Messages, d.Domain)
		}
	}
}

// listItems names the first unparseable messages or skipped inputs.
func listItems(w io.Writer, title string, items []scanItem, total int64) {
	if len(items) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s (first %d of %d):\n", title, len(items), total)
	for _, it := range items {
		reason := it.Reason
		if len(reason) > 160 {
			reason = reason[:160] + "…"
		}
		fmt.Fprintf(w, "  %s: %s\n", terminalText(it.Source), terminalText(reason))
	}
}

func reasons(m map[string]int64) string {
	if len(m) == 0 {
		return ""
	}
	var parts []string
	for k, n := range m {
		parts = append(parts, fmt.Sprintf("%s: %d", k, n))
	}
	sort.Strings(parts)
	return " (" + strings.Join(parts, "; ") + ")"
}

// showLine redraws one line of text on a terminal every quarter of a
// second until stopped, then clears it: the live progress of the
// evidence verbs.
func showLine(w io.Writer, text func() string) (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				fmt.Fprint(w, "\r\x1b[K")
				return
			case <-tick.C:
				fmt.Fprintf(w, "\r%s\x1b[K", text())
			}
		}
	})
	return func() { close(quit); wg.Wait() }
}

// progressText is the live line: messages, MB, rate, and an ETA when the
// inputs' total size is known.
func progressText(p evidence.Progress, elapsed time.Duration) string {
	secs := max(elapsed.Seconds(), 0.001)
	line := fmt.Sprintf("%d messages, %.1f MB", p.Messages, float64(p.BytesRead)/1e6)
	if p.BytesTotal > 0 {
		line += fmt.Sprintf(" of %.1f MB", float64(p.BytesTotal)/1e6)
	}
	line += fmt.Sprintf(", %.0f messages/s, %.1f MB/s", float64(p.Messages)/secs, float64(p.BytesRead)/1e6/secs)
	if p.BytesTotal > 0 && p.BytesRead > 0 && p.BytesRead < p.BytesTotal {
		eta := time.Duration(float64(p.BytesTotal-p.BytesRead) / (float64(p.BytesRead) / secs) * float64(time.Second))
		line += ", ETA " + eta.Round(time.Second).String()
	}
	return line
}
