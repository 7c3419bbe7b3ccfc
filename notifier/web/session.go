package web

import (
	"context"
	"net/http"

	"github.com/breachnotify/breachnotify/notifier"
)

// SessionState is what a request's session cookie amounts to.
type SessionState int

// The session states.
const (
	NoSession      SessionState = iota // no cookie: anonymous
	LiveSession                        // a session the server accepts
	RefusedSession                     // a cookie the server does not accept (ended, expired, forged; for staff also a revoked key)
)

// Session reads the session cookie base and looks its value up with find
// (the service's PortalSession or StaffSession). No cookie is NoSession,
// with no lookup. A value find does not know (a notifier.CodeNotFound
// error) is RefusedSession and no error: the caller deletes the cookie
// and says the session ended, rather than showing an error page to
// someone whose session merely expired. Any other error is the lookup's,
// returned with RefusedSession.
func Session[S any](r *http.Request, c Cookies, base string, find func(context.Context, string) (S, error)) (S, SessionState, error) {
	var none S
	id := c.Get(r, base)
	if id == "" {
		return none, NoSession, nil
	}
	sess, err := find(r.Context(), id)
	switch {
	case err == nil:
		return sess, LiveSession, nil
	case notifier.ErrorCode(err) == notifier.CodeNotFound:
		return sess, RefusedSession, nil
	}
	return sess, RefusedSession, err
}
