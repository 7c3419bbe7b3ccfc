package app_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/apiclient"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
)

// TestDuplicateJSONKeysAreRefused checks that no JSON the service takes
// may hold two keys equal but for case, at any depth: encoding/json would
// let the last one win ({"role":"viewer","ROLE":"admin"} made an admin
// key), while a reader of the request sees the first.
func TestDuplicateJSONKeysAreRefused(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{NoWorkers: true})
	slug := e.LoadSample(t, "dupkeys")
	send := func(method, path, contentType, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, e.App.URL()+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.Key)
		req.Header.Set("Content-Type", contentType)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	for _, tc := range []struct{ method, path, body, key string }{
		{"POST", "/api/v1/apikeys", `{"name":"mallory","role":"viewer","ROLE":"admin"}`, `\"ROLE\"`},
		{"POST", "/api/v1/apikeys", `{"name":"mallory","role":"viewer","role":"admin"}`, `\"role\"`},
		{"PATCH", "/api/v1/incidents/" + slug, `{"policy":{"max_reminders":1,"Max_Reminders":5}}`, `\"Max_Reminders\"`},
	} {
		st, reply := send(tc.method, tc.path, "application/json", tc.body)
		if st != 400 || !strings.Contains(reply, `"code":"bad_request"`) || !strings.Contains(reply, tc.key) {
			t.Errorf("%s %s %s: %d %s, want 400 bad_request naming %s", tc.method, tc.path, tc.body, st, reply, tc.key)
		}
	}
	if st, keys := send("GET", "/api/v1/apikeys", "", ""); st != 200 || strings.Contains(keys, "mallory") {
		t.Errorf("a key was made from a body with duplicate keys: %d %s", st, keys)
	}
	if inc, err := e.Client.Incident(context.Background(), slug); err != nil || inc.Policy.MaxReminders == 5 || inc.Policy.MaxReminders == 1 {
		t.Errorf("the policy changed: %+v, %v", inc.Policy, err)
	}

	// An NDJSON line is a JSON body too: the import names the line, and
	// writes nothing.
	_, err := e.Client.ImportOrganizations(context.Background(), strings.NewReader(
		`{"org_ref":"dup","org_name":"Dup","contact_email":"a@dup.example"}`+"\n"+
			`{"org_ref":"dup","org_name":"Dup","contact_email":"b@dup.example","role":"security","ROLE":"legal"}`+"\n"), notifier.FormatNDJSON)
	var apiErr *apiclient.Error
	if !errors.As(err, &apiErr) || apiErr.Code != string(notifier.CodeInvalid) || len(apiErr.Rows) != 1 ||
		apiErr.Rows[0].Line != 2 || apiErr.Rows[0].Field != "ROLE" || !strings.Contains(apiErr.Rows[0].Message, "differ only in case") {
		t.Fatalf("NDJSON import with duplicate keys: %v (%+v)", err, apiErr)
	}
	if st, _ := send("GET", "/api/v1/organizations/dup", "", ""); st != 404 {
		t.Errorf("the import wrote the organization: %d", st)
	}
}
