package portal

import (
	"bytes"
	"html/template"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"

	"golang.org/x/net/html"
	"golang.org/x/text/language"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/i18n"
	"github.com/breachnotify/breachnotify/notifier/review"
	"github.com/breachnotify/breachnotify/notifier/web"
)

// Arabic breach data: an organization and a subject written right to
// left, which must stay isolated on every page.
const (
	arabicOrg     = "شركة المثال"
	arabicSubject = "فاتورة عاجلة"
)

func newTestServer(t *testing.T) *Server {
	t.Helper()
	s, err := New(Config{Secret: bytes.Repeat([]byte("s"), 32), PublicURL: "https://notify.example/", Sender: "Example IR",
		ContactURL: "https://example.com/contact", ContactText: "Example IR, +49 30 1234567"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// samplePages are data for every page, full of Arabic breach data.
func samplePages() map[string][]pageData {
	at := time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC)
	sess := &notifier.PortalSession{ContactEmail: "soc@contoso.example", OrgName: arabicOrg, ContactLocale: "en"}
	incident := notifier.PortalIncident{ID: 3, Title: arabicSubject, Summary: arabicSubject, FirstNotifiedAt: at, Notices: 2, Items: 12345}
	notice := notifier.PortalNotice{ID: 9, IncidentID: 3, IncidentTitle: arabicSubject, Kind: "initial", SentAt: at, Items: 12345}
	acked := notice
	acked.AcknowledgedAt, acked.AcknowledgedBy = &at, "soc@contoso.example"
	item := notifier.PortalItem{ID: 1, IncidentID: 3, IncidentTitle: arabicSubject, BatchID: 2, NoticeID: 9, ItemRef: "MSG-" + arabicSubject,
		Kind: "email", OccurredAt: &at, Subject: arabicSubject, Summary: arabicSubject, SecretTypes: []string{"aws_key"},
		Messages: []notifier.MessageRef{{IncidentID: 3}}}
	batch := notifier.PortalBatch{ID: 2, IncidentID: 3, IncidentTitle: arabicSubject, DiscoveredAt: at, Items: 1}
	msg := notifier.PortalMessage{SentAt: &at, From: arabicOrg + " <a@contoso.example>", Subject: arabicSubject, Attachments: 2, SecretTypes: []string{"aws_key"}}
	portal := func(nav string, d pageData) pageData {
		d.Session, d.Nav, d.MailReview, d.SessionCSRF = sess, nav, true, "tok"
		return d
	}
	ack := notifier.AckView{IncidentTitle: arabicSubject, OrgName: arabicOrg, Recipient: "s…@contoso.example"}
	ackDone := ack
	ackDone.AcknowledgedAt = &at
	genuine := notifier.VerifiedNotice{Reference: "BN-7K3Q-9XW2-M4TD-R8FA", SentAt: at, MaskedTo: "s…@contoso.example", OrgName: arabicOrg, IncidentTitle: arabicSubject}
	return map[string][]pageData{
		"ack":      {{Title: "title.acknowledge", Ack: ack, Recipient: ack.Recipient}, {Title: "title.acknowledge", Ack: ackDone, Recipient: ack.Recipient, AcknowledgedBy: "s…@contoso.example"}},
		"ack_done": {{Title: "title.acknowledged", Ack: ackDone}},
		"notfound": {{Title: "title.link_not_valid"}},
		"error": {{Title: "title.error", Heading: "error.heading", Message: "error.text"},
			{Title: "title.not_acknowledged", Heading: "title.not_acknowledged", Message: "ack.form_expired"}},
		"ratelimited": {{Title: "ratelimited.heading", Message: "ratelimited.wait", MessageArgs: []any{7}},
			portal("items", pageData{Title: "downloads.heading", Heading: "downloads.heading", Message: "downloads.per_session", MessageArgs: []any{2}})},
		"verify": {{Title: "title.verify", Page: verifyPage{}},
			{Title: "title.verify", Page: verifyPage{Checked: true, Code: "BN-0000", Result: &genuine, Site: "https://notify.example",
				ContactURL: "https://example.com/contact", ContactText: "Example IR"}},
			{Title: "title.verify", Page: verifyPage{Checked: true, Code: web.Verbatim(arabicSubject)}}},
		"signin":          {{Title: "title.sign_in", Page: signInPage{Email: "x@contoso.example", Problem: "signin.problem", SignedOut: true}}},
		"signin_sent":     {{Title: "signin_sent.heading", Page: signInSentPage{Email: "soc@contoso.example", Minutes: 15}}},
		"login_link":      {{Title: "title.sign_in", Page: loginLinkPage{Link: notifier.PortalLinkView{OrgName: arabicOrg, MaskedEmail: "s…@contoso.example"}}}},
		"login_invalid":   {{Title: "title.link_not_valid"}},
		"session_ended":   {{Title: "title.signed_out"}},
		"portal_notfound": {{Title: "title.not_found"}, portal("", pageData{Title: "title.not_found"})},
		"home": {portal("overview", pageData{Title: "nav.overview", Page: notifier.PortalOverview{Incidents: []notifier.PortalIncident{incident},
			Notices: []notifier.PortalNotice{notice, acked}}})},
		"incident": {portal("overview", pageData{TitleData: arabicSubject, Page: notifier.PortalIncidentPage{Incident: incident,
			Notices: []notifier.PortalNotice{notice}, Batches: []notifier.PortalBatch{batch}}})},
		"notice": {portal("overview", pageData{Title: "label.notice", Page: notifier.PortalNoticePage{Notice: notice, Items: []notifier.PortalItem{item}}}),
			portal("overview", pageData{Title: "label.notice", Page: notifier.PortalNoticePage{Notice: acked}})},
		"items": {portal("items", pageData{Title: "nav.items", Page: itemsPage{PortalItemsPage: notifier.PortalItemsPage{
			Items: notifier.ListResult[notifier.PortalItem]{Items: []notifier.PortalItem{item}}, Incidents: []notifier.PortalIncident{incident},
			Batches: []notifier.PortalBatch{batch}, SecretTypes: []string{"aws_key"}}, Kinds: notifier.ItemKinds, Filtered: true, NextURL: "/portal/items?after=x", CSVURL: "/portal/items.csv"}})},
		"item": {portal("items", pageData{TitleData: item.ItemRef, Page: item})},
		"messages": {portal("messages", pageData{Title: "nav.messages", Page: messagesPage{PortalMessagesPage: notifier.PortalMessagesPage{
			Messages: []notifier.PortalMessage{msg}}, Filtered: true, NextURL: "/portal/messages?after=x"}})},
		"message": {portal("messages", pageData{Title: "title.message", Page: messageView{Ref: "1-ab", MessageView: review.MessageView{
			PortalMessageDetail: notifier.PortalMessageDetail{PortalMessage: msg, Size: 12345},
			Headers:             []review.Header{{Name: "Subject", Value: arabicSubject}},
			Subject:             []review.Segment{{Text: arabicSubject}},
			Text:                []review.Segment{{Text: arabicSubject}},
			TextSize:            200000, TextCut: true, HasHTML: true, HTMLSize: 3000000, HTMLCut: true, ShownKiB: 64,
			Findings: []review.Finding{{PortalFinding: notifier.PortalFinding{Seq: 0, Type: "aws_key", Part: "text", Line: 1, Column: 2, Masked: "AKI…7NB", Live: true}}}}}})},
		"download": {portal("messages", pageData{Title: "title.download_file", Page: downloadPage{Ref: "1-ab", Action: "/x", Subject: arabicSubject,
			Name: arabicSubject + ".pdf", Type: "application/pdf", Size: 1234567}})},
		"sessions": {portal("sessions", pageData{Title: "nav.sessions", Page: sessionsPage{Ended: 2, Devices: []deviceView{
			{PortalDevice: notifier.PortalDevice{ID: 4, CreatedAt: at, LastSeenAt: at, Current: true}, Device: arabicSubject},
			{PortalDevice: notifier.PortalDevice{ID: 5, CreatedAt: at, LastSeenAt: at}, Device: "Firefox · Linux"}}}})},
		"members": {func() pageData {
			d := portal("members", pageData{Title: "nav.members", Page: membersView{Done: "members.done_invited", Problem: "members.problem_domain",
				Email: web.Verbatim(arabicSubject + "@contoso.example"), Members: notifier.Members{
					Members: []notifier.PortalMember{{ContactID: 1, Email: "soc@contoso.example", Name: arabicOrg, Approver: true, Level: "mail", FactorEnrolled: true},
						{ContactID: 2, Email: "ciso@contoso.example", Level: "notices"}, {ContactID: 3, Email: "x@contoso.example", Level: "mail", RevokedAt: &at}},
					Requests: []notifier.AccessRequest{{ID: 4, Email: arabicSubject + "@contoso.example", RequestedAt: at},
						{ID: 5, Email: "y@contoso.example", RequestedAt: at, Decision: "refused", DecidedAt: &at}},
					Activity: []notifier.MembershipEvent{{At: at, Actor: arabicOrg, Action: "member.invite", Email: "ciso@contoso.example", Level: "mail"},
						{At: at, Action: "portal.sessions_end_all"}}}}})
			approver := *sess
			approver.Approver, approver.MailAccess = true, true
			d.Session = &approver
			return d
		}(), portal("members", pageData{Title: "nav.members", Page: membersView{}})},
		"request_access": {{Title: "nav.request_access", Page: requestAccessPage{Email: web.Verbatim(arabicSubject), Problem: "signin.problem"}}},
		"activity": {portal("activity", pageData{Title: "nav.activity", Page: activityPage{ListResult: notifier.ListResult[notifier.EvidenceAccess]{
			Items: []notifier.EvidenceAccess{{At: time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC), ContactEmail: "soc@contoso.example", Action: "reveal",
				What: "secret", Subject: arabicSubject, Finding: 0, Attachment: -1}}}}})},
	}
}

// render executes page in lang with d, as render does, without a request.
func renderIn(t *testing.T, s *Server, tag language.Tag, page string, d pageData) string {
	t.Helper()
	d.Sender, d.Lang, d.Dir = s.sender, tag.String(), i18n.Dir(tag)
	d.Langs = langLinks(httptest.NewRequest("GET", "/verify?code=x", nil), tag)
	var b bytes.Buffer
	if err := s.pages[tag][page].ExecuteTemplate(&b, "layout", d); err != nil {
		t.Fatalf("%s %s: %v", tag, page, err)
	}
	return b.String()
}

var placeholderRE = regexp.MustCompile(`%(\[\d+\])?(\.\d)?[sdf]`)

// englishFragments are the pieces of the English messages between their
// placeholders, without markup: what a page left in English would show.
func englishFragments(cat *i18n.Catalog) []string {
	var out []string
	for _, k := range cat.Keys(language.English) {
		for _, f := range placeholderRE.Split(stripTags(cat.Message(language.English, k)), -1) {
			f = strings.TrimFunc(f, func(r rune) bool { return !unicode.IsLetter(r) })
			if len([]rune(f)) >= 4 {
				out = append(out, f)
			}
		}
	}
	return out
}

var tagRE = regexp.MustCompile(`<[^>]*>`)

func stripTags(s string) string { return html.UnescapeString(tagRE.ReplaceAllString(s, "")) }

// isolated reports whether n is inside a <bdi> or an element with
// dir="auto".
func isolated(n *html.Node) bool {
	for p := n.Parent; p != nil; p = p.Parent {
		if p.Type == html.ElementNode && p.Data == "bdi" {
			return true
		}
		for _, a := range p.Attr {
			if a.Key == "dir" && a.Val == "auto" {
				return true
			}
		}
	}
	return false
}

func hasArabic(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.Is(unicode.Arabic, r) }) >= 0
}

