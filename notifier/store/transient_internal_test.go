package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestMarkTransient classifies database errors: the outcome writer retries
// a commit as is when its error says Transient() (the connection or the
// server went away, a conflict), and gives up on anything else.
func TestMarkTransient(t *testing.T) {
	t.Parallel()
	pg := func(code string) error {
		return &pgconn.PgError{Severity: "ERROR", Code: code, Message: "code " + code}
	}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	tests := []struct {
		name      string
		err       error
		transient bool
	}{
		{"connection failure 08006", pg("08006"), true},
		{"connection does not exist 08003", pg("08003"), true},
		{"serialization failure 40001", pg("40001"), true},
		{"deadlock 40P01", pg("40P01"), true},
		{"out of memory 53200", pg("53200"), true},
		{"too many connections 53300", pg("53300"), true},
		{"admin shutdown 57P01", pg("57P01"), true},
		{"query canceled 57014", pg("57014"), true},
		{"cannot connect now 57P03", pg("57P03"), true},
		{"wrapped 40001", fmt.Errorf("record outcomes: %w", pg("40001")), true},

		{"unique violation 23505", pg("23505"), false},
		{"string too long 22001", pg("22001"), false},
		{"check violation 23514", pg("23514"), false},
		{"undefined table 42P01", pg("42P01"), false},
		{"insufficient privilege 42501", pg("42501"), false},
		{"bad password 28P01", pg("28P01"), false},
		{"wrapped 23505", fmt.Errorf("claim: %w", pg("23505")), false},

		{"io.EOF", io.EOF, true},
		{"unexpected EOF", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{"connection reset", reset, true},
		{"wrapped connection reset", fmt.Errorf("send batch: %w", reset), true},
		{"dial refused", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, true},
		{"DNS failure", &net.DNSError{Err: "no such host", Name: "db.invalid", IsNotFound: true}, true},
		{"closed connection", fmt.Errorf("write: %w", net.ErrClosed), true},

		{"no rows", pgx.ErrNoRows, false},
		{"canceled", context.Canceled, false},
		{"plain error", errors.New("scan: cannot assign"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := markTransient(tt.err)
			if !errors.Is(got, tt.err) {
				t.Errorf("markTransient(%v) = %v, which no longer wraps the error", tt.err, got)
			}
			var te interface{ Transient() bool }
			if is := errors.As(got, &te) && te.Transient(); is != tt.transient {
				t.Errorf("markTransient(%v): transient %v, want %v", tt.err, is, tt.transient)
			}
			if !tt.transient && got != tt.err {
				t.Errorf("markTransient(%v) = %#v, want the error unchanged", tt.err, got)
			}
		})
	}
	t.Run("nil", func(t *testing.T) {
		t.Parallel()
		if err := markTransient(nil); err != nil {
			t.Errorf("markTransient(nil) = %#v, want nil", err)
		}
	})
	t.Run("wrapped by the store", func(t *testing.T) {
		t.Parallel()
		err := wrap("record outcomes", markTransient(pg("57P01")))
		var te interface{ Transient() bool }
		if !errors.As(err, &te) || !te.Transient() {
			t.Errorf("%v: the wrapped error is not transient", err)
		}
	})
	t.Run("connection refused by pgconn", func(t *testing.T) {
		t.Parallel()
		// Nothing listens on a port just closed: a real failed connect, as a pool
		// gets it while the server restarts.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().(*net.TCPAddr)
		_ = ln.Close()
		_, err = pgconn.Connect(context.Background(), fmt.Sprintf("postgres://nobody@127.0.0.1:%d/none?sslmode=disable&connect_timeout=5", addr.Port))
		var ce *pgconn.ConnectError
		if !errors.As(err, &ce) {
			t.Fatalf("connect: %v, want a connect error", err)
		}
		var te interface{ Transient() bool }
		if got := markTransient(err); !errors.As(got, &te) || !te.Transient() {
			t.Errorf("markTransient(%v) is not transient", err)
		}
	})
}
