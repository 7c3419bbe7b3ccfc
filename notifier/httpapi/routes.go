package httpapi

import (
	"net/http"

	"github.com/breachnotify/breachnotify/notifier"
)

// route is one entry of the route table. role is the least role allowed;
// empty means no authentication (operational endpoints and the API's own
// description).
type route struct {
	method  string
	pattern string
	role    notifier.Role
	handler http.HandlerFunc
}

// routes is the whole API, in one place. The OpenAPI document
// (openapi.json) describes exactly these; a test keeps the two equal.
// The capture mailbox's routes exist only while the embedded mailbox is
// the sender (Config.CaptureMailbox): with a relay they are unknown
// routes, like any other.
func (s *Server) routes() []route {
	const (
		viewer   = notifier.RoleViewer
		operator = notifier.RoleOperator
		admin    = notifier.RoleAdmin
	)
	table := []route{
		{"GET", "/healthz", "", s.healthz},
		{"GET", "/readyz", "", s.readyz},
		{"GET", "/metrics", "", s.serveMetrics},
		{"GET", "/api/v1/openapi.json", "", s.openAPI},

		{"GET", "/api/v1/incidents", viewer, s.listIncidents},
		{"POST", "/api/v1/incidents", operator, s.createIncident},
		{"GET", "/api/v1/incidents/{incident}", viewer, s.getIncident},
		{"PATCH", "/api/v1/incidents/{incident}", admin, s.patchIncident},
		{"POST", "/api/v1/incidents/{incident}/exposures", operator, s.importExposures},
		{"GET", "/api/v1/incidents/{incident}/batches", viewer, s.listBatches},
		{"GET", "/api/v1/incidents/{incident}/items", viewer, s.listItems},
		{"GET", "/api/v1/incidents/{incident}/waves", viewer, s.listIncidentWaves},
		{"POST", "/api/v1/incidents/{incident}/waves", operator, s.planWave},
		{"GET", "/api/v1/incidents/{incident}/notices", viewer, s.listIncidentNotices},
		{"GET", "/api/v1/incidents/{incident}/report", viewer, s.report},
		{"GET", "/api/v1/incidents/{incident}/deadlines", viewer, s.incidentDeadlines},
		{"GET", "/api/v1/incidents/{incident}/unreachable", viewer, s.listUnreachable},
		{"POST", "/api/v1/incidents/{incident}/evidence", operator, s.importEvidence},
		{"GET", "/api/v1/incidents/{incident}/evidence-imports", viewer, s.listEvidenceImports},
		{"GET", "/api/v1/evidence-imports/{id}", viewer, s.getEvidenceImport},
		// Purge and finding review (issue 13): destroying evidence is an
		// admin's, reviewing findings IR work.
		{"GET", "/api/v1/incidents/{incident}/purge", viewer, s.getPurge},
		{"POST", "/api/v1/incidents/{incident}/purge", admin, s.purgeEvidence},
		{"POST", "/api/v1/incidents/{incident}/purge/approve", admin, s.approvePurge},
		{"POST", "/api/v1/incidents/{incident}/purge/cancel", admin, s.cancelPurge},
		{"GET", "/api/v1/incidents/{incident}/evidence/findings", operator, s.listFindings},
		{"POST", "/api/v1/incidents/{incident}/evidence/findings/{finding}/dismiss", operator, s.dismissFinding},
		{"POST", "/api/v1/incidents/{incident}/evidence/findings/{finding}/undismiss", operator, s.undismissFinding},
		{"GET", "/api/v1/incidents/{incident}/evidence/unattributed", viewer, s.listUnattributedEvidence},
		{"POST", "/api/v1/incidents/{incident}/evidence/reattribute", operator, s.reattributeEvidence},

		{"GET", "/api/v1/batches/{id}", viewer, s.getBatch},

		{"GET", "/api/v1/organizations", viewer, s.listOrganizations},
		{"POST", "/api/v1/organizations/import", operator, s.importOrganizations},
		{"GET", "/api/v1/organizations/{org}", viewer, s.getOrganization},
		{"GET", "/api/v1/organizations/{org}/contacts", viewer, s.listOrgContacts},
		{"GET", "/api/v1/organizations/{org}/evidence-access", viewer, s.listEvidenceAccess},
		// Portal sessions (issue 14): ending all of an organization's is
		// IR work (someone left); approvers will do it from the portal.
		{"GET", "/api/v1/organizations/{org}/portal-sessions", viewer, s.listPortalSessions},
		{"POST", "/api/v1/organizations/{org}/portal-sessions/end", operator, s.endPortalSessions},
		{"GET", "/api/v1/organizations/{org}/members", viewer, s.listMembers},
		{"POST", "/api/v1/organizations/{org}/members", admin, s.inviteMember},
		{"PATCH", "/api/v1/organizations/{org}/members/{id}", admin, s.changeMember},
		{"POST", "/api/v1/organizations/{org}/access-requests/{id}", admin, s.decideAccessRequest},
		{"POST", "/api/v1/organizations/{org}/invite-domains", admin, s.setInviteDomain},
		{"GET", "/api/v1/contacts", viewer, s.listContacts},
		{"GET", "/api/v1/contacts/{id}", viewer, s.getContact},
		{"PATCH", "/api/v1/contacts/{id}", operator, s.patchContact},
		{"POST", "/api/v1/contacts/{id}/suppress", operator, s.suppressContact},
		{"POST", "/api/v1/contacts/{id}/reactivate", operator, s.reactivateContact},
		{"POST", "/api/v1/contacts/{id}/factors/reset", admin, s.resetContactFactors},

		{"GET", "/api/v1/waves", viewer, s.listWaves},
		{"GET", "/api/v1/waves/{id}", viewer, s.getWave},
		{"POST", "/api/v1/waves/{id}/approve", operator, s.approveWave},
		{"POST", "/api/v1/waves/{id}/launch", operator, s.launchWave},
		{"POST", "/api/v1/waves/{id}/pause", operator, s.pauseWave},
		{"POST", "/api/v1/waves/{id}/resume", operator, s.resumeWave},
		{"POST", "/api/v1/waves/{id}/cancel", operator, s.cancelWave},

		{"GET", "/api/v1/notices", viewer, s.listNotices},
		{"GET", "/api/v1/notices/{id}", viewer, s.getNotice},
		{"POST", "/api/v1/notices/{id}/resend", operator, s.resendNotice},
		{"GET", "/api/v1/deliveries", viewer, s.listDeliveries},
		{"GET", "/api/v1/deliveries/{id}", viewer, s.getDelivery},

		{"GET", "/api/v1/bounces", viewer, s.listBounces},
		{"POST", "/api/v1/bounces", operator, s.recordBounce},
		// Sending providers' bounce webhooks (issue 16): no API key, the
		// provider's own signature or credentials instead.
		{"POST", "/api/v1/bounces/providers/{provider}", "", s.providerBounce},

		{"GET", "/api/v1/audit", viewer, s.listAudit},
		{"GET", "/api/v1/audit/verify", viewer, s.verifyAudit},

		{"GET", "/api/v1/apikeys", admin, s.listAPIKeys},
		{"POST", "/api/v1/apikeys", admin, s.createAPIKey},
		{"DELETE", "/api/v1/apikeys/{id}", admin, s.revokeAPIKey},

		// Outbound webhooks (issue 16): an admin's, as API keys are.
		{"GET", "/api/v1/webhooks", admin, s.listWebhooks},
		{"POST", "/api/v1/webhooks", admin, s.createWebhook},
		{"GET", "/api/v1/webhooks/{id}", admin, s.getWebhook},
		{"PATCH", "/api/v1/webhooks/{id}", admin, s.patchWebhook},
		{"DELETE", "/api/v1/webhooks/{id}", admin, s.deleteWebhook},
		{"POST", "/api/v1/webhooks/{id}/rotate-secret", admin, s.rotateWebhookSecret},
		{"POST", "/api/v1/webhooks/{id}/test", admin, s.testWebhook},
		{"GET", "/api/v1/webhooks/{id}/deliveries", admin, s.listWebhookDeliveries},
		{"POST", "/api/v1/webhooks/{id}/deliveries/{delivery}/redeliver", admin, s.redeliverWebhook},

		{"GET", "/api/v1/templates", viewer, s.listTemplates},
		{"POST", "/api/v1/templates", admin, s.uploadTemplate},
		{"GET", "/api/v1/templates/{id}", viewer, s.getTemplate},
		{"POST", "/api/v1/templates/{id}/activate", admin, s.activateTemplate},
		{"POST", "/api/v1/templates/{id}/preview", viewer, s.previewTemplate},
	}
	if s.captureMailbox {
		// Every message caught carries live acknowledgement and sign-in
		// links: admins only, and every read is audited.
		table = append(table, []route{
			{"GET", "/api/v1/mailbox", admin, s.listMailbox},
			{"GET", "/api/v1/mailbox/{id}", admin, s.getMailboxMessage},
		}...)
	}
	return table
}

// Route describes one registered route, for tests and documentation.
type Route struct {
	Method  string
	Pattern string
	// Role is the least role allowed; empty for unauthenticated routes.
	Role notifier.Role
}

// Routes lists every route the server registers.
func (s *Server) Routes() []Route {
	var out []Route
	for _, r := range s.routes() {
		out = append(out, Route{Method: r.method, Pattern: r.pattern, Role: r.role})
	}
	return out
}
