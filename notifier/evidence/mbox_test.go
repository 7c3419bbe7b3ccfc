package evidence

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// splitAll splits an mbox held in memory.
func splitAll(t testing.TB, in []byte, unescape bool, max int64) []mboxMessage {
	t.Helper()
	m := newMboxReader(bytes.NewReader(in), max, unescape)
	var out []mboxMessage
	for {
		msg, err := m.next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("split: %v", err)
		}
		out = append(out, msg)
	}
}

func TestMboxSplit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       string
		mboxo    bool
		want     []string
		wantFrom []string
	}{
		{
			name: "mboxrd two messages",
			in:   "From a@x Thu Jan  1 00:00:00 2024\nSubject: 1\n\nbody\n\nFrom b@x Thu Jan  1 00:00:00 2024\nSubject: 2\n\nbody 2\n\n",
			want: []string{"Subject: 1\n\nbody\n", "Subject: 2\n\nbody 2\n"},
		},
		{
			name: "mboxrd escapes undone one level",
			in:   "From a\nS: 1\n\n>From here\n>>From there\n> From not\n\n",
			want: []string{"S: 1\n\nFrom here\n>From there\n> From not\n"},
		},
		{
			name:  "mboxo keeps >From",
			in:    "From a\nS: 1\n\n>From here\n\n",
			mboxo: true,
			want:  []string{"S: 1\n\n>From here\n"},
		},
		{
			name: "unescaped From inside a body, not after a blank line, stays",
			in:   "From a\nS: 1\n\nline\nFrom here on\n\nFrom b\nS: 2\n\n",
			want: []string{"S: 1\n\nline\nFrom here on\n", "S: 2\n"},
		},
		{
			name: "unescaped From after a blank line splits (mboxo's known flaw)",
			in:   "From a\nS: 1\n\nFrom here on\n",
			want: []string{"S: 1\n", ""},
		},
		{
			name: "CRLF file",
			in:   "From a\r\nS: 1\r\n\r\nbody\r\n\r\nFrom b\r\nS: 2\r\n\r\nbody\r\n\r\n",
			want: []string{"S: 1\r\n\r\nbody\r\n", "S: 2\r\n\r\nbody\r\n"},
		},
		{
			name: "CRLF messages in an LF mbox (as corpus.mbox)",
			in:   "From a\nS: 1\r\n\r\nbody\r\n\nFrom b\nS: 2\r\n\r\nbody\r\n\n",
			want: []string{"S: 1\r\n\r\nbody\r\n", "S: 2\r\n\r\nbody\r\n"},
		},
		{
			name: "no final newline",
			in:   "From a\nS: 1\n\nbody\n\nFrom b\nS: 2\n\nlast line",
			want: []string{"S: 1\n\nbody\n", "S: 2\n\nlast line"},
		},
		{
			name: "does not start with From",
			in:   "S: 0\n\npreamble\n\nFrom a\nS: 1\n\n",
			want: []string{"S: 0\n\npreamble\n", "S: 1\n"},
		},
		{
			name: "blank lines before the first From are not a message",
			in:   "\n\r\n\nFrom a\nS: 1\n\n",
			want: []string{"S: 1\n"},
		},
		{
			name: "several blank lines: only the last is the separator's",
			in:   "From a\nS: 1\n\nbody\n\n\n\nFrom b\nS: 2\n",
			want: []string{"S: 1\n\nbody\n\n\n", "S: 2\n"},
		},
		{
			name: "a message of only a From line",
			in:   "From a\nFrom b\n",
			want: []string{"From b\n"},
		},
		{name: "empty input", in: "", want: nil},
		{name: "only blank lines", in: "\n\n", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := splitAll(t, []byte(tt.in), !tt.mboxo, 1<<20)
			var gotS []string
			for _, m := range got {
				gotS = append(gotS, string(m.data))
				if m.sum != sha256.Sum256(m.data) || m.size != int64(len(m.data)) {
					t.Errorf("message %q: hash or size does not match its bytes", m.data)
				}
			}
			if strings.Join(gotS, "|") != strings.Join(tt.want, "|") || len(gotS) != len(tt.want) {
				t.Errorf("split:\n got %q\nwant %q", gotS, tt.want)
			}
		})
	}
}

func TestMboxTooLarge(t *testing.T) {
	t.Parallel()
	body := strings.Repeat("0123456789abcdef\n", 100)
	in := "From a\nS: big\n\n" + body + "\nFrom b\nS: small\n\n"
	got := splitAll(t, []byte(in), true, 1000)
	if len(got) != 2 {
		t.Fatalf("got %d messages, want 2", len(got))
	}
	big := "S: big\n\n" + body
	if !got[0].tooLarge || got[0].data != nil || got[0].size != int64(len(big)) || got[0].sum != sha256.Sum256([]byte(big)) {
		t.Errorf("large message: tooLarge=%v size=%d (want %d), data kept=%v, hash matches=%v",
			got[0].tooLarge, got[0].size, len(big), got[0].data != nil, got[0].sum == sha256.Sum256([]byte(big)))
	}
	if got[1].tooLarge || string(got[1].data) != "S: small\n" {
		t.Errorf("message after the large one: %q tooLarge=%v", got[1].data, got[1].tooLarge)
	}
}

// TestCorpusMbox reads corpus.mbox and finds every .eml of mime-real in
// it with the same SHA-256, except the messages that had no final line
// end: the writer of corpus.mbox added one before the separating blank
// line (see mboxReader), so they come back with it.
func TestCorpusMbox(t *testing.T) {
	t.Parallel()
	dir := mimeReal(t)
	emls, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil || len(emls) != 101 {
		t.Fatalf("want 101 .eml fixtures, found %d (%v)", len(emls), err)
	}
	sort.Strings(emls)
	in, err := os.ReadFile(filepath.Join(dir, "corpus.mbox"))
	if err != nil {
		t.Fatal(err)
	}
	got := splitAll(t, in, true, MaxMessageSizeDefault)
	if len(got) != len(emls) {
		t.Fatalf("corpus.mbox: %d messages, want %d", len(got), len(emls))
	}
	var noFinalNewline []string
	for i, path := range emls {
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(path)
		if !bytes.HasSuffix(want, []byte("\n")) {
			noFinalNewline = append(noFinalNewline, name)
			want = append(want, '\n')
			if got[i].sum == sha256.Sum256(want) {
				continue
			}
		}
		if got[i].sum != sha256.Sum256(want) {
			t.Errorf("message %d: SHA-256 differs from %s (%d bytes read, %d in the file)", i+1, name, got[i].size, len(want))
		}
	}
	wantNoNL := []string{
		"070-basic-plain-very-long-lines.eml", "074-ending-boundaries.eml", "076-intermediate-boundaries.eml",
		"092-very-long-boundary.eml", "093-very-very-long-boundary.eml", "094-weird-boundary.eml",
	}
	if strings.Join(noFinalNewline, " ") != strings.Join(wantNoNL, " ") {
		t.Errorf("messages without a final line end: %v, want %v", noFinalNewline, wantNoNL)
	}
	t.Logf("corpus.mbox: %d messages, %d identical to their .eml, %d identical but for the final line end the mbox writer added (%v)",
		len(got), len(got)-len(noFinalNewline), len(noFinalNewline), noFinalNewline)
}
