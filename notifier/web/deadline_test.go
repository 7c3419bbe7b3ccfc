package web

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestDeadlineCutsAClientThatNeverReads: a handler writing to a client
// that never reads gets an error once its deadline passes, and its
// context ends, instead of waiting on the client for ever.
func TestDeadlineCutsAClientThatNeverReads(t *testing.T) {
	t.Parallel()
	type outcome struct {
		writeErr error
		ctxErr   error
		bounded  bool
	}
	done := make(chan outcome, 1)
	srv := httptest.NewServer(Deadline(200*time.Millisecond, func(w http.ResponseWriter, r *http.Request) {
		_, bounded := r.Context().Deadline()
		chunk := make([]byte, 64<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				<-r.Context().Done()
				done <- outcome{err, r.Context().Err(), bounded}
				return
			}
		}
	}))
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n") // and never read

	select {
	case o := <-done:
		var ne net.Error
		if !errors.As(o.writeErr, &ne) || !ne.Timeout() {
			t.Errorf("write error %v, want a timeout", o.writeErr)
		}
		if o.ctxErr == nil || !o.bounded {
			t.Errorf("context: deadline set %v, ended with %v; want a deadline and an end", o.bounded, o.ctxErr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the handler is still writing to a client that never reads")
	}
}

func TestDeadlineOnARecorder(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	var ctxDeadline bool
	Deadline(time.Minute, func(w http.ResponseWriter, r *http.Request) {
		_, ctxDeadline = r.Context().Deadline()
		w.WriteHeader(http.StatusNoContent)
	})(w, httptest.NewRequestWithContext(context.Background(), "GET", "/", nil))
	if w.Code != http.StatusNoContent || !ctxDeadline {
		t.Errorf("status %d, context deadline %v", w.Code, ctxDeadline)
	}
}
