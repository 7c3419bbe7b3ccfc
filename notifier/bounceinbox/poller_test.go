package bounceinbox_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/bounceinbox"
	"github.com/breachnotify/breachnotify/notifier/bounceinbox/imaptest"
	"github.com/breachnotify/breachnotify/notifier/sampledata"
)

// fakeRecorder parses as the service does and remembers each key, so a
// message taken in twice shows as a duplicate.
type fakeRecorder struct {
	mu   sync.Mutex
	keys map[string]bool
	by   []notifier.Actor
	fail error
}

func (f *fakeRecorder) RecordReport(_ context.Context, by notifier.Actor, in notifier.BounceReport) ([]notifier.BounceResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	f.by = append(f.by, by)
	if in.Source != notifier.SourceIMAP || in.Key == "" {
		return nil, errors.New("want source imap with a key")
	}
	notices, err := notifier.ParseDSN(in.Raw, in.ContentType)
	if err != nil {
		return []notifier.BounceResult{{Bounce: notifier.Bounce{Kind: notifier.BounceUnknown}}}, nil
	}
	dup := f.keys[in.Key]
	f.keys[in.Key] = true
	var out []notifier.BounceResult
	for _, n := range notices {
		out = append(out, notifier.BounceResult{Bounce: notifier.Bounce{Kind: n.Kind, MessageID: n.MessageID}, Duplicate: dup})
	}
	return out, nil
}

func setup(t *testing.T, processed string) (*imaptest.Server, *fakeRecorder, *bounceinbox.Poller) {
	t.Helper()
	srv := imaptest.Start(t)
	rec := &fakeRecorder{keys: map[string]bool{}}
	p, err := bounceinbox.New(bounceinbox.Config{Server: srv.Server(), Processed: processed, Recorder: rec})
	if err != nil {
		t.Fatal(err)
	}
	return srv, rec, p
}

// dsn is the sample hard bounce with CRLF line ends, as IMAP keeps mail.
func dsn() []byte {
	b := bytes.ReplaceAll(sampledata.File(sampledata.HardBounce), []byte("REPLACE-WITH-DELIVERY-MESSAGE-ID@notify.example"), []byte("m1@notify.example"))
	return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
}

func flagsOf(msgs []imaptest.Message) []string {
	var out []string
	for _, m := range msgs {
		f := strings.Join(m.Flags, "+")
		if f == "" {
			f = "-"
		}
		out = append(out, f)
	}
	return out
}

// A poll records the bounce, marks it seen and moves it to the processed
// folder; a message that is no bounce report is flagged and left; the
// message already seen is not read. The same message again records once.
func TestPollRecordsMovesAndFlags(t *testing.T) {
	t.Parallel()
	srv, rec, p := setup(t, "Processed")
	ctx := context.Background()
	srv.Append(t, "INBOX", dsn())
	srv.Append(t, "INBOX", []byte("From: someone@example.com\r\nSubject: out of office\r\n\r\nback monday\r\n"))

	res, err := p.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res != (bounceinbox.Result{Recorded: 1, Unparsed: 1}) {
		t.Fatalf("first poll = %+v, want one recorded, one unparsed", res)
	}
	inbox := srv.Messages(t, "INBOX")
	// The server cannot MOVE: the bounce is copied and stays, seen.
	if got := strings.Join(flagsOf(inbox), " "); got != `\Seen \Seen \Flagged` {
		t.Errorf("INBOX flags after the poll = %q, want the old message and the bounce seen and the unparsed one flagged", got)
	}
	if len(inbox) != 3 || !bytes.Contains(inbox[2].Body, []byte("back monday")) {
		t.Errorf("the unparsed message is not left in INBOX: %d messages", len(inbox))
	}
	done := srv.Messages(t, "Processed")
	if len(done) != 1 || !bytes.Equal(done[0].Body, dsn()) || strings.Join(done[0].Flags, " ") != `\Seen` {
		t.Fatalf("Processed = %+v (%d messages), want the DSN, seen", flagsOf(done), len(done))
	}
	if len(rec.by) != 2 || rec.by[0] != bounceinbox.Actor {
		t.Errorf("recorded as %+v, want the mailbox actor", rec.by)
	}

	// Nothing new: nothing read.
	if res, err := p.Poll(ctx); err != nil || res != (bounceinbox.Result{}) {
		t.Fatalf("second poll = %+v, %v; want nothing", res, err)
	}
	// The same bounce delivered again is taken in as a duplicate.
	srv.Append(t, "INBOX", dsn())
	if res, err := p.Poll(ctx); err != nil || res != (bounceinbox.Result{Recorded: 1, Duplicates: 1}) {
		t.Fatalf("poll of a copy = %+v, %v; want a duplicate", res, err)
	}
	if n := len(srv.Messages(t, "Processed")); n != 2 {
		t.Errorf("Processed holds %d messages, want 2 (a duplicate is filed too)", n)
	}
}

// Without a processed folder a recorded message stays, marked seen.
func TestPollWithoutProcessedFolder(t *testing.T) {
	t.Parallel()
	srv, _, p := setup(t, "")
	srv.Append(t, "INBOX", dsn())
	if res, err := p.Poll(context.Background()); err != nil || res.Recorded != 1 {
		t.Fatalf("poll = %+v, %v", res, err)
	}
	if got := strings.Join(flagsOf(srv.Messages(t, "INBOX")), " "); got != `\Seen \Seen` {
		t.Errorf("INBOX flags = %q, want both seen", got)
	}
	if srv.Messages(t, "Processed") != nil {
		t.Error("a processed folder was created though none is configured")
	}
}

// A failure to record stops the poll and leaves the message unseen, so
// the next poll takes it again.
func TestPollLeavesMessageWhenRecordingFails(t *testing.T) {
	t.Parallel()
	srv, rec, p := setup(t, "Processed")
	srv.Append(t, "INBOX", dsn())
	rec.fail = errors.New("database down")
	if _, err := p.Poll(context.Background()); err == nil || !strings.Contains(err.Error(), "database down") {
		t.Fatalf("poll error = %v, want the recording failure", err)
	}
	if got := strings.Join(flagsOf(srv.Messages(t, "INBOX")), " "); got != `\Seen -` {
		t.Errorf("INBOX flags = %q, want the bounce still unseen", got)
	}
	rec.fail = nil
	if res, err := p.Poll(context.Background()); err != nil || res.Recorded != 1 {
		t.Fatalf("poll after recovery = %+v, %v", res, err)
	}
}

// Wrong credentials are an error that names the user, not the password.
func TestPollBadLogin(t *testing.T) {
	t.Parallel()
	srv := imaptest.Start(t)
	server := srv.Server()
	server.Password = "wrong-secret"
	p, _ := bounceinbox.New(bounceinbox.Config{Server: server, Recorder: &fakeRecorder{}})
	_, err := p.Poll(context.Background())
	if err == nil || !strings.Contains(err.Error(), `"username"`) || strings.Contains(err.Error(), "wrong-secret") {
		t.Fatalf("error = %v, want a login failure naming the user only", err)
	}
}
