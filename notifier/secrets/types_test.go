package secrets

import (
	"slices"
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/templates"
)

// gitleaksSamples are providers' tokens in the shapes their documentation
// shows, each found by gitleaks' own rule and named by our vocabulary.
var gitleaksSamples = []sample{
	{"aws access key id", "aws_access_key_id = AKIAZ4FQ7W2XLRN3UJ6K", AWSAccessKey, "aws-access-token", "AKIAZ4FQ7W2XLRN3UJ6K"},
	{"github classic pat", "token ghp_R2d8Kq9LmZx4Tn7Vb1Hc6Jp3Ws5Ye0Fa8GuQ for CI", GitHubToken, "github-pat", "ghp_R2d8Kq9LmZx4Tn7Vb1Hc6Jp3Ws5Ye0Fa8GuQ"},
	{"github fine-grained pat", "github_pat_11ABCDEFG0R2d8Kq9LmZx4_Tn7Vb1Hc6Jp3Ws5Ye0Fa8GuQzR2d8Kq9LmZx4Tn7Vb1Hc6Jp3Ws5Ye0Fa8G", GitHubToken, "github-fine-grained-pat", "github_pat_11ABCDEFG0R2d8Kq9LmZx4_Tn7Vb1Hc6Jp3Ws5Ye0Fa8GuQzR2d8Kq9LmZx4Tn7Vb1Hc6Jp3Ws5Ye0Fa8G"},
	{"slack bot token", "bot: xoxb-2631582290-5819437264129-Hx7TqP2mVb9LkR3sWn8YcZ4d", SlackToken, "slack-bot-token", "xoxb-2631582290-5819437264129-Hx7TqP2mVb9LkR3sWn8YcZ4d"},
	{"slack webhook (Slack's documented placeholder)", "post to https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX", WebhookURL, "slack-webhook-url", "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"},
	{"stripe test key (Stripe's documented key)", "Stripe: sk_test_4eC39HqLyjWDarjtT1zdp7dc", APIKey, "stripe-access-token", "sk_test_4eC39HqLyjWDarjtT1zdp7dc"},
	{"google api key", "maps key AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe", APIKey, "gcp-api-key", "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe"},
	{"gitlab pat", "glpat-Xq7vR2kLm9Pz4Tn8Wb3Y", Token, "gitlab-pat", "glpat-Xq7vR2kLm9Pz4Tn8Wb3Y"},
	{"jwt (jwt.io's example)", "Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c", Token, "jwt", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"},
	{"entra client secret", `"clientSecret": "Xy78Q~Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1W"`, ClientSecret, "azure-ad-client-secret", "Xy78Q~Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1W"},
	{"pem private key", "Here it is:\n" + pemKey + "\nRegards", PrivateKey, "private-key", pemKey},
	{"sendgrid", "SENDGRID=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", APIKey, "sendgrid-api-token", "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"},
}

// pemKey is a private key's shape (not a working key).
const pemKey = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1x3bD8r2mK9PqLmN4vT7wXyZaB5cDeFgHiJkLmNoPqRsTuVw\nq8RzT2vKp9LmXw4NcY7bH3sJ0aQ1wE2rT3yU4iO5pA6sD7fG8hJ9kL0zX1cV2bN\n-----END RSA PRIVATE KEY-----"

func TestGitleaksMapping(t *testing.T) {
	t.Parallel()
	s := setup(t)
	for _, c := range gitleaksSamples {
		checkSample(t, s, c)
	}
}

// TestGitleaksAllowlists documents what gitleaks' own allowlists drop:
// AWS's documented key ID ends in EXAMPLE, which the aws-access-token rule
// allowlists (.+EXAMPLE$), so tests use other keys of the same shape; the
// generic rule's stopwords drop values containing words like "example".
func TestGitleaksAllowlists(t *testing.T) {
	t.Parallel()
	s := setup(t)
	for _, text := range []string{
		"aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
		"api_key = example-Zx81kLq0pWm3vN7bT2",
	} {
		if fs := s.Scan(Part{Name: "text", Text: text}); len(fs) != 0 {
			t.Errorf("%q: %+v, want gitleaks to allowlist it", text, fs)
		}
	}
}

// TestEveryRuleHasAType: every gitleaks default rule and ours maps onto the
// vocabulary, and the vocabulary is the one Guidance knows.
func TestEveryRuleHasAType(t *testing.T) {
	t.Parallel()
	cfg, err := defaultConfig()
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Rules) < 200 {
		t.Errorf("only %d gitleaks rules", len(cfg.Rules))
	}
	for id := range gitleaksTypes {
		if _, ok := cfg.Rules[id]; !ok {
			t.Errorf("mapped rule %s is not a gitleaks rule", id)
		}
	}
	types := Types()
	for id := range cfg.Rules {
		if typ := typeOfRule(id); !slices.Contains(types, typ) {
			t.Errorf("%s: type %q not in Types()", id, typ)
		}
	}
	for _, r := range ourRules {
		if !slices.Contains(types, r.typ) || strings.Contains(r.id, "generic") {
			t.Errorf("our rule %s: type %q", r.id, r.typ)
		}
		if _, clash := cfg.Rules[r.id]; clash {
			t.Errorf("our rule %s has a gitleaks rule's ID", r.id)
		}
	}
	for _, typ := range types {
		if _, ok := rotations[typ]; !ok {
			t.Errorf("%s: no rotation guidance", typ)
		}
	}
	if len(rotations) != len(types) {
		t.Errorf("%d rotations for %d types", len(rotations), len(types))
	}
	for id, want := range map[string]Type{
		"github-pat": GitHubToken, "slack-user-token": SlackToken, "adobe-client-id": ClientID,
		"linear-client-secret": ClientSecret, "planetscale-password": Password, "gitlab-pat": Token,
		"stripe-access-token": APIKey, "openai-api-key": APIKey, "1password-service-account-token": APIKey,
	} {
		if got := typeOfRule(id); got != want {
			t.Errorf("typeOfRule(%s) = %s, want %s", id, got, want)
		}
	}
}

// TestGuidanceFollowsTemplates: a type the templates know has their key and
// their English advice word for word; a type they do not know falls back
// to a family they know, and its advice is its own.
func TestGuidanceFollowsTemplates(t *testing.T) {
	t.Parallel()
	general := templates.SecretAdvice("en", "")
	for _, typ := range Types() {
		g := Guidance(typ)
		if g.Key != string(typ) || g.Advice == "" {
			t.Errorf("%s: %+v", typ, g)
		}
		known := templates.SecretAdvice("en", g.Key) != general
		switch {
		case known && g.Advice != templates.SecretAdvice("en", g.Key):
			t.Errorf("%s: advice differs from the templates':\n ours %q\n theirs %q", typ, g.Advice, templates.SecretAdvice("en", g.Key))
		case known && g.Family != g.Key:
			t.Errorf("%s: the templates know it, yet its family is %q", typ, g.Family)
		case !known && g.Family != "" && templates.SecretAdvice("en", g.Family) == general:
			t.Errorf("%s: family %q unknown to the templates", typ, g.Family)
		}
	}
	if g := Guidance("no_such_type"); !g.Live || g.Advice != general {
		t.Errorf("unknown type: %+v", g)
	}
}
