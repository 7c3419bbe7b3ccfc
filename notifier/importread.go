package notifier

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

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
			// A quoted cell may span lines; encoding/csv reads a CRLF
			// inside it as LF, which a summary keeps.
			fields[name] = strings.TrimSpace(row[i-1])
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
