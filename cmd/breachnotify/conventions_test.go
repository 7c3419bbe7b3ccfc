package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/apiclient"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
)

// offlineRun runs the CLI with a configuration loader that fails the test:
// what it runs must not need the configuration (help, usage mistakes).
func offlineRun(t *testing.T, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	e := &env{stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }, loadConfig: func() (*config.Config, error) {
		t.Errorf("%q loaded the configuration", args)
		return nil, errors.New("no configuration in this test")
	}}
	code := run(context.Background(), e, args)
	return result{code, out.String(), errOut.String()}
}

// TestHelpEverywhere asks every command of the tree for --help and -h: each
// exits 0, prints its usage on stdout, and touches nothing.
func TestHelpEverywhere(t *testing.T) {
	t.Parallel()
	var paths [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		paths = append(paths, path)
		for _, sub := range c.Commands() {
			if !sub.Hidden && sub.Name() != "help" {
				walk(sub, append(append([]string{}, path...), sub.Name()))
			}
		}
	}
	walk(newRoot(context.Background(), &env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, globals: &globals{}}), nil)
	if len(paths) < 50 {
		t.Fatalf("the tree has %d commands, want every verb", len(paths))
	}
	for _, p := range paths {
		for _, flag := range []string{"--help", "-h"} {
			r := offlineRun(t, append(append([]string{}, p...), flag)...)
			if r.code != 0 || !strings.Contains(strings.ToLower(r.out), "usage") || r.errOut != "" {
				t.Errorf("%q %s: exit %d\nstdout %q\nstderr %q", p, flag, r.code, r.out, r.errOut)
			}
		}
	}
	// A verb's help shows its own flags, read from its flag set.
	r := offlineRun(t, "wave", "plan", "--help")
	contains(t, "wave plan --help", r.out, "breachnotify wave plan INCIDENT", "-urgent-only", "-all", "--url")
	r = offlineRun(t, "help", "incident", "policy")
	contains(t, "help incident policy", r.out, "--follow-up-window", "-max-reminders")
}

// TestUsageExitCodes: unknown commands and verbs, and refused requests,
// exit 2 with a message that says what exists.
func TestUsageExitCodes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"wave", "--frob"}, "unknown flag: --frob"},
		{[]string{"wave"}, "a verb is needed"},
		{[]string{"wave", "statsu"}, `did you mean "status"?`},
		{[]string{"notice", "--help-me"}, "unknown flag"},
		{[]string{"migrate", "down"}, "migrate down is refused"},
		{[]string{"migrate", "down", "--to", "3"}, "restore the database"},
		{[]string{"migrate", "sideways"}, `unknown verb "sideways"`},
		{[]string{"wave", "list", "-o", "xml"}, "-o must be table, json or yaml"},
		{[]string{"version", "-o", "csv"}, "-o must be table, json or yaml"},
		{[]string{"wave", "list", "--url"}, "flag needs an argument: --url"},
	} {
		r := offlineRun(t, tc.args...)
		if r.code != exitUsage || !strings.Contains(r.errOut, tc.want) || r.out != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 saying %q", tc.args, r.code, r.out, r.errOut, tc.want)
		}
	}
}

func TestVersionAndCompletion(t *testing.T) {
	t.Parallel()
	r := offlineRun(t, "version", "-o", "json")
	var v map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.out), &v) != nil {
		t.Fatalf("version -o json: exit %d %q %q", r.code, r.out, r.errOut)
	}
	for _, k := range []string{"version", "revision", "modified", "commit_time", "build_time", "go_version"} {
		if _, ok := v[k]; !ok {
			t.Errorf("version -o json lacks %q: %s", k, r.out)
		}
	}
	if !strings.HasPrefix(v["go_version"].(string), "go1.") {
		t.Errorf("go_version = %v", v["go_version"])
	}
	r = offlineRun(t, "version", "-o", "yaml")
	var y map[string]any
	if r.code != 0 || yaml.Unmarshal([]byte(r.out), &y) != nil || y["go_version"] != v["go_version"] {
		t.Errorf("version -o yaml: exit %d %q", r.code, r.out)
	}
	contains(t, "version", offlineRun(t, "version").out, "revision", "build time", "go ")
	for shell, want := range map[string]string{"bash": "__start_breachnotify", "zsh": "#compdef breachnotify", "fish": "complete -c breachnotify"} {
		r := offlineRun(t, "completion", shell)
		if r.code != 0 || !strings.Contains(r.out, want) {
			t.Errorf("completion %s: exit %d, lacks %q", shell, r.code, want)
		}
	}
	// Completion offers the verbs of a group.
	r = offlineRun(t, "__complete", "wave", "")
	contains(t, "completion of wave", r.out, "plan", "status", "launch")
}

func TestExitCodeOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, exitOK},
		{errors.New("boom"), exitError},
		{usageError{"x"}, exitUsage},
		{fmt.Errorf("list: %w", errNoAPIKey), exitAuth},
		{&apiclient.Error{Status: 401}, exitAuth},
		{&apiclient.Error{Status: 403}, exitAuth},
		{fmt.Errorf("show: %w", &apiclient.Error{Status: 404}), exitNotFound},
		{&apiclient.Error{Status: 409}, exitConflict},
		{&apiclient.Error{Status: 400}, exitError},
		{&apiclient.Error{Status: 500}, exitError},
		{&url.Error{Op: "Get", URL: "http://x", Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}, exitUnreachable},
		{&net.DNSError{Err: "no such host", Name: "x"}, exitUnreachable},
		{fmt.Errorf("interrupted: %w", &url.Error{Err: context.Canceled}), exitError},
		{&os.PathError{Op: "open", Path: "x", Err: os.ErrNotExist}, exitError},
	} {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestTakeGlobals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args, rest []string
		want       globals
	}{
		{[]string{"1", "--watch"}, []string{"1", "--watch"}, globals{}},
		{[]string{"--url", "http://a", "1", "-o", "json"}, []string{"1"}, globals{url: "http://a", output: "json"}},
		{[]string{"-ojson", "--api-key-file=k", "x"}, []string{"x"}, globals{apiKeyFile: "k", output: "json"}},
		{[]string{"-o=yaml", "--profile", "p", "--config", "c"}, nil, globals{output: "yaml", profile: "p", configPath: "c"}},
		{[]string{"x", "--", "--url", "y"}, []string{"x", "--", "--url", "y"}, globals{}},
		{[]string{"--urgent-only", "--output", "table"}, []string{"--urgent-only"}, globals{output: "table"}},
	} {
		var g globals
		rest, err := g.take(tc.args)
		if err != nil || fmt.Sprint(rest) != fmt.Sprint(tc.rest) || g != tc.want {
			t.Errorf("take(%q) = %q %+v %v, want %q %+v", tc.args, rest, g, err, tc.rest, tc.want)
		}
	}
	// report --output FILE is report's own flag; -o stays global.
	var g globals
	rest, err := g.take([]string{"x", "--output", "f.csv", "-o", "json"}, "output")
	if err != nil || fmt.Sprint(rest) != "[x --output f.csv]" || g.output != "json" {
		t.Errorf("take with report's own --output = %q %+v %v", rest, g, err)
	}
}

// TestServerAndKeyPrecedence: flags, then the environment, then the
// profile, then the configuration's default.
func TestServerAndKeyPrecedence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	prodKey := writeFile(t, dir, "prod.key", []byte("bn_prod\n"))
	flagKey := writeFile(t, dir, "flag.key", []byte("bn_flag"))
	cfgFile := writeFile(t, dir, "config.yaml", []byte(fmt.Sprintf(`current_profile: prod
profiles:
  prod:
    url: https://prod.example
    api_key_file: %s
  staging:
    url: https://staging.example
`, prodKey)))
	for _, tc := range []struct {
		name             string
		g                globals
		environ          map[string]string
		wantURL, wantKey string
		wantErr          string
	}{
		{"current profile", globals{configPath: cfgFile}, nil, "https://prod.example", "bn_prod", ""},
		{"flags beat the profile", globals{configPath: cfgFile, url: "http://flag", apiKeyFile: flagKey}, nil, "http://flag", "bn_flag", ""},
		{"environment beats the profile", globals{configPath: cfgFile},
			map[string]string{"BREACHNOTIFY_URL": "http://env", "BREACHNOTIFY_API_KEY": "bn_env"}, "http://env", "bn_env", ""},
		{"profile by flag, key from the environment", globals{configPath: cfgFile, profile: "staging"},
			map[string]string{"BREACHNOTIFY_API_KEY": "bn_env"}, "https://staging.example", "bn_env", ""},
		{"profile by environment", globals{},
			map[string]string{"BREACHNOTIFY_CONFIG": cfgFile, "BREACHNOTIFY_PROFILE": "staging", "BREACHNOTIFY_API_KEY": "bn_env"}, "https://staging.example", "bn_env", ""},
		{"unknown profile", globals{configPath: cfgFile, profile: "qa"}, nil, "", "", `no profile "qa" (it has: prod, staging)`},
		{"missing named file", globals{configPath: filepath.Join(dir, "none.yaml")}, nil, "", "", "no such file"},
		{"no key anywhere", globals{configPath: cfgFile, profile: "staging"}, nil, "", "", "no API key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.APIKey = tc.environ["BREACHNOTIFY_API_KEY"]
			if u := tc.environ["BREACHNOTIFY_URL"]; u != "" {
				cfg.URL = u
			}
			g := tc.g
			e := &env{globals: &g, getenv: func(k string) string { return tc.environ[k] },
				loadConfig: func() (*config.Config, error) { return cfg, nil }}
			url, key, err := resolveServer(e)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if url != tc.wantURL || key != tc.wantKey {
				t.Errorf("client for %s with %s, want %s with %s", url, key, tc.wantURL, tc.wantKey)
			}
		})
	}
}

