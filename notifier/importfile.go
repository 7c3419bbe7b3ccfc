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

// merge adds problems found elsewhere (the database's checks) and keeps
// the whole list in line order, so the reply reads top to bottom.
func (e *rowErrors) merge(found []RowError, unlisted int) {
	for _, r := range found {
		e.add(r.Line, r.Field, "%s", r.Message)
	}
	e.dropped += unlisted
	slices.SortStableFunc(e.list, func(a, b RowError) int { return a.Line - b.Line })
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

// The default import limits: a million-row exposure file (about 136 MB)
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

// limitedReader ends a file at the byte limit with an error that names the
// setting to raise.
type limitedReader struct {
	r   io.Reader
	n   int64
	max int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n > l.max {
		return 0, Errorf(CodeTooLarge, "the file is larger than %d bytes, the most one import takes; split it, or raise BREACHNOTIFY_IMPORT_MAX_BYTES", l.max)
	}
	if room := l.max + 1 - l.n; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.max {
		// Report the limit rather than hand over the byte past it.
		return 0, Errorf(CodeTooLarge, "the file is larger than %d bytes, the most one import takes; split it, or raise BREACHNOTIFY_IMPORT_MAX_BYTES", l.max)
	}
	return n, err
}

// recordReader reads an import file one record at a time, so a file of any
// size is read in constant memory. Problems with the file's structure go to
// errs; next returns only records whose structure is sound.
type recordReader struct {
	cols   columnSet
	errs   *rowErrors
	limits ImportLimits
	rows   int
	// notUTF8 is set once the file was found not to be UTF-8: that is
	// said once, not once per line.
	notUTF8 bool

	// CSV: the reader and each column's position.
	csv    *csv.Reader
	index  map[string]int
	header int

	// NDJSON: the line scanner and the current line number.
	lines *bufio.Scanner
	line  int
}

// notUTF8Message says what to do with a file in a legacy encoding. Such a
// file is refused, not transcoded: Excel's plain "CSV" is Windows-1252 in
// Western Europe but Windows-1250, -1251 or Shift_JIS elsewhere, and bytes
// cannot tell them apart; a guess would put wrong letters into the names
// the notices are addressed to, silently. Saving again as UTF-8 is one step.
const notUTF8Message = "the file is not UTF-8 (it looks like Windows-1252 or another legacy encoding, as Excel's plain \"CSV\" format writes); " +
	"save it as UTF-8 and upload again: in Excel, File > Save As > \"CSV UTF-8 (Comma delimited)\"; in LibreOffice, Save As > Text CSV with \"Edit filter settings\" and character set Unicode (UTF-8)"

// newRecordReader starts reading an import file: for CSV it reads the
// header. Problems with the header go to errs; a reader is returned even
// then (nil when nothing more can be read), so the caller reports them with
// the rest.
func newRecordReader(r io.Reader, format Format, cols columnSet, errs *rowErrors, limits ImportLimits) (*recordReader, error) {
	limits = limits.withDefaults()
	br := bufio.NewReaderSize(&limitedReader{r: r, max: limits.MaxBytes}, 64<<10)
	rr := &recordReader{cols: cols, errs: errs, limits: limits}
	// Spreadsheets often save a UTF-8 byte order mark; it is not part of the header.
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte{0xEF, 0xBB, 0xBF}) {
		_, _ = br.Discard(3)
	}
	if b, err := br.Peek(2); err == nil && (bytes.Equal(b, []byte{0xFF, 0xFE}) || bytes.Equal(b, []byte{0xFE, 0xFF})) {
		errs.add(1, "", "the file is UTF-16 (as Excel's \"Unicode Text\" writes); save it as UTF-8 and upload again: in Excel, File > Save As > \"CSV UTF-8 (Comma delimited)\"")
		return nil, nil
	}
	switch format {
	case FormatCSV:
		return rr, rr.startCSV(br)
	case FormatNDJSON:
		rr.lines = bufio.NewScanner(br)
		rr.lines.Buffer(make([]byte, 64*1024), maxNDJSONLine)
		return rr, nil
	}
	return nil, Errorf(CodeUnsupported, "unknown import format %q", format)
}

// csvDelimiters are the field separators a spreadsheet may save with: the
// comma, the semicolon of locales whose decimal mark is a comma (Excel in
// Germany or France), and tab.
const csvDelimiters = ",;\t"

// detectDelimiter picks the separator the header line uses most, outside
// quotes; a header of one column has none, and the comma stands.
func detectDelimiter(head []byte) rune {
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		head = head[:i]
	}
	counts := map[byte]int{}
	quoted := false
	for _, b := range head {
		switch {
		case b == '"':
			quoted = !quoted
		case !quoted && strings.IndexByte(csvDelimiters, b) >= 0:
			counts[b]++
		}
	}
	best := byte(',')
	for _, d := range []byte(csvDelimiters) {
		if counts[d] > counts[best] {
			best = d
		}
	}
	return rune(best)
}

