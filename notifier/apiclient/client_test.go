package apiclient

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
)

// TestLaunchRetriesLostReplyWithSameKey drops the first launch's
// connection before any reply: the client must send it once more, with
// the same Idempotency-Key, and take the second reply.
func TestLaunchRetriesLostReplyWithSameKey(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var keys []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		n := len(keys)
		mu.Unlock()
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/waves/7/launch" {
			t.Errorf("request %s %s", r.Method, r.URL.Path)
		}
		if n == 1 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			conn.Close()
			return
		}
		_ = json.NewEncoder(w).Encode(notifier.Wave{ID: 7, Status: notifier.WaveRunning})
	}))
	defer srv.Close()

	w, err := New(srv.URL, "k").LaunchWaveIdempotent(context.Background(), 7, "key-1")
	if err != nil {
		t.Fatalf("launch: %v", err)
	}
	if w.ID != 7 || w.Status != notifier.WaveRunning {
		t.Errorf("wave = %+v", w)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(keys) != 2 || keys[0] != "key-1" || keys[1] != "key-1" {
		t.Errorf("Idempotency-Key headers = %q, want the same key twice", keys)
	}
}

// TestLaunchDoesNotRetryErrorReply: an error reply is an answer, and
// repeating the request could not change it.
func TestLaunchDoesNotRetryErrorReply(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusConflict)
		_, _ = w.Write([]byte(`{"error":{"code":"conflict","message":"wave 7 needs approval"}}`))
	}))
	defer srv.Close()

	_, err := New(srv.URL, "k").LaunchWaveIdempotent(context.Background(), 7, "key-1")
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Code != "conflict" || apiErr.Status != http.StatusConflict {
		t.Fatalf("err = %v, want the conflict reply", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 1 {
		t.Errorf("%d requests, want 1", calls)
	}
}

// auditServer serves entries 1..n newest first in pages of at most size.
func auditServer(t *testing.T, n, size int, stuck bool) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/audit" {
			t.Errorf("path %s", r.URL.Path)
		}
		top := int64(n)
		if c := r.URL.Query().Get("cursor"); c != "" && !stuck {
			after, err := notifier.DecodeCursor(c)
			if err != nil {
				t.Errorf("cursor %q: %v", c, err)
			}
			top = after - 1
		}
		var res notifier.ListResult[notifier.AuditEntry]
		for id := top; id > 0 && len(res.Items) < size; id-- {
			res.Items = append(res.Items, notifier.AuditEntry{ID: id, TargetID: strconv.FormatInt(id, 10)})
		}
		if last := res.Items[len(res.Items)-1].ID; last > 1 {
			res.NextCursor = notifier.EncodeCursor(last)
		}
		_ = json.NewEncoder(w).Encode(res)
	}))
}

func TestAuditChainFollowsCursorsOldestFirst(t *testing.T) {
	t.Parallel()
	srv := auditServer(t, 7, 3, false)
	defer srv.Close()
	chain, err := New(srv.URL, "k").AuditChain(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) != 7 {
		t.Fatalf("%d entries, want 7", len(chain))
	}
	for i, e := range chain {
		if e.ID != int64(i+1) {
			t.Errorf("entry %d has id %d, want oldest first", i, e.ID)
		}
	}
}

func TestAllStopsOnCursorThatDoesNotAdvance(t *testing.T) {
	t.Parallel()
	srv := auditServer(t, 7, 3, true)
	defer srv.Close()
	if _, err := New(srv.URL, "k").AuditChain(context.Background()); err == nil {
		t.Fatal("a server repeating the same page was followed without error")
	}
}

func TestErrorListsRows(t *testing.T) {
	t.Parallel()
	e := &Error{Status: 422, Code: "invalid", Message: "import rejected: 4 problem(s); nothing was written", Rows: []notifier.RowError{
		{Line: 3, Field: "contact_email", Message: "is not an email address"},
		{Line: 5, Message: "has 3 fields, the header has 8"},
		{Field: "slug", Message: "is required"},
		{Message: "2 more problem(s) not listed"},
	}}
	want := "invalid (HTTP 422): import rejected: 4 problem(s); nothing was written" +
		"\n  line 3, field contact_email: is not an email address" +
		"\n  line 5: has 3 fields, the header has 8" +
		"\n  field slug: is required" +
		"\n  2 more problem(s) not listed"
	if got := e.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
}
