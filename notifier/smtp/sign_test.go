package smtp_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/breachnotify/breachnotify/notifier/capture"
	"github.com/breachnotify/breachnotify/notifier/delivery"
	"github.com/breachnotify/breachnotify/notifier/smtp"
)

func rsaKey(t testing.TB, bits int) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ed25519Key(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// verifyDKIM checks raw with go-msgauth, an implementation independent of
// go-mail's signer, answering its DNS query with the record for pub.
func verifyDKIM(t testing.TB, raw []byte, d *smtp.DKIM, pub crypto.PublicKey) (*dkim.Verification, error) {
	t.Helper()
	record, err := smtp.DKIMRecord(pub)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) {
			if name != d.RecordName() {
				return nil, errors.New("unexpected DNS query for " + name)
			}
			return []string{record}, nil
		},
	})
	if err != nil {
		t.Fatalf("dkim verify: %v", err)
	}
	if len(vs) != 1 {
		t.Fatalf("%d DKIM signatures, want 1", len(vs))
	}
	return vs[0], vs[0].Err
}

func TestDKIMSignatureVerifies(t *testing.T) {
	t.Parallel()
	for name, key := range map[string]crypto.Signer{"rsa-2048": rsaKey(t, 2048), "ed25519": ed25519Key(t)} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := &smtp.DKIM{Domain: "notify.example", Selector: "bn2026", Key: key}
			m := message("ok@x.example")
			m.Headers = map[string]string{"X-Breachnotify-Reference": "BN-7K4Q-2M9D"}
			// Long enough that every header is folded: the signature must
			// survive go-mail's header folding.
			m.Subject = strings.Repeat("Security notice about your data ", 5)
			m.References = []string{"first@notify.example", "second@notify.example", "third@notify.example"}
			raw, err := smtp.Build(m, smtp.WithDKIM(d))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(raw, []byte("DKIM-Signature: ")) {
				t.Fatalf("message does not start with a DKIM-Signature:\n%s", raw[:min(len(raw), 300)])
			}
			for _, line := range strings.Split(string(raw), "\r\n") {
				if len(line) > 998 { // RFC 5322 §2.1.1
					t.Errorf("line of %d characters: %.60s...", len(line), line)
				}
			}
			v, err := verifyDKIM(t, raw, d, key.Public())
			if err != nil {
				t.Fatalf("signature does not verify: %v\n%s", err, raw)
			}
			if v.Domain != "notify.example" {
				t.Errorf("d= %q, want notify.example", v.Domain)
			}
			signed := map[string]bool{}
			for _, h := range v.HeaderKeys {
				signed[strings.ToLower(h)] = true
			}
			for _, h := range []string{"From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References", "MIME-Version", "Content-Type", "Auto-Submitted", "X-Breachnotify-Reference"} {
				if !signed[strings.ToLower(h)] {
					t.Errorf("%s is not signed (h=%v)", h, v.HeaderKeys)
				}
			}
			// Oversigned: listed once more than they occur, so a copy
			// added in transit breaks the signature.
			count := map[string]int{}
			for _, h := range v.HeaderKeys {
				count[strings.ToLower(h)]++
			}
			for _, h := range []string{"From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type", "Content-Transfer-Encoding"} {
				if count[strings.ToLower(h)] < 2 {
					t.Errorf("%s is not oversigned (h=%v)", h, v.HeaderKeys)
				}
			}
		})
	}
}

func TestDKIMDetectsTampering(t *testing.T) {
	t.Parallel()
	key := ed25519Key(t)
	d := &smtp.DKIM{Domain: "notify.example", Selector: "bn2026", Key: key}
	m := message("ok@x.example")
	m.Text = "Your mailbox was read on 3 March."
	m.Headers = map[string]string{"X-Breachnotify-Reference": "BN-7K4Q-2M9D"}
	raw, err := smtp.Build(m, smtp.WithDKIM(d))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifyDKIM(t, raw, d, key.Public()); err != nil {
		t.Fatalf("untouched message does not verify: %v", err)
	}
	body := bytes.Index(raw, []byte("\r\n\r\n"))
	tamper := map[string][]byte{
		"body changed":       append(raw[:body:body], bytes.Replace(raw[body:], []byte("3 March"), []byte("4 March"), 1)...),
		"subject changed":    bytes.Replace(raw, []byte("Subject: Hello"), []byte("Subject: Urgent"), 1),
		"second From added":  append(append(raw[:body+2:body+2], "From: IT Support <it@evil.example>\r\n"...), raw[body+2:]...),
		"Reply-To added":     append(append(raw[:body+2:body+2], "Reply-To: <collect@evil.example>\r\n"...), raw[body+2:]...),
		"reference changed":  bytes.Replace(raw, []byte("BN-7K4Q-2M9D"), []byte("BN-0000-0000"), 1),
		"Content-Type added": append(append(raw[:body+2:body+2], "Content-Type: text/html\r\n"...), raw[body+2:]...),
		"MIME-Version added": append(append(raw[:body+2:body+2], "MIME-Version: 1.0\r\n"...), raw[body+2:]...),
	}
	for name, changed := range tamper {
		if bytes.Equal(changed, raw) {
			t.Fatalf("%s: the test did not change the message", name)
		}
		if _, err := verifyDKIM(t, changed, d, key.Public()); err == nil {
			t.Errorf("%s: signature still verifies", name)
		}
	}
	// Another key at the selector (a rotated or wrong DNS record) fails too.
	if _, err := verifyDKIM(t, raw, d, ed25519Key(t).Public()); err == nil {
		t.Error("verifies against a different public key")
	}
}

