package linkguard

import (
	"slices"
	"testing"
)

func TestScanFindsWhatClientsLink(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"Reset your password at https://phish.attacker.example/login", []string{"https://phish.attacker.example/login"}},
		{"https://item-ref.attacker.example/x", []string{"https://item-ref.attacker.example/x"}},
		{"see www.evil.example now", []string{"www.evil.example"}},
		{"bare evil.example/login here", []string{"evil.example/login"}},
		{"evil.com", []string{"evil.com"}},
		{"evil.co.uk, then", []string{"evil.co.uk"}},
		{"report.zip", []string{"report.zip"}},
		{"mailto:x@evil.example", []string{"mailto:x@evil.example"}},
		{"write to x@evil.example.", []string{"x@evil.example"}},
		{"ｈｔｔｐｓ：／／evil．example/login", []string{"ｈｔｔｐｓ：／／evil．example/login"}},
		{"evil。com", []string{"evil。com"}},
		{"HTTPS://EVIL.EXAMPLE", []string{"HTTPS://EVIL.EXAMPLE"}},
		{"https:\\\\evil.example", []string{"https:\\\\evil.example"}},
		{"https:evil.example", []string{"https:evil.example"}},
		{"//evil.example", []string{"evil.example"}},
		{"\\\\fileserver\\share", []string{"\\\\fileserver\\share"}},
		{"1.2.3.4/login", []string{"1.2.3.4/login"}},
		{"evil.example:8443", []string{"evil.example:8443"}},
		{"xn--80ak6aa92e.example", []string{"xn--80ak6aa92e.example"}},
		{"bücher.de", []string{"bücher.de"}},
		{"пример.рф", []string{"пример.рф"}},
		{"evil\u200b.com", []string{"evil\u200b.com"}},
		{"ms-msdt:/id PCWDiagnostic", []string{"ms-msdt:/id"}},
		{"javascript:alert(1)", []string{"javascript:alert(1"}},
		{"tel:+15555550100", []string{"tel:+15555550100"}},
		{"(https://notify.example/verify)", []string{"https://notify.example/verify"}},
		{"foo://x", []string{"foo://x"}},
		{"a.com b.com", []string{"a.com", "b.com"}},
		{"x.com@evil.com", []string{"x.com@evil.com"}},
		{"data:text/html,<script>", []string{"data:text/html,<script"}},
	} {
		var got []string
		for _, l := range Scan(tc.in) {
			got = append(got, l.Text)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Scan(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestScanLeavesProseAlone(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"Contoso Ltd.", "e.g. this, i.e. that", "U.S.A.", "v2.0 and 3.5 MB", "Re: service principal rotation",
		"Note: rotate it", "Tenant migration plan", "ありがとうございます。よろしくお願いします。",
		"Dana O'Brien", "hxxps://evil[.]example/login", "evil[.]example", "mailto[:]x@evil[.]example",
		"BN-7K3Q-9XW2-M4TD-ABCD", "news: nothing", "https:", "a@b", "export-config.json", "x@y [.] z",
	} {
		if got := Scan(in); len(got) > 0 {
			t.Errorf("Scan(%q) = %v, want nothing", in, got)
		}
	}
}
