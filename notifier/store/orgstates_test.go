package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
)

// TestOrganizationStatesSampleAndScope imports 25 organizations into a
// third incident with no wave: all await their initial notice, the count
// is whole and the sample the first 20 by ref. The waves' incident next
// door counts only its own organizations, none awaiting.
func TestOrganizationStatesSampleAndScope(t *testing.T) {
	t.Parallel()
	st, b := setup(t)
	ctx := context.Background()
	var orgs, items strings.Builder
	orgs.WriteString("org_ref,org_name,domain,contact_email,contact_name,role,portal_access,locale\n")
	items.WriteString("org_ref,item_ref,kind,occurred_at,subject,summary,secret_types\n")
	var refs []string
	for i := range 25 {
		ref := fmt.Sprintf("bulk%02d", i)
		refs = append(refs, ref)
		fmt.Fprintf(&orgs, "%s,Bulk %d,%s.example,soc@%s.example,SOC,security,true,en\n", ref, i, ref, ref)
		fmt.Fprintf(&items, "%s,ITEM-%d,email,2024-01-01T00:00:00Z,Subject,Summary,password\n", ref, i)
	}
	if _, err := b.svc.ImportOrganizations(ctx, actor, strings.NewReader(orgs.String()), notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}
	if _, err := b.svc.CreateIncident(ctx, actor, notifier.NewIncident{Slug: "bulk", Title: "Bulk", Summary: "Many."}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.svc.ImportExposures(ctx, actor, "bulk", strings.NewReader(items.String()), notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}
	inc, err := b.svc.Incident(ctx, actor, "bulk")
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.OrganizationStates(ctx, inc.ID, notifier.OrgStateSample)
	if err != nil {
		t.Fatal(err)
	}
	if got.AwaitingInitial.Count != 25 || !slices.Equal(got.AwaitingInitial.First, refs[:20]) {
		t.Errorf("awaiting: %+v", got.AwaitingInitial)
	}
	if got.Urgent.Count != 25 || len(got.Urgent.First) != 20 || got.Notified.Count != 0 || len(got.Notified.First) != 0 {
		t.Errorf("urgent %+v, notified %+v", got.Urgent, got.Notified)
	}

	first, err := b.svc.Incident(ctx, actor, "first-breach")
	if err != nil {
		t.Fatal(err)
	}
	got, err = st.OrganizationStates(ctx, first.ID, notifier.OrgStateSample)
	if err != nil {
		t.Fatal(err)
	}
	// Launched, nothing sent yet: not notified, not unreachable (queued
	// deliveries may still reach), not awaiting (the notices exist).
	if got.AwaitingInitial.Count != 0 || got.Notified.Count != 0 || got.Unreachable.Count != 0 || got.Acknowledged.Count != 0 {
		t.Errorf("the running wave's incident: %+v", got)
	}
	for _, s := range []notifier.OrgState{got.Urgent, got.AwaitingInitial, got.Notified} {
		for _, ref := range s.First {
			if strings.HasPrefix(ref, "bulk") {
				t.Errorf("another incident's organization %s is counted", ref)
			}
		}
	}
}