func TestSenderSignsWhatItSendsAndHashes(t *testing.T) {
	t.Parallel()
	key := rsaKey(t, 2048)
	d := &smtp.DKIM{Domain: "notify.example", Selector: "bn2026", Key: key}
	s, sink := startSenderWith(t, smtp.Config{DKIM: d})
	conn, err := s.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release(false)
	r := conn.Send(context.Background(), message("ok@x.example"))
	if r.Verdict != delivery.Accepted {
		t.Fatalf("send: %+v", r)
	}
	raw := sink.Messages()[0].Raw
	if sum := sha256.Sum256(raw); !bytes.Equal(sum[:], r.SHA256) {
		t.Error("recorded hash is not of the bytes received")
	}
	if _, err := verifyDKIM(t, raw, d, key.Public()); err != nil {
		t.Errorf("received message does not verify: %v", err)
	}
}

func TestNewRefusesBadSigningConfig(t *testing.T) {
	t.Parallel()
	cases := map[string]*smtp.DKIM{
		"no selector":  {Domain: "notify.example", Key: ed25519Key(t)},
		"no domain":    {Selector: "s", Key: ed25519Key(t)},
		"no key":       {Domain: "notify.example", Selector: "s"},
		"1024-bit RSA": {Domain: "notify.example", Selector: "s", Key: rsaKey(t, 1024)},
	}
	for name, d := range cases {
		if _, err := smtp.New(smtp.Config{Host: "127.0.0.1", Port: 25, TLS: "none", DKIM: d}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// go-mail's S/MIME signer knows RSA and ECDSA keys only.
	if _, err := smtp.New(smtp.Config{Host: "127.0.0.1", Port: 25, TLS: "none", SMIME: smimeCert(t, ed25519Key(t))}); err == nil {
		t.Error("an Ed25519 S/MIME key was accepted")
	}
}

func TestCheckDKIMRecord(t *testing.T) {
	t.Parallel()
	rsaK, edK := rsaKey(t, 2048), ed25519Key(t)
	rsaRec, _ := smtp.DKIMRecord(rsaK.Public())
	edRec, _ := smtp.DKIMRecord(edK.Public())
	cases := []struct {
		name   string
		record string
		pub    crypto.PublicKey
		want   string // part of the error; empty means a match
	}{
		{"rsa match", rsaRec, rsaK.Public(), ""},
		{"ed25519 match", edRec, edK.Public(), ""},
		{"split into strings with spaces", strings.Replace(rsaRec, "p=", "p= ", 1) + " ", rsaK.Public(), ""},
		{"other rsa key", rsaRec, rsaKey(t, 2048).Public(), "different rsa key"},
		{"other ed25519 key", edRec, ed25519Key(t).Public(), "different ed25519 key"},
		{"revoked", "v=DKIM1; k=rsa; p=", rsaK.Public(), "revoked"},
		{"ed25519 record for rsa key", edRec, rsaK.Public(), "different ed25519 key"},
		{"not dkim", "v=spf1 -all", rsaK.Public(), "not DKIM1"},
	}
	for _, c := range cases {
		err := smtp.CheckDKIMRecord(c.record, c.pub)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}

// startSenderWith starts a capture sink and a Sender to it with cfg's
// signing settings.
func startSenderWith(t *testing.T, cfg smtp.Config) (*smtp.Sender, *capture.Memory) {
	t.Helper()
	sink := &capture.Memory{}
	srv, err := capture.Start("127.0.0.1:0", capture.Options{Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	host, port, _ := net.SplitHostPort(srv.Addr())
	cfg.Host, cfg.TLS, cfg.Timeout = host, "none", 5*time.Second
	cfg.Port, _ = strconv.Atoi(port)
	s, err := smtp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, sink
}

func TestDKIMSurvivesLongNames(t *testing.T) {
	t.Parallel()
	// Names longer than a folded line: go-mail breaks them mid-value, which
	// Build must repair for the signature to verify.
	key := ed25519Key(t)
	d := &smtp.DKIM{
		Domain:   "breach-notifications.incident-response.security-operations.example-corporation.example",
		Selector: "breachnotify-2026-rotation-one-with-a-selector-name-that-is-far-too-long-for-one-line",
		Key:      key,
	}
	raw, err := smtp.Build(message("ok@x.example"), smtp.WithDKIM(d))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifyDKIM(t, raw, d, key.Public()); err != nil {
		t.Fatalf("signature does not verify: %v\n%s", err, raw[:bytes.Index(raw, []byte("\r\nAuto-Submitted"))])
	}
}

// BenchmarkBuild shows what signing costs per message: RSA signing is the
// expensive part, and at thousands of messages per second it is CPU that
// sending no longer has. dkim-rsa2048+ed25519 is RFC 8463 dual signing.
func BenchmarkBuild(b *testing.B) {
	m := message("ok@x.example")
	m.Text = strings.Repeat("All work and no play makes a notice. ", 60)
	m.HTML = "<p>" + m.Text + "</p>"
	cases := []struct {
		name string
		opts []smtp.Option
	}{
		{"unsigned", nil},
		{"dkim-ed25519", []smtp.Option{smtp.WithDKIM(&smtp.DKIM{Domain: "notify.example", Selector: "s", Key: ed25519Key(b)})}},
		{"dkim-rsa2048", []smtp.Option{smtp.WithDKIM(&smtp.DKIM{Domain: "notify.example", Selector: "s", Key: rsaKey(b, 2048)})}},
		{"dkim-rsa2048+ed25519", []smtp.Option{
			smtp.WithDKIM(&smtp.DKIM{Domain: "notify.example", Selector: "rsa", Key: rsaKey(b, 2048)}),
			smtp.WithDKIM(&smtp.DKIM{Domain: "notify.example", Selector: "ed", Key: ed25519Key(b)}),
		}},
		{"smime-rsa2048+dkim-rsa2048", []smtp.Option{smtp.WithSMIME(smimeCert(b, rsaKey(b, 2048))), smtp.WithDKIM(&smtp.DKIM{Domain: "notify.example", Selector: "s", Key: rsaKey(b, 2048)})}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			cpu := cpuTime()
			for b.Loop() {
				if _, err := smtp.Build(m, c.opts...); err != nil {
					b.Fatal(err)
				}
			}
			// CPU per message, which a loaded machine does not inflate as
			// it does ns/op (garbage collection included).
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// TestDKIMDualSigning: with an RSA and an Ed25519 key (RFC 8463), the
// message carries two signatures, each verifying on its own against its
// own selector's record, and a sender refuses a second key that is not
// Ed25519 beside an RSA one.
func TestDKIMDualSigning(t *testing.T) {
	t.Parallel()
	rsaK, edK := rsaKey(t, 2048), ed25519Key(t)
	rsaD := &smtp.DKIM{Domain: "notify.example", Selector: "rsa2026", Key: rsaK}
	edD := &smtp.DKIM{Domain: "notify.example", Selector: "ed2026", Key: edK}
	m := message("ok@x.example")
	m.Headers = map[string]string{"X-Breachnotify-Reference": "BN-7K4Q-2M9D"}
	raw, err := smtp.Build(m, smtp.WithDKIM(rsaD), smtp.WithDKIM(edD))
	if err != nil {
		t.Fatal(err)
	}
	records := map[string]string{}
	for _, c := range []struct {
		d   *smtp.DKIM
		pub crypto.PublicKey
	}{{rsaD, rsaK.Public()}, {edD, edK.Public()}} {
		r, err := smtp.DKIMRecord(c.pub)
		if err != nil {
			t.Fatal(err)
		}
		records[c.d.RecordName()] = r
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) {
			if r, ok := records[name]; ok {
				return []string{r}, nil
			}
			return nil, errors.New("unexpected DNS query for " + name)
		},
	})
	if err != nil || len(vs) != 2 {
		t.Fatalf("%d signatures, %v; want 2", len(vs), err)
	}
	for _, v := range vs {
		if v.Err != nil || v.Domain != "notify.example" {
			t.Errorf("signature of %s: %v", v.Domain, v.Err)
		}
	}
	if !bytes.HasPrefix(raw, []byte("DKIM-Signature: ")) || !bytes.Contains(raw, []byte("a=ed25519-sha256")) || !bytes.Contains(raw, []byte("a=rsa-sha256")) {
		t.Errorf("want an RSA and an Ed25519 signature at the top:\n%s", raw[:min(len(raw), 1200)])
	}
	// Tampering breaks both.
	bad := bytes.Replace(raw, []byte("Subject: "), []byte("Subject: Re: "), 1)
	vs, _ = dkim.VerifyWithOptions(bytes.NewReader(bad), &dkim.VerifyOptions{LookupTXT: func(name string) ([]string, error) { return []string{records[name]}, nil }})
	for _, v := range vs {
		if v.Err == nil {
			t.Errorf("a signature survived a changed subject")
		}
	}

	for name, cfg := range map[string]smtp.Config{
		"second key RSA":  {DKIM: rsaD, DKIMEd25519: &smtp.DKIM{Domain: "notify.example", Selector: "x", Key: rsaK}},
		"no first key":    {DKIMEd25519: edD},
		"first key Ed255": {DKIM: edD, DKIMEd25519: edD},
	} {
		cfg.Host, cfg.Port, cfg.TLS = "relay.example", 25, "none"
		if _, err := smtp.New(cfg); err == nil || !strings.Contains(err.Error(), "Ed25519") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}
