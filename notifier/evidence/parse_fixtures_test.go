package evidence

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
)

// expectedDomains is one entry of mime-real/expected.json: the participant
// domains Python's email package reads in a message, those of its
// attached messages that are not already among them, and whether Python
// read it without defects.
type expectedDomains struct {
	Domains       []string `json:"domains"`
	NestedDomains []string `json:"nested_domains"`
	Parsed        bool     `json:"parsed"`
}

// domainsByDepth returns the sorted distinct domains of depth 0, and
// those of deeper levels not among them.
func domainsByDepth(msg Message) (top, nested []string) {
	seen := map[string]bool{}
	for _, p := range msg.Participants {
		if p.Depth == 0 && p.Domain != "" && !seen[p.Domain] {
			seen[p.Domain] = true
			top = append(top, p.Domain)
		}
	}
	deeper := map[string]bool{}
	for _, p := range msg.Participants {
		if p.Depth > 0 && p.Domain != "" && !seen[p.Domain] && !deeper[p.Domain] {
			deeper[p.Domain] = true
			nested = append(nested, p.Domain)
		}
	}
	sort.Strings(top)
	sort.Strings(nested)
	return top, nested
}

// disagreements are the messages where this package reads other domains
// than Python did, each with what we read and why we hold to it.
var disagreements = map[string]struct {
	domains, nested []string
	why             string
}{
	"047-multi-digest.eml": {
		domains: []string{"bellcore.com", "innosoft.com"},
		nested:  []string{"nowhere.org"},
		why: "a multipart/digest of two embedded messages, both From: noone@nowhere.org (RFC 2046 5.1.5: a digest's " +
			"parts are message/rfc822 by default; the second says so explicitly). Python's own tree shows both " +
			"message/rfc822 parts, yet expected.json lists no nested domain: its extraction skipped digest members.",
	},
}

// TestFixtureDomains reads the 101 real messages and compares their
// participant domains with what Python's email package read in them.
func TestFixtureDomains(t *testing.T) {
	t.Parallel()
	dir := mimeReal(t)
	b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var expected map[string]expectedDomains
	if err := json.Unmarshal(b, &expected); err != nil {
		t.Fatal(err)
	}
	p, err := NewParser(ParserConfig{})
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(expected))
	for name := range expected {
		names = append(names, name)
	}
	sort.Strings(names)
	// The one message nothing can read: it has no header block at all.
	wantUnparseable := []string{"078-malformedheader-noheader.eml"}
	var unparseable []string
	for _, name := range names {
		want := expected[name]
		raw := readRawFile(t, filepath.Join(dir, name))
		msg, perr := p.Parse(raw)
		top, nested := domainsByDepth(msg)
		if d, ok := disagreements[name]; ok {
			want.Domains, want.NestedDomains = d.domains, d.nested
			t.Logf("%s: differs from Python on purpose: %s", name, d.why)
		}
		if !slices.Equal(top, nonNil(want.Domains)) || !slices.Equal(nested, nonNil(want.NestedDomains)) {
			t.Errorf("%s: domains %q nested %q, Python read %q nested %q (parse error: %v)", name, top, nested, want.Domains, want.NestedDomains, perr)
		}
		if perr != nil {
			unparseable = append(unparseable, name)
			t.Logf("%s: %v", name, perr)
		}
	}
	if !slices.Equal(unparseable, wantUnparseable) {
		t.Errorf("unparseable: %q, want %q", unparseable, wantUnparseable)
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
