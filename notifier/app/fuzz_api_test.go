package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"

	"github.com/breachnotify/breachnotify/notifier/app/apptest"
	"github.com/breachnotify/breachnotify/templates"
)

// fuzzRoutes are the API's routes that read a body or a header a client
// chooses. The ids exist in the fuzz target's database (see
// FuzzAPIRequests), so a well-formed body reaches the use case.
var fuzzRoutes = []struct{ method, path string }{
	{"POST", "/api/v1/incidents"},
	{"PATCH", "/api/v1/incidents/fz"},
	{"POST", "/api/v1/incidents/fz/waves"},
	{"POST", "/api/v1/incidents/fz/exposures"},
	{"POST", "/api/v1/organizations/import"},
	{"PATCH", "/api/v1/contacts/1"},
	{"POST", "/api/v1/contacts/1/suppress"},
	{"POST", "/api/v1/contacts/1/reactivate"},
	{"POST", "/api/v1/waves/1/approve"},
	{"POST", "/api/v1/waves/1/launch"},
	{"POST", "/api/v1/waves/1/pause"},
	{"POST", "/api/v1/notices/1/resend"},
	{"POST", "/api/v1/bounces"},
	{"POST", "/api/v1/apikeys"},
	{"POST", "/api/v1/templates"},
	{"POST", "/api/v1/templates/1/preview"},
	{"POST", "/api/v1/organizations/contoso/members"},
	{"PATCH", "/api/v1/organizations/contoso/members/1"},
	{"POST", "/api/v1/organizations/contoso/access-requests/1"},
	{"POST", "/api/v1/organizations/contoso/invite-domains"},
}

