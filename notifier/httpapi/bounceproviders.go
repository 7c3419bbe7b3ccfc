package httpapi

import (
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/bouncehooks"
	"github.com/breachnotify/breachnotify/notifier/web"
)

// Limits of the providers' bounce webhooks, which anyone can reach: no
// API key, only the provider's signature.
const (
	// providerBodyMax bounds a webhook body: SNS messages are at most
	// 256 KiB, SendGrid batches about as much.
	providerBodyMax = 1 << 20
	// providerBurst requests at once per client address, then one per
	// providerEvery: a provider's retries after an outage fit, a flood
	// of forged requests (each a signature check) does not.
	providerBurst = 100
	providerEvery = 50 * time.Millisecond
)

// ProviderBounceReply is the answer to a sending provider's bounce webhook.
type ProviderBounceReply struct {
	Recorded   int    `json:"recorded"`
	Duplicates int    `json:"duplicates"`
	Ignored    int    `json:"ignored"`
	Note       string `json:"note,omitempty"`
}

// providerBounce takes a sending provider's bounce webhook: authenticated
// by the provider's signature (not an API key), rate limited per client
// address, recorded and audited as the provider.
func (s *Server) providerBounce(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("provider")
	hook, ok := s.bounceHooks[name]
	if !ok {
		s.fail(w, r, notifier.Errorf(notifier.CodeNotFound,
			"no bounce webhook %q is enabled here (ses, sendgrid, postmark and mailgun are each enabled by their BREACHNOTIFY_BOUNCE_* setting)", name))
		return
	}
	source := hook.Source()
	if ok, wait := s.providerLimit.Allow(web.RateKey(s.clientAddr.Of(r))); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		s.fail(w, r, notifier.Errorf(notifier.CodeRateLimited, "too many requests; retry after %s", wait.Round(time.Second)))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, min(s.maxBody, providerBodyMax)))
	if err != nil {
		s.svc.CountRejectedBounce(source)
		s.fail(w, r, err)
		return
	}
	req := bouncehooks.Request{Header: r.Header, Body: body}
	req.BasicUser, req.BasicPassword, req.HasBasic = r.BasicAuth()
	res, err := hook.Take(r.Context(), req)
	if err != nil {
		s.svc.CountRejectedBounce(source)
		if errors.Is(err, bouncehooks.ErrUnauthenticated) {
			s.logger.WarnContext(r.Context(), "bounce webhook refused: not authenticated", "request_id", RequestID(r.Context()), "provider", name)
			err = notifier.Errorf(notifier.CodeUnauthorized, "the %s webhook's signature or credentials do not check out", name)
		}
		s.fail(w, r, err)
		return
	}
	reply := ProviderBounceReply{Ignored: res.Ignored, Note: res.Note}
	results, err := s.svc.RecordProviderBounces(r.Context(), bouncehooks.Actor(source), res.Records)
	for _, b := range results {
		if b.Duplicate {
			reply.Duplicates++
		} else {
			reply.Recorded++
		}
	}
	s.reply(w, r, http.StatusOK, reply, err)
}
