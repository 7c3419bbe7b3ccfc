package secrets

import "strings"

// Type is a kind of secret a notice can name and give rotation advice for.
// The values are stable: they are stored with findings and are the keys of
// the templates' secret-type table (templates.SecretAdvice).
type Type string

// The secret types: the templates name each of them and give its advice
// in every locale (templates/secrets.go). A type added here without them
// falls back to a family the templates know (Rotation.Family).
const (
	Password     Type = "password"
	APIKey       Type = "api_key"
	ClientSecret Type = "client_secret"
	Token        Type = "token"
	SASToken     Type = "sas_token"
	PrivateKey   Type = "private_key"
	RecoveryCode Type = "recovery_code"
	Certificate  Type = "certificate"
	AWSAccessKey Type = "aws_access_key"
	GitHubToken  Type = "github_token"
	SlackToken   Type = "slack_token"
	ConnString   Type = "connection_string"
	WebhookURL   Type = "webhook_url"
	ClientID     Type = "client_id"
)

// Rotation says what to do about one secret type.
type Rotation struct {
	// Key is the type's key in the templates' secret-type table.
	Key string
	// Family is the key of the templates' type whose advice fits this one
	// when the templates have no entry for Key yet ("" is their general
	// advice).
	Family string
	// Live is true when the secret keeps working until someone rotates it:
	// an organization with a live finding is urgent.
	Live bool
	// Advice is the short English advice; for the templates' own types it
	// is their English wording, word for word (a test checks it).
	Advice string
}

// rotations is the rotation guidance per type.
var rotations = map[Type]Rotation{
	Password:     {Key: "password", Family: "password", Live: true, Advice: "Change the password everywhere it is used, starting with any account that shares it, and sign the account out of all its sessions."},
	APIKey:       {Key: "api_key", Family: "api_key", Live: true, Advice: "Revoke the key, issue a new one and update the applications that use it; then check the old key's recent calls for anything you do not recognise."},
	ClientSecret: {Key: "client_secret", Family: "client_secret", Live: true, Advice: "Create a new client secret for the application (service principal), switch your applications to it, then delete the old secret."},
	Token:        {Key: "token", Family: "token", Live: true, Advice: "Revoke the token (sign out the session or delete the token) and issue a new one only if it is still needed."},
	SASToken:     {Key: "sas_token", Family: "sas_token", Live: true, Advice: "Regenerate the storage account key that signed the token, or revoke the stored access policy it uses (a SAS token cannot be revoked on its own); issue new tokens with a short expiry."},
	PrivateKey:   {Key: "private_key", Family: "private_key", Live: true, Advice: "Generate a new key pair, replace the public key or certificate wherever it is trusted, and revoke the old one; treat anything signed or encrypted with it as exposed."},
	RecoveryCode: {Key: "recovery_code", Family: "recovery_code", Live: true, Advice: "Generate new recovery codes (this invalidates the old ones) and review the account's sign-in history."},
	Certificate:  {Key: "certificate", Family: "certificate", Live: false, Advice: "Revoke the certificate, have a new one issued with a new private key, and replace it wherever it is installed."},
	AWSAccessKey: {Key: "aws_access_key", Family: "aws_access_key", Live: true, Advice: "Deactivate the access key in IAM, create a new one for the user or role and update its applications, then delete the old key; review CloudTrail for its use."},
	GitHubToken:  {Key: "github_token", Family: "github_token", Live: true, Advice: "Revoke the token in GitHub (Settings, Developer settings, or the organization's credential list), issue a new one only if needed, and review the audit log for its use."},
	SlackToken:   {Key: "slack_token", Family: "slack_token", Live: true, Advice: "Revoke the token in the Slack app's settings (or regenerate the app's tokens), reinstall the app if needed, and review the workspace's access logs."},
	ConnString:   {Key: "connection_string", Family: "connection_string", Live: true, Advice: "Change the database or storage password or key the connection string contains (regenerate a storage account key), update the applications, and review the server's connection log."},
	WebhookURL:   {Key: "webhook_url", Family: "webhook_url", Live: true, Advice: "Delete the webhook and create a new one: anyone holding the URL can post into the channel it targets."},
	ClientID:     {Key: "client_id", Family: "client_id", Live: false, Advice: "A client ID is not a secret on its own; rotate the secret or key it was sent with, if any."},
}

