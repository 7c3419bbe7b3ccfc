package notifier_test

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/templates"
)

// unreachableStore is a Store with no methods of its own: any call into
// it panics (a nil interface), which roleCall catches and reports as the
// call having got past the role check. Every use case checks the role
// before touching the store, so a refused call never gets there.
type unreachableStore struct{ notifier.Store }

// The access a role has to a use case, as the table below spells it.
const (
	deny  = false
	allow = true
)

// serviceRoles is every method of *notifier.Service that takes an Actor,
// with who may call it, written out by hand (TestServiceRolesCoverEveryMethod
// keeps it complete). It is the use cases' own check, whatever the HTTP
// route in front of them asks: the CLI, the dashboard and tests call them
// directly.
var serviceRoles = []struct {
	method                  string
	viewer, operator, admin bool
	call                    func(ctx context.Context, s *notifier.Service, by notifier.Actor) error
}{
	{"CreateIncident", deny, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.CreateIncident(ctx, by, notifier.NewIncident{Slug: "mail", Title: "Mail"})
		return err
	}},
	{"Incident", allow, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.Incident(ctx, by, "mail")
		return err
	}},
	{"Incidents", allow, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.Incidents(ctx, by, notifier.Page{})
		return err
	}},
	{"UpdatePolicy", deny, deny, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.UpdatePolicy(ctx, by, "mail", notifier.PolicyPatch{})
		return err
	}},
	{"UpdateClock", deny, deny, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.UpdateClock(ctx, by, "mail", notifier.IncidentClock{})
		return err
	}},
	{"Deadlines", allow, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.Deadlines(ctx, by, "mail", notifier.Page{})
		return err
	}},
	{"ImportOrganizations", deny, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.ImportOrganizations(ctx, by, strings.NewReader("org_ref,org_name,domain,contact_email\na,A,a.example,x@a.example\n"), notifier.FormatCSV)
		return err
	}},
	{"ImportExposures", deny, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.ImportExposures(ctx, by, "mail", strings.NewReader("org_ref,item_ref,kind\na,X-1,file\n"), notifier.FormatCSV)
		return err
	}},
	{"PreviewOrganizationImport", deny, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.PreviewOrganizationImport(ctx, by, strings.NewReader("org_ref,org_name,domain,contact_email\na,A,a.example,x@a.example\n"), notifier.FormatCSV)
		return err
	}},
	{"PreviewExposureImport", deny, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.PreviewExposureImport(ctx, by, "mail", strings.NewReader("org_ref,item_ref,kind\na,X-1,file\n"), notifier.FormatCSV)
		return err
	}},
	{"PreviewMessage", allow, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.PreviewMessage(ctx, by, notifier.MessagePreview{Incident: "mail", Organization: "a", Kind: templates.KindInitial, Locale: "en"})
		return err
	}},
	{"Batches", allow, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.Batches(ctx, by, "mail", notifier.Page{})
		return err
	}},
	{"Batch", allow, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.Batch(ctx, by, 1)
		return err
	}},
	{"Items", allow, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.Items(ctx, by, "mail", notifier.ItemFilter{}, notifier.Page{})
		return err
	}},
	{"CapturedMessages", deny, deny, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.CapturedMessages(ctx, by, notifier.Page{})
		return err
	}},
	{"CapturedMessage", deny, deny, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.CapturedMessage(ctx, by, 1)
		return err
	}},

	{"Organizations", allow, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.Organizations(ctx, by, notifier.OrganizationFilter{}, notifier.Page{})
		return err
	}},
	{"Organization", allow, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.Organization(ctx, by, "contoso")
		return err
	}},
	{"Contacts", allow, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.Contacts(ctx, by, "contoso", notifier.ContactFilter{}, notifier.Page{})
		return err
	}},
	{"EvidenceAccess", allow, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.EvidenceAccess(ctx, by, "contoso", notifier.Page{})
		return err
	}},
	{"OrganizationPortalSessions", allow, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.OrganizationPortalSessions(ctx, by, "contoso")
		return err
	}},
	{"EndOrganizationPortalSessions", deny, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.EndOrganizationPortalSessions(ctx, by, "contoso")
		return err
	}},
	{"OrganizationMembers", allow, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.OrganizationMembers(ctx, by, "contoso")
		return err
	}},
	{"StaffInviteMember", deny, deny, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.StaffInviteMember(ctx, by, "contoso", "new@contoso.example", notifier.AccessNotices)
		return err
	}},
	{"ChangeMember", deny, deny, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		level := notifier.AccessMail
		return s.ChangeMember(ctx, by, "contoso", 1, notifier.MemberChange{Level: &level})
	}},
	{"StaffDecideAccessRequest", deny, deny, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		return s.StaffDecideAccessRequest(ctx, by, "contoso", 1, notifier.DecisionRefused, "")
	}},
	{"SetInviteDomain", deny, deny, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		return s.SetInviteDomain(ctx, by, "contoso", "contractor.example", true)
	}},
	{"Contact", allow, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.Contact(ctx, by, 1)
		return err
	}},
	{"UpdateContact", deny, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.UpdateContact(ctx, by, 1, notifier.ContactPatch{})
		return err
	}},
	{"SuppressContact", deny, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.SuppressContact(ctx, by, 1, "asked to stop")
		return err
	}},
	{"ReactivateContact", deny, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.ReactivateContact(ctx, by, 1, "mailbox fixed")
		return err
	}},
	{"ResetContactFactors", deny, deny, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.ResetContactFactors(ctx, by, 1, "lost phone")
		return err
	}},

	{"PlanWave", deny, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.PlanWave(ctx, by, "mail", templates.KindInitial)
		return err
	}},
	{"PlanWaveWith", deny, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.PlanWaveWith(ctx, by, "mail", templates.KindInitial, notifier.WaveOptions{UrgentOnly: true})
		return err
	}},
	{"ApproveWave", deny, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.ApproveWave(ctx, by, 1)
		return err
	}},
	{"LaunchWave", deny, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.LaunchWave(ctx, by, 1, notifier.Idempotency{})
		return err
	}},
	{"PauseWave", deny, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.PauseWave(ctx, by, 1)
		return err
	}},
	{"ResumeWave", deny, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.ResumeWave(ctx, by, 1)
		return err
	}},
	{"CancelWave", deny, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.CancelWave(ctx, by, 1)
		return err
	}},
	{"Wave", allow, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.Wave(ctx, by, 1)
		return err
	}},
	{"Waves", allow, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.Waves(ctx, by, "mail", notifier.WaveFilter{}, notifier.Page{})
		return err
	}},
	{"Notices", allow, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.Notices(ctx, by, "mail", notifier.NoticeFilter{}, notifier.Page{})
		return err
	}},
	{"Notice", allow, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.Notice(ctx, by, 1)
		return err
	}},
	{"Deliveries", allow, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.Deliveries(ctx, by, notifier.DeliveryFilter{}, notifier.Page{})
		return err
	}},
	{"Delivery", allow, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.Delivery(ctx, by, 1)
		return err
	}},
	{"Report", allow, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.Report(ctx, by, "mail", "csv", func(notifier.ReportRow) error { return nil })
		return err
	}},

	{"RecordDSN", deny, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.RecordDSN(ctx, by, []byte("Subject: out of office\r\n\r\nback monday"), "")
		return err
	}},
	{"RecordReport", deny, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.RecordReport(ctx, by, notifier.BounceReport{Source: notifier.SourceIMAP, Key: "k", Raw: []byte("Subject: out of office\r\n\r\nback monday")})
		return err
	}},
	{"RecordProviderBounces", deny, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.RecordProviderBounces(ctx, by, []notifier.BounceRecord{{Notice: notifier.ProviderNotice(notifier.BouncePermanent, "m@notify.example", "a@b.example", "", ""),
			Source: notifier.SourceMailgun, Key: "event-1"}})
		return err
	}},
	{"RecordBounceJSON", deny, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.RecordBounceJSON(ctx, by, notifier.BounceJSON{MessageID: "m@notify.example", Status: "5.1.1"})
		return err
	}},
	{"Bounces", allow, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.Bounces(ctx, by, "", notifier.Page{})
		return err
	}},
	{"UnreachableNotices", allow, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.UnreachableNotices(ctx, by, "mail", notifier.Page{})
		return err
	}},
	{"OrganizationStates", allow, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.OrganizationStates(ctx, by, "mail")
		return err
	}},
	{"ResendNotice", deny, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.ResendNotice(ctx, by, 1)
		return err
	}},

	{"AuditEntries", allow, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.AuditEntries(ctx, by, notifier.AuditFilter{}, notifier.Page{})
		return err
	}},
	{"VerifyAudit", allow, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.VerifyAudit(ctx, by, "")
		return err
	}},
	{"APIKeys", deny, deny, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.APIKeys(ctx, by)
		return err
	}},
	{"CreateAPIKey", deny, deny, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, _, err := s.CreateAPIKey(ctx, by, "ci", notifier.RoleViewer)
		return err
	}},
	{"RevokeAPIKey", deny, deny, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.RevokeAPIKey(ctx, by, 999)
		return err
	}},

	{"UploadTemplate", deny, deny, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, _, err := s.UploadTemplate(ctx, by, notifier.TemplateUpload{Kind: "initial", Locale: "en", Subject: "s", Text: "t"})
		return err
	}},
	{"Templates", allow, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.Templates(ctx, by, notifier.TemplateFilter{}, notifier.Page{})
		return err
	}},
	{"Template", allow, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.Template(ctx, by, 1)
		return err
	}},
	{"ActivateTemplate", deny, deny, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.ActivateTemplate(ctx, by, 1)
		return err
	}},
	{"PreviewTemplate", allow, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.PreviewTemplate(ctx, by, 1, notifier.TemplatePreviewRequest{})
		return err
	}},

	{"StateSnapshot", allow, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.StateSnapshot(ctx, by)
		return err
	}},
	{"RecentFailures", allow, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.RecentFailures(ctx, by, 10)
		return err
	}},
	{"WaveCharts", allow, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.WaveCharts(ctx, by, 1)
		return err
	}},
	{"FailureGroups", allow, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.FailureGroups(ctx, by, 1)
		return err
	}},
	{"AuditQueueUIAction", deny, deny, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		return s.AuditQueueUIAction(ctx, by, "POST", "/riverui/api/jobs/cancel", []byte(`{"job_ids":["1"]}`))
	}},

	// The evidence lifecycle (issue 13): destroying evidence is an
	// admin's; reviewing findings, whose masked forms hint at secrets, is
	// IR work.
	{"EvidencePurgeState", allow, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.EvidencePurgeState(ctx, by, "mail")
		return err
	}},
	{"PurgeEvidence", deny, deny, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.PurgeEvidence(ctx, by, "mail", "")
		return err
	}},
	{"ApproveEvidencePurge", deny, deny, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.ApproveEvidencePurge(ctx, by, "mail", "")
		return err
	}},
	{"CancelEvidencePurge", deny, deny, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.CancelEvidencePurge(ctx, by, "mail", "")
		return err
	}},
	{"Findings", deny, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.Findings(ctx, by, "mail", notifier.FindingFilter{}, 10)
		return err
	}},
	{"DismissFinding", deny, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.DismissFinding(ctx, by, "mail", "abababababababababababababababababababababababababababababababab-0", "a test key in a README")
		return err
	}},
	{"UndismissFinding", deny, allow, allow, func(ctx context.Context, s *notifier.Service, by notifier.Actor) error {
		_, err := s.UndismissFinding(ctx, by, "mail", "abababababababababababababababababababababababababababababababab-0", "it was real after all")
		return err
	}},
}