// TestPagesInEveryLanguage renders every page in de, fr and ja with an
// Arabic organization name and subject: lang and dir are set, every
// piece of Arabic data is isolated, and no English is left on the page
// (every text node is compared with the English catalogue; data, the
// product name and words the language shares with English are allowed).
func TestPagesInEveryLanguage(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	fragments := englishFragments(s.catalog)
	for _, tag := range []language.Tag{language.German, language.French, language.Japanese} {
		var own strings.Builder
		for _, k := range s.catalog.Keys(tag) {
			own.WriteString(stripTags(s.catalog.Message(tag, k)) + "\n")
		}
		for name, datas := range samplePages() {
			for i, d := range datas {
				page := renderIn(t, s, tag, name, d)
				doc, err := html.Parse(strings.NewReader(page))
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(page, `<html lang="`+tag.String()+`" dir="ltr">`) {
					t.Errorf("%s %s: html lang/dir wrong", tag, name)
				}
				if !hasArabic(page) && name != "notfound" && name != "error" && name != "ratelimited" && name != "signin" && name != "signin_sent" &&
					name != "login_invalid" && name != "session_ended" && !(name == "portal_notfound" && d.Session == nil) && !(name == "verify" && i == 0) {
					t.Errorf("%s %s #%d: the sample's Arabic data is not on the page", tag, name, i)
				}
				var walk func(*html.Node)
				walk = func(n *html.Node) {
					if n.Type == html.ElementNode && (n.Data == "title" || n.Data == "option") {
						// Text-only elements cannot hold <bdi>: checked for English only.
						if c := n.FirstChild; c != nil && hasArabic(c.Data) && n.Data == "title" && d.TitleData == "" && !strings.Contains(c.Data, "·") {
							t.Errorf("%s %s: title holds data", tag, name)
						}
					}
					if n.Type == html.TextNode && strings.TrimSpace(n.Data) != "" {
						text := n.Data
						if hasArabic(text) && !isolated(n) && n.Parent.Data != "title" && n.Parent.Data != "option" {
							t.Errorf("%s %s #%d: Arabic data not isolated: %q in <%s>", tag, name, i, text, n.Parent.Data)
						}
						if !isolated(n) {
							for _, f := range englishIn(text, fragments, own.String()) {
								t.Errorf("%s %s #%d: English left on the page: %q (in %q)", tag, name, i, f, text)
							}
						}
					}
					for c := n.FirstChild; c != nil; c = c.NextSibling {
						walk(c)
					}
				}
				walk(doc)
			}
		}
	}
}

