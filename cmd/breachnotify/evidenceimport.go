package main

import (
	"archive/tar"
	"archive/zip"
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/apiclient"
)

const evidenceImportUse = `usage:
  breachnotify evidence import INCIDENT PATH... [--json] [--name NAME]
    PATH: .eml files, mbox files, Maildir folders, directories of those, .zip/.tar.gz/.tgz archives`

// cmdEvidenceImport uploads stolen mail into an incident as one import:
// every file under the paths goes into one tar stream, made while it is
// sent (a zip archive's members too: the server reads streams, and a zip
// cannot be read as one), so nothing is held whole on either side.
func cmdEvidenceImport(ctx context.Context, e *env, args []string) error {
	fs, asJSON := newFlags(e, "evidence import")
	name := fs.String("name", "", "what the import is recorded as (default: the paths)")
	pos, err := parseArgs(fs, args, -1, evidenceImportUse)
	if err != nil {
		return err
	}
	if len(pos) < 2 {
		return usageError{evidenceImportUse}
	}
	incident, paths := pos[0], pos[1:]
	var total int64
	for _, p := range paths {
		n, err := uploadSize(p)
		if err != nil {
			return err
		}
		total += n
	}
	if *name == "" {
		*name = strings.Join(paths, " ")
	}
	if len(*name) > 255 {
		*name = (*name)[:252] + "..."
	}
	c, err := apiClient(e)
	if err != nil {
		return err
	}

	pr, pw := io.Pipe()
	var sent atomic.Int64
	var skipped []string
	written := make(chan struct{})
	go func() {
		defer close(written)
		pw.CloseWithError(writeTar(&progressWriter{w: pw, n: &sent}, paths, func(s string) { skipped = append(skipped, s) }))
	}()
	start := time.Now()
	stop := func() {}
	if isTerminal(e.stderr) {
		var read serverProgress
		stopPolling := read.poll(ctx, c, incident, *name, start, time.Second)
		stopLine := showLine(e.stderr, func() string {
			return read.text() + uploadText(sent.Load(), total, time.Since(start))
		})
		stop = func() { stopLine(); stopPolling() }
	}
	imp, err := c.ImportEvidence(ctx, incident, *name, pr, -1)
	stop()
	pr.CloseWithError(err) // ends the tar writer if the upload stopped early
	<-written              // and skipped is complete
	if err != nil {
		return err
	}
	for _, s := range skipped {
		fmt.Fprintf(e.stderr, "skipped %s\n", terminalText(s))
	}
	if *asJSON {
		return printJSON(e.stdout, imp)
	}
	t := newTable(e.stdout, "IMPORT", "MESSAGES", "STORED", "KNOWN", "UNPARSEABLE", "UNATTRIBUTED", "BATCH", "NEW ITEMS")
	batch, items := any(nil), 0
	if imp.Batch != nil {
		batch, items = imp.Batch.BatchID, imp.Batch.ItemsNew
	}
	t.row(imp.ID, imp.Messages, imp.Stored, imp.Known, imp.Unparseable, imp.Unattributed, batch, items)
	if err := t.flush(); err != nil {
		return err
	}
	if imp.Batch != nil {
		printOrgs(e.stdout, "follow-ups scheduled", imp.Batch.FollowUps)
		printOrgs(e.stdout, "awaiting their initial notice", imp.Batch.AwaitingInitial)
	}
	if imp.Error != "" {
		fmt.Fprintf(e.stdout, "note: %s\n", terminalText(imp.Error))
	}
	return nil
}

// printOrgs prints a list of organizations, at most 20 of them named.
func printOrgs(w io.Writer, what string, refs []string) {
	if len(refs) == 0 {
		return
	}
	shown := refs[:min(len(refs), 20)]
	more := ""
	if len(refs) > len(shown) {
		more = fmt.Sprintf(" and %d more", len(refs)-len(shown))
	}
	fmt.Fprintf(w, "%s (%d): %s%s\n", what, len(refs), strings.Join(shown, ", "), more)
}

// uploadSize is the bytes a path adds to the upload (a zip's members
// uncompressed), for the progress line.
func uploadSize(path string) (int64, error) {
	var n int64
	err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if isZip(p) {
			z, err := zip.OpenReader(p)
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			defer z.Close()
			for _, f := range z.File {
				n += int64(f.UncompressedSize64)
			}
			return nil
		}
		fi, err := d.Info()
		if err == nil {
			n += fi.Size()
		}
		return err
	})
	return n, err
}

func isZip(path string) bool { return strings.EqualFold(filepath.Ext(path), ".zip") }

