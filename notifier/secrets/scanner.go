package secrets

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	ahocorasick "github.com/BobuSumisu/aho-corasick"

	"github.com/spf13/viper"
	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
)

// MinKeyLen is the shortest fingerprint key NewScanner accepts.
const MinKeyLen = 32

// Part is a named piece of a message's text: "header", "text", "html"
// (converted to text), "attachment:report.txt", "message/rfc822[1]/text".
type Part struct {
	// Name says where in the message the text is; findings carry it.
	Name string
	// Text is the part's decoded text.
	Text string
}

// Finding is one secret found in a part. It holds no secret in clear: its
// type, where it is, a keyed fingerprint and a masked form; printing it or
// encoding it as JSON shows nothing more (a test checks both).
type Finding struct {
	// Type is the kind of secret, from the vocabulary notices name.
	Type Type `json:"type"`
	// RuleID is the gitleaks rule (aws-access-token) or ours
	// (breachnotify-password-prose) that found it.
	RuleID string `json:"rule_id"`
	// Part is the Name of the part it is in.
	Part string `json:"part"`
	// Line is the 1-based line of the part where the secret starts.
	Line int `json:"line"`
	// Column is the 1-based column, in characters, where it starts.
	Column int `json:"column"`
	// Fingerprint is HMAC-SHA256(key, type NUL secret) in hex: the same
	// secret found twice (in two messages) has the same fingerprint under
	// one key, and nobody without the key can test a guess against it.
	Fingerprint string `json:"fingerprint"`
	// Masked is the secret for display: AKIA…MPLE, or •••••••• when even
	// that would show too much.
	Masked string `json:"masked"`
	// Live is true when the secret works until rotated (Guidance(Type).Live).
	Live bool `json:"live"`
}

// Scanner finds secrets in text with gitleaks' default rules and ours. It
// is built once (the rules compile once, about 0.1 s) and is safe for
// concurrent use: gitleaks' Detector.DetectString, as of v8.30.1, only reads
// the detector's rules, keyword trie and allowlists (its one counter,
// TotalBytes, is atomic); it is the detector's finding list, filled only by
// DetectSource and AddFinding, that is locked, and the Scanner never uses
// it. A race test scans from several goroutines.
//
// gitleaks logs each secret it drops at trace level to its package-level
// logger (logging.Logger, level info by default): nothing here raises it.
type Scanner struct {
	gl *detect.Detector
	// windowed run gitleaks' rules whose keywords are in most text
	// alone, each on the lines around its keywords (see windowedRule);
	// empty when gl runs them.
	windowed []windowedRule
	key      []byte
	// ours are the rules run beside gitleaks (nil when they run inside it).
	ours []rule
	// oursKeywords finds, in one pass over a text, which of ours have a
	// keyword in it; oursKeywordRule maps its patterns to ours' indices.
	oursKeywords    *ahocorasick.Trie
	oursKeywordRule []int
	byID            map[string]rule
	glRegexp        map[string]*regexp.Regexp
}

// scanConfig chooses the rule sets, for benchmarks.
type scanConfig struct {
	gitleaks bool // gitleaks' default rules
	ours     bool // our rules
	merged   bool // our rules added to gitleaks' config, not run beside it
	// wholeGeneric runs generic-api-key and vault-service-token over the
	// whole text, as gitleaks does, instead of on the windows around
	// their keywords.
	wholeGeneric bool
}

// NewScanner returns a scanner with gitleaks' default rules and ours,
// keying fingerprints with key (at least MinKeyLen bytes, kept secret and
// stable: a new key changes every fingerprint).
func NewScanner(key []byte) (*Scanner, error) {
	return newScanner(key, scanConfig{gitleaks: true, ours: true})
}

