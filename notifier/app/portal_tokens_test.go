package app_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
	"github.com/breachnotify/breachnotify/notifier/capture"
	"github.com/breachnotify/breachnotify/notifier/linkguard"
)

// TestPortalSignInLinks follows sign-in links through their life: the
// neutral answer, one link per organization, single use, expiry, the
// per-address limit, where the token is (only in the email), sessions
// ending, and the audit trail.
func TestPortalSignInLinks(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	ctx := context.Background()
	slug := e.LoadSample(t, "links")
	e.LaunchInitial(t, slug)
	// One address listed by two organizations, and one without access.
	if _, err := e.Client.ImportOrganizations(ctx, strings.NewReader("org_ref,org_name,domain,contact_email,contact_name,role,portal_access,locale\n"+
		"contoso,Contoso Ltd,contoso.example,Shared@Partner.example,Shared Desk,security,true,en\n"+
		"northwind,Northwind Traders,northwind.example,shared@partner.example,Shared Desk,security,true,en\n"), notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}

	// Unknown, not allowed and allowed addresses get the same page.
	v := newVisitor(t, e)
	var pages []string
	for _, addr := range []string{"nobody@nowhere.example", "legal@contoso.example", "soc@contoso.example"} {
		v.requestLink(addr)
		// Pages show an address defanged, like all data.
		pages = append(pages, strings.ReplaceAll(v.last, linkguard.Defang(addr), "ADDRESS"))
	}
	if pages[0] != pages[1] || pages[1] != pages[2] {
		t.Errorf("the answer depends on the address:\n%s\n----\n%s", pages[0], pages[2])
	}
	awaitLinks(t, e, "soc@contoso.example", 1)

	// One link per organization, each naming it; each signs in to its own.
	v.requestLink("SHARED@partner.example")
	shared := awaitLinks(t, e, "shared@partner.example", 2)
	var orgs []string
	for _, m := range shared {
		w := newVisitor(t, e)
		w.useLink(m.Path)
		w.do("GET", "/portal", nil)
		for _, org := range []string{"Contoso Ltd", "Northwind Traders"} {
			if strings.Contains(m.Text, org) && strings.Contains(w.last, "<h1><bdi>"+org+"</bdi></h1>") {
				orgs = append(orgs, org)
			}
		}
	}
	if slices.Sort(orgs); !slices.Equal(orgs, []string{"Contoso Ltd", "Northwind Traders"}) {
		t.Errorf("shared address signed in to %v, want each organization once, as its email said", orgs)
	}
	if msgs := portalLinks(t, e, "legal@contoso.example"); len(msgs) != 0 {
		t.Errorf("a contact without portal access got %d links", len(msgs))
	}

	// Single use: the link's second POST (and GET) find nothing.
	// Two browsers open the link; the first to press Continue uses it up.
	link := portalLinks(t, e, "soc@contoso.example")[0].Path
	a, slower := newVisitor(t, e), newVisitor(t, e)
	a.do("GET", link, nil)
	linkForm := a.csrf()
	slower.do("GET", link, nil)
	laterForm := slower.csrf()
	a.useLink(link)
	b := newVisitor(t, e)
	if st, _, _ := b.do("GET", link, nil); st != http.StatusNotFound {
		t.Errorf("GET of a used link: %d, want 404", st)
	}
	if st, _, _ := slower.do("POST", link, url.Values{"csrf": {laterForm}}); st != http.StatusNotFound || slower.cookie("bn_portal") != "" {
		t.Errorf("second POST of a link: %d, want 404 and no session", st)
	}
	// Another browser cannot use a form token it did not get itself: the
	// token is bound to the browser's cookie (no login CSRF).
	if st, _, _ := b.do("POST", link, url.Values{"csrf": {linkForm}}); st != http.StatusForbidden || b.cookie("bn_portal") != "" {
		t.Errorf("POST of a link with another browser's form token: %d, want 403 and no session", st)
	}

	// Only hashes are stored; the token is in no job's arguments; a link
	// lives at most 15 minutes.
	token := strings.TrimPrefix(link, "/portal/login/")
	var inJobs, inLinks, longLived int
	if err := e.App.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM river_job WHERE strpos(args::text, $1) > 0 OR strpos(coalesce(errors::text, ''), $1) > 0),
		(SELECT count(*) FROM portal_links WHERE strpos(encode(token_hash, 'escape'), $1) > 0 OR request_ip = $1),
		(SELECT count(*) FROM portal_links WHERE expires_at > issued_at + interval '15 minutes')`, token).Scan(&inJobs, &inLinks, &longLived); err != nil {
		t.Fatal(err)
	}
	if inJobs+inLinks+longLived != 0 {
		t.Errorf("token in %d jobs and %d link rows; %d links live over 15 minutes", inJobs, inLinks, longLived)
	}

	// Expiry: a link past its expiry is refused, unused.
	c := newVisitor(t, e)
	c.requestLink("ciso@contoso.example")
	expiring := awaitLinks(t, e, "ciso@contoso.example", 1)[0].Path
	if st, _, _ := c.do("GET", expiring, nil); st != 200 {
		t.Fatalf("fresh link: %d", st)
	}
	csrf := c.csrf()
	if _, err := e.App.Pool.Exec(ctx, `UPDATE portal_links SET expires_at = now() - interval '1 second'
		WHERE contact_id = (SELECT id FROM contacts WHERE email = 'ciso@contoso.example')`); err != nil {
		t.Fatal(err)
	}
	if st, page, _ := c.do("GET", expiring, nil); st != http.StatusNotFound || !strings.Contains(page, "cannot be used") {
		t.Errorf("GET of an expired link: %d", st)
	}
	if st, _, _ := c.do("POST", expiring, url.Values{"csrf": {csrf}}); st != http.StatusNotFound || c.cookie("bn_portal") != "" {
		t.Errorf("POST of an expired link: %d, cookie %q", st, c.cookie("bn_portal"))
	}

	// Per-address limit: of four requests for one address, three send.
	d := newVisitor(t, e)
	for range 4 {
		d.requestLink("secops@tailspin.example")
	}
	if n := len(awaitLinks(t, e, "secops@tailspin.example", 3)); n != 3 {
		t.Errorf("tailspin got %d links for 4 requests, want 3", n)
	}

	// A session ends when its contact loses portal access, and when idle.
	if st, _, _ := a.do("GET", "/portal", nil); st != 200 {
		t.Fatalf("signed-in overview: %d", st)
	}
	soc := contactID(t, e, "soc@contoso.example")
	if st, _ := call(t, e, "PATCH", fmt.Sprintf("/api/v1/contacts/%d", soc), e.Key, map[string]any{"portal_access": false}); st != 200 {
		t.Fatalf("revoke portal access: %d", st)
	}
	if st, _, _ := a.do("GET", "/portal", nil); st != http.StatusNotFound {
		t.Errorf("session of a contact without access: %d, want 404", st)
	}

	// The trail names the contact for the sign-in and every view.
	entries, err := e.App.Store.AuditEntries(ctx, notifier.AuditFilter{TargetType: "organization"}, notifier.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, en := range entries {
		if strings.Contains(en.ActorName, "soc@contoso.example") {
			seen = append(seen, en.Action)
		}
	}
	if !slices.Contains(seen, "portal.sign_in") || !slices.Contains(seen, "portal.view") {
		t.Errorf("audit of soc's portal use = %v", seen)
	}
}

func contactID(t *testing.T, e *apptest.Env, email string) int64 {
	t.Helper()
	var id int64
	if err := e.App.Pool.QueryRow(context.Background(), `SELECT id FROM contacts WHERE email = $1`, email).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// forgeries returns n tokens a forger might try: fresh random ones of the
// right shape, and real ones with one character changed, cut short,
// lengthened or padded.
func forgeries(real string, n int) []string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	out := make([]string, 0, n)
	for i := range n {
		switch i % 4 {
		case 0, 1:
			tok, _ := notifier.NewAckToken()
			out = append(out, tok)
		case 2:
			b := []byte(real)
			p := rand.IntN(len(b))
			for c := b[p]; c == b[p]; {
				b[p] = alphabet[rand.IntN(len(alphabet))]
			}
			out = append(out, string(b))
		default:
			out = append(out, []string{real[:len(real)-1], real + "A", real + "=", strings.ToUpper(real), url.PathEscape(real + "\x00")}[i/4%5])
		}
	}
	return out
}

// TestForgedTokensAreRefused tries 10,000 forged or altered tokens of each
// kind: acknowledgement links, sign-in links and session cookies. None
// acknowledges, signs in or reads anything; the real ones still work.
func TestForgedTokensAreRefused(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	ctx := context.Background()
	e.LaunchInitial(t, e.LoadSample(t, "forge"))
	ackPath := ackLink.FindStringSubmatch(messagesTo(t, e, "security@northwind.example")[0].Text)[1]
	user := newVisitor(t, e)
	user.requestLink("soc@contoso.example")
	loginPath := awaitLinks(t, e, "soc@contoso.example", 1)[0].Path

	// The forgeries go straight to the service's HTTP handler, in
	// process: the same routes, pages and database lookups as over TCP,
	// without 30,000 connections' worth of overhead.
	serve := func(method, path, cookie string, form url.Values) *httptest.ResponseRecorder {
		var req *http.Request
		if form != nil {
			req = httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req = httptest.NewRequest(method, path, nil)
		}
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: "bn_portal", Value: cookie})
		}
		rec := httptest.NewRecorder()
		e.App.API.ServeHTTP(rec, req)
		return rec
	}
	const n = 10000
	var tried atomic.Int64
	try := func(name string, tokens []string, refused func(i int, tok string) bool) {
		var wg sync.WaitGroup
		next := make(chan int)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					tried.Add(1)
					if !refused(i, tokens[i]) {
						t.Errorf("%s: a forged token %q was accepted", name, tokens[i])
					}
				}
			}()
		}
		for i := range tokens {
			next <- i
		}
		close(next)
		wg.Wait()
	}
	try("ack link", forgeries(strings.TrimPrefix(ackPath, "/ack/"), n), func(i int, tok string) bool {
		return serve("GET", "/ack/"+url.PathEscape(tok), "", nil).Code == http.StatusNotFound
	})
	try("sign-in link", forgeries(strings.TrimPrefix(loginPath, "/portal/login/"), n), func(i int, tok string) bool {
		if serve("GET", "/portal/login/"+url.PathEscape(tok), "", nil).Code != http.StatusNotFound {
			return false
		}
		if i%10 != 0 {
			return true
		}
		// Every tenth is also posted, as if its page had been shown.
		rec := serve("POST", "/portal/login/"+url.PathEscape(tok), "", url.Values{"csrf": {"9999999999.AAAA"}})
		return (rec.Code == http.StatusNotFound || rec.Code == http.StatusForbidden) && rec.Header().Get("Set-Cookie") == ""
	})
	user.useLink(loginPath)
	session := user.cookie("bn_portal")
	try("session cookie", forgeries(session, n), func(i int, tok string) bool {
		rec := serve("GET", "/portal/items", tok, nil)
		return rec.Code == http.StatusNotFound && !strings.Contains(rec.Body.String(), "MSG-")
	})
	if tried.Load() != 3*n {
		t.Errorf("tried %d tokens, want %d", tried.Load(), 3*n)
	}

	// Nothing was acknowledged or signed in by the forgeries; the real
	// session and links still work.
	var acked, sessions int
	_ = e.App.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM notices WHERE acknowledged_at IS NOT NULL), (SELECT count(*) FROM portal_sessions)`).Scan(&acked, &sessions)
	if acked != 0 || sessions != 1 {
		t.Errorf("after the forgeries: %d acknowledged notices, %d sessions; want 0 and 1", acked, sessions)
	}
	if st, page, _ := user.do("GET", "/portal/items", nil); st != 200 || !strings.Contains(page, "MSG-100001") {
		t.Errorf("the real session: %d", st)
	}
	if st, _, _ := user.do("GET", ackPath, nil); st != 200 {
		t.Errorf("the real acknowledgement link: %d", st)
	}
}