// writeTar writes every regular file under paths into one tar stream; a
// zip archive's members are written as files of their own, under the
// archive's name. skip hears of what is left out.
func writeTar(w io.Writer, paths []string, skip func(string)) error {
	tw := tar.NewWriter(w)
	for _, root := range paths {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			switch {
			case d.IsDir():
				if d.Name() == "tmp" && isMaildir(filepath.Dir(p)) {
					return fs.SkipDir // a Maildir's tmp holds messages being delivered
				}
				return nil
			case !d.Type().IsRegular():
				skip(p + ": not a regular file")
				return nil
			case isZip(p):
				return tarZip(tw, p, skip)
			}
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			fi, err := f.Stat()
			if err != nil {
				return err
			}
			return tarFile(tw, p, fi.Size(), f)
		})
		if err != nil {
			return err
		}
	}
	return tw.Close()
}

// isMaildir reports whether dir has a Maildir's cur and new.
func isMaildir(dir string) bool {
	for _, sub := range []string{"cur", "new"} {
		if fi, err := os.Stat(filepath.Join(dir, sub)); err != nil || !fi.IsDir() {
			return false
		}
	}
	return true
}

// tarZip writes a zip archive's files into the tar stream.
func tarZip(tw *tar.Writer, path string, skip func(string)) error {
	z, err := zip.OpenReader(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer z.Close()
	for _, f := range z.File {
		if f.FileInfo().IsDir() {
			continue
		}
		member := path + "!" + f.Name
		if isZip(f.Name) {
			skip(member + ": a zip inside a zip (unpack it and import its files)")
			continue
		}
		rc, err := f.Open()
		if err != nil {
			skip(member + ": " + err.Error())
			continue
		}
		err = tarFile(tw, member, int64(f.UncompressedSize64), rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", member, err)
		}
	}
	return nil
}

func tarFile(tw *tar.Writer, name string, size int64, r io.Reader) error {
	if err := tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(name), Mode: 0o600, Size: size, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err := io.CopyN(tw, r, size)
	return err
}

// progressWriter counts the bytes written through it, for a reader in
// another goroutine.
type progressWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c *progressWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// serverProgress is what the server has read of a running upload: the
// import's own record, polled, as the upload's reply comes only at its
// end.
type serverProgress struct {
	messages, stored atomic.Int64
}

// poll reads, every period until stopped, the newest running import of
// the incident with this name started since start (the clocks of client
// and server may differ by a minute).
func (p *serverProgress) poll(ctx context.Context, c *apiclient.Client, incident, name string, start time.Time, every time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			imports, err := c.EvidenceImports(ctx, incident)
			if err != nil {
				continue // the line shows what the client knows
			}
			for _, imp := range imports {
				if imp.Status == notifier.EvidenceImportRunning && imp.Name == name && imp.StartedAt.After(start.Add(-time.Minute)) {
					p.messages.Store(imp.Messages)
					p.stored.Store(imp.Stored)
					break
				}
			}
		}
	})
	return func() { cancel(); wg.Wait() }
}

// text is the server's part of the live line, once it has read anything.
func (p *serverProgress) text() string {
	n := p.messages.Load()
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d messages read (%d new), ", n, p.stored.Load())
}

// uploadText is the live line: MB sent of the total, rate and ETA.
func uploadText(sent, total int64, elapsed time.Duration) string {
	secs := max(elapsed.Seconds(), 0.001)
	rate := float64(sent) / secs
	line := fmt.Sprintf("sent %.1f of %.1f MB, %.1f MB/s", float64(sent)/1e6, float64(total)/1e6, rate/1e6)
	switch {
	case sent >= total:
		line += ", the server is storing the last messages"
	case rate > 0:
		line += ", ETA " + time.Duration(float64(total-sent)/rate*float64(time.Second)).Round(time.Second).String()
	}
	return line
}

// cmdEvidenceRewrapKeys wraps every incident's evidence key again with the
// first key of BREACHNOTIFY_EVIDENCE_KEY_FILE, so that an older master key
// can be removed from the file. It runs where the service runs, with its
// database and key file (like apikey), and is audited as a local admin.
func cmdEvidenceRewrapKeys(ctx context.Context, e *env, args []string) error {
	const use = "usage: breachnotify evidence rewrap-keys"
	fs := flag.NewFlagSet("evidence rewrap-keys", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		return usageError{use}
	}
	a, err := localApp(ctx, e)
	if err != nil {
		return err
	}
	defer a.Stop(context.Background())
	n, err := a.Evidence.RewrapKeys(ctx, notifier.LocalActor(osUser()))
	if err != nil {
		return err
	}
	// Webhook signing secrets are sealed under the same master keys.
	hooks, err := a.Webhooks.RewrapSecrets(ctx, notifier.LocalActor(osUser()))
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "rewrapped %d incident keys and %d webhook secrets with the first key of the key file; keys older than it may now be removed from it\n", n, hooks)
	return nil
}