func newScanner(key []byte, sc scanConfig) (*Scanner, error) {
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("secrets: fingerprint key of %d bytes, want %d or more", len(key), MinKeyLen)
	}
	s := &Scanner{key: append([]byte(nil), key...), byID: map[string]rule{}, glRegexp: map[string]*regexp.Regexp{}}
	for _, r := range ourRules {
		s.byID[r.id] = r
	}
	var cfg config.Config
	if sc.gitleaks || sc.merged {
		c, err := defaultConfig()
		if err != nil {
			return nil, fmt.Errorf("secrets: gitleaks default config: %w", err)
		}
		cfg = c
		if !sc.gitleaks {
			cfg.Rules, cfg.Keywords, cfg.OrderedRules = map[string]config.Rule{}, map[string]struct{}{}, nil
		}
	}
	switch {
	case sc.ours && sc.merged:
		for _, r := range ourRules {
			cfg.Rules[r.id] = config.Rule{RuleID: r.id, Description: r.id, Regex: r.re, SecretGroup: r.group, Keywords: r.keywords}
			cfg.OrderedRules = append(cfg.OrderedRules, r.id)
			for _, k := range r.keywords {
				cfg.Keywords[k] = struct{}{}
			}
		}
	case sc.ours:
		s.ours = ourRules
		b := ahocorasick.NewTrieBuilder()
		for i, r := range ourRules {
			for _, k := range r.keywords {
				b.AddString(k)
				s.oursKeywordRule = append(s.oursKeywordRule, i)
			}
		}
		s.oursKeywords = b.Build()
	}
	for _, w := range windowedRules {
		g, ok := cfg.Rules[w.id]
		if !ok || sc.wholeGeneric {
			continue
		}
		delete(cfg.Rules, w.id)
		kw := map[string]struct{}{}
		for _, k := range g.Keywords {
			kw[k] = struct{}{}
		}
		w.detector = detect.NewDetector(config.Config{Rules: map[string]config.Rule{w.id: g}, Keywords: kw, Allowlists: cfg.Allowlists})
		w.keywords = g.Keywords
		s.windowed = append(s.windowed, w)
		s.glRegexp[w.id] = g.Regex
	}
	if len(cfg.Rules) > 0 {
		s.gl = detect.NewDetector(cfg)
		for id, r := range cfg.Rules {
			s.glRegexp[id] = r.Regex
		}
	}
	return s, nil
}

// defaultConfig reads gitleaks' default rules with a viper of its own:
// detect.NewDetectorDefaultConfig does the same with viper's package-level
// instance, which is neither ours to change nor safe to share.
func defaultConfig() (config.Config, error) {
	v := viper.New()
	v.SetConfigType("toml")
	if err := v.ReadConfig(strings.NewReader(config.DefaultConfig)); err != nil {
		return config.Config{}, err
	}
	var vc config.ViperConfig
	if err := v.Unmarshal(&vc); err != nil {
		return config.Config{}, err
	}
	return vc.Translate()
}

// hit is a secret found, by byte offsets into the part's text.
type hit struct {
	ruleID     string
	typ        Type
	start, end int
	rank       int
}

// Ranks settle overlapping hits: a provider's own format beats our rules,
// which beat gitleaks' generic-api-key.
const (
	rankGeneric  = 1
	rankPassword = 2
	rankSpecific = 3
)

// Scan returns the secrets in a part, in the order they appear; one secret
// found by two rules is reported once, by the more specific rule.
func (s *Scanner) Scan(p Part) []Finding {
	hits := s.hits(p.Text)
	if len(hits) == 0 {
		return nil
	}
	out := make([]Finding, 0, len(hits))
	for _, h := range hits {
		secret := p.Text[h.start:h.end]
		line, col := position(p.Text, h.start)
		g := Guidance(h.typ)
		out = append(out, Finding{
			Type: h.typ, RuleID: h.ruleID, Part: p.Name, Line: line, Column: col,
			Fingerprint: fingerprint(s.key, h.typ, secret),
			Masked:      mask(h.typ, secret),
			Live:        g.Live,
		})
	}
	return out
}

// Reveal returns the secret a finding stands for, found again in the text
// of the part it came from, or "" when that text no longer holds it (a
// different text, key or rule set). It is for the portal's reveal action,
// which is audited: nothing else should need the secret in clear.
func (s *Scanner) Reveal(text string, f Finding) string {
	for _, h := range s.hits(text) {
		if h.typ != f.Type {
			continue
		}
		if line, col := position(text, h.start); line != f.Line || col != f.Column {
			continue
		}
		if secret := text[h.start:h.end]; fingerprint(s.key, h.typ, secret) == f.Fingerprint {
			return secret
		}
	}
	return ""
}

// hits runs every rule over the text and settles overlaps.
func (s *Scanner) hits(text string) []hit {
	var hits []hit
	lower := lowerASCII(text)
	if s.gl != nil {
		for _, f := range s.gl.DetectString(text) {
			if h, ok := s.fromGitleaks(text, f.RuleID, f.StartLine, f.StartColumn, f.Match); ok {
				hits = append(hits, h)
			}
		}
	}
	for _, wr := range s.windowed {
		for _, w := range wr.windows(text, lower) {
			win := text[w[0]:w[1]]
			for _, f := range wr.detector.DetectString(win) {
				if h, ok := s.fromGitleaks(win, f.RuleID, f.StartLine, f.StartColumn, f.Match); ok {
					h.start, h.end = h.start+w[0], h.end+w[0]
					hits = append(hits, h)
				}
			}
		}
	}
	if len(s.ours) > 0 {
		// The keywords' non-ASCII letters are lowercase; an uppercase one in
		// the text (RÉCUPÉRATION) skips the rule, as it is not lowered here.
		woken := make([]bool, len(s.ours))
		s.oursKeywords.Walk([]byte(lower), func(_, _, pattern int64) bool {
			woken[s.oursKeywordRule[pattern]] = true
			return true
		})
		for i, r := range s.ours {
			if !woken[i] {
				continue
			}
			for _, m := range r.re.FindAllStringSubmatchIndex(text, -1) {
				if h, ok := ourHit(r, text, m); ok {
					hits = append(hits, h)
				}
			}
		}
	}
	return settle(hits)
}