func TestJSONToYAML(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	in := `{"id":3,"status":"running","ratio":0.5,"deliveries":{"sent":12},"items":[{"org_ref":"a"}]}` + "\n" + `{"id":3,"status":"completed"}` + "\n"
	if err := jsonToYAML(&out, strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	want := "deliveries:\n  sent: 12\nid: 3\nitems:\n  - org_ref: a\nratio: 0.5\nstatus: running\n---\nid: 3\nstatus: completed\n"
	if out.String() != want {
		t.Errorf("yaml =\n%s\nwant\n%s", out.String(), want)
	}
}

func TestWatchRateAndETA(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	var m rateMeter
	m.add(t0, 0)
	if got := m.describe(1000, notifier.WaveRunning); got != "" {
		t.Errorf("one poll: %q, want no rate yet", got)
	}
	m.add(t0.Add(2*time.Second), 200)
	if got := m.describe(800, notifier.WaveRunning); got != "  100.0/s  ETA 8s" {
		t.Errorf("after 200 in 2s: %q", got)
	}
	// Polls older than the window stop counting: a pause shows as 0/s.
	m.add(t0.Add(40*time.Second), 200)
	m.add(t0.Add(45*time.Second), 200)
	if got := m.describe(800, notifier.WaveRunning); got != "  0.0/s  ETA -" {
		t.Errorf("paused: %q", got)
	}
	if got := m.describe(0, notifier.WaveCompleted); got != "" {
		t.Errorf("completed: %q", got)
	}
}

// TestPlanSkippedSummary: a re-plan that skips 100,000 organizations
// prints counts and the first few, not 100,000 lines.
func TestPlanSkippedSummary(t *testing.T) {
	t.Parallel()
	skipped := make([]notifier.SkippedOrganization, 100_000)
	for i := range skipped {
		skipped[i] = notifier.SkippedOrganization{OrgRef: fmt.Sprintf("org-%d", i), Name: "Org", Reason: "already notified"}
	}
	skipped[7].Reason = "no contact"
	var out bytes.Buffer
	if err := printSkipped(&out, skipped, false); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n"); n > skippedShown+10 {
		t.Errorf("summary has %d lines", n)
	}
	matches(t, "summary", out.String(), `Skipped organizations: 100000\n`, `already notified +99999\n`, `no contact +1\n`,
		`org-19 `, `\.\.\. and 99980 more: --all or -o json lists them all\n`)
	out.Reset()
	if err := printSkipped(&out, skipped, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "org-99999 ") || strings.Contains(out.String(), "more:") {
		t.Error("--all does not list every organization")
	}
}

// TestOutputFormatsAndExitCodesAgainstAServer: -o json is the verb's JSON,
// -o yaml the same fields; --url and --api-key-file reach the server; a
// missing incident exits 4, a bad key 3.
func TestOutputFormatsAndExitCodesAgainstAServer(t *testing.T) {
	t.Parallel()
	srv := apptest.Start(t, apptest.Options{})
	c := cli{t, srv.App.URL(), srv.Key, nil}
	c.ok("incident", "create", "--slug", "mail-2026", "--title", "Mail breach")

	var fromJSON, fromFlag notifier.ListResult[notifier.Incident]
	c.json(&fromJSON, "incident", "list")
	if err := json.Unmarshal([]byte(c.ok("incident", "list", "-o", "json")), &fromFlag); err != nil || len(fromFlag.Items) != 1 {
		t.Fatalf("-o json: %v %+v", err, fromFlag)
	}
	var y map[string]any
	out := c.ok("-o", "yaml", "incident", "list")
	if err := yaml.Unmarshal([]byte(out), &y); err != nil {
		t.Fatalf("-o yaml is not YAML: %v\n%s", err, out)
	}
	items, _ := y["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["slug"] != "mail-2026" {
		t.Errorf("-o yaml = %s", out)
	}
	if r := c.run("incident", "show", "no-such-incident"); r.code != exitNotFound {
		t.Errorf("unknown incident: exit %d %q", r.code, r.errOut)
	}

	// The flags alone reach the server: nothing in the configuration.
	keyFile := writeFile(t, t.TempDir(), "key", []byte(srv.Key+"\n"))
	bare := cli{t, "http://127.0.0.1:1", "", nil}
	contains(t, "--url --api-key-file", bare.ok("incident", "list", "--url", srv.App.URL(), "--api-key-file", keyFile), "mail-2026")
	badKey := writeFile(t, t.TempDir(), "bad", []byte("bn_notakey"))
	if r := bare.run("incident", "list", "--url", srv.App.URL(), "--api-key-file", badKey); r.code != exitAuth {
		t.Errorf("a bad key: exit %d %q", r.code, r.errOut)
	}
}
