package evidence

import (
	"bytes"
	"testing"
)

// normalizeFrom removes every ">" before "From " at a line start, so that
// texts differing only by mbox escaping compare equal.
func normalizeFrom(b []byte) []byte {
	lines := bytes.SplitAfter(b, []byte("\n"))
	var out bytes.Buffer
	for _, l := range lines {
		if t := bytes.TrimLeft(l, ">"); bytes.HasPrefix(t, fromPrefix) {
			l = t
		}
		out.Write(l)
	}
	return out.Bytes()
}

// dropLeadingBlankLines removes the blank lines at the start of an mbox
// when what follows is a separator or nothing: the reader drops them.
func dropLeadingBlankLines(b []byte) []byte {
	rest := b
	for {
		switch {
		case bytes.HasPrefix(rest, []byte("\n")):
			rest = rest[1:]
			continue
		case bytes.HasPrefix(rest, []byte("\r\n")):
			rest = rest[2:]
			continue
		}
		break
	}
	if len(rest) == 0 || bytes.HasPrefix(rest, fromPrefix) {
		return rest
	}
	return b
}

func hasLongLine(b []byte) bool {
	for _, l := range bytes.Split(b, []byte("\n")) {
		if len(l) >= maxFromLine {
			return true
		}
	}
	return false
}

// FuzzMboxSplit checks that splitting never fails or panics, that the
// messages and their separators joined back give the input (modulo
// escaping), and that messages written as mboxrd split back unchanged.
func FuzzMboxSplit(f *testing.F) {
	for _, s := range []string{
		"From a\nS: 1\n\nbody\n\nFrom b\nS: 2\n\n",
		"From a\r\nS: 1\r\n\r\n>From x\r\n>>From y\r\n\r\nFrom b\r\n\r\n",
		"S: 0\n\npreamble\n\nFrom a\nS: 1\n\nno final newline",
		"\n\nFrom a\nFrom b\n\n\n\nFrom c",
		"From a\nx\nFrom not a separator\n\n>From escaped\n",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, in []byte, mboxo bool) {
		msgs := splitAll(t, in, !mboxo, 1<<30)

		if !hasLongLine(in) {
			var joined bytes.Buffer
			for _, m := range msgs {
				joined.Write(m.fromLine)
				if mboxo {
					joined.Write(m.data)
				} else {
					joined.Write(escapeMboxrd(m.data))
				}
				joined.Write(m.trailer)
			}
			want := dropLeadingBlankLines(in)
			if !mboxo {
				want = normalizeFrom(want)
			}
			got := joined.Bytes()
			if !mboxo {
				got = normalizeFrom(got)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("joined messages differ from the input:\n got %q\nwant %q", got, want)
			}
		}

		var mbox bytes.Buffer
		for _, m := range msgs {
			mbox.WriteString("From fuzz Thu Jan  1 00:00:00 2024\n")
			mbox.Write(escapeMboxrd(m.data))
			if !bytes.HasSuffix(m.data, []byte("\n")) {
				mbox.WriteString("\n")
			}
			mbox.WriteString("\n")
		}
		again := splitAll(t, mbox.Bytes(), true, 1<<30)
		if len(again) != len(msgs) {
			t.Fatalf("%d messages written as mboxrd split into %d", len(msgs), len(again))
		}
		for i, m := range msgs {
			want := m.data
			if !bytes.HasSuffix(want, []byte("\n")) {
				want = append(append([]byte(nil), want...), '\n')
			}
			if !bytes.Equal(again[i].data, want) {
				t.Fatalf("message %d written as mboxrd and split again:\n got %q\nwant %q", i, again[i].data, want)
			}
		}
	})
}
