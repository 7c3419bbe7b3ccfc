package secrets

import (
	"math"
	"regexp"
	"strings"
	"unicode"
)

// rule is one of our own detection rules: what breach notices care about
// and gitleaks' rules miss (passwords written in prose, SAS tokens,
// connection strings, recovery codes) or catch only in code-like text.
type rule struct {
	// id is the rule ID reported in findings; it never contains "generic",
	// which gitleaks would take as a rule to drop for a more specific one.
	id  string
	typ Type
	// keywords are lowercase strings one of which the text must contain for
	// the rule to run at all (the same prefilter gitleaks uses).
	keywords []string
	re       *regexp.Regexp
	// group is the submatch holding the secret.
	group int
	// valid rejects matches that are not secrets (placeholders, prose); it
	// gets the secret, the whole match and the lines the match is on.
	valid func(secret, match, lines string) bool
}

// passwordRe finds a password introduced in English, German, French or
// Japanese, also as the end of a name (db_password=). Separators include
// the full-width colon and the spaces French puts before a colon.
const passwordRe = `(?i)(?:(?:\b|_)(?:new |temporary |initial |neues |nouveau )?(passwords?|passwort|kennwort|passwd|pwd|pw|mot de passe|mdp)\b|(パスワード))` +
	`[ \t\x{a0}\x{202f}]*(?:[:=：]|\bis\b:?|\bist\b:?|\blautet\b:?|\best\b[ \t\x{a0}\x{202f}]*:?|は[:：]?)[ \t\x{a0}\x{202f}]*` +
	`["'「“]?([\x21-\x7e]{3,128})`

var ourRules = []rule{
	{
		id:       "breachnotify-password-prose",
		typ:      Password,
		keywords: []string{"password", "passwort", "kennwort", "passwd", "pwd", "pw", "mot de passe", "mdp", "パスワード"},
		re:       regexp.MustCompile(passwordRe),
		group:    3,
		valid:    validPassword,
	},
	{
		// Entra (Azure AD) client secrets: three characters, a digit, the Q~
		// marker, 34 more. gitleaks has the same shape but wants a quote or a
		// space after it, which a sentence's full stop is not.
		id:       "breachnotify-azure-client-secret",
		typ:      ClientSecret,
		keywords: []string{"q~"},
		re:       regexp.MustCompile(`(?:^|[^A-Za-z0-9_~.-])([A-Za-z0-9_~.-]{3}[0-9]Q~[A-Za-z0-9_~.-]{34})(?:$|[^A-Za-z0-9_~-])`),
		group:    1,
		valid:    func(s, _, _ string) bool { return entropy(s) > 3.5 },
	},
	{
		// ADO.NET / ODBC connection strings: Password= or Pwd= with a server
		// named in the same string.
		id:       "breachnotify-connection-string-password",
		typ:      ConnString,
		keywords: []string{"server=", "data source=", "server =", "data source ="},
		re:       regexp.MustCompile(`(?i)\b(?:server|data source|address|addr)[ \t]*=[^;\n]{1,200};[^\n]{0,400}?;[ \t]*(?:password|pwd)[ \t]*=[ \t]*("[^"\n]{1,128}"|'[^'\n]{1,128}'|[^;\n"']{1,128})`),
		group:    1,
		valid:    validPasswordValue,
	},
	{
		// Database and queue URLs with a password: postgres://user:pw@host.
		id:       "breachnotify-connection-url",
		typ:      ConnString,
		keywords: []string{"postgres", "mysql", "mariadb", "mongodb", "redis", "amqp", "sqlserver", "mssql"},
		re:       regexp.MustCompile(`(?i)\b(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?|sqlserver|mssql)://[^:/@\s"'<>]{0,64}:([^@\s/"'<>]{1,128})@[A-Za-z0-9.\[\]-]`),
		group:    1,
		valid:    validPasswordValue,
	},
	{
		// Azure Storage account keys (64 bytes, base64) and Service Bus or
		// Event Hubs shared access keys (32 bytes) in connection strings.
		id:       "breachnotify-azure-storage-key",
		typ:      ConnString,
		keywords: []string{"accountkey=", "sharedaccesskey="},
		re:       regexp.MustCompile(`(?i)\b(?:AccountKey=([A-Za-z0-9+/]{86}==)|SharedAccessKey=([A-Za-z0-9+/]{43}=))`),
		valid:    func(s, _, _ string) bool { return entropy(s) > 4 },
	},
	{
		// Shared access signatures: sig= in a query that also has sv=.
		id:       "breachnotify-sas-token",
		typ:      SASToken,
		keywords: []string{"sig="},
		re:       regexp.MustCompile(`(?i)[?&;]sig=([A-Za-z0-9%+/=_-]{20,128})`),
		group:    1,
		valid:    validSAS,
	},
	{
		// Recovery or backup codes: four or more codes of 8 to 10 letters
		// and digits (an optional hyphen or space in the middle) after the
		// words, one a line or separated by commas.
		id:       "breachnotify-recovery-codes",
		typ:      RecoveryCode,
		keywords: []string{"recovery code", "backup code", "recovery-code", "backup-code", "wiederherstellungscode", "sicherungscode", "codes de récupération", "codes de secours", "リカバリーコード", "バックアップコード", "リカバリコード"},
		re: regexp.MustCompile(`(?i)(?:(?:recovery|backup)[ -]codes?|wiederherstellungscodes?|sicherungscodes?|codes de (?:récupération|secours)|(?:リカバリー|リカバリ|バックアップ)コード)` +
			`[^\n]{0,80}\n?(?:[ \t]*\n)*[ \t]*` +
			`((?:(?:[-*•]|\d{1,2}[.)])[ \t]*)?[A-Za-z0-9]{4,5}[- ]?[A-Za-z0-9]{4,5}` +
			`(?:[ \t]*(?:\r?\n|[,;])[ \t]*(?:(?:[-*•]|\d{1,2}[.)])[ \t]*)?[A-Za-z0-9]{4,5}[- ]?[A-Za-z0-9]{4,5}){3,15})\b`),
		group: 1,
		valid: validRecoveryCodes,
	},
}