// englishIn are the English fragments in text that the language's own
// messages (own) do not use as well.
func englishIn(text string, fragments []string, own string) []string {
	var out []string
	for _, f := range fragments {
		if containsWord(text, f) && !containsWord(own, f) {
			out = append(out, f)
		}
	}
	return out
}

// TestEnglishDetected: the check of TestPagesInEveryLanguage finds
// English where there is some.
func TestEnglishDetected(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	var own strings.Builder
	for _, k := range s.catalog.Keys(language.German) {
		own.WriteString(stripTags(s.catalog.Message(language.German, k)) + "\n")
	}
	page := stripTags(renderIn(t, s, language.English, "ack", samplePages()["ack"][0]))
	if got := englishIn(page, englishFragments(s.catalog), own.String()); len(got) < 5 {
		t.Errorf("English page judged German: %q", got)
	}
}

func containsWord(s, w string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], w)
		if j < 0 {
			return false
		}
		j += i
		before, after := rune(' '), rune(' ')
		if j > 0 {
			before = []rune(s[:j])[len([]rune(s[:j]))-1]
		}
		if end := j + len(w); end < len(s) {
			after = []rune(s[end:])[0]
		}
		if !unicode.IsLetter(before) && !unicode.IsLetter(after) {
			return true
		}
		i = j + 1
	}
}