// TestPortalLinkEmailRetries: a sign-in email the relay defers is sent
// again by its job, with a new token (the first was never stored); one
// the relay refuses for good is not retried and leaves no usable link.
func TestPortalLinkEmailRetries(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	ctx := context.Background()
	e.LoadSample(t, "retry")
	e.Replies.Next("soc@contoso.example", capture.StepData, capture.Fault{Code: 451, Message: "4.3.0 Try again later"})
	e.Replies.Next("ciso@contoso.example", capture.StepRcpt, capture.Fault{Code: 550, Message: "5.1.1 No such user"})
	v := newVisitor(t, e)
	v.requestLink("soc@contoso.example")
	v.requestLink("ciso@contoso.example")
	eventually(t, "the retried sign-in email", func() bool { return len(portalLinks(t, e, "soc@contoso.example")) == 1 })
	if failed := waitJobs(t, e); failed != 1 {
		t.Errorf("%d sign-in email jobs failed for good, want 1 (the refused one)", failed)
	}
	v.useLink(portalLinks(t, e, "soc@contoso.example")[0].Path)

	var attempts int
	var cisoIssued bool
	if err := e.App.Pool.QueryRow(ctx, `SELECT (SELECT max(attempt) FROM river_job WHERE kind = 'portal_link' AND state = 'completed'),
		(SELECT bool_or(token_hash IS NOT NULL) FROM portal_links l JOIN contacts c ON c.id = l.contact_id WHERE c.email = 'ciso@contoso.example')`).
		Scan(&attempts, &cisoIssued); err != nil {
		t.Fatal(err)
	}
	if attempts != 2 || cisoIssued {
		t.Errorf("the deferred email took %d attempts (want 2); the refused one left a link: %v", attempts, cisoIssued)
	}
	if n := len(portalLinks(t, e, "ciso@contoso.example")); n != 0 {
		t.Errorf("the refused address received %d links", n)
	}
}
