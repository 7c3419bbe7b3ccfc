package httpapi

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/breachnotify/breachnotify/notifier"
)

// reply answers v with status, or the error.
func (s *Server) reply(w http.ResponseWriter, r *http.Request, status int, v any, err error) {
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, status, v)
}

// query validates the query string: only the allowed keys, each at most once.
func query(r *http.Request, allowed ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, notifier.Errorf(notifier.CodeBadRequest, "the query string is malformed")
	}
	for k, v := range q {
		if !slices.Contains(allowed, k) {
			return nil, notifier.Errorf(notifier.CodeBadRequest, "unknown query parameter %q; this route takes %v", k, allowed)
		}
		if len(v) > 1 {
			return nil, notifier.Errorf(notifier.CodeBadRequest, "query parameter %q is given more than once", k)
		}
	}
	return q, nil
}

// pageOf reads the limit and cursor parameters.
func pageOf(q url.Values) (notifier.Page, error) {
	var p notifier.Page
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > notifier.PageLimitMax {
			return p, notifier.Errorf(notifier.CodeBadRequest, "limit must be between 1 and %d", notifier.PageLimitMax)
		}
		p.Limit = n
	}
	after, err := notifier.DecodeCursor(q.Get("cursor"))
	p.After = after
	return p, err
}

// listPage reads the page of a list whose query string may hold nothing
// but limit and cursor.
func listPage(r *http.Request) (notifier.Page, error) {
	q, err := query(r, "limit", "cursor")
	if err != nil {
		return notifier.Page{}, err
	}
	return pageOf(q)
}

// refAndPage reads a list's owner from the path (with refOf, incidentRef
// or orgRef) and its page (listPage).
func refAndPage(r *http.Request, refOf func(*http.Request) (string, error)) (string, notifier.Page, error) {
	ref, err := refOf(r)
	if err != nil {
		return "", notifier.Page{}, err
	}
	p, err := listPage(r)
	return ref, p, err
}

// idParam reads an optional numeric query parameter.
func idParam(q url.Values, name string) (int64, error) {
	v := q.Get(name)
	if v == "" {
		return 0, nil
	}
	id, ok := notifier.ParseInt(v)
	if !ok {
		return 0, notifier.Errorf(notifier.CodeBadRequest, "%s must be a positive integer", name)
	}
	return id, nil
}

// enumParam reads an optional query parameter that must be one of allowed.
func enumParam[T ~string](q url.Values, name string, allowed []T) (T, error) {
	v := T(q.Get(name))
	if v == "" || slices.Contains(allowed, v) {
		return v, nil
	}
	return "", notifier.Errorf(notifier.CodeBadRequest, "%s must be one of %v", name, allowed)
}

var (
	incidentRefPattern = regexp.MustCompile(`^([1-9][0-9]{0,18}|[a-z0-9][a-z0-9-]{0,62})$`)
	orgRefPattern      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$`)
)

// incidentRef validates the {incident} path value: an id or a slug.
func incidentRef(r *http.Request) (string, error) {
	v := r.PathValue("incident")
	if !incidentRefPattern.MatchString(v) {
		return "", notifier.Errorf(notifier.CodeBadRequest, "incident must be a numeric id or a slug")
	}
	return v, nil
}

// orgRef validates the {org} path value: an id or an org_ref.
func orgRef(r *http.Request) (string, error) {
	v := r.PathValue("org")
	if !orgRefPattern.MatchString(v) {
		return "", notifier.Errorf(notifier.CodeBadRequest, "organization must be a numeric id or an org_ref")
	}
	return v, nil
}

// pathID validates a numeric path value.
func pathID(r *http.Request, name string) (int64, error) {
	id, ok := notifier.ParseInt(r.PathValue(name))
	if !ok {
		return 0, notifier.Errorf(notifier.CodeBadRequest, "%s must be a positive integer", name)
	}
	return id, nil
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.ready != nil {
		if err := s.ready(r.Context()); err != nil {
			s.logger.WarnContext(r.Context(), "not ready", "error", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "database unreachable"})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if s.metrics == nil {
		writeError(w, r, notifier.Errorf(notifier.CodeNotFound, "metrics are not enabled"))
		return
	}
	if s.metricsToken != "" {
		got, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if subtle.ConstantTimeCompare([]byte(got), []byte(s.metricsToken)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="breachnotify metrics"`)
			writeError(w, r, notifier.Errorf(notifier.CodeUnauthorized, "send the metrics token as Authorization: Bearer TOKEN"))
			return
		}
	}
	s.metrics.ServeHTTP(w, r)
}
