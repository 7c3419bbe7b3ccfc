// Package secrets finds secrets in the text of stolen mail: gitleaks'
// default rules (github.com/zricethezav/gitleaks/v8, used as a library)
// plus rules of our own for what breach notices care about: passwords
// written in prose (English, German, French, Japanese), Entra client
// secrets, connection strings, SAS tokens and recovery codes. A finding
// carries the secret's type, part, line and column, a keyed fingerprint and
// a masked form, never the secret itself; Scanner.Reveal finds it again in
// the stored text when someone entitled asks.
//
// Our rules run beside gitleaks' rather than inside its configuration:
// measured, the two cost the same, and beside it each match goes through
// our own checks before it is a finding; their keywords are found in one
// Aho-Corasick pass. Two gitleaks rules whose keywords are in nearly all
// mail, generic-api-key ("auth", "access", "key") and vault-service-token
// ("s."), run only on the lines around the keywords that can start a
// match (see windowedRule): over whole messages they cost ten times the
// rest of gitleaks together.
//
// Cost, measured on 2 shared cores (CPU time is the figure to trust on a
// shared machine) over generated 5.6 KB multipart-like messages with an
// Authentication-Results header, 2 % carrying a secret:
//
//	go test -run '^$' -bench Scan -benchtime 5x ./notifier/secrets/
//	  MB per CPU second, one goroutine (December 7, load 3.4):
//	  gitleaks' rules, the two windowed              36
//	  gitleaks' rules, the two on all text            2.7
//	  our rules alone                               150
//	  both (NewScanner)                              30
//	  ours merged into gitleaks' configuration       33
//	  (before vault-service-token was windowed and our keywords found in
//	  one pass, the same day: gitleaks' 23, both 18.7)
//
//	GOBIN=/tmp/gl go install github.com/zricethezav/gitleaks/v8@v8.30.1
//	BREACHNOTIFY_GITLEAKS=/tmp/gl/gitleaks go test -run VersusGitleaksCLI -v ./notifier/secrets/
//	  2,000 such messages as files (11.2 MB), medians of three runs
//	  (December 7, in one run, beside other jobs):
//	  gitleaks dir (decode depth 5)  5.90 s CPU, 14 findings
//	  gitleaks dir, decode depth 0   4.49 s CPU, 14 findings
//	  NewScanner, 2 goroutines       0.42 s CPU, 40 findings
//	  ratio, our CPU time / the CLI's: 0.070 (0.093 against decode depth 0)
//
// The Scanner decodes nothing (gitleaks' MaxDecodeDepth stays 0): MIME
// parsing has already undone base64 and quoted-printable by the time a
// part's text reaches it.
package secrets