// placeholders are values people write where a password would go when
// they do not give one.
var placeholders = map[string]bool{
	"see": true, "below": true, "above": true, "attached": true, "redacted": true, "removed": true,
	"hidden": true, "none": true, "null": true, "nil": true, "n/a": true, "na": true, "same": true,
	"unchanged": true, "required": true, "optional": true, "reset": true, "changed": true,
	"expired": true, "sent": true, "separately": true, "will": true, "was": true, "has": true,
	"is": true, "the": true, "your": true, "our": true, "my": true, "their": true, "a": true, "an": true,
	"to": true, "for": true, "and": true, "or": true, "not": true, "must": true, "should": true,
	"password": true, "passwort": true, "kennwort": true, "secret": true, "xxx": true, "tbd": true,
	"siehe": true, "unten": true, "oben": true, "anbei": true, "gleich": true, "wird": true, "ist": true,
	"der": true, "die": true, "das": true, "ihr": true, "ihre": true, "dein": true, "deine": true,
	"geändert": true, "voir": true, "ci-dessous": true, "ci-dessus": true, "ci-joint": true,
	"masqué": true, "vide": true, "le": true, "la": true, "les": true, "votre": true, "est": true,
	"sera": true, "inchangé": true, "changeme": true, "example": true, "placeholder": true,
	"<password>": true, "[password]": true, "{password}": true, "yourpassword": true, "mypassword": true,
}

// trimValue drops what prose puts after a value: full stops, commas,
// closing quotes and brackets (not ! or ?, which end many passwords).
func trimValue(v string) string {
	return strings.TrimRight(v, `.,;:"')]}>」”`)
}

// validPasswordValue says whether a value given for a password is one:
// not a placeholder word, not masked (****, xxxx), not a template or
// variable (<redacted>, {{pw}}, ${DB_PASSWORD}, %PW%).
func validPasswordValue(v, _, _ string) bool {
	v = strings.Trim(v, `"'`)
	if len(v) < 3 {
		return false
	}
	if placeholders[strings.ToLower(trimValue(v))] || placeholders[strings.ToLower(v)] {
		return false
	}
	if len(strings.Trim(v, v[:1])) == 0 { // one character repeated
		return false
	}
	switch {
	case strings.HasPrefix(v, "<") || strings.HasPrefix(v, "[") || strings.HasPrefix(v, "{") || strings.HasPrefix(v, "("),
		strings.HasPrefix(v, "${") || strings.HasPrefix(v, "$(") || strings.HasPrefix(v, "%") && strings.HasSuffix(v, "%"),
		strings.HasPrefix(v, "$") && isUpperIdent(v[1:]):
		return false
	}
	return strings.Count(v, "*")*2 < len(v) && strings.Count(v, "•")*2 < len(v)
}

// validPassword is validPasswordValue for prose: after "is" (rather than a
// colon) the value must look like a password, not like the next word.
func validPassword(v, match, lines string) bool {
	if !validPasswordValue(v, match, lines) {
		return false
	}
	if strings.HasSuffix(match, ":") || strings.HasSuffix(match, "：") { // "Password: Username:" is a form's labels
		return false
	}
	if lm := strings.ToLower(match); !strings.ContainsAny(lm, ":=：") && !strings.Contains(lm, "は") {
		return hasDigitOrSymbol(v) || hasMixedCase(v)
	}
	return true
}

// validSAS wants the URL or connection string holding sig= to carry a
// service version (sv=) and the signature to look random.
func validSAS(sig, _, lines string) bool {
	if entropy(sig) <= 3.5 {
		return false
	}
	for _, field := range strings.Fields(lines) {
		if !strings.Contains(field, sig) {
			continue
		}
		q := strings.ToLower(field)
		if strings.Contains(q, "?sv=") || strings.Contains(q, "&sv=") || strings.Contains(q, ";sv=") || strings.Contains(q, "=sv=") {
			return true
		}
	}
	return false
}

// validRecoveryCodes wants at least four distinct codes, each with a digit.
func validRecoveryCodes(block, _, _ string) bool {
	codes := strings.FieldsFunc(block, func(r rune) bool { return r == '\n' || r == '\r' || r == ',' || r == ';' })
	seen := map[string]bool{}
	for _, c := range codes {
		c = strings.TrimSpace(c)
		c = strings.TrimLeft(c, "-*•")
		if i := strings.IndexAny(c, ".)"); i >= 0 && i <= 2 {
			c = c[i+1:]
		}
		c = strings.TrimSpace(c)
		if !strings.ContainsAny(c, "0123456789") {
			return false
		}
		seen[c] = true
	}
	return len(seen) >= 4
}

func isUpperIdent(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

func hasDigitOrSymbol(s string) bool {
	for _, r := range s {
		if unicode.IsDigit(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) {
			return true
		}
	}
	return false
}

func hasMixedCase(s string) bool {
	return strings.ToLower(s) != s && strings.ToUpper(s) != s
}

// entropy is the Shannon entropy of s in bits per byte, as gitleaks
// computes it for its rules' thresholds.
func entropy(s string) float64 {
	if s == "" {
		return 0
	}
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	h := 0.0
	n := float64(len(s))
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}
