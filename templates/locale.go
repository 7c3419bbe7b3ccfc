package templates

import (
	"fmt"
	htmltemplate "html/template"
	"regexp"
	"strings"
	"text/template"
	"time"
)

// Locales are language tags such as en, de, fr-CA or ja. A template is
// kept under its tag in canonical case (language lower, region upper), so
// "fr-ca" from one source and "fr-CA" from another find the same template.

var localePattern = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$`)

// NormalizeLocale returns locale in canonical case (de, fr-CA, zh-Hant-TW)
// and whether it is a language tag at all.
func NormalizeLocale(locale string) (string, bool) {
	if !localePattern.MatchString(locale) {
		return locale, false
	}
	parts := strings.Split(locale, "-")
	parts[0] = strings.ToLower(parts[0])
	for i := 1; i < len(parts); i++ {
		switch p := parts[i]; {
		case len(p) == 2 && isLetters(p): // region
			parts[i] = strings.ToUpper(p)
		case len(p) == 4 && isLetters(p): // script
			parts[i] = strings.ToUpper(p[:1]) + strings.ToLower(p[1:])
		default:
			parts[i] = strings.ToLower(p)
		}
	}
	return strings.Join(parts, "-"), true
}

func isLetters(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') }) < 0
}

// language is the base language of a locale (fr-CA → fr), the key of the
// wording tables below; languages without a table use English wording.
func language(locale string) string {
	base, _, _ := strings.Cut(strings.ToLower(locale), "-")
	if _, ok := months[base]; ok {
		return base
	}
	return DefaultLocale
}

var months = map[string][12]string{
	"en": {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
	"de": {"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"},
	"fr": {"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
	"ja": {}, // months are numbers
}

// FormatDate writes a day as people of the locale's language write it in a
// letter: 5 January 2024, 5. Januar 2024, 5 janvier 2024 (1er for the
// first), 2024年1月5日. Dates are in UTC, like every time in a notice.
func FormatDate(locale string, t time.Time) string {
	t = t.UTC()
	y, m, d := t.Date()
	switch lang := language(locale); lang {
	case "de":
		return fmt.Sprintf("%d. %s %d", d, months[lang][m-1], y)
	case "fr":
		day := fmt.Sprint(d)
		if d == 1 {
			day = "1er"
		}
		return fmt.Sprintf("%s %s %d", day, months[lang][m-1], y)
	case "ja":
		return fmt.Sprintf("%d年%d月%d日", y, m, d)
	default:
		return fmt.Sprintf("%d %s %d", d, months["en"][m-1], y)
	}
}

// FormatDateTime is FormatDate with the time of day in UTC.
func FormatDateTime(locale string, t time.Time) string {
	t = t.UTC()
	switch language(locale) {
	case "de":
		return FormatDate(locale, t) + t.Format(", 15:04 UTC")
	case "fr":
		return FormatDate(locale, t) + fmt.Sprintf(" à %d h %02d UTC", t.Hour(), t.Minute())
	case "ja":
		return FormatDate(locale, t) + t.Format(" 15:04（UTC）")
	default:
		return FormatDate(locale, t) + t.Format(" 15:04 UTC")
	}
}

// kindNames names each kind of exposure item, singular and plural.
var kindNames = map[string]map[string][2]string{
	"en": {"email": {"email", "emails"}, "file": {"file", "files"}, "credential": {"credential", "credentials"}, "other": {"other item", "other items"}},
	"de": {"email": {"E-Mail", "E-Mails"}, "file": {"Datei", "Dateien"}, "credential": {"Zugangsdatensatz", "Zugangsdatensätze"}, "other": {"sonstiges Element", "sonstige Elemente"}},
	"fr": {"email": {"e-mail", "e-mails"}, "file": {"fichier", "fichiers"}, "credential": {"identifiant de connexion", "identifiants de connexion"}, "other": {"autre élément", "autres éléments"}},
	"ja": {"email": {"メール", "メール"}, "file": {"ファイル", "ファイル"}, "credential": {"認証情報", "認証情報"}, "other": {"その他", "その他"}},
}

// kindName names an item kind in the locale's language; an unknown kind
// is shown as it is.
func kindName(locale, kind string, n int) string {
	names, ok := kindNames[language(locale)][kind]
	if !ok {
		return kind
	}
	if isSingular(locale, n) {
		return names[0]
	}
	return names[1]
}

// isSingular tells which form a count takes: French counts 0 and 1 as
// singular, English and German only 1.
func isSingular(locale string, n int) bool {
	if language(locale) == "fr" {
		return n <= 1
	}
	return n == 1
}

// countKind writes a count of items of one kind: 2 emails, 1 Datei,
// 3 fichiers, メール 2 件.
func countKind(locale string, n int, kind string) string {
	if language(locale) == "ja" {
		return fmt.Sprintf("%s %d 件", kindName(locale, kind, n), n)
	}
	return fmt.Sprintf("%d %s", n, kindName(locale, kind, n))
}

// listSeparator joins names in a sentence.
func listSeparator(locale string) string {
	if language(locale) == "ja" {
		return "、"
	}
	return ", "
}

// funcsFor returns the functions a template of locale may call. Each
// writes in the template's language, so a German template says
// "5. Januar 2024" and "2 E-Mails" without knowing how.
//
//	date t            the day (FormatDate)
//	datetime t        the day and time (FormatDateTime)
//	kind k            an item kind's name (email, Datei, ...)
//	count n k         n items of kind k (2 emails, メール 2 件)
//	secret t          a secret type's name (password, Passwort, ...)
//	secrets ts        secret types' names, joined for a sentence
//	plural n one many one or many by the language's rule for n
//	join list sep     strings.Join
//	isolate s         s in a bidi isolate: between U+2068 and U+2069 in
//	                  text, in <bdi> in HTML, so a right-to-left name
//	                  cannot reorder the sentence around it
func funcsFor(locale string) template.FuncMap {
	return template.FuncMap{
		"isolate":  func(s string) string { return "\u2068" + s + "\u2069" },
		"date":     func(t time.Time) string { return FormatDate(locale, t) },
		"datetime": func(t time.Time) string { return FormatDateTime(locale, t) },
		"kind":     func(k string) string { return kindName(locale, k, 1) },
		"count":    func(n int, k string) string { return countKind(locale, n, k) },
		"secret":   func(t string) string { return SecretLabel(locale, t) },
		"secrets": func(ts []string) string {
			names := make([]string, len(ts))
			for i, t := range ts {
				names[i] = SecretLabel(locale, t)
			}
			return strings.Join(names, listSeparator(locale))
		},
		"plural": func(n int, one, many string) string {
			if isSingular(locale, n) {
				return one
			}
			return many
		},
		"join": strings.Join,
	}
}

// htmlFuncs are the functions whose HTML part differs from the text's:
// isolate escapes its value and wraps it in <bdi>.
var htmlFuncs = htmltemplate.FuncMap{
	"isolate": func(s string) htmltemplate.HTML {
		return htmltemplate.HTML("<bdi>" + htmltemplate.HTMLEscapeString(s) + "</bdi>")
	},
}