// Guidance returns the rotation guidance for a type; an unknown type gets
// the general advice under its own key and counts as live.
func Guidance(t Type) Rotation {
	if r, ok := rotations[t]; ok {
		return r
	}
	return Rotation{Key: string(t), Live: true, Advice: "Revoke or replace this secret, and review its recent use for anything you do not recognise."}
}

// Types lists every type the scanner can report, in a stable order.
func Types() []Type {
	return []Type{Password, APIKey, ClientSecret, Token, SASToken, PrivateKey, RecoveryCode, Certificate,
		AWSAccessKey, GitHubToken, SlackToken, ConnString, WebhookURL, ClientID}
}

// gitleaksTypes maps gitleaks rule IDs whose type the naming rules of
// typeOfRule would get wrong or too vague.
var gitleaksTypes = map[string]Type{
	"aws-access-token":                       AWSAccessKey,
	"azure-ad-client-secret":                 ClientSecret,
	"private-key":                            PrivateKey,
	"age-secret-key":                         PrivateKey,
	"pkcs12-file":                            PrivateKey,
	"jwt":                                    Token,
	"jwt-base64":                             Token,
	"generic-api-key":                        APIKey,
	"curl-auth-user":                         Password,
	"curl-auth-header":                       Token,
	"slack-webhook-url":                      WebhookURL,
	"microsoft-teams-webhook":                WebhookURL,
	"sidekiq-sensitive-url":                  ConnString,
	"kubernetes-secret-yaml":                 APIKey,
	"1password-secret-key":                   Password,
	"1password-service-account-token":        APIKey,
	"gitlab-oauth-app-secret":                ClientSecret,
	"gcp-api-key":                            APIKey,
	"hashicorp-tf-password":                  Password,
	"planetscale-password":                   Password,
	"nuget-config-password":                  Password,
	"flutterwave-public-key":                 ClientID,
	"lob-pub-api-key":                        ClientID,
	"mailgun-pub-key":                        ClientID,
	"authress-service-client-access-key":     ClientSecret,
	"aws-amazon-bedrock-api-key-long-lived":  APIKey,
	"aws-amazon-bedrock-api-key-short-lived": Token,
}

// typeOfRule names the type of a gitleaks rule: the table first, then the
// provider (github-*, slack-*), then what the rule ID says it detects
// (client IDs, client secrets, passwords, personal and OAuth tokens),
// api_key otherwise.
func typeOfRule(id string) Type {
	if t, ok := gitleaksTypes[id]; ok {
		return t
	}
	switch {
	case strings.HasPrefix(id, "github-"):
		return GitHubToken
	case strings.HasPrefix(id, "slack-"):
		return SlackToken
	case strings.HasSuffix(id, "-client-id"), strings.HasSuffix(id, "-access-id"), strings.HasSuffix(id, "-api-id"):
		return ClientID
	case strings.Contains(id, "client-secret"), strings.HasSuffix(id, "-shared-secret"):
		return ClientSecret
	case strings.Contains(id, "password"):
		return Password
	case strings.Contains(id, "private-key"):
		return PrivateKey
	case strings.HasSuffix(id, "-pat"), strings.Contains(id, "-pat-"), strings.Contains(id, "oauth"),
		strings.Contains(id, "refresh-token"), strings.Contains(id, "session"), strings.Contains(id, "user-token"):
		return Token
	}
	// Most providers' "access tokens" and "API tokens" are keys an
	// application holds: the api_key advice (revoke, reissue, update the
	// applications, check the calls) fits them better than a session's.
	return APIKey
}
