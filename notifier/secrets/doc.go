// Package secrets finds secrets in the text of stolen mail: gitleaks'
// default rules (github.com/zricethezav/gitleaks/v8, used as a library)
// plus rules of our own for what breach notices care about: passwords
// written in prose (English, German, French, Japanese), Entra client
// secrets, connection strings, SAS tokens and recovery codes. A finding
// carries the secret's type, part, line and column, a keyed fingerprint and
// a masked form, never the secret itself; Scanner.Reveal finds it again in
// the stored text when someone entitled asks.
package secrets
