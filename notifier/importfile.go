package notifier

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Format is an import file format: CSV with a header row, or NDJSON with one
// JSON object per line. Both use the same field names.
type Format string

// The import formats.
const (
	FormatCSV    Format = "csv"
	FormatNDJSON Format = "ndjson"
)

// maxRowErrors caps the bad rows listed in one reply; a file that is wrong
// everywhere does not need a million-line answer to be fixed.
const maxRowErrors = 1000

// maxNDJSONLine is the longest NDJSON line accepted.
const maxNDJSONLine = 1 << 20

// FormatFromContentType maps a request's Content-Type to a Format.
func FormatFromContentType(contentType string) (Format, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", Errorf(CodeUnsupported, "Content-Type %q is not valid; use text/csv or application/x-ndjson", contentType)
	}
	switch mt {
	case "text/csv":
		return FormatCSV, nil
	case "application/x-ndjson", "application/ndjson", "application/jsonl":
		return FormatNDJSON, nil
	}
	return "", Errorf(CodeUnsupported, "Content-Type %q is not an import format; use text/csv or application/x-ndjson", mt)
}

// FormatFromFileName picks a Format from a file's extension, for the CLI.
func FormatFromFileName(name string) (Format, bool) {
	switch {
	case strings.HasSuffix(name, ".csv"):
		return FormatCSV, true
	case strings.HasSuffix(name, ".ndjson"), strings.HasSuffix(name, ".jsonl"):
		return FormatNDJSON, true
	}
	return "", false
}

// ContentType is the media type to send a file of this format as.
func (f Format) ContentType() string {
	if f == FormatNDJSON {
		return "application/x-ndjson"
	}
	return "text/csv"
}

// columnSet describes the columns of one import kind.
type columnSet struct {
	all      []string
	required []string
	// aliases maps other names spreadsheets use for a column (already
	// folded by foldColumnName) to the column's own name.
	aliases map[string]string
}

// canonical returns the column a CSV header cell names: case, spaces and
// hyphens do not matter (Org_Ref, "org ref" and ORG-REF are org_ref), and
// a few common aliases stand for their column.
func (cs columnSet) canonical(header string) string {
	name := foldColumnName(header)
	if alias, ok := cs.aliases[name]; ok {
		return alias
	}
	return name
}

func foldColumnName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return '_'
		}
		return unicode.ToLower(r)
	}, strings.TrimSpace(s))
}

// record is one row of an import file, by column name, with its line number.
type record struct {
	line   int
	fields map[string]string
}

// rowErrors collects the problems of a whole file, capped at maxRowErrors.
type rowErrors struct {
	list    []RowError
	dropped int
}

func (e *rowErrors) add(line int, field, format string, args ...any) {
	if len(e.list) >= maxRowErrors {
		e.dropped++
		return
	}
	e.list = append(e.list, RowError{Line: line, Field: field, Message: fmt.Sprintf(format, args...)})
}

// count is every problem found, listed or not.
func (e *rowErrors) count() int { return len(e.list) + e.dropped }

// merge adds problems found elsewhere (the database's checks, found of
// them listed and unlisted more) and keeps the first maxRowErrors of all
// in line order, so the reply reads top to bottom.
func (e *rowErrors) merge(found []RowError, unlisted int) {
	e.list = append(e.list, found...)
	slices.SortStableFunc(e.list, func(a, b RowError) int { return a.Line - b.Line })
	if len(e.list) > maxRowErrors {
		e.dropped += len(e.list) - maxRowErrors
		e.list = e.list[:maxRowErrors]
	}
	e.dropped += unlisted
}

func (e *rowErrors) err() error {
	if len(e.list) == 0 {
		return nil
	}
	list := e.list
	if e.dropped > 0 {
		list = append(slices.Clip(list), RowError{Field: "", Message: fmt.Sprintf("%d more problem(s) not listed (%d in all)", e.dropped, e.count())})
	}
	rejected := ImportRejected(list)
	rejected.Message = fmt.Sprintf("import rejected: %d problem(s); nothing was written", e.count())
	return rejected
}

// ImportLimits bound one import file. The zero value of a field means its
// default.
type ImportLimits struct {
	// MaxRows is the most data rows one file may hold
	// (BREACHNOTIFY_IMPORT_MAX_ROWS).
	MaxRows int
	// MaxBytes is the largest file accepted, in bytes
	// (BREACHNOTIFY_IMPORT_MAX_BYTES).
	MaxBytes int64
}

