package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

const reportUse = `usage:
  breachnotify report INCIDENT [--format csv|json] [--output FILE]`

// cmdReport downloads an incident's proof-of-notification report. A file
// is written under a temporary name and renamed only once the whole report
// arrived, so FILE is never a partial report.
func cmdReport(ctx context.Context, e *env, args []string) error {
	fs, _ := newFlags(e, "report")
	format := fs.String("format", "csv", "csv or json")
	output := fs.String("output", "", "write to FILE (mode 0600: it names people) instead of standard output")
	pos, err := parseArgs(fs, args, 1, reportUse)
	if err != nil {
		return err
	}
	if *format != "csv" && *format != "json" {
		return usageError{fmt.Sprintf("--format must be csv or json, not %q\n%s", *format, reportUse)}
	}
	c, err := apiClient(e)
	if err != nil {
		return err
	}
	download := func(w io.Writer) error {
		tw := &tailWriter{w: w}
		if err := c.Report(ctx, pos[0], *format, tw); err != nil {
			return explain(ctx, err)
		}
		return tw.complete(*format)
	}
	if *output == "" || *output == "-" {
		return download(e.stdout)
	}
	n, err := writeAtomically(*output, download)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "wrote the %s report of %s to %s (%d bytes)\n", *format, pos[0], *output, n)
	return nil
}

// writeAtomically writes path through a temporary file in the same
// directory (so the rename cannot cross file systems) and renames it over
// path only when write succeeded.
func writeAtomically(path string, write func(io.Writer) error) (n int64, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	cw := &countingWriter{w: tmp}
	if err := write(cw); err != nil {
		return 0, err
	}
	if err := tmp.Sync(); err != nil {
		return 0, err
	}
	if err := tmp.Close(); err != nil {
		return 0, err
	}
	return cw.n, os.Rename(tmp.Name(), path)
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// tailKeep is how many trailing bytes tailWriter keeps.
const tailKeep = 16

// tailWriter remembers how a stream ended. The server streams the report
// after its 200 status line, so a failure halfway shows only as a body that
// stops early; a JSON report that does not end with "]}" is cut short.
type tailWriter struct {
	w    io.Writer
	tail []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	t.tail = append(t.tail, p[max(0, n-tailKeep):n]...)
	if len(t.tail) > tailKeep {
		t.tail = append(t.tail[:0], t.tail[len(t.tail)-tailKeep:]...)
	}
	return n, err
}

func (t *tailWriter) complete(format string) error {
	end := bytes.TrimRight(t.tail, " \r\n")
	switch {
	case format == "json" && !bytes.HasSuffix(end, []byte("]}")):
		return errors.New("the report was cut short (the server log says why)")
	case format == "csv" && !bytes.HasSuffix(t.tail, []byte("\n")):
		return errors.New("the report was cut short in the middle of a row")
	}
	return nil
}
