package secrets

import (
	"fmt"
	"strings"
	"testing"
)

// testKey is a fingerprint key for tests.
var testKey = []byte("0123456789abcdef0123456789abcdef")

// setup returns a scanner with every rule, built once per test.
func setup(t testing.TB) *Scanner {
	t.Helper()
	s, err := NewScanner(testKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sample is a text holding one secret, and what the scanner should say.
type sample struct {
	name   string
	text   string
	typ    Type
	rule   string
	secret string
}

// ourSamples hold secrets our rules find.
var ourSamples = []sample{
	{"password en", "Hi Bob,\nyour new password: Summer2024!\nthanks", Password, "breachnotify-password-prose", "Summer2024!"},
	{"password en is", "The password is Hunter42 for the shared drive.", Password, "breachnotify-password-prose", "Hunter42"},
	{"password en equals", "login with user=bob pw=Kx9!mPq2", Password, "breachnotify-password-prose", "Kx9!mPq2"},
	{"password en quoted", `The password is "c0rrect-horse".`, Password, "breachnotify-password-prose", "c0rrect-horse"},
	{"password en colon lowercase word", "VPN password: sunshine", Password, "breachnotify-password-prose", "sunshine"},
	{"password de", "Ihr Passwort: Sommer2024!", Password, "breachnotify-password-prose", "Sommer2024!"},
	{"password de lautet", "Das Kennwort lautet Wint3rzeit.", Password, "breachnotify-password-prose", "Wint3rzeit"},
	{"password fr", "Votre mot de passe : Ete2024!x", Password, "breachnotify-password-prose", "Ete2024!x"},
	{"password fr nbsp", "mot de passe\u00a0: Ete2024!x", Password, "breachnotify-password-prose", "Ete2024!x"},
	{"password fr est", "Le mot de passe est Printemps24", Password, "breachnotify-password-prose", "Printemps24"},
	{"password ja fullwidth colon", "パスワード：Haru2024#", Password, "breachnotify-password-prose", "Haru2024#"},
	{"password ja ha", "初期パスワードは Aki2024xyz です。", Password, "breachnotify-password-prose", "Aki2024xyz"},
	{"azure client secret in prose", "The client secret is Xy78Q~Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1W.", ClientSecret, "breachnotify-azure-client-secret", "Xy78Q~Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1W"},
	{"sql server", "Server=tcp:db.example.net,1433;Database=crm;User ID=sa;Password=Tr0ub4dor&3;Encrypt=True", ConnString, "breachnotify-connection-string-password", "Tr0ub4dor&3"},
	{"sql server pwd quoted", `Data Source=sql01;Initial Catalog=hr;UID=app;PWD="s3cret;pw";`, ConnString, "breachnotify-connection-string-password", "s3cret;pw"},
	{"postgres url", "DATABASE_URL is postgres://app:S3cr3tPw@db.internal:5432/crm", ConnString, "breachnotify-connection-url", "S3cr3tPw"},
	{"mongodb srv url", "mongodb+srv://admin:Mg0Pass!77@cluster0.ab1cd.mongodb.net/test", ConnString, "breachnotify-connection-url", "Mg0Pass!77"},
	{"mysql url", "mysql://root:r00tPa55@10.0.0.5/app", ConnString, "breachnotify-connection-url", "r00tPa55"},
	{"azure storage key", "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;EndpointSuffix=core.windows.net", ConnString, "breachnotify-azure-storage-key", "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="},
	{"service bus key", "Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=Zq4mN8rT2vX6bK1pL9sD3fG7hJ5wY0cE2aQ8uI4oP6M=", ConnString, "breachnotify-azure-storage-key", "Zq4mN8rT2vX6bK1pL9sD3fG7hJ5wY0cE2aQ8uI4oP6M="},
	{"sas url", "Download: https://acme.blob.core.windows.net/c/f.pdf?sv=2022-11-02&ss=b&srt=o&sp=r&se=2026-01-01T00:00:00Z&spr=https&sig=Xq7vR2kLm9Pz4Tn8Wb3YcD5eF6gH7iJ8kL9mN0oP1qR%3D", SASToken, "breachnotify-sas-token", "Xq7vR2kLm9Pz4Tn8Wb3YcD5eF6gH7iJ8kL9mN0oP1qR%3D"},
	{"sas sig first", "https://acme.file.core.windows.net/s?sig=Rk2%2Bp8Lm4QxZ7vT1nB9wC3yH6sD0fG5jK8aE2uI4oP%3D&sv=2021-08-06&sp=rl", SASToken, "breachnotify-sas-token", "Rk2%2Bp8Lm4QxZ7vT1nB9wC3yH6sD0fG5jK8aE2uI4oP%3D"},
	{"github recovery codes", "Your GitHub recovery codes:\n1a2b3-4c5d6\n7e8f9-0a1b2\n3c4d5-6e7f8\n9a0b1-2c3d4\n5e6f7-8a9b0\n", RecoveryCode, "breachnotify-recovery-codes", "1a2b3-4c5d6\n7e8f9-0a1b2\n3c4d5-6e7f8\n9a0b1-2c3d4\n5e6f7-8a9b0"},
	{"google backup codes", "Backup codes: 1234 5678, 2345 6789, 3456 7890, 4567 8901", RecoveryCode, "breachnotify-recovery-codes", "1234 5678, 2345 6789, 3456 7890, 4567 8901"},
	{"numbered codes de", "Ihre Wiederherstellungscodes\n1. 83920174\n2. 29384756\n3. 10293847\n4. 56473829\n", RecoveryCode, "breachnotify-recovery-codes", "1. 83920174\n2. 29384756\n3. 10293847\n4. 56473829"},
	{"codes fr", "Vos codes de secours :\n- 4829 1034\n- 7730 2291\n- 6618 0042\n- 9921 5573", RecoveryCode, "breachnotify-recovery-codes", "- 4829 1034\n- 7730 2291\n- 6618 0042\n- 9921 5573"},
	{"codes ja", "リカバリーコード:\nab12cd34ef\n56gh78ij90\nkl12mn34op\n56qr78st90", RecoveryCode, "breachnotify-recovery-codes", "ab12cd34ef\n56gh78ij90\nkl12mn34op\n56qr78st90"},
}

func TestOurRulesFind(t *testing.T) {
	t.Parallel()
	s := setup(t)
	for _, c := range ourSamples {
		checkSample(t, s, c)
	}
}

// checkSample wants exactly one finding, of the sample's type and rule,
// that Reveal turns back into the sample's secret at its line and column.
func checkSample(t *testing.T, s *Scanner, c sample) {
	t.Helper()
	fs := s.Scan(Part{Name: "text", Text: c.text})
	if len(fs) != 1 {
		t.Errorf("%s: %d findings, want 1: %+v", c.name, len(fs), fs)
		return
	}
	f := fs[0]
	if f.Type != c.typ || f.RuleID != c.rule || f.Part != "text" {
		t.Errorf("%s: found %s by %s in %s, want %s by %s", c.name, f.Type, f.RuleID, f.Part, c.typ, c.rule)
	}
	if got := s.Reveal(c.text, f); got != c.secret {
		t.Errorf("%s: revealed %q, want %q", c.name, got, c.secret)
	}
	at := strings.Index(c.text, c.secret)
	if line, col := position(c.text, max(at, 0)); at < 0 || line != f.Line || col != f.Column {
		t.Errorf("%s: at line %d column %d, want %d:%d", c.name, f.Line, f.Column, line, col)
	}
	if f.Live != Guidance(c.typ).Live {
		t.Errorf("%s: live %v", c.name, f.Live)
	}
}

// TestOurRulesIgnore lists what looks like a secret and is not: each text
// must give no finding at all (neither our rule nor gitleaks').
func TestOurRulesIgnore(t *testing.T) {
	t.Parallel()
	s := setup(t)
	for _, text := range []string{
		"password: ********",
		"Password: ••••••••",
		"password: <redacted>",
		"password: [REDACTED]",
		"password: see below",
		"Password: (see below)",
		"password: sent separately",
		"Your password: will be sent by SMS",
		"The password is required.",
		"The password is your date of birth",
		"Password reset: completed",
		"password: xxxxxxxx",
		"password: ${DB_PASSWORD}",
		"password: {{ .Password }}",
		"password: %PASSWORD%",
		"Password: N/A",
		"Password:\nUsername:",
		"Passwort: siehe unten",
		"Passwort: ********",
		"Das Passwort ist geändert.",
		"mot de passe : voir ci-dessous",
		"mot de passe : ********",
		"パスワード：********",
		"パスワード：<非表示>",
		"We changed the password policy last week.",
		"Server=db01;Database=crm;Integrated Security=true",
		"Server=db01;Database=crm;User ID=sa;Password=********;",
		"postgres://app:${DB_PASS}@db.internal:5432/crm",
		"postgres://db.internal:5432/crm",
		"https://example.com/search?q=sig=abc",
		"https://acme.blob.core.windows.net/c/f.pdf?sig=Xq7vR2kLm9Pz4Tn8Wb3YcD5eF6gH7iJ8kL9mN0oP1qR%3D",
		"Backup codes are in the safe.",
		"Recovery codes: generate new ones in settings",
		"backup codes:\nmonday\ntuesday\nwednesday\nthursday",
		"recovery codes:\n11111111\n11111111\n11111111\n11111111",
		"Call me on 0170 1234567 about the invoice 2024-0001.",
	} {
		if fs := s.Scan(Part{Name: "text", Text: text}); len(fs) != 0 {
			t.Errorf("%q: %d findings, want none: %+v", text, len(fs), fs)
		}
	}
}

// TestOverlapsSettled: a secret found by a provider's rule and by ours or
// by generic-api-key is reported once, by the provider's rule; our
// connection-string rule wins over our password rule.
func TestOverlapsSettled(t *testing.T) {
	t.Parallel()
	s := setup(t)
	for _, c := range []sample{
		{"github token after password:", "password: ghp_R2d8Kq9LmZx4Tn7Vb1Hc6Jp3Ws5Ye0Fa8GuQ", GitHubToken, "github-pat", "ghp_R2d8Kq9LmZx4Tn7Vb1Hc6Jp3Ws5Ye0Fa8GuQ"},
		{"connection string beats password", "Server=db01;User ID=sa;Password=Tr0ub4dor&3;", ConnString, "breachnotify-connection-string-password", "Tr0ub4dor&3"},
		{"password beats generic", "db_password = Zx81kLq0pWm3vN7bT2", Password, "breachnotify-password-prose", "Zx81kLq0pWm3vN7bT2"},
		{"one Entra secret, two rules", "client_secret: 'Xy78Q~Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1W'", ClientSecret, "azure-ad-client-secret", "Xy78Q~Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1W"},
	} {
		checkSample(t, s, c)
	}
}

// TestSeveralFindings: every secret in a part, in order, with its line.
func TestSeveralFindings(t *testing.T) {
	t.Parallel()
	s := setup(t)
	text := "Hi,\n\nthe VPN password: Summer2024!\nand the key AKIAZ4FQ7W2XLRN3UJ6K\n\nthe same password: Summer2024! again.\n"
	fs := s.Scan(Part{Name: "message/rfc822[1]/text", Text: text})
	if len(fs) != 3 {
		t.Fatalf("%d findings, want 3: %+v", len(fs), fs)
	}
	want := []struct {
		typ  Type
		line int
	}{{Password, 3}, {AWSAccessKey, 4}, {Password, 6}}
	for i, w := range want {
		if fs[i].Type != w.typ || fs[i].Line != w.line || fs[i].Part != "message/rfc822[1]/text" {
			t.Errorf("finding %d: %s line %d, want %s line %d", i, fs[i].Type, fs[i].Line, w.typ, w.line)
		}
	}
	if fs[0].Fingerprint != fs[2].Fingerprint {
		t.Error("the same password twice has two fingerprints")
	}
}

// TestWindowedRules: gitleaks' generic-api-key and vault-service-token
// rules run on the windows around their keywords find what they find run
// over the whole text.
func TestWindowedRules(t *testing.T) {
	t.Parallel()
	windowed := setup(t)
	whole, err := newScanner(testKey, scanConfig{gitleaks: true, ours: true, wholeGeneric: true})
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{
		"api_key = Zx81kLq0pWm3vN7bT2\nsecret_token: 'Qw7eR9tY2uI4oP6aS8dF'\n\nAuthorization token\n=\n  9fK2mQ7xL4pW8zR1vN6b",
		"x-auth-token: Rk2p8Lm4QxZ7vT1nB9wC3yH6sD0fG5jK8aE2uI4oP\n",
		"{\"apiKey\":\"Pq9Wm2Xk7Lr4Tz8Vb3Nc6Yd1\",\"accessToken\":\"Hs5Jf8Kd2Lg7Mq4Nw9Pe3Rt6\"}",
		"KEY=" + strings.Repeat("a1b2c3d4", 40) + "\nTOKEN=short",
		"no keywords at all\nbut two lines",
		"thanks. the vault token is s.9fK2mQ7xL4pW8zR1vN6b3TyQ for now.\nS.9fK2mQ7xL4pW8zR1vN6b3TyQ",
		"export VAULT_TOKEN=hvs." + strings.Repeat("CAESIJk3pQ9x-Lm2Vb7", 5) + "\nok.",
		"token: s.9fK2mQ7xL4pW8zR1vN6b3Ty", // 23 after the dot: no token
	}
	texts = append(texts, mailCorpus(200, 2)...)
	for _, c := range append(append([]sample{}, ourSamples...), gitleaksSamples...) {
		texts = append(texts, c.text, "Authentication-Results: spf=pass\n"+c.text+"\nkey = Zx81kLq0pWm3vN7bT2")
	}
	generic, vault := 0, 0
	for _, text := range texts {
		a, b := windowed.Scan(Part{Text: text}), whole.Scan(Part{Text: text})
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("%q:\n windows %v\n whole   %v", text[:min(len(text), 80)], a, b)
		}
		for _, f := range b {
			switch f.RuleID {
			case genericRule:
				generic++
			case "vault-service-token":
				vault++
			}
		}
	}
	if generic < 5 || vault < 2 {
		t.Errorf("only %d generic and %d vault findings: the test compares nothing", generic, vault)
	}
}
