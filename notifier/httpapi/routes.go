package httpapi

import (
	"net/http"

	"github.com/breachnotify/breachnotify/notifier"
)

// route is one entry of the route table. role is the least role allowed;
// empty means no authentication (operational endpoints).
type route struct {
	method  string
	pattern string
	role    notifier.Role
	handler http.HandlerFunc
}

// routes is the whole API, in one place.
func (s *Server) routes() []route {
	return []route{
		{"GET", "/healthz", "", s.healthz},
		{"GET", "/readyz", "", s.readyz},
		{"GET", "/metrics", "", s.serveMetrics},

		{"POST", "/api/v1/incidents", notifier.RoleOperator, s.createIncident},
		{"GET", "/api/v1/incidents/{incident}", notifier.RoleViewer, s.getIncident},
		{"POST", "/api/v1/organizations/import", notifier.RoleOperator, s.importOrganizations},
		{"POST", "/api/v1/incidents/{incident}/exposures", notifier.RoleOperator, s.importExposures},
		{"POST", "/api/v1/incidents/{incident}/waves", notifier.RoleOperator, s.planWave},
		{"GET", "/api/v1/waves/{id}", notifier.RoleViewer, s.getWave},
		{"POST", "/api/v1/waves/{id}/launch", notifier.RoleOperator, s.launchWave},
		{"GET", "/api/v1/mailbox", notifier.RoleViewer, s.listMailbox},
		{"GET", "/api/v1/mailbox/{id}", notifier.RoleViewer, s.getMailboxMessage},
	}
}