// TestCatalogComplete: every key exists in every language, every key is
// used by a page or the code, and every key a page or the code uses
// exists.
func TestCatalogComplete(t *testing.T) {
	t.Parallel()
	cat, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	en := cat.Keys(language.English)
	for _, tag := range i18n.Supported[1:] {
		if got := cat.Keys(tag); strings.Join(got, ",") != strings.Join(en, ",") {
			t.Errorf("%s keys differ from English:\n%v\n%v", tag, got, en)
		}
		for _, k := range en {
			// The same arguments, in whatever order the language needs.
			if a, b := placeholderTypes(cat.Message(language.English, k)), placeholderTypes(cat.Message(tag, k)); a != b {
				t.Errorf("%s %s: arguments %q, English %q", tag, k, b, a)
			}
		}
	}
	var src strings.Builder
	for _, glob := range []string{"pages/*.html", "*.go"} {
		files, _ := filepath.Glob(glob)
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			src.Write(b)
		}
	}
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`"([a-z_]+(\.[a-z_]+)+)"`).FindAllStringSubmatch(src.String(), -1) {
		used[m[1]] = true
	}
	// Keys made at run time from a code (see pageFuncs: kind, itemkind, code).
	dynamic := regexp.MustCompile(`^(kind|itemkind|act|what|memberact)\.`)
	for _, k := range en {
		if !used[k] && !dynamic.MatchString(k) {
			t.Errorf("key %s is used by no page", k)
		}
	}
	for k := range used {
		if k != "message.eml" && cat.Message(language.English, k) == "" && regexp.MustCompile(`^(layout|nav|title|label|error|ack|ack_done|notfound|ratelimited|downloads|session|session_ended|login_invalid|login_link|signin|signin_sent|portal_notfound|verify|home|incident|notice|item|items|parts|messages|message|activity|download|size|factor|members|request|membermail)\.`).MatchString(k) {
			t.Errorf("key %s is used but not in the catalogue", k)
		}
	}
}

