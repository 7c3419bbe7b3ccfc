// Package httpapi is the IR team's JSON API under /api/v1, plus the
// operational endpoints (/healthz, /readyz, /metrics). Every API route is
// listed in routes.go; every request is authenticated by a bearer API key,
// bounded in size, and answered with JSON errors that never leak internals.
package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/bouncehooks"
	"github.com/breachnotify/breachnotify/notifier/ingest"
	"github.com/breachnotify/breachnotify/notifier/web"
	"github.com/breachnotify/breachnotify/notifier/webhook"
)

// Config configures a Server.
type Config struct {
	Service *notifier.Service
	// Evidence imports stolen mail; nil answers its routes with 409.
	Evidence *ingest.Importer
	// Webhooks manages outbound webhooks; nil answers their routes with 409.
	Webhooks *webhook.Service
	// Ready reports whether the service can serve (the database answers).
	Ready func(ctx context.Context) error
	// Metrics serves /metrics; nil leaves it out.
	Metrics http.Handler
	// MetricsToken, when set, is the bearer token /metrics requires.
	MetricsToken string
	// MaxBodyBytes caps request bodies; past it the reply is 413.
	MaxBodyBytes int64
	// OpsOnly registers only the routes without a role (/healthz, /readyz,
	// /metrics), for a workers-only process.
	OpsOnly bool
	// CaptureMailbox registers the capture mailbox's routes: only while
	// the embedded mailbox is the sender (no relay configured).
	CaptureMailbox bool
	// HSTS sends Strict-Transport-Security on every response (the API and
	// every page mounted beside it): set it when the public URL is https.
	HSTS bool
	// BounceHooks are the sending providers' bounce webhooks enabled
	// (POST /api/v1/bounces/providers/{provider}); the others answer 404.
	BounceHooks []bouncehooks.Hook
	// ClientAddr finds a request's client address (the webhooks' rate limit).
	ClientAddr web.ClientAddr
	Logger     *slog.Logger
	// Requests, when set, observes every answered request (metrics).
	Requests RequestObserver
}

// RequestObserver is told of every request the server answered: the route
// pattern that matched (empty for none), never the path.
type RequestObserver interface {
	ObserveRequest(pattern, method string, code int, d time.Duration)
}

// APIDeadline is how long an authenticated API request may take to be
// read and answered: an import of 32 MiB or a report of a large incident
// over a slow link takes minutes. Requests without a valid key, and the
// operational endpoints, keep the HTTP server's own (short) timeouts.
const APIDeadline = 5 * time.Minute

// Server is the HTTP API.
type Server struct {
	svc          *notifier.Service
	evidence     *ingest.Importer
	hooks        *webhook.Service
	ready        func(ctx context.Context) error
	metrics      http.Handler
	metricsToken string
	maxBody      int64
	// captureMailbox is Config.CaptureMailbox.
	captureMailbox bool
	hsts           bool
	// bounceHooks are Config.BounceHooks by path name; providerLimit
	// limits their requests per client address.
	bounceHooks   map[string]bouncehooks.Hook
	providerLimit *web.Limiter
	clientAddr    web.ClientAddr
	logger        *slog.Logger
	requests      RequestObserver
	mux           *http.ServeMux
}

// New builds the API's handler tree.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 32 << 20
	}
	s := &Server{svc: cfg.Service, ready: cfg.Ready, metrics: cfg.Metrics, metricsToken: cfg.MetricsToken,
		evidence: cfg.Evidence, hooks: cfg.Webhooks, maxBody: cfg.MaxBodyBytes, captureMailbox: cfg.CaptureMailbox, hsts: cfg.HSTS, logger: cfg.Logger, requests: cfg.Requests, mux: http.NewServeMux(),
		bounceHooks: map[string]bouncehooks.Hook{}, providerLimit: web.NewLimiter(providerBurst, providerEvery, 10000), clientAddr: cfg.ClientAddr}
	for _, h := range cfg.BounceHooks {
		s.bounceHooks[string(h.Source())] = h
	}
	for _, rt := range s.routes() {
		if cfg.OpsOnly && rt.role != "" {
			continue
		}
		h := rt.handler
		if rt.role != "" {
			h = s.authenticated(rt.role, h)
		}
		s.mux.Handle(rt.method+" "+rt.pattern, h)
	}
	return s
}

// hstsValue is the Strict-Transport-Security header sent with Config.HSTS.
const hstsValue = "max-age=31536000"

// ServeHTTP implements http.Handler with request ids, HSTS, panic recovery and
// access logs around the routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := requestID(r)
	w.Header().Set("X-Request-Id", id)
	if s.hsts {
		// A year, the usual minimum for browsers' preload lists, without
		// includeSubDomains: the service owns its host, not the names below
		// it, which may serve other things over plain http. Browsers ignore
		// the header on a plain http response (RFC 6797 §8.1), so a
		// TLS-terminating proxy in front changes nothing.
		w.Header().Set("Strict-Transport-Security", hstsValue)
	}
	r = r.WithContext(notifier.WithRequestID(r.Context(), id))
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p) // a deliberate abort: net/http closes the connection
			}
			s.logger.ErrorContext(r.Context(), "panic in handler", "request_id", id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			if !rec.wrote {
				writeError(rec, r, errors.New("panic"))
			}
		}
		// The route pattern, not the path: customer links carry tokens,
		// which must never reach a log.
		_, pattern := s.mux.Handler(r)
		elapsed := time.Since(start)
		s.logger.InfoContext(r.Context(), "http request", "request_id", id, "method", r.Method, "route", pattern,
			"status", rec.status, "duration_ms", elapsed.Milliseconds())
		if s.requests != nil {
			s.requests.ObserveRequest(pattern, r.Method, rec.status, elapsed)
		}
	}()
	if _, pattern := s.mux.Handler(r); pattern == "" && strings.HasPrefix(r.URL.Path, "/api/") {
		s.noRoute(rec, r)
		return
	}
	s.mux.ServeHTTP(rec, r)
}

