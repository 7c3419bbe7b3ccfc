package notifier_test

import (
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
)

// FuzzMemberInputs feeds what the members page, the access request page
// and the membership API read (an address, a level, a domain exception)
// to their checks: none panics; an accepted address is one line without
// spaces with one @; only the two levels pass, and a refusal names the
// field; an accepted domain is lowercase DNS labels.
func FuzzMemberInputs(f *testing.F) {
	for _, s := range []string{"a@contoso.example", "contractor.example", "mail", "notices", "Admin", "-x-.example", "a..b", "ex ample.com",
		"\u202eevil@contoso.example", "xn--bcher-kva.example", strings.Repeat("a", 64) + ".example", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if addr, ok := notifier.NormalizePortalEmail(in); ok {
			if strings.ContainsAny(addr, " \r\n\t") || strings.Count(addr, "@") < 1 || len(addr) > 254 {
				t.Errorf("accepted address %q", addr)
			}
		}
		err := notifier.CheckLevel(in)
		if (err == nil) != (in == notifier.AccessNotices || in == notifier.AccessMail) {
			t.Errorf("level %q: %v", in, err)
		}
		if err != nil && !strings.Contains(err.Error(), "level") {
			t.Errorf("the refusal of level %q does not name the field: %v", in, err)
		}
		if notifier.ValidDomain(in) {
			if in != strings.ToLower(in) || !strings.Contains(in, ".") || strings.Contains(in, "..") || strings.HasPrefix(in, ".") || len(in) > 253 {
				t.Errorf("accepted domain %q", in)
			}
			for _, l := range strings.Split(in, ".") {
				if strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") || len(l) > 63 {
					t.Errorf("accepted domain %q (label %q)", in, l)
				}
			}
		}
		e := notifier.MembershipEvent{Action: in}
		if k := e.Kind(); strings.Contains(k, ".") {
			t.Errorf("kind of %q = %q", in, k)
		}
	})
}