// windowedRule is a gitleaks rule whose keywords are in most text, run on
// the windows of text around the keywords that can open a match instead
// of over the whole text: gitleaks runs a rule's regular expression over
// all of a text once a keyword is in it, and Go runs such expressions
// with its slowest engine. A window runs from the start of the line
// holding the keyword to the end of the line holding the byte reach after
// it; windows that touch are merged. Each rule's windows find what the
// whole text finds (TestWindowedRules compares them over a corpus).
type windowedRule struct {
	id string
	// reach is how far past its keyword a match can still be running
	// before it must end on the line it is on.
	reach int
	// opens reports whether the keyword at text[at:after] can be part of
	// a match; one that cannot opens no window.
	opens func(text string, at, after int) bool
	// Set by newScanner: the rule alone, and its keywords.
	detector *detect.Detector
	keywords []string
}

// windowedRules are the rules NewScanner runs on windows.
var windowedRules = []windowedRule{
	// generic-api-key, for any assignment of a key-like value to a
	// key-like name: its keywords (key, auth, access, api, token, ...) are
	// in nearly every delivered message (Authentication-Results) and in
	// prose ("access policies for the tenant"); over the whole text it
	// costs 8 ms per 6 KB here. A match cannot start before its keyword's
	// line ([\w.-] does not cross a newline); its operator
	// ((?:=|>|:{1,3}=|\|\||:|=>|\?=|,)) starts at most 23 bytes after the
	// keyword (after [ \t\w.-]{0,20} and [\s'"]{0,3}); its value starts at
	// most 32 bytes after it and ends on the line it starts on.
	{id: genericRule, reach: 32, opens: func(text string, _, after int) bool {
		return strings.ContainsAny(text[after:min(len(text), after+24)], "=>:|?,")
	}},
	// vault-service-token (\b(hvs\.[\w-]{90,120}|s\.(?i:[a-z0-9]{24}))...):
	// its keyword "s." ends half the sentences of English prose. A match
	// is the keyword and what follows it on its line; "s." opens one only
	// when 24 letters or digits follow.
	{id: "vault-service-token", reach: 0, opens: func(text string, at, after int) bool {
		if text[at] != 's' && text[at] != 'S' {
			return true // hvs.
		}
		if after+24 > len(text) {
			return false
		}
		for _, c := range []byte(text[after : after+24]) {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
				return false
			}
		}
		return true
	}},
}

// genericRule is gitleaks' rule for any assignment of a key-like value to
// a key-like name.
const genericRule = "generic-api-key"

// windows returns the stretches of text the rule can match in (see
// windowedRule); lower is text with its ASCII letters lowercased.
func (wr windowedRule) windows(text, lower string) [][2]int {
	var ws [][2]int
	for _, k := range wr.keywords {
		for off := 0; ; {
			i := strings.Index(lower[off:], k)
			if i < 0 {
				break
			}
			at := off + i
			off = at + len(k)
			if !wr.opens(text, at, off) {
				continue
			}
			start := strings.LastIndexByte(text[:at], '\n') + 1
			reach := min(len(text), off+wr.reach)
			end := len(text)
			if j := strings.IndexByte(text[reach:], '\n'); j >= 0 {
				end = reach + j
			}
			ws = append(ws, [2]int{start, end})
		}
	}
	if len(ws) < 2 {
		return ws
	}
	sort.Slice(ws, func(a, b int) bool { return ws[a][0] < ws[b][0] })
	out := ws[:1]
	for _, w := range ws[1:] {
		if last := &out[len(out)-1]; w[0] <= last[1]+1 {
			last[1] = max(last[1], w[1])
		} else {
			out = append(out, w)
		}
	}
	return out
}