// noRoute answers an API request no route takes, in the API's error shape:
// 405 with Allow when the path exists for other methods, 404 otherwise.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) == 0 {
		writeError(w, r, notifier.Errorf(notifier.CodeNotFound, "no such API route: %s %s", r.Method, r.URL.Path))
		return
	}
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	writeError(w, r, notifier.Errorf(notifier.CodeMethodNotAllowed, "%s is not allowed here; use %s", r.Method, strings.Join(allowed, ", ")))
}

// Mux exposes the route multiplexer so other handlers (portal pages) can be
// mounted beside the API.
func (s *Server) Mux() *http.ServeMux { return s.mux }

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

type actorKey struct{}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// requestID keeps a caller's well-formed X-Request-Id, or makes one.
func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); requestIDPattern.MatchString(id) {
		return id
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// RequestID returns the request's id.
func RequestID(ctx context.Context) string { return notifier.RequestIDFrom(ctx) }

// actor returns the authenticated caller.
func actor(r *http.Request) notifier.Actor {
	a, _ := r.Context().Value(actorKey{}).(notifier.Actor)
	return a
}

// authenticated requires a valid bearer key with at least role need.
func (s *Server) authenticated(need notifier.Role, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		const scheme = "Bearer "
		h := r.Header.Get("Authorization")
		if len(h) < len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="breachnotify"`)
			writeError(w, r, notifier.Errorf(notifier.CodeUnauthorized, "send an API key as Authorization: Bearer KEY"))
			return
		}
		a, err := s.svc.Authenticate(r.Context(), strings.TrimSpace(h[len(scheme):]))
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="breachnotify", error="invalid_token"`)
			s.fail(w, r, err)
			return
		}
		if !a.Role.Allows(need) {
			writeError(w, r, notifier.Errorf(notifier.CodeForbidden, "this needs the %s role; the key %q is %s", need, a.Name, a.Role))
			return
		}
		// Only a caller with a key gets the time a large import or a
		// long report needs; everyone else keeps the server's short
		// timeouts.
		at := time.Now().Add(APIDeadline)
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(at)
		_ = rc.SetWriteDeadline(at)
		next(w, r.WithContext(context.WithValue(r.Context(), actorKey{}, a)))
	}
}

// statusOf maps an error code to an HTTP status.
func statusOf(code notifier.Code) int {
	switch code {
	case notifier.CodeInvalid:
		return http.StatusUnprocessableEntity
	case notifier.CodeBadRequest:
		return http.StatusBadRequest
	case notifier.CodeNotFound:
		return http.StatusNotFound
	case notifier.CodeConflict:
		return http.StatusConflict
	case notifier.CodeForbidden:
		return http.StatusForbidden
	case notifier.CodeUnauthorized:
		return http.StatusUnauthorized
	case notifier.CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case notifier.CodeUnsupported:
		return http.StatusUnsupportedMediaType
	case notifier.CodeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case notifier.CodeRateLimited:
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

// errorBody is the JSON shape of every error.
type errorBody struct {
	Error struct {
		Code    notifier.Code `json:"code"`
		Message string        `json:"message"`
		Details any           `json:"details"`
	} `json:"error"`
}

// fail logs internal errors with the request id and answers err.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		err = notifier.Errorf(notifier.CodeTooLarge, "the body is larger than %d bytes", tooBig.Limit)
	}
	if notifier.ErrorCode(err) == notifier.CodeInternal {
		s.logger.ErrorContext(r.Context(), "request failed", "request_id", RequestID(r.Context()), "error", err)
	}
	writeError(w, r, err)
}

func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var body errorBody
	body.Error.Code = notifier.ErrorCode(err)
	body.Error.Message = notifier.ErrorMessage(err)
	body.Error.Details = notifier.ErrorDetails(err)
	if body.Error.Code == notifier.CodeInternal {
		body.Error.Message += " (request " + RequestID(r.Context()) + ")"
	}
	writeJSON(w, statusOf(body.Error.Code), body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

// decodeJSON reads one JSON object into v, refusing unknown fields,
// trailing data, bodies over the limit, and objects with two keys equal
// but for case (encoding/json would let the last one win unseen).
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if mt := r.Header.Get("Content-Type"); mt != "" && !strings.HasPrefix(strings.ToLower(mt), "application/json") {
		return notifier.Errorf(notifier.CodeUnsupported, "send JSON with Content-Type: application/json")
	}
	// At most 1 MiB: read whole, so the keys can be checked after decoding.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, min(s.maxBody, 1<<20)))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return err
		}
		return notifier.Errorf(notifier.CodeBadRequest, "the body could not be read: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return notifier.Errorf(notifier.CodeBadRequest, "the body is not valid JSON for this request: %s", jsonProblem(err))
	}
	// Only white space may follow the object (dec.More would let a stray
	// "}" or "]" through).
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return notifier.Errorf(notifier.CodeBadRequest, "the body must hold exactly one JSON object")
	}
	if err := notifier.CheckJSONKeys(body); err != nil {
		return notifier.Errorf(notifier.CodeBadRequest, "the body is not valid JSON for this request: %v", err)
	}
	return nil
}

// jsonProblem describes a decoding error without echoing Go type names.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q has the wrong type", typ.Field)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	case errors.Is(err, io.EOF):
		return "the body is empty"
	}
	return "malformed"
}
