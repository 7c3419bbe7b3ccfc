package web

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
)

func TestSession(t *testing.T) {
	t.Parallel()
	c := NewCookies("http://notify.test", http.SameSiteLaxMode)
	down := errors.New("database down")
	find := func(_ context.Context, id string) (string, error) {
		switch id {
		case "live":
			return "session of " + id, nil
		case "down":
			return "", down
		}
		return "", notifier.Errorf(notifier.CodeNotFound, "no such session")
	}
	for _, tc := range []struct {
		cookie    string
		want      string
		wantState SessionState
		wantErr   error
	}{
		{"", "", NoSession, nil},
		{"live", "session of live", LiveSession, nil},
		{"ended", "", RefusedSession, nil},
		{"down", "", RefusedSession, down},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if tc.cookie != "" {
			r.AddCookie(&http.Cookie{Name: "bn_s", Value: tc.cookie})
		}
		got, state, err := Session(r, c, "bn_s", find)
		if got != tc.want || state != tc.wantState || !errors.Is(err, tc.wantErr) {
			t.Errorf("cookie %q: %q, %v, %v; want %q, %v, %v", tc.cookie, got, state, err, tc.want, tc.wantState, tc.wantErr)
		}
	}
}