// The default import limits: a million-row exposure file (about 134 MB)
// fits with room to spare; the import streams, so memory does not grow
// with them.
const (
	ImportMaxRowsDefault  = 2_000_000
	ImportMaxBytesDefault = 1 << 30
)

func (l ImportLimits) withDefaults() ImportLimits {
	if l.MaxRows <= 0 {
		l.MaxRows = ImportMaxRowsDefault
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = ImportMaxBytesDefault
	}
	return l
}

// jsonScalar turns an NDJSON value into the string a CSV cell would hold:
// strings as they are, booleans as true/false, whole numbers in decimal
// (notify_within: 72), arrays of strings joined with ";", null as empty.
func jsonScalar(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return "", nil
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", errors.New("not a valid JSON string")
		}
		return s, nil
	case string(raw) == "true" || string(raw) == "false":
		return string(raw), nil
	case raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'):
		if _, err := strconv.ParseInt(string(raw), 10, 64); err != nil {
			return "", errors.New("must be a string or a whole number")
		}
		return string(raw), nil
	case raw[0] == '[':
		var list []string
		if err := json.Unmarshal(raw, &list); err != nil {
			return "", errors.New("must be a string or an array of strings")
		}
		for _, s := range list {
			if strings.Contains(s, ";") {
				return "", errors.New("array elements must not contain ';'")
			}
		}
		return strings.Join(list, ";"), nil
	}
	return "", errors.New("must be a string")
}

// fieldCheck validates one field of a record against its limits. Every field
// of every import passes through it.
type fieldCheck struct {
	rec  record
	errs *rowErrors
}

// text returns the field's value after refusing control characters, invalid
// UTF-8, and values over max runes (or empty ones when required).
func (c fieldCheck) text(name string, required bool, max int) (string, bool) {
	return c.check(name, required, max, forbiddenRune)
}

// multiline is text for a field that may hold several lines (a summary
// written in a spreadsheet cell): line feeds are allowed, other control
// characters are not.
func (c fieldCheck) multiline(name string, max int) (string, bool) {
	return c.check(name, false, max, func(r rune) bool { return r != '\n' && forbiddenRune(r) })
}

func (c fieldCheck) check(name string, required bool, max int, forbidden func(rune) bool) (string, bool) {
	v := c.rec.fields[name]
	switch {
	case v == "" && required:
		c.errs.add(c.rec.line, name, "is required")
		return "", false
	case !utf8.ValidString(v):
		c.errs.add(c.rec.line, name, "is not valid UTF-8")
		return "", false
	case utf8.RuneCountInString(v) > max:
		c.errs.add(c.rec.line, name, "is longer than %d characters", max)
		return "", false
	}
	if i := strings.IndexFunc(v, forbidden); i >= 0 {
		r, _ := utf8.DecodeRuneInString(v[i:])
		c.errs.add(c.rec.line, name, "contains the control character %U at byte %d", r, i)
		return "", false
	}
	return v, true
}

// forbiddenRune reports control characters (CR, LF, tab, NUL, DEL, C1) and
// the bidirectional overrides that can make a name read as something else.
func forbiddenRune(r rune) bool {
	if unicode.IsControl(r) {
		return true
	}
	switch {
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0xFEFF:
		return true
	}
	return false
}

// oneOf validates a field that must be one of a fixed list (def when empty).
func (c fieldCheck) oneOf(name string, def string, allowed []string) (string, bool) {
	v, ok := c.text(name, false, 64)
	if !ok {
		return "", false
	}
	if v == "" {
		return def, true
	}
	lv := strings.ToLower(v)
	if !slices.Contains(allowed, lv) {
		c.errs.add(c.rec.line, name, "%q is not one of %s", v, strings.Join(allowed, ", "))
		return "", false
	}
	return lv, true
}

func (c fieldCheck) boolean(name string) (bool, bool) {
	v, ok := c.text(name, false, 8)
	if !ok {
		return false, false
	}
	switch strings.ToLower(v) {
	case "", "false", "no", "0", "n":
		return false, true
	case "true", "yes", "1", "y":
		return true, true
	}
	c.errs.add(c.rec.line, name, "%q is not true or false", v)
	return false, false
}

// ParseInt parses a positive int64 identifier, as found in paths and cursors.
func ParseInt(s string) (int64, bool) {
	if s == "" || len(s) > 19 || s[0] == '0' || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}
