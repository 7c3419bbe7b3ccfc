package app_test

import (
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
)

// TestRelayRefusesTheLogin: with a wrong password the wave does not send,
// and the workers say the relay refused the login (with its reply and the
// fix), not that it is unreachable; the relay alert's snooze still counts.
func TestRelayRefusesTheLogin(t *testing.T) {
	t.Parallel()
	relay := &loginRelay{user: "alice", password: "s3cret"}
	addr := relay.start(t)
	logs := &lockedBuffer{}
	e := apptest.Start(t, apptest.Options{Configure: func(c *config.Config) {
		var err error
		if c.SMTP, err = config.ParseSMTPURL("smtp://alice:Wr0ng-pw@" + addr + "?tls=none&auth=plain&insecure_auth=true"); err != nil {
			t.Fatal(err)
		}
		c.Workers = 2
	}, LogTo: logs})
	planAndLaunch(t, e, e.LoadSample(t, "relay-login"))

	faultWait(t, "the refused login in the log", 20*time.Second, func() bool {
		return strings.Contains(logs.String(), "relay authentication failed; circuit open")
	})
	out := logs.String()
	for _, want := range []string{"tried PLAIN", "relay offers PLAIN", "535", "check the user name and password"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "relay unreachable; circuit open") || strings.Contains(out, "Wr0ng-pw") {
		t.Errorf("log calls the relay unreachable or shows the password:\n%s", out)
	}
	// The chunk is counted as snoozed once it has stopped, just after.
	faultWait(t, "a relay_unreachable snooze, which the relay alert counts", 20*time.Second, func() bool {
		return snoozes(t, e)["relay_unreachable"] >= 1
	})
	if n := relay.messages.Load(); n != 0 {
		t.Errorf("the relay took %d messages without a login", n)
	}
}

// loginRelay is a relay without TLS that offers PLAIN, takes only user
// with password, and counts the messages it accepts.
type loginRelay struct {
	user, password string
	messages       atomic.Int64
}

func (r *loginRelay) start(t *testing.T) string {
	t.Helper()
	srv := gosmtp.NewServer(r)
	srv.Domain = "relay.test"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
}

func (r *loginRelay) NewSession(*gosmtp.Conn) (gosmtp.Session, error) {
	return &loginSession{relay: r}, nil
}

type loginSession struct {
	relay  *loginRelay
	authed bool
}

func (s *loginSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *loginSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, password string) error {
		if user != s.relay.user || password != s.relay.password {
			return gosmtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}), nil
}

func (s *loginSession) Mail(string, *gosmtp.MailOptions) error {
	if !s.authed {
		return gosmtp.ErrAuthRequired
	}
	return nil
}

func (s *loginSession) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (s *loginSession) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	s.relay.messages.Add(1)
	return err
}
func (s *loginSession) Reset()        {}
func (s *loginSession) Logout() error { return nil }
