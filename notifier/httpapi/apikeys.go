package httpapi

import (
	"net/http"

	"github.com/breachnotify/breachnotify/notifier"
)

func (s *Server) listAPIKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := s.svc.APIKeys(r.Context(), actor(r))
	s.reply(w, r, http.StatusOK, notifier.ListResult[notifier.APIKey]{Items: keys}, err)
}

// createdKey is the reply to creating a key: the only time the key is shown.
type createdKey struct {
	notifier.APIKey
	Key string `json:"key"`
}

func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name string        `json:"name"`
		Role notifier.Role `json:"role"`
	}
	if err := s.decodeJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	key, k, err := s.svc.CreateAPIKey(r.Context(), actor(r), in.Name, in.Role)
	s.reply(w, r, http.StatusCreated, createdKey{APIKey: k, Key: key}, err)
}

func (s *Server) revokeAPIKey(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	k, err := s.svc.RevokeAPIKey(r.Context(), actor(r), id)
	s.reply(w, r, http.StatusOK, k, err)
}
