package notifier_test

import (
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/breachnotify/breachnotify/notifier"
)

var sampleSHA = strings.Repeat("0123456789abcdef", 4)

func TestParseFindingID(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		ok   bool
		want string
	}{
		{sampleSHA + "-0", true, sampleSHA + "-0"},
		{sampleSHA + "-17", true, sampleSHA + "-17"},
		{strings.ToUpper(sampleSHA) + "-2147483647", true, sampleSHA + "-2147483647"},
		{sampleSHA + "-2147483648", false, ""},
		{sampleSHA + "-01", false, ""},
		{sampleSHA + "-+1", false, ""},
		{sampleSHA + "--1", false, ""},
		{sampleSHA + "-", false, ""},
		{sampleSHA + "-1 ", false, ""},
		{sampleSHA[:63] + "-1", false, ""},
		{sampleSHA + "0-1", false, ""},
		{"zz" + sampleSHA[2:] + "-1", false, ""},
		{"", false, ""},
		{sampleSHA + "-99999999999", false, ""},
	} {
		id, err := notifier.ParseFindingID(c.in)
		switch {
		case c.ok && (err != nil || id.String() != c.want):
			t.Errorf("%q: %v, %v; want %s", c.in, id, err, c.want)
		case !c.ok && (err == nil || notifier.ErrorCode(err) != notifier.CodeBadRequest):
			t.Errorf("%q: %v, %v; want bad_request", c.in, id, err)
		}
	}
}

// FuzzParseFindingID: an id from a URL or the command line either parses
// to one that prints back as its input (lower case), or is refused with
// a coded error; never a panic.
func FuzzParseFindingID(f *testing.F) {
	for _, s := range []string{sampleSHA + "-0", sampleSHA + "-2147483647", sampleSHA + "-01", "-", "", strings.Repeat("f", 64) + "-\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := notifier.ParseFindingID(s)
		if err != nil {
			if notifier.ErrorCode(err) != notifier.CodeBadRequest {
				t.Fatalf("%q: uncoded error %v", s, err)
			}
			return
		}
		if id.String() != strings.ToLower(s) {
			t.Fatalf("%q parsed to %s", s, id)
		}
		if c, err := notifier.DecodeFindingCursor(notifier.EncodeFindingCursor(id)); err != nil || *c != id {
			t.Fatalf("cursor of %s: %v, %v", id, c, err)
		}
	})
}

// FuzzValidateReason: a reason accepted is valid UTF-8, at most
// MaxReasonLength characters, and holds nothing that moves a terminal's
// cursor or hides text.
func FuzzValidateReason(f *testing.F) {
	for _, s := range []string{"a test key", "", " ", "line\nbreak", "\x1b[2J", "bidi \u202e", strings.Repeat("é", 501), "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := notifier.ValidateReason(s, true)
		if err != nil {
			if notifier.ErrorCode(err) != notifier.CodeInvalid {
				t.Fatalf("%q: uncoded error %v", s, err)
			}
			return
		}
		if !utf8.ValidString(s) || utf8.RuneCountInString(s) > notifier.MaxReasonLength || strings.TrimSpace(s) == "" ||
			strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }) {
			t.Fatalf("%q accepted", s)
		}
	})
}

func TestRetentionDue(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	day := notifier.Duration(24 * time.Hour)
	ago := func(d time.Duration) *time.Time { at := now.Add(-d); return &at }
	for _, c := range []struct {
		name      string
		retention notifier.Duration
		last      time.Duration
		running   *time.Time
		due       bool
	}{
		{"kept until purged", 0, 1000 * time.Hour, nil, false},
		{"not yet", day, 23 * time.Hour, nil, false},
		{"exactly", day, 24 * time.Hour, nil, true},
		{"past", day, 25 * time.Hour, nil, true},
		{"an import running", day, 25 * time.Hour, ago(time.Hour), false},
		{"an import dead for a week", day, 25 * time.Hour, ago(notifier.StaleImportAfter), true},
	} {
		cand := notifier.RetentionCandidate{Policy: notifier.Policy{EvidenceRetention: c.retention}, LastEvidenceAt: now.Add(-c.last), RunningSince: c.running}
		if got := cand.RetentionDue(now); got != c.due {
			t.Errorf("%s: due %v, want %v", c.name, got, c.due)
		}
	}
}

func TestEvidenceRetentionBounds(t *testing.T) {
	t.Parallel()
	for d, ok := range map[time.Duration]bool{0: true, 24 * time.Hour: true, 87600 * time.Hour: true, time.Hour: false,
		-24 * time.Hour: false, 87601 * time.Hour: false} {
		v := notifier.Duration(d)
		problems := notifier.PolicyPatch{EvidenceRetention: &v}.Validate()
		if (len(problems) == 0) != ok {
			t.Errorf("evidence_retention %v: %v", d, problems)
		}
	}
}
