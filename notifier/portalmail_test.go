package notifier_test

import (
	"strings"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
)

// TestParseMessageRef reads refs as URLs carry them, and refuses every
// other spelling of the same message (so one message has one URL).
func TestParseMessageRef(t *testing.T) {
	t.Parallel()
	hex := strings.Repeat("ab", 32)
	for _, c := range []struct {
		in string
		ok bool
	}{
		{"12-" + hex, true},
		{"1-" + strings.Repeat("0", 64), true},
		{"012-" + hex, false},
		{"12-" + strings.ToUpper(hex), false},
		{"12-" + hex[:62], false},
		{"12-" + hex + "00", false},
		{"0-" + hex, false},
		{"-1-" + hex, false},
		{"+1-" + hex, false},
		{"12" + hex, false},
		{"12-" + hex[:63] + "g", false},
		{"99999999999999999999-" + hex, false},
		{"", false},
	} {
		r, ok := notifier.ParseMessageRef(c.in)
		if ok != c.ok || ok && r.String() != c.in {
			t.Errorf("ParseMessageRef(%q) = %v, %v; want ok %v and the same ref back", c.in, r, ok, c.ok)
		}
	}
}

// TestMessageCursor round-trips cursors, the undated one (year 1)
// included, and refuses altered ones as not found.
func TestMessageCursor(t *testing.T) {
	t.Parallel()
	for _, at := range []time.Time{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 4, 9, 30, 0, 123456000, time.UTC)} {
		c := notifier.MessageCursor{SortAt: at, IncidentID: 7, SHA256: [32]byte{1, 2, 3}}
		got, err := notifier.DecodeMessageCursor(c.Encode())
		if err != nil || got == nil || *got != c {
			t.Errorf("cursor %v: %v %v", c, got, err)
		}
	}
	for _, bad := range []string{"x", "MTIz", "!!", strings.Repeat("A", 200)} {
		if _, err := notifier.DecodeMessageCursor(bad); notifier.ErrorCode(err) != notifier.CodeNotFound {
			t.Errorf("cursor %q: %v", bad, err)
		}
	}
}

// FuzzMessageRefs: refs and cursors from URLs never panic, and what is
// accepted reads back to the same text.
func FuzzMessageRefs(f *testing.F) {
	f.Add("12-" + strings.Repeat("ab", 32))
	f.Add(notifier.MessageCursor{IncidentID: 3}.Encode())
	f.Fuzz(func(t *testing.T, s string) {
		if r, ok := notifier.ParseMessageRef(s); ok && r.String() != s {
			t.Fatalf("ParseMessageRef(%q) = %s", s, r)
		}
		if c, err := notifier.DecodeMessageCursor(s); err == nil && c != nil {
			if _, err := notifier.DecodeMessageCursor(c.Encode()); err != nil {
				t.Fatalf("cursor %q read as %+v does not read back: %v", s, c, err)
			}
		}
	})
}