// roleCall calls a use case as by and reports its error, and whether it
// reached the store (the unreachable store panicked).
func roleCall(s *notifier.Service, by notifier.Actor, call func(context.Context, *notifier.Service, notifier.Actor) error) (err error, reached bool) {
	defer func() {
		if recover() != nil {
			reached = true
		}
	}()
	return call(context.Background(), s, by), false
}

// TestServiceRoles calls every use case that takes an Actor without a
// key and as each role: a role the table denies gets forbidden (and no
// key unauthorized) before anything is read or written; a role it allows
// is let through (to the store, or to the use case's own checks).
func TestServiceRoles(t *testing.T) {
	t.Parallel()
	s := notifier.NewService(unreachableStore{}, notifier.ServiceConfig{})
	for _, c := range serviceRoles {
		if err, reached := roleCall(s, notifier.Actor{}, c.call); reached || notifier.ErrorCode(err) != notifier.CodeUnauthorized {
			t.Errorf("%s without a key: %v (reached the store: %v), want unauthorized", c.method, err, reached)
		}
		for _, r := range []struct {
			role    notifier.Role
			allowed bool
		}{{notifier.RoleViewer, c.viewer}, {notifier.RoleOperator, c.operator}, {notifier.RoleAdmin, c.admin}} {
			by := notifier.Actor{KeyID: 7, Name: "key-" + string(r.role), Role: r.role}
			err, reached := roleCall(s, by, c.call)
			code := notifier.ErrorCode(err)
			switch {
			case r.allowed && !reached && (code == notifier.CodeForbidden || code == notifier.CodeUnauthorized):
				t.Errorf("%s as %s: %v, want allowed", c.method, r.role, err)
			case !r.allowed && (reached || code != notifier.CodeForbidden):
				t.Errorf("%s as %s: %v (reached the store: %v), want forbidden", c.method, r.role, err, reached)
			}
		}
	}
}

// TestServiceRolesCoverEveryMethod keeps serviceRoles complete: a new use
// case that takes an Actor must say there who may call it.
func TestServiceRolesCoverEveryMethod(t *testing.T) {
	t.Parallel()
	actor := reflect.TypeFor[notifier.Actor]()
	var takeActor, listed []string
	st := reflect.TypeFor[*notifier.Service]()
	for i := range st.NumMethod() {
		m := st.Method(i)
		for j := range m.Type.NumIn() {
			if m.Type.In(j) == actor {
				takeActor = append(takeActor, m.Name)
				break
			}
		}
	}
	for _, c := range serviceRoles {
		listed = append(listed, c.method)
	}
	slices.Sort(takeActor)
	slices.Sort(listed)
	if !slices.Equal(takeActor, listed) {
		t.Errorf("methods taking an Actor:\n%v\nlisted in serviceRoles:\n%v", takeActor, listed)
	}
}
