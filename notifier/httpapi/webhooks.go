package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/webhook"
)

// webhooks is the webhook use cases, or an error when the server has none.
func (s *Server) webhooks() (*webhook.Service, error) {
	if s.hooks == nil {
		return nil, notifier.Errorf(notifier.CodeConflict, "webhooks are not available on this server")
	}
	return s.hooks, nil
}

// endpointInput reads and validates an endpoint's body.
func (s *Server) endpointInput(w http.ResponseWriter, r *http.Request, hooks *webhook.Service, creating bool) (webhook.EndpointInput, error) {
	var raw json.RawMessage
	if err := s.decodeJSON(w, r, &raw); err != nil {
		return webhook.EndpointInput{}, err
	}
	return webhook.ParseEndpointInput(raw, creating, hooks.Policy())
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) {
	hooks, err := s.webhooks()
	var p notifier.Page
	if err == nil {
		p, err = listPage(r)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list, err := hooks.Endpoints(r.Context(), actor(r), p)
	s.reply(w, r, http.StatusOK, list, err)
}

// createWebhook answers 201 with the endpoint and its secret, the only
// time the secret is shown.
func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) {
	hooks, err := s.webhooks()
	var in webhook.EndpointInput
	if err == nil {
		in, err = s.endpointInput(w, r, hooks, true)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	e, err := hooks.CreateEndpoint(r.Context(), actor(r), in)
	s.reply(w, r, http.StatusCreated, e, err)
}

// webhookID reads the endpoint's id from the path.
func (s *Server) webhookID(r *http.Request) (*webhook.Service, int64, error) {
	hooks, err := s.webhooks()
	if err != nil {
		return nil, 0, err
	}
	id, err := pathID(r, "id")
	return hooks, id, err
}

// onWebhook answers status with what do returns for the endpoint named in
// the path.
func (s *Server) onWebhook(w http.ResponseWriter, r *http.Request, status int,
	do func(hooks *webhook.Service, id int64) (any, error)) {
	hooks, id, err := s.webhookID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := do(hooks, id)
	s.reply(w, r, status, v, err)
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request) {
	s.onWebhook(w, r, http.StatusOK, func(hooks *webhook.Service, id int64) (any, error) {
		return hooks.Endpoint(r.Context(), actor(r), id)
	})
}

func (s *Server) patchWebhook(w http.ResponseWriter, r *http.Request) {
	hooks, id, err := s.webhookID(r)
	var in webhook.EndpointInput
	if err == nil {
		in, err = s.endpointInput(w, r, hooks, false)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	e, err := hooks.UpdateEndpoint(r.Context(), actor(r), id, in)
	s.reply(w, r, http.StatusOK, e, err)
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	hooks, id, err := s.webhookID(r)
	if err == nil {
		err = hooks.DeleteEndpoint(r.Context(), actor(r), id)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// rotateWebhookSecret answers the endpoint with its new secret, shown
// this once; the old secrets sign on through the overlap.
func (s *Server) rotateWebhookSecret(w http.ResponseWriter, r *http.Request) {
	s.onWebhook(w, r, http.StatusOK, func(hooks *webhook.Service, id int64) (any, error) {
		return hooks.RotateSecret(r.Context(), actor(r), id)
	})
}

// testWebhook answers 202: the test event is queued, its attempts show
// in the delivery log.
func (s *Server) testWebhook(w http.ResponseWriter, r *http.Request) {
	s.onWebhook(w, r, http.StatusAccepted, func(hooks *webhook.Service, id int64) (any, error) {
		return hooks.SendTest(r.Context(), actor(r), id)
	})
}

func (s *Server) listWebhookDeliveries(w http.ResponseWriter, r *http.Request) {
	hooks, id, err := s.webhookID(r)
	var p notifier.Page
	if err == nil {
		p, err = listPage(r)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list, err := hooks.Deliveries(r.Context(), actor(r), id, p)
	s.reply(w, r, http.StatusOK, list, err)
}

func (s *Server) redeliverWebhook(w http.ResponseWriter, r *http.Request) {
	hooks, id, err := s.webhookID(r)
	var deliveryID int64
	if err == nil {
		deliveryID, err = pathID(r, "delivery")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d, err := hooks.Redeliver(r.Context(), actor(r), id, deliveryID)
	s.reply(w, r, http.StatusAccepted, d, err)
}