func placeholderTypes(m string) string {
	var out []string
	for _, p := range placeholderRE.FindAllString(m, -1) {
		out = append(out, p[len(p)-1:])
	}
	// Sorted: a language may reorder its arguments with %[n]d.
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return strings.Join(out, "")
}

// TestLanguageChoice: the switcher's cookie wins, then the notice's
// language, then the member's, then Accept-Language, then English.
func TestLanguageChoice(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	for _, c := range []struct {
		name, query, cookie, notice, member, accept, want string
	}{
		{name: "nothing", want: "en"},
		{name: "accept german", accept: "de-DE,de;q=0.9,en;q=0.8", want: "de"},
		{name: "accept weighted", accept: "en;q=0.5, fr-CA;q=0.9", want: "fr"},
		{name: "accept unsupported", accept: "ar, he;q=0.9", want: "en"},
		{name: "accept unsupported then japanese", accept: "ar, ja;q=0.5", want: "ja"},
		{name: "accept garbage", accept: ";;;q=x,,", want: "en"},
		{name: "member over accept", member: "ja", accept: "de", want: "ja"},
		{name: "member regional", member: "de-CH", want: "de"},
		{name: "notice over member", notice: "fr", member: "ja", accept: "de", want: "fr"},
		{name: "unsupported notice locale", notice: "ar", accept: "de", want: "de"},
		{name: "cookie over notice", cookie: "ja", notice: "fr", want: "ja"},
		{name: "bad cookie ignored", cookie: "xx-<script>", notice: "fr", want: "fr"},
		{name: "query sets", query: "de", cookie: "ja", notice: "fr", want: "de"},
		{name: "unsupported query ignored", query: "ar", notice: "fr", want: "fr"},
	} {
		r := httptest.NewRequest("GET", "/verify", nil)
		if c.query != "" {
			r = httptest.NewRequest("GET", "/verify?code=BN-1&lang="+c.query, nil)
		}
		if c.cookie != "" {
			r.AddCookie(&http.Cookie{Name: s.cookies.Name(langCookie), Value: c.cookie})
		}
		if c.accept != "" {
			r.Header.Set("Accept-Language", c.accept)
		}
		d := pageData{NoticeLocale: c.notice}
		if c.member != "" {
			d.Session = &notifier.PortalSession{ContactLocale: c.member}
		}
		w := httptest.NewRecorder()
		if got := s.language(w, r, d).String(); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
		set := w.Result().Cookies()
		if c.query == "de" && (len(set) != 1 || set[0].Value != "de" || set[0].Name != "__Host-lang" || !set[0].HttpOnly || set[0].MaxAge <= 0) {
			t.Errorf("%s: switcher cookie %v", c.name, set)
		}
		if c.query != "de" && len(set) != 0 {
			t.Errorf("%s: cookie set without a choice: %v", c.name, set)
		}
	}
}

