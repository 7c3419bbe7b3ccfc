package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/notifier/httpapi"
)

// httpMethods are the operation keys of an OpenAPI path item.
var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// openAPIDoc parses the embedded document into a generic JSON tree.
func openAPIDoc(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(httpapi.OpenAPIDocument()))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("openapi.json is not valid JSON: %v", err)
	}
	if dec.More() {
		t.Fatal("openapi.json holds more than one JSON value")
	}
	return doc
}

// documentedOps returns the document's operations keyed by "METHOD pattern".
func documentedOps(t *testing.T, doc map[string]any) map[string]map[string]any {
	t.Helper()
	paths, ok := doc["paths"].(map[string]any)
	if !ok {
		t.Fatal(`the document has no "paths" object`)
	}
	ops := map[string]map[string]any{}
	for path, item := range paths {
		pi, ok := item.(map[string]any)
		if !ok {
			t.Errorf("path %q: the path item is not an object", path)
			continue
		}
		for key, v := range pi {
			if !slices.Contains(httpMethods, key) {
				if slices.Contains(httpMethods, strings.ToLower(key)) {
					t.Errorf("path %q: method key %q must be lowercase", path, key)
				}
				continue
			}
			op, ok := v.(map[string]any)
			if !ok {
				t.Errorf("%s %s: the operation is not an object", key, path)
				continue
			}
			ops[strings.ToUpper(key)+" "+path] = op
		}
	}
	return ops
}

// routesByKey is every route a server can register: the capture
// mailbox's too (see TestOpenAPICaptureMailboxOnly for when they exist).
func routesByKey(t *testing.T) map[string]httpapi.Route {
	t.Helper()
	return routesOf(t, httpapi.Config{CaptureMailbox: true})
}

func routesOf(t *testing.T, cfg httpapi.Config) map[string]httpapi.Route {
	t.Helper()
	srv := httpapi.New(cfg)
	routes := map[string]httpapi.Route{}
	for _, r := range srv.Routes() {
		key := r.Method + " " + r.Pattern
		if _, dup := routes[key]; dup {
			t.Errorf("route %s is registered twice", key)
		}
		routes[key] = r
	}
	if len(routes) == 0 {
		t.Fatal("the server registers no routes")
	}
	return routes
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestOpenAPIVersion(t *testing.T) {
	doc := openAPIDoc(t)
	v, _ := doc["openapi"].(string)
	if !strings.HasPrefix(v, "3.") {
		t.Errorf(`"openapi" is %q; want an OpenAPI 3 version such as "3.1.0"`, v)
	}
	info, _ := doc["info"].(map[string]any)
	if info == nil || info["title"] == nil || info["version"] == nil {
		t.Error(`"info" must have a title and a version`)
	}
}

// TestOpenAPIMatchesRoutes checks the document against routes.go both ways:
// every registered route is documented and every documented operation is a
// registered route.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	routes := routesByKey(t)
	ops := documentedOps(t, openAPIDoc(t))

	for _, key := range sortedKeys(routes) {
		if _, ok := ops[key]; !ok {
			t.Errorf("route %s is registered in routes.go but missing from openapi.json", key)
		}
	}
	for _, key := range sortedKeys(ops) {
		if _, ok := routes[key]; !ok {
			t.Errorf("openapi.json documents %s, which routes.go does not register", key)
		}
	}
}

// TestOpenAPICaptureMailboxOnly checks that the routes a server with a
// relay does not register are exactly the operations documented with
// `x-capture-mailbox-only: true`, and that on such a server they answer
// like a route that never existed.
func TestOpenAPICaptureMailboxOnly(t *testing.T) {
	all := routesByKey(t)
	withRelay := routesOf(t, httpapi.Config{})
	ops := documentedOps(t, openAPIDoc(t))
	var captureOnly []string
	for _, key := range sortedKeys(all) {
		_, registered := withRelay[key]
		marked, _ := ops[key]["x-capture-mailbox-only"].(bool)
		switch {
		case !registered && !marked:
			t.Errorf("%s exists only while capturing but openapi.json does not mark it x-capture-mailbox-only", key)
		case registered && marked:
			t.Errorf("%s is marked x-capture-mailbox-only but a server with a relay registers it", key)
		case !registered:
			captureOnly = append(captureOnly, key)
		}
	}
	if !slices.Equal(captureOnly, []string{"GET /api/v1/mailbox", "GET /api/v1/mailbox/{id}"}) {
		t.Errorf("capture-only routes = %v, want the mailbox's two", captureOnly)
	}

	ts := httptest.NewServer(httpapi.New(httpapi.Config{}))
	defer ts.Close()
	get := func(path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		req.Header.Set("Authorization", "Bearer bn_whatever")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body httpapi.ErrorBody
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, string(body.Error.Code)
	}
	// No key is even looked at: the route is not there.
	for _, path := range []string{"/api/v1/mailbox", "/api/v1/mailbox/1", "/api/v1/no-such-thing"} {
		if st, code := get(path); st != http.StatusNotFound || code != "not_found" {
			t.Errorf("GET %s with a relay = %d %q, want 404 not_found like an unknown route", path, st, code)
		}
	}
}