// lowerASCII lowercases ASCII letters only, so offsets stay those of s
// (strings.ToLower can change a string's length).
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// ourHit turns a match of one of our rules into a hit, if it is valid.
func ourHit(r rule, text string, m []int) (hit, bool) {
	start, end := -1, -1
	if r.group > 0 {
		start, end = m[2*r.group], m[2*r.group+1]
	} else {
		for g := 1; 2*g+1 < len(m); g++ {
			if m[2*g] >= 0 && m[2*g+1] > m[2*g] {
				start, end = m[2*g], m[2*g+1]
				break
			}
		}
	}
	if start < 0 || end <= start {
		return hit{}, false
	}
	// Values lose what prose puts after them (a full stop, a quote).
	if r.typ == Password || r.typ == ConnString {
		secret := text[start:end]
		if t := strings.Trim(trimValue(secret), `"'`); t != "" {
			i := strings.Index(secret, t)
			start, end = start+i, start+i+len(t)
		}
	}
	if r.valid != nil && !r.valid(text[start:end], text[m[0]:m[1]], lines(text, m[0], m[1])) {
		return hit{}, false
	}
	rank := rankSpecific
	if r.typ == Password {
		rank = rankPassword
	}
	return hit{ruleID: r.id, typ: r.typ, start: start, end: end, rank: rank}, true
}

// fromGitleaks places a gitleaks finding in the text. gitleaks reports the
// match's 0-based line and a column counted from the previous newline, not
// the secret's offset, so the match is looked for there and the secret
// found again in it with the rule's own regular expression.
func (s *Scanner) fromGitleaks(text, ruleID string, line0, col int, match string) (hit, bool) {
	if match == "" {
		return hit{}, false
	}
	at := 0
	if line0 > 0 {
		at = lineStart(text, line0) - 1
	}
	at += col - 1
	at = max(0, min(at-4, len(text)))
	i := strings.Index(text[at:], match)
	if i < 0 {
		if i = strings.Index(text, match); i < 0 {
			return hit{}, false
		}
	} else {
		i += at
	}
	re := s.glRegexp[ruleID]
	if re == nil {
		return hit{}, false
	}
	m := re.FindStringSubmatchIndex(match)
	if m == nil {
		return hit{}, false
	}
	if r, ours := s.byID[ruleID]; ours {
		shifted := make([]int, len(m))
		for k, v := range m {
			shifted[k] = v
			if v >= 0 {
				shifted[k] = v + i
			}
		}
		return ourHit(r, text, shifted)
	}
	gr := 0
	if s.gl != nil {
		gr = s.gl.Config.Rules[ruleID].SecretGroup
	}
	start, end := m[0], m[1]
	if len(m) > 2 {
		if gr > 0 && 2*gr+1 < len(m) {
			start, end = m[2*gr], m[2*gr+1]
		} else {
			for g := 1; 2*g+1 < len(m); g++ {
				if m[2*g+1] > m[2*g] && m[2*g] >= 0 {
					start, end = m[2*g], m[2*g+1]
					break
				}
			}
		}
	}
	if start < 0 || end <= start {
		return hit{}, false
	}
	rank := rankSpecific
	if strings.Contains(ruleID, "generic") {
		rank = rankGeneric
	}
	return hit{ruleID: ruleID, typ: typeOfRule(ruleID), start: i + start, end: i + end, rank: rank}, true
}

// lines returns the whole lines text[from:to] is on.
func lines(text string, from, to int) string {
	from = strings.LastIndexByte(text[:from], '\n') + 1
	if j := strings.IndexByte(text[to:], '\n'); j >= 0 {
		return text[from : to+j]
	}
	return text[from:]
}

// lineStart is the byte offset where the 0-based line n starts.
func lineStart(text string, n int) int {
	off := 0
	for ; n > 0; n-- {
		j := strings.IndexByte(text[off:], '\n')
		if j < 0 {
			return len(text)
		}
		off += j + 1
	}
	return off
}

// position is the 1-based line and column (in characters) of a byte offset.
func position(text string, off int) (line, col int) {
	line = 1 + strings.Count(text[:off], "\n")
	ls := strings.LastIndexByte(text[:off], '\n') + 1
	return line, 1 + utf8.RuneCountInString(text[ls:off])
}

// settle sorts hits by position and drops those another hit covers better:
// overlapping a hit of a higher rank, or the same span as an earlier one.
func settle(hits []hit) []hit {
	if len(hits) < 2 {
		return hits
	}
	sort.SliceStable(hits, func(a, b int) bool {
		if hits[a].start != hits[b].start {
			return hits[a].start < hits[b].start
		}
		if hits[a].rank != hits[b].rank {
			return hits[a].rank > hits[b].rank
		}
		return hits[a].ruleID < hits[b].ruleID
	})
	out := hits[:0:0]
	for i, h := range hits {
		keep := true
		for j, o := range hits {
			if i == j || o.end <= h.start || h.end <= o.start {
				continue
			}
			if o.rank > h.rank || o.rank == h.rank && j < i {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, h)
		}
	}
	return out
}
