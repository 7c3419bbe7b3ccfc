package linkguard

import (
	"sort"
	"strings"
	"unicode/utf8"
)

// Defang rewrites a data value so no mail client or browser can turn any
// part of it into a link, and nothing in it reorders the text around it:
//
//   - http, https, ftp and ftps become hxxp, hxxps, fxp and fxps
//     (hxxps://phish[.]example/login); any other scheme that would link
//     gets its colon bracketed (mailto[:]x@y[.]example, ms-word[:]…);
//   - every dot of a domain a client would link, of an e-mail address, of
//     an IPv4 address, and of any name whose last label has two letters or
//     more becomes [.] (evil[.]example, report[.]zip); look-alike dots too;
//   - a UNC path's leading backslashes are bracketed ([\\]host\share);
//   - bidi embeddings, overrides and isolates are removed.
//
// Everything else is kept as written, so a name or a subject stays readable:
// "e.g.", "v2.0", "3.5 MB" and Japanese full stops are untouched. Scan finds
// no link in what Defang returns (a fuzz test checks it for any input).
func Defang(s string) string {
	if !mayLink(s) { // bidi controls are not ASCII: mayLink says yes to them
		return s
	}
	buf := unitPool.Get().(*[]unit)
	defer unitPool.Put(buf)
	us := fold(s, (*buf)[:0])
	defer func() { *buf = us[:0] }()
	var edits []edit
	for i := 0; i < len(us); {
		if isSpace(us[i].r) {
			i++
			continue
		}
		j := i
		for j < len(us) && !isSpace(us[j].r) {
			j++
		}
		edits = defangWord(us[i:j], edits)
		i = j
	}
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if bidiControl(r) {
			edits = append(edits, edit{start: i, end: i + n})
		}
		i += n
	}
	return apply(s, edits)
}

// edit replaces s[start:end] with with.
type edit struct {
	start, end int
	with       string
}

func defangWord(w []unit, edits []edit) []edit {
	// Schemes: every colon that would make a link. The web schemes take
	// the security world's spellings (hxxps:); any other gets its colon
	// bracketed.
	for c := 1; c < len(w); c++ {
		k, ok := linkingScheme(w, c)
		if !ok {
			continue
		}
		if x, ok := xScheme[runesOf(w[k:c])]; ok {
			edits = append(edits, edit{start: w[k].start, end: w[c].end, with: x + ":"})
			continue
		}
		edits = append(edits, edit{start: w[c].start, end: w[c].end, with: "[:]"})
	}
	// UNC paths.
	for k := range w {
		if e, ok := uncAt(w, k); ok {
			edits = append(edits, edit{start: w[k].start, end: w[k].start, with: "["}, edit{start: w[e].start, end: w[e].start, with: "]"})
		}
	}
	// Hosts: every dot of a host judgeHost says to defang.
	for i := 0; i < len(w); {
		if !isLabel(w[i].r) {
			i++
			continue
		}
		h := readHost(w, i)
		if judgeHost(w, h).defang {
			for k := h.start; k < h.end; k++ {
				if w[k].r == '.' {
					edits = append(edits, edit{start: w[k].start, end: w[k].end, with: "[.]"})
				}
			}
		}
		i = h.end
	}
	return edits
}

// xScheme are the defanged spellings of the web schemes.
var xScheme = map[string]string{"http": "hxxp", "https": "hxxps", "ftp": "fxp", "ftps": "fxps"}

// apply makes the edits (non-overlapping; insertions have start == end).
func apply(s string, edits []edit) string {
	if len(edits) == 0 {
		return s
	}
	// By position; an insertion goes before a replacement starting at the
	// same place.
	sort.SliceStable(edits, func(a, b int) bool {
		ea, eb := edits[a], edits[b]
		if ea.start != eb.start {
			return ea.start < eb.start
		}
		return ea.start == ea.end && eb.start != eb.end
	})
	var b strings.Builder
	b.Grow(len(s) + 3*len(edits))
	at := 0
	for _, e := range edits {
		if e.start < at {
			continue // an overlap cannot happen; keep the first edit if it did
		}
		b.WriteString(s[at:e.start])
		b.WriteString(e.with)
		at = e.end
	}
	b.WriteString(s[at:])
	return b.String()
}
