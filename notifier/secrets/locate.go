package secrets

import "strings"

// Span is where a finding's secret is in a part's text, in bytes.
type Span struct {
	Start, End int
}

// locateWindow is how many lines after a finding's own line Locate
// scans with it: enough for a PEM private key, whose secret runs over
// many lines.
const locateWindow = 64

// Locate finds again the secret of each finding (made by Scan of the
// same part's text under the same key): spans[i] is fs[i]'s, or {-1, -1}
// when the text no longer holds it. Like Reveal it matches a hit by type,
// line, column and fingerprint, so a finding never points at a different
// string. It is how the portal masks the secrets in the text it shows
// without the database ever holding one.
//
// Only the lines of the findings are scanned (from each finding's line
// to locateWindow lines after it), not the whole text: a message page
// shows a prefix of a part of megabytes, and scanning it all would cost
// more than the rest of the page. A secret not found there (a rule that
// needed a line before it) is looked for in the whole text.
func (s *Scanner) Locate(text string, fs []Finding) []Span {
	spans := make([]Span, len(fs))
	for i := range spans {
		spans[i] = Span{-1, -1}
	}
	if len(fs) == 0 {
		return spans
	}
	lines := lineStarts(text)
	done := map[int]bool{}
	for _, f := range fs {
		if f.Line < 1 || f.Line > len(lines) || done[f.Line] {
			continue
		}
		done[f.Line] = true
		from := lines[f.Line-1]
		to := len(text)
		if f.Line-1+locateWindow < len(lines) {
			to = lines[f.Line-1+locateWindow]
		}
		s.match(text[from:to], from, f.Line-1, fs, spans)
	}
	for _, sp := range spans {
		if sp.Start < 0 {
			s.match(text, 0, 0, fs, spans)
			break
		}
	}
	return spans
}

// match finds the hits of window (text from byte off, line lineOff) that
// stand for findings still unplaced.
func (s *Scanner) match(window string, off, lineOff int, fs []Finding, spans []Span) {
	for _, h := range s.hits(window) {
		line, col := position(window, h.start)
		line += lineOff
		var fp string
		for i, f := range fs {
			if spans[i].Start >= 0 || f.Type != h.typ || f.Line != line || f.Column != col {
				continue
			}
			if fp == "" {
				fp = fingerprint(s.key, h.typ, window[h.start:h.end])
			}
			if fp == f.Fingerprint {
				spans[i] = Span{off + h.start, off + h.end}
			}
		}
	}
}

// lineStarts is the byte offset where each line of text starts.
func lineStarts(text string) []int {
	starts := []int{0}
	for i := 0; ; {
		j := strings.IndexByte(text[i:], '\n')
		if j < 0 {
			return starts
		}
		i += j + 1
		starts = append(starts, i)
	}
}