// TestSwitcherLinks: the switcher links to the same page and query in
// each language, names each language in itself, and marks the current.
func TestSwitcherLinks(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	r := httptest.NewRequest("GET", "/verify?code=BN-7K3Q&lang=fr", nil)
	r.Header.Set("Accept-Language", "de")
	w := httptest.NewRecorder()
	s.verify(w, r)
	page := w.Body.String()
	for _, want := range []string{`<html lang="fr" dir="ltr">`, `href="/verify?code=BN-7K3Q&amp;lang=de" hreflang="de" lang="de">Deutsch</a>`,
		`hreflang="fr" lang="fr" aria-current="true">Français</a>`, `lang="ja">日本語</a>`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
}

// TestDatesAndNumbers: dates and sizes as each language writes them.
func TestDatesAndNumbers(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	at := time.Date(2026, 12, 7, 9, 5, 0, 0, time.UTC)
	for _, c := range []struct {
		tag                  language.Tag
		date, datetime, size string
	}{
		{language.English, "7 December 2026", "7 December 2026 09:05 UTC", "1.2 MB"},
		{language.German, "7. Dezember 2026", "7. Dezember 2026, 09:05 UTC", "1,2 MB"},
		{language.French, "7 décembre 2026", "7 décembre 2026 à 09:05 UTC", "1,2 Mo"},
		{language.Japanese, "2026年12月7日", "2026年12月7日 09:05 UTC", "1.2 MB"},
	} {
		f := pageFuncs(s.catalog, c.tag)
		if got := f["date"].(func(time.Time) i18n.Text)(at); string(got) != c.date {
			t.Errorf("%s date %q", c.tag, got)
		}
		if got := f["datetime"].(func(*time.Time) i18n.Text)(&at); string(got) != c.datetime {
			t.Errorf("%s datetime %q", c.tag, got)
		}
		if got := f["bytes"].(func(any) template.HTML)(int64(1234567)); string(got) != c.size {
			t.Errorf("%s size %q", c.tag, got)
		}
	}
	if got := pageFuncs(s.catalog, language.German)["num"].(func(any) string)(12345); got != "12.345" {
		t.Errorf("German number %q", got)
	}
	if got := pageFuncs(s.catalog, language.English)["num"].(func(any) string)(12345); got != "12,345" {
		t.Errorf("English number %q", got)
	}
}

// TestDataIsolatedAndDefanged: an argument of a message is escaped,
// defanged and isolated; the message's own markup stays.
func TestDataIsolatedAndDefanged(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	got := string(s.catalog.HTML(language.German, "verify.unknown_code", `<b>https://evil.example</b>`))
	if got != "Wir haben keine Benachrichtigung mit dem Referenzcode <bdi>&lt;b&gt;hxxps://evil[.]example&lt;/b&gt;</bdi> gesendet." {
		t.Errorf("got %s", got)
	}
}
