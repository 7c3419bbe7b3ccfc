package notifier

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

func (e *rowErrors) err() error {
	if len(e.list) == 0 {
		return nil
	}
	list := e.list
	if e.dropped > 0 {
		list = append(slices.Clip(list), RowError{Field: "", Message: fmt.Sprintf("%d more problem(s) not listed", e.dropped)})
	}
	return ImportRejected(list)
}

// readRecords reads every record of an import file. Problems with the file's
// structure are added to errs; an I/O error is returned as is.
func readRecords(r io.Reader, format Format, cols columnSet, errs *rowErrors) ([]record, error) {
	switch format {
	case FormatCSV:
		return readCSV(r, cols, errs)
	case FormatNDJSON:
		return readNDJSON(r, cols, errs)
	}
	return nil, Errorf(CodeUnsupported, "unknown import format %q", format)
}

func readCSV(r io.Reader, cols columnSet, errs *rowErrors) ([]record, error) {
	br := bufio.NewReader(r)
	// Spreadsheets often save a UTF-8 byte order mark; it is not part of the header.
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte{0xEF, 0xBB, 0xBF}) {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false

	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		errs.add(1, "", "the file is empty; the first line must be the header: %s", strings.Join(cols.all, ","))
		return nil, nil
	}
	if err := csvError(err, errs); err != nil || len(errs.list) > 0 {
		return nil, err
	}
	index := map[string]int{}
	for i, name := range header {
		name = strings.TrimSpace(name)
		switch {
		case !slices.Contains(cols.all, name):
			errs.add(1, name, "unknown column; the columns are %s", strings.Join(cols.all, ", "))
		case index[name] > 0:
			errs.add(1, name, "column appears twice")
		}
		index[name] = i + 1
	}
	for _, name := range cols.required {
		if index[name] == 0 {
			errs.add(1, name, "missing column")
		}
	}
	if len(errs.list) > 0 {
		return nil, nil
	}

	var records []record
	for {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err := csvError(err, errs); err != nil {
			return nil, err
		}
		if row == nil {
			break // a syntax error: csvError recorded it and the rest cannot be trusted
		}
		line, _ := cr.FieldPos(0)
		if len(row) == 1 && strings.TrimSpace(row[0]) == "" {
			continue // a blank line
		}
		if len(row) != len(header) {
			errs.add(line, "", "has %d fields, the header has %d", len(row), len(header))
			continue
		}
		fields := make(map[string]string, len(header))
		for name, i := range index {
			fields[name] = strings.TrimSpace(row[i-1])
		}
		records = append(records, record{line: line, fields: fields})
	}
	return records, nil
}

// csvError turns a CSV syntax error into a row error (returning nil) and
// passes any other error through.
func csvError(err error, errs *rowErrors) error {
	if err == nil {
		return nil
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		errs.add(pe.StartLine, "", "CSV syntax error: %v; nothing after this line was read", pe.Err)
		return nil
	}
	return err
}

func readNDJSON(r io.Reader, cols columnSet, errs *rowErrors) ([]record, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxNDJSONLine)
	var records []record
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		var obj map[string]json.RawMessage
		dec := json.NewDecoder(bytes.NewReader(text))
		if err := dec.Decode(&obj); err != nil || obj == nil {
			errs.add(line, "", "not a JSON object")
			continue
		}
		if dec.More() {
			errs.add(line, "", "more than one JSON value on the line")
			continue
		}
		// A map keeps the last of two equal keys; both may differ only in
		// case and still look like one field to a reader.
		var dup *DuplicateKeyError
		if err := CheckJSONKeys(text); errors.As(err, &dup) {
			errs.add(line, dup.Key, "%v", dup)
			continue
		} else if err != nil { // a stray } or ] after the object, which dec.More lets by
			errs.add(line, "", "not a JSON object")
			continue
		}
		fields := make(map[string]string, len(obj))
		ok := true
		for name, raw := range obj {
			if !slices.Contains(cols.all, name) {
				errs.add(line, name, "unknown field; the fields are %s", strings.Join(cols.all, ", "))
				ok = false
				continue
			}
			v, err := jsonScalar(raw)
			if err != nil {
				errs.add(line, name, "%v", err)
				ok = false
				continue
			}
			fields[name] = strings.TrimSpace(v)
		}
		for _, name := range cols.required {
			if _, present := obj[name]; !present {
				errs.add(line, name, "missing field")
				ok = false
			}
		}
		if ok {
			records = append(records, record{line: line, fields: fields})
		}
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		errs.add(line+1, "", "line longer than %d bytes", maxNDJSONLine)
		return records, nil
	}
	return records, sc.Err()
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
	if i := strings.IndexFunc(v, forbiddenRune); i >= 0 {
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
