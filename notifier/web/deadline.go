package web

import (
	"context"
	"net/http"
	"time"
)

// Deadline gives each request to next d to be read and answered: the
// connection's read and write deadlines are d from when next starts, and
// the request's context ends then too, so the queries it is waiting on
// give up with it. A client that sends slowly or reads slowly holds its
// connection, and the handler, for d at most. The server's own timeouts
// apply until next starts (headers, and routes without a Deadline).
func Deadline(d time.Duration, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		at := time.Now().Add(d)
		SetConnDeadline(w, at)
		ctx, cancel := context.WithDeadline(r.Context(), at)
		defer cancel()
		next(w, r.WithContext(ctx))
	}
}

// SetConnDeadline moves the read and write deadlines of w's connection
// to at. A ResponseWriter that cannot (a test's recorder) is left as it
// is.
func SetConnDeadline(w http.ResponseWriter, at time.Time) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(at)
	_ = rc.SetWriteDeadline(at)
}
