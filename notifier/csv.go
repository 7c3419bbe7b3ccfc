package notifier

import (
	"bufio"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// csvSeparators are the characters a spreadsheet may split a line on:
// the comma we write, the semicolon of German and French locales, tab,
// the pipe some import dialogs offer, and the line ends a naive reader
// splits on. A formula start right after one of them is as dangerous as
// one at the start of the cell.
const csvSeparators = ",;\t|\r\n"

// isFormulaStart reports whether a spreadsheet may take a cell beginning
// with r for a formula: = + - @, tab and CR (OWASP's list), and the
// full-width and small forms of = + - @, which Unicode normalisation (as
// spreadsheets apply it to what is typed) turns into them.
func isFormulaStart(r rune) bool {
	switch r {
	case '=', '+', '-', '@', '\t', '\r', '＝', '＋', '－', '＠', '﹦', '﹢', '﹣', '﹫':
		return true
	}
	return false
}

// formulaAt reports whether the piece of s starting at i, once leading
// white space and double quotes are skipped (spreadsheets skip them before
// deciding), starts with a formula.
func formulaAt(s string, i int) bool {
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case isFormulaStart(r):
			return true
		case r == '"' || (unicode.IsSpace(r) && !strings.ContainsRune(csvSeparators, r)):
			i += n
		default:
			return false
		}
	}
	return false
}

// SafeCSVCell neutralises a value a spreadsheet would run as a formula, as
// OWASP recommends for CSV exports: a single quote goes before the cell
// when it starts with a formula, and after every separator (, ; tab | or
// a line end) that a formula follows, so the cell is text whichever
// separator the spreadsheet splits on. The second bool reports whether
// anything was inserted; CSVWriter then always quotes the cell.
func SafeCSVCell(s string) (string, bool) {
	var b strings.Builder
	changed, last := false, 0
	check := func(i int) {
		if formulaAt(s, i) {
			b.WriteString(s[last:i])
			b.WriteByte('\'')
			changed, last = true, i
		}
	}
	check(0)
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(csvSeparators, s[i]) >= 0 {
			check(i + 1)
		}
	}
	if !changed {
		return s, false
	}
	b.WriteString(s[last:])
	return b.String(), true
}

// CSVWriter writes every CSV export: each cell goes through SafeCSVCell,
// and a cell that was neutralised or holds any separator, quote or line
// end is quoted, so a spreadsheet that splits on ; or tab instead of the
// comma still sees one cell. (encoding/csv quotes only for its own comma,
// so a ";=cmd" inside a comma file would reach a German spreadsheet bare.)
// Records end in "\n", as encoding/csv's do by default; every RFC 4180
// reader takes them.
type CSVWriter struct {
	w   *bufio.Writer
	err error
}

// NewCSVWriter returns a CSVWriter writing to w. Call Flush when done.
func NewCSVWriter(w io.Writer) *CSVWriter {
	return &CSVWriter{w: bufio.NewWriter(w)}
}

// Write writes one record. Errors are sticky: once a write failed, every
// later one returns the same error.
func (c *CSVWriter) Write(record []string) error {
	if c.err != nil {
		return c.err
	}
	for i, cell := range record {
		if i > 0 {
			c.w.WriteByte(',')
		}
		cell, changed := SafeCSVCell(cell)
		if !changed && !needsQuotes(cell) {
			c.w.WriteString(cell)
			continue
		}
		c.w.WriteByte('"')
		c.w.WriteString(strings.ReplaceAll(cell, `"`, `""`))
		c.w.WriteByte('"')
	}
	_, c.err = c.w.WriteString("\n")
	return c.err
}

// needsQuotes reports whether a cell must be quoted to stay one cell: it
// holds a separator, a quote or a line end, or starts with white space
// (which a reader might trim).
func needsQuotes(cell string) bool {
	r, _ := utf8.DecodeRuneInString(cell)
	return strings.ContainsAny(cell, csvSeparators+`"`) || (cell != "" && unicode.IsSpace(r))
}

// Flush writes any buffered data to the underlying writer and returns the
// first error met.
func (c *CSVWriter) Flush() error {
	if c.err == nil {
		c.err = c.w.Flush()
	}
	return c.err
}