func (rr *recordReader) startCSV(br *bufio.Reader) error {
	head, _ := br.Peek(br.Size())
	cr := csv.NewReader(br)
	cr.Comma = detectDelimiter(head)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	rr.csv = cr

	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		rr.errs.add(1, "", "the file is empty; the first line must be the header: %s", strings.Join(rr.cols.all, ","))
		rr.csv = nil
		return nil
	}
	if err != nil {
		rr.csv = nil
		return csvError(err, rr.errs)
	}
	before := rr.errs.count()
	rr.checkUTF8(1, header)
	rr.header = len(header)
	rr.index = map[string]int{}
	given := map[string]string{}
	for i, cell := range header {
		name := rr.cols.canonical(cell)
		switch {
		case !slices.Contains(rr.cols.all, name):
			rr.errs.add(1, strings.TrimSpace(cell), "unknown column; the columns are %s", strings.Join(rr.cols.all, ", "))
		case rr.index[name] > 0:
			rr.errs.add(1, name, "column appears twice (as %q and %q)", given[name], strings.TrimSpace(cell))
		}
		rr.index[name] = i + 1
		given[name] = strings.TrimSpace(cell)
	}
	for _, name := range rr.cols.required {
		if rr.index[name] == 0 {
			rr.errs.add(1, name, "missing column")
		}
	}
	if rr.errs.count() > before {
		// Without a sound header no row can be read right.
		rr.csv = nil
	}
	return nil
}

// checkUTF8 reports the first invalid UTF-8 of the file, once, and whether
// these cells are valid.
func (rr *recordReader) checkUTF8(line int, cells []string) bool {
	for _, c := range cells {
		if !utf8.ValidString(c) {
			if !rr.notUTF8 {
				rr.notUTF8 = true
				rr.errs.add(line, "", "%s", notUTF8Message)
			}
			return false
		}
	}
	return true
}

// countRow counts one data row against the row limit.
func (rr *recordReader) countRow() error {
	rr.rows++
	if rr.rows > rr.limits.MaxRows {
		return Errorf(CodeTooLarge, "the file has more than %d rows, the most one import takes; split it, or raise BREACHNOTIFY_IMPORT_MAX_ROWS", rr.limits.MaxRows)
	}
	return nil
}

// next returns the next record whose structure is sound; ok is false at
// the end of the file. An error is an I/O error or a limit reached.
func (rr *recordReader) next() (rec record, ok bool, err error) {
	switch {
	case rr == nil:
		return record{}, false, nil
	case rr.csv != nil:
		return rr.nextCSV()
	case rr.lines != nil:
		return rr.nextNDJSON()
	}
	return record{}, false, nil
}

func (rr *recordReader) nextCSV() (record, bool, error) {
	for {
		row, err := rr.csv.Read()
		if errors.Is(err, io.EOF) {
			return record{}, false, nil
		}
		if err != nil {
			// A syntax error is recorded, and the rest of the file cannot
			// be trusted; any other error ends the import.
			rr.csv = nil
			return record{}, false, csvError(err, rr.errs)
		}
		line, _ := rr.csv.FieldPos(0)
		if blankRow(row) {
			continue // a blank line, or Excel's ",,,,," for an emptied row
		}
		if err := rr.countRow(); err != nil {
			return record{}, false, err
		}
		if len(row) != rr.header {
			rr.errs.add(line, "", "has %d fields, the header has %d", len(row), rr.header)
			continue
		}
		if !rr.checkUTF8(line, row) {
			continue
		}
		fields := make(map[string]string, len(rr.index))
		for name, i := range rr.index {
			// A quoted cell may span lines; a CRLF file's line end inside
			// it reads as CRLF, kept as one line feed.
			fields[name] = strings.ReplaceAll(strings.TrimSpace(row[i-1]), "\r\n", "\n")
		}
		return record{line: line, fields: fields}, true, nil
	}
}

func blankRow(row []string) bool {
	for _, c := range row {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
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

func (rr *recordReader) nextNDJSON() (record, bool, error) {
	cols, errs := rr.cols, rr.errs
	for rr.lines.Scan() {
		rr.line++
		line := rr.line
		text := bytes.TrimSpace(rr.lines.Bytes())
		if len(text) == 0 {
			continue
		}
		if err := rr.countRow(); err != nil {
			return record{}, false, err
		}
		// The JSON decoder would turn invalid UTF-8 into U+FFFD unseen.
		if !rr.checkUTF8(line, []string{string(text)}) {
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
			return record{line: line, fields: fields}, true, nil
		}
	}
	if errors.Is(rr.lines.Err(), bufio.ErrTooLong) {
		errs.add(rr.line+1, "", "line longer than %d bytes", maxNDJSONLine)
		return record{}, false, nil
	}
	return record{}, false, rr.lines.Err()
}

// jsonScalar turns an NDJSON value into the string a CSV cell would hold:
// strings as they are, booleans as true/false, arrays of strings joined
// with ";", null as empty.
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