// FuzzAPIRequests sends arbitrary bodies, content types and
// Idempotency-Key headers to every route that reads them, on a running
// service with real data. Whatever arrives, the reply is never a 500 and
// never leaks internals: it is a success or the JSON error shape with a
// code and a message. A body (or NDJSON line) that succeeded never had
// two keys equal but for case.
func FuzzAPIRequests(f *testing.F) {
	// Server errors would be logged through f, which the fuzz function may
	// not use; a 500 fails the run with its reply anyway.
	srv := apptest.Start(f, apptest.Options{NoWorkers: true, LogTo: io.Discard})
	srv.LoadSample(f, "fz")
	if _, err := srv.Client.PlanWave(context.Background(), "fz", templates.KindInitial); err != nil {
		f.Fatal(err)
	}
	seeds := []struct {
		route         uint8
		body, ct, key string
	}{
		{0, `{"slug":"fz-2","title":"T","summary":"S"}`, "application/json", ""},
		{0, `{"slug":"Bad Slug!","title":""}`, "application/json", ""},
		{0, `{"slug":"x","title":"t","extra":1}`, "application/json", ""},
		{1, `{"policy":{"follow_up_window":"15m","max_reminders":11}}`, "application/json", ""},
		{1, `{"policy":{"reminder_after":"forever"}}`, "application/json", ""},
		{1, `{"clock":{"aware_at":"2026-01-02T03:04:05Z","obligations":["gdpr-art33-processor","us-co"],"deadline_targets":{"gdpr-art33-processor":12}}}`, "application/json", ""},
		{1, `{"clock":{"aware_at":"2026-01-02T03:04:05Z","materiality_determined_at":"2025-01-01T00:00:00Z","deadline_targets":{"x":-1}}}`, "application/json", ""},
		{0, `{"slug":"fz-3","title":"T","clock":{"aware_at":"2026-01-02T03:04:05+02:00","obligations":["sec-8k-1.05"]}}`, "application/json", ""},
		{4, "org_ref,org_name,contact_email,jurisdiction,notify_within\na,A,x@a.example,us-co,72h\n", "text/csv", ""},
		{2, `{"kind":"follow_up"}`, "application/json", ""},
		{2, `{"kind":"reminder"}`, "", ""},
		{3, "org_ref,item_ref,kind\ncontoso,X-1,email\n", "text/csv", ""},
		{3, "{\"org_ref\":\"contoso\",\"item_ref\":\"X-2\",\"kind\":\"file\"}\n", "application/x-ndjson", ""},
		{4, "org_ref,org_name,contact_email\nacme,Acme,a@acme.example\n", "text/csv", ""},
		{5, `{"name":"N","role":"legal","locale":"fr-CA","portal_access":true}`, "application/json", ""},
		{6, `{"reason":"asked to stop"}`, "application/json", ""},
		{8, ``, "", ""},
		{9, ``, "", "launch-1"},
		{9, ``, "", "bad key with spaces"},
		{11, `{}`, "application/json", ""},
		{12, `{"message_id":"<a@b>","recipient":"a@b.example","status":"5.1.1","diagnostic":"550 no"}`, "application/json", ""},
		{12, "From: x\r\n\r\nnot a report", "message/rfc822", ""},
		{13, `{"name":"k","role":"viewer"}`, "application/json", ""},
		{13, `{"name":"k","role":"viewer","ROLE":"admin"}`, "application/json", ""},
		{4, "{\"org_ref\":\"d\",\"org_name\":\"D\",\"contact_email\":\"a@d.example\",\"role\":\"legal\",\"Role\":\"security\"}\n", "application/x-ndjson", ""},
		{14, `{"kind":"initial","locale":"de","subject":"{{.Nope}}","text":"t","html":"<p>h</p>"}`, "application/json", ""},
		{15, `{"organization":"contoso","incident":"fz"}`, "application/json", ""},
		{16, `{"email":"new@contoso.example","level":"mail"}`, "application/json", ""},
		{16, `{"email":"x@elsewhere.example","level":"admin","Email":"y"}`, "application/json", ""},
		{17, `{"level":"notices","approver":true,"revoked":false}`, "application/json", ""},
		{17, `{"approver":false,"default_approver":true}`, "application/json", ""},
		{18, `{"decision":"approved","level":"notices"}`, "application/json", ""},
		{19, `{"domain":"Contractor.Example","allow":true}`, "application/json", ""},
		{19, `{"domain":"-bad-.example..","allow":false}`, "application/json", ""},
		{0, "\x00\xff{", "application/json; charset=utf-8", ""},
		{0, `[]`, "text/plain", ""},
	}
	for _, s := range seeds {
		f.Add(s.route, []byte(s.body), s.ct, s.key)
	}
	client := &http.Client{}
	f.Fuzz(func(t *testing.T, route uint8, body []byte, contentType, idemKey string) {
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		req, err := http.NewRequest(rt.method, srv.App.URL()+rt.path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+srv.Key)
		// net/http refuses to send header values with control characters
		// (DEL too); such a request never reaches a server.
		if contentType != "" && httpguts.ValidHeaderFieldValue(contentType) {
			req.Header.Set("Content-Type", contentType)
		}
		if idemKey != "" && httpguts.ValidHeaderFieldValue(idemKey) {
			req.Header.Set("Idempotency-Key", idemKey)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", rt.method, rt.path, err)
		}
		reply, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s with %q (%q): %d %s", rt.method, rt.path, body, contentType, resp.StatusCode, reply)
		}
		for _, leak := range []string{"SQLSTATE", "pgx", "goroutine", "runtime error", ".go:"} {
			if bytes.Contains(reply, []byte(leak)) {
				t.Fatalf("%s %s: the reply leaks %q: %s", rt.method, rt.path, leak, reply)
			}
		}
		if resp.StatusCode < 400 {
			for _, doc := range bytes.Split(body, []byte("\n")) {
				if json.Valid(doc) && foldedDuplicateKeys(json.NewDecoder(bytes.NewReader(doc))) {
					t.Fatalf("%s %s accepted %q, which has two keys equal but for case", rt.method, rt.path, doc)
				}
			}
			return
		}
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if err := json.Unmarshal(reply, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
			t.Fatalf("%s %s: %d is not the JSON error shape: %s", rt.method, rt.path, resp.StatusCode, reply)
		}
	})
}

// foldedDuplicateKeys reports whether the JSON value read from dec has an
// object with two keys strings.EqualFold finds equal.
func foldedDuplicateKeys(dec *json.Decoder) bool {
	tok, err := dec.Token()
	if err != nil {
		return false
	}
	switch tok {
	case json.Delim('{'):
		var keys []string
		dup := false
		for dec.More() {
			k, _ := dec.Token()
			key, _ := k.(string)
			for _, seen := range keys {
				dup = dup || strings.EqualFold(seen, key)
			}
			keys = append(keys, key)
			dup = foldedDuplicateKeys(dec) || dup
		}
		_, _ = dec.Token()
		return dup
	case json.Delim('['):
		dup := false
		for dec.More() {
			dup = foldedDuplicateKeys(dec) || dup
		}
		_, _ = dec.Token()
		return dup
	}
	return false
}
