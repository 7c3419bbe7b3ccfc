package store_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
)

// TestOrganizationDomainsAccumulate checks that an organization's domains
// are the union of what its rows and later imports name, each once, in
// ASCII form, and that an import naming no new domain changes nothing.
func TestOrganizationDomainsAccumulate(t *testing.T) {
	t.Parallel()
	st, b := setup(t)
	ctx := context.Background()
	imp := func(csv string) notifier.OrgImportResult {
		t.Helper()
		res, err := b.svc.ImportOrganizations(ctx, actor, strings.NewReader("org_ref,org_name,domain,domains,contact_email\n"+csv), notifier.FormatCSV)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	domains := func() []string {
		t.Helper()
		o, err := st.Organization(ctx, "tailspin")
		if err != nil {
			t.Fatal(err)
		}
		return o.Domains
	}
	imp("tailspin,Tailspin Toys,tailspin.example,,a@tailspin.example\n" +
		"tailspin,Tailspin Toys,,\"tailspin-toys.example; bücher.example\",b@tailspin.example\n")
	want := []string{"tailspin-toys.example", "tailspin.example", "xn--bcher-kva.example"}
	if got := domains(); !slices.Equal(got, want) {
		t.Fatalf("domains %q, want %q", got, want)
	}
	if res := imp("tailspin,Tailspin Toys,TAILSPIN.example,,a@tailspin.example\n"); res.Organizations.Updated != 0 {
		t.Errorf("re-import naming known domains: %+v, want no organization updated", res.Organizations)
	}
	imp("tailspin,Tailspin Toys,,mail.tailspin.example,a@tailspin.example\n")
	if got := domains(); !slices.Contains(got, "mail.tailspin.example") || len(got) != 4 {
		t.Fatalf("domains %q after adding one", got)
	}
}
