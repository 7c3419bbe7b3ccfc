package secrets

// Span is where a finding's secret is in a part's text, in bytes.
type Span struct {
	Start, End int
}

// Locate finds again, in one scan of text, the secret of each finding
// (made by Scan of the same part's text under the same key): spans[i] is
// fs[i]'s, or {-1, -1} when the text no longer holds it. Like Reveal it
// matches a hit by type, line, column and fingerprint, so a finding never
// points at a different string. It is how the portal masks the secrets in
// the text it shows without the database ever holding one.
func (s *Scanner) Locate(text string, fs []Finding) []Span {
	spans := make([]Span, len(fs))
	for i := range spans {
		spans[i] = Span{-1, -1}
	}
	if len(fs) == 0 {
		return spans
	}
	for _, h := range s.hits(text) {
		line, col := position(text, h.start)
		var fp string
		for i, f := range fs {
			if spans[i].Start >= 0 || f.Type != h.typ || f.Line != line || f.Column != col {
				continue
			}
			if fp == "" {
				fp = fingerprint(s.key, h.typ, text[h.start:h.end])
			}
			if fp == f.Fingerprint {
				spans[i] = Span{h.start, h.end}
			}
		}
	}
	return spans
}
