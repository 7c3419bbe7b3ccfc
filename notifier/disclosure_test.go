package notifier_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
)

func TestPolicyPatchDisclosure(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		body    string
		want    notifier.Disclosure
		invalid bool
	}{
		{`{"disclosure":"minimal"}`, notifier.DisclosureMinimal, false},
		{`{"disclosure":"full"}`, notifier.DisclosureFull, false},
		{`{"disclosure":null}`, notifier.DisclosureFull, false},
		{`{}`, notifier.DisclosureFull, false},
		{`{"disclosure":"Minimal"}`, "", true},
		{`{"disclosure":""}`, "", true},
		{`{"disclosure":"none"}`, "", true},
	} {
		var pp notifier.PolicyPatch
		if err := json.Unmarshal([]byte(c.body), &pp); err != nil {
			t.Fatal(err)
		}
		problems := pp.Validate()
		if c.invalid {
			if len(problems) != 1 || problems[0].Field != "disclosure" || !strings.Contains(problems[0].Message, `"minimal"`) {
				t.Errorf("%s: problems %+v, want one naming disclosure and its values", c.body, problems)
			}
			continue
		}
		if len(problems) > 0 {
			t.Errorf("%s: refused: %+v", c.body, problems)
		}
		if got := pp.Apply(notifier.DefaultPolicy()).Disclosure; got != c.want {
			t.Errorf("%s: disclosure %q, want %q", c.body, got, c.want)
		}
	}
	// A policy stored before the field existed reads as full.
	var stored notifier.Policy
	if err := json.Unmarshal([]byte(`{"require_approval":true}`), &stored); err != nil || stored.Disclosure.OrFull() != notifier.DisclosureFull {
		t.Errorf("an old policy's disclosure: %q", stored.Disclosure.OrFull())
	}
}

// TestWaveContentDiffNamesTheDisclosure: a plan made under one disclosure
// is stale under the other; a plan made before disclosures were recorded
// was full.
func TestWaveContentDiffNamesTheDisclosure(t *testing.T) {
	t.Parallel()
	base := notifier.WaveContent{Templates: map[string]string{"en": "v1"}, From: "a@x.example", PublicURL: "https://n.example"}
	minimal, full, old := base, base, base
	minimal.Disclosure, full.Disclosure = notifier.DisclosureMinimal, notifier.DisclosureFull
	if d := minimal.Diff(full); !strings.Contains(d, "disclosure") || !strings.Contains(d, "full instead of minimal") {
		t.Errorf("minimal → full: %q", d)
	}
	if d := old.Diff(full); d != "" {
		t.Errorf("an old plan (full) against full: %q", d)
	}
	if d := old.Diff(minimal); !strings.Contains(d, "minimal instead of full") {
		t.Errorf("an old plan (full) against minimal: %q", d)
	}
}
