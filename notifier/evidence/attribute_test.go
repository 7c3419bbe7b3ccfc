package evidence

import (
	"slices"
	"strings"
	"testing"
)

func testDirectory(t testing.TB) *StaticDirectory {
	t.Helper()
	dir, err := NewStaticDirectory(
		map[string]OrgID{"contoso.com": 1, "eu.contoso.com": 2, "Fabrikam.CO.UK": 3, "bücher.example": 4},
		map[string]OrgID{"Alice.Contractor@Gmail.com": 5},
	)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func defaultFree(t testing.TB) *FreeMail {
	t.Helper()
	free, err := NewFreeMail(DefaultFreeMailDomains())
	if err != nil {
		t.Fatal(err)
	}
	return free
}

func TestMatchDomain(t *testing.T) {
	t.Parallel()
	dir := testDirectory(t)
	tests := []struct {
		domain string
		want   OrgID
		ok     bool
	}{
		{"contoso.com", 1, true},
		{"mail.contoso.com", 1, true},
		{"eu.contoso.com", 2, true},
		{"smtp.eu.contoso.com", 2, true},
		{"notcontoso.com", 0, false},
		{"fabrikam.co.uk", 3, true},
		{"mx.fabrikam.co.uk", 3, true},
		{"co.uk", 0, false},
		{"com", 0, false},
		{"xn--bcher-kva.example", 4, true},
		{"www.xn--bcher-kva.example", 4, true},
	}
	for _, tt := range tests {
		got, ok := MatchDomain(dir, tt.domain)
		if got != tt.want || ok != tt.ok {
			t.Errorf("MatchDomain(%q) = %d, %v; want %d, %v", tt.domain, got, ok, tt.want, tt.ok)
		}
	}
}

func TestNormalizeDomain(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want, err string }{
		{"Example.COM", "example.com", ""},
		{"example.com.", "example.com", ""},
		{"Bücher.Example", "xn--bcher-kva.example", ""},
		{"xn--bcher-kva.example", "xn--bcher-kva.example", ""},
		{"例え.テスト", "xn--r8jz45g.xn--zckzah", ""},
		{"[192.0.2.1]", "", "address literal"},
		{"", "", "empty"},
		{"bad..dots", "", "bad..dots"},
		{"-leading.example", "", "-leading"},
	}
	for _, tt := range tests {
		got, err := NormalizeDomain(tt.in)
		if got != tt.want || (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("NormalizeDomain(%q) = %q, %v; want %q, error containing %q", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestFreeMail(t *testing.T) {
	t.Parallel()
	free := defaultFree(t)
	for _, d := range []string{"gmail.com", "yahoo.co.jp", "web.de", "mail.ru", "qq.com", "outlook.com", "proton.me"} {
		if !free.IsFreeMail(d) {
			t.Errorf("IsFreeMail(%q) = false, want true", d)
		}
	}
	for _, d := range []string{"contoso.com", "google.com", "microsoft.com", "example.com", "com"} {
		if free.IsFreeMail(d) {
			t.Errorf("IsFreeMail(%q) = true, want false", d)
		}
	}
	if n := len(DefaultFreeMailDomains()); n < 10000 {
		t.Errorf("embedded free-mail list has %d domains, want the whole list (about 14,000)", n)
	}
}

func TestAttribute(t *testing.T) {
	t.Parallel()
	dir, free := testDirectory(t), defaultFree(t)
	tests := []struct {
		name  string
		parts []Participant
		want  []OrgID
	}{
		{"org domain", []Participant{{Address: "bob@contoso.com", Domain: "contoso.com"}}, []OrgID{1}},
		{"subdomain and own sub-org", []Participant{
			{Address: "a@mail.contoso.com", Domain: "mail.contoso.com"},
			{Address: "b@eu.contoso.com", Domain: "eu.contoso.com"},
		}, []OrgID{1, 2}},
		{"free mail, unknown address", []Participant{{Address: "someone@gmail.com", Domain: "gmail.com"}}, nil},
		{"free mail, known contact (case differs)", []Participant{{Address: "alice.contractor@GMAIL.com", Domain: "gmail.com"}}, []OrgID{5}},
		{"nested message counts", []Participant{{Depth: 1, Address: "x@fabrikam.co.uk", Domain: "fabrikam.co.uk"}}, []OrgID{3}},
		{"no domain", []Participant{{Address: "undisclosed", DomainError: "no domain"}}, nil},
		{"unknown", []Participant{{Address: "x@elsewhere.example", Domain: "elsewhere.example"}}, nil},
		{"one org once", []Participant{
			{Header: "From", Address: "a@contoso.com", Domain: "contoso.com"},
			{Header: "To", Address: "b@contoso.com", Domain: "contoso.com"},
		}, []OrgID{1}},
	}
	for _, tt := range tests {
		got := Attribute(Message{Participants: tt.parts}, dir, free)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: Attribute = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestAttributeParticipants(t *testing.T) {
	t.Parallel()
	dir, free := testDirectory(t), defaultFree(t)
	msg := Message{Participants: []Participant{
		{Header: "From", Address: "a@contoso.com", Domain: "contoso.com"},
		{Header: "To", Address: "x@elsewhere.example", Domain: "elsewhere.example"},
		{Header: "Cc", Address: "b@mail.contoso.com", Domain: "mail.contoso.com"},
		{Header: "Cc", Address: "c@fabrikam.co.uk", Domain: "fabrikam.co.uk"},
	}}
	got := AttributeParticipants(msg, dir, free)
	if len(got) != 2 || len(got[1]) != 2 || got[1][1].Address != "b@mail.contoso.com" || len(got[3]) != 1 {
		t.Errorf("participants by organization: %+v", got)
	}
}

func TestNewStaticDirectoryRejects(t *testing.T) {
	t.Parallel()
	if _, err := NewStaticDirectory(map[string]OrgID{"contoso.com": 1, "CONTOSO.com": 2}, nil); err == nil {
		t.Error("a domain claimed by two organizations was accepted")
	}
	if _, err := NewStaticDirectory(map[string]OrgID{"[10.0.0.1]": 1}, nil); err == nil {
		t.Error("an address literal was accepted as a domain")
	}
}

// FuzzAttribute checks that domain matching and attribution never panic,
// and that what they return is consistent: a matched organization owns
// the domain or one of its parents, and a free-mail participant is never
// attributed by domain.
func FuzzAttribute(f *testing.F) {
	for _, s := range []string{"bob@contoso.com", "x@mail.eu.contoso.com", "a@gmail.com", "Alice.Contractor@gmail.com",
		"b@Bücher.Example", "c@[192.0.2.1]", "d@", "@e", "f@co.uk", "\"odd,local\"@contoso.com", "g@xn--.com", "h@.contoso.com."} {
		f.Add(s)
	}
	dir := testDirectory(f)
	free := defaultFree(f)
	f.Fuzz(func(t *testing.T, header string) {
		addrs, _ := addressesOf(header)
		var parts []Participant
		for _, a := range addrs {
			p := participant("To", 0, a)
			parts = append(parts, p)
			if p.Domain == "" {
				continue
			}
			if again, err := NormalizeDomain(p.Domain); err != nil || again != p.Domain {
				t.Fatalf("normalised domain %q does not normalise to itself: %q, %v", p.Domain, again, err)
			}
			if org, ok := MatchDomain(dir, p.Domain); ok {
				owned := false
				for _, d := range domainAndParents(p.Domain) {
					if o, ok := dir.OrgOfDomain(d); ok && o == org {
						owned = true
					}
				}
				if !owned {
					t.Fatalf("%q matched organization %d that owns neither it nor a parent", p.Domain, org)
				}
			}
		}
		for _, org := range Attribute(Message{Participants: parts}, dir, free) {
			found := false
			for _, p := range parts {
				a, err := NormalizeAddress(p.Address)
				if c, ok := dir.OrgOfContact(a); err == nil && ok && c == org {
					found = true
				}
				if m, ok := MatchDomain(dir, p.Domain); p.Domain != "" && ok && m == org && !free.IsFreeMail(p.Domain) {
					found = true
				}
			}
			if !found {
				t.Fatalf("organization %d attributed with no participant to justify it: %+v", org, parts)
			}
		}
	})
}