// TestOpenAPISecurity checks that routes needing a role are documented as
// authenticated (no `security: []`) and open routes as unauthenticated, and
// that x-required-role names the route's role.
func TestOpenAPISecurity(t *testing.T) {
	routes := routesByKey(t)
	doc := openAPIDoc(t)
	ops := documentedOps(t, doc)

	global, _ := doc["security"].([]any)
	if len(global) == 0 {
		t.Error("the document has no global security requirement; authenticated routes would be documented as open")
	}

	for _, key := range sortedKeys(routes) {
		r := routes[key]
		op, ok := ops[key]
		if !ok {
			continue // reported by TestOpenAPIMatchesRoutes
		}
		sec, hasSec := op["security"]
		secList, _ := sec.([]any)
		open := hasSec && len(secList) == 0
		switch {
		case r.Role != "" && open:
			t.Errorf("%s needs the %s role but is documented with `security: []` (no authentication)", key, r.Role)
		case r.Role == "" && !open:
			t.Errorf("%s needs no authentication but is not documented with `security: []`", key)
		}
		role, _ := op["x-required-role"].(string)
		if role != string(r.Role) {
			t.Errorf("%s: x-required-role is %q; routes.go says %q", key, role, r.Role)
		}
		if r.Role != "" {
			desc, _ := op["description"].(string)
			if !strings.Contains(desc, string(r.Role)) {
				t.Errorf("%s: the description does not name the %s role it needs", key, r.Role)
			}
		}
	}
}

var pathWildcard = regexp.MustCompile(`\{([^}]+)\}`)

// TestOpenAPIOperations checks every operation's basic shape: a unique
// operationId, a summary, responses, and exactly the path parameters its
// pattern has.
func TestOpenAPIOperations(t *testing.T) {
	doc := openAPIDoc(t)
	ops := documentedOps(t, doc)
	ids := map[string]string{}
	for _, key := range sortedKeys(ops) {
		op := ops[key]
		id, _ := op["operationId"].(string)
		if id == "" {
			t.Errorf("%s has no operationId", key)
		} else if prev, dup := ids[id]; dup {
			t.Errorf("operationId %q is used by %s and %s", id, prev, key)
		}
		ids[id] = key
		if s, _ := op["summary"].(string); s == "" {
			t.Errorf("%s has no summary", key)
		}
		if resp, _ := op["responses"].(map[string]any); len(resp) == 0 {
			t.Errorf("%s has no responses", key)
		}

		var want []string
		for _, m := range pathWildcard.FindAllStringSubmatch(strings.SplitN(key, " ", 2)[1], -1) {
			want = append(want, m[1])
		}
		var got []string
		params, _ := op["parameters"].([]any)
		for _, p := range params {
			pm := resolve(t, doc, p)
			if pm["in"] == "path" {
				name, _ := pm["name"].(string)
				got = append(got, name)
				if pm["required"] != true {
					t.Errorf("%s: path parameter %q must be required", key, name)
				}
			}
		}
		sort.Strings(want)
		sort.Strings(got)
		if !slices.Equal(want, got) {
			t.Errorf("%s: path parameters are %v; the pattern has %v", key, got, want)
		}
	}
}

// resolve follows a local "$ref" (if any) and returns the object.
func resolve(t *testing.T, doc map[string]any, v any) map[string]any {
	t.Helper()
	m, _ := v.(map[string]any)
	if ref, ok := m["$ref"].(string); ok {
		target, err := lookupRef(doc, ref)
		if err != nil {
			t.Errorf("%v", err)
			return nil
		}
		m, _ = target.(map[string]any)
	}
	return m
}

// lookupRef resolves a local JSON pointer reference such as
// "#/components/schemas/Error".
func lookupRef(doc map[string]any, ref string) (any, error) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, &refError{ref, "is not a local reference (#/...)"}
	}
	var cur any = doc
	for _, tok := range strings.Split(ref[2:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, &refError{ref, "walks into something that is not an object"}
		}
		if cur, ok = m[tok]; !ok {
			return nil, &refError{ref, "names nothing in the document"}
		}
	}
	return cur, nil
}

type refError struct{ ref, why string }

func (e *refError) Error() string { return "$ref " + e.ref + " " + e.why }

// TestOpenAPIRefsResolve walks the whole document and checks that every
// "$ref" points at an existing component.
func TestOpenAPIRefsResolve(t *testing.T) {
	doc := openAPIDoc(t)
	var refs int
	var walk func(at string, v any)
	walk = func(at string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if r, ok := v["$ref"]; ok {
				refs++
				ref, isString := r.(string)
				switch {
				case !isString:
					t.Errorf("%s: $ref is not a string", at)
				case !strings.HasPrefix(ref, "#/components/"):
					t.Errorf("%s: $ref %q does not point into #/components", at, ref)
				default:
					if _, err := lookupRef(doc, ref); err != nil {
						t.Errorf("%s: %v", at, err)
					}
				}
			}
			for _, k := range sortedKeys(v) {
				walk(at+"/"+k, v[k])
			}
		case []any:
			for i, e := range v {
				walk(at+"/"+strconv.Itoa(i), e)
			}
		}
	}
	walk("#", doc)
	if refs == 0 {
		t.Error("the document has no $ref at all; components are expected to be shared")
	}
}

// TestOpenAPIServed checks that the server serves the embedded document as
// is, without authentication.
func TestOpenAPIServed(t *testing.T) {
	srv := httpapi.New(httpapi.Config{})
	ts := httptest.NewServer(srv)
	defer ts.Close()

	resp, err := http.Get(ts.URL + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/openapi.json: status %d, want 200; body: %.200s", resp.StatusCode, body)
	}
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		t.Errorf("Content-Type is %q; want application/json", resp.Header.Get("Content-Type"))
	}
	if !bytes.Equal(body, httpapi.OpenAPIDocument()) {
		t.Errorf("the served document (%d bytes) differs from OpenAPIDocument() (%d bytes)", len(body), len(httpapi.OpenAPIDocument()))
	}
}
