package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// TestImageBuildStampsVersion builds the binary with the -ldflags the
// Dockerfile passes (its build arguments filled in) and checks that
// `version -o json` reports them: an image built without .git still says
// which revision it is. A renamed variable in buildinfo fails here.
func TestImageBuildStampsVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	dockerfile, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)-ldflags="(.*?)"`).FindSubmatch(dockerfile)
	if m == nil {
		t.Fatal("the Dockerfile passes no -ldflags")
	}
	args := map[string]string{"VERSION": "v9.8.7", "REVISION": "0123456789abcdef0123456789abcdef01234567", "BUILD_TIME": "2026-12-07T12:00:00Z"}
	ldflags := strings.Join(strings.Fields(strings.ReplaceAll(string(m[1]), "\\\n", " ")), " ")
	ldflags = os.Expand(ldflags, func(k string) string { return args[k] })
	bin := filepath.Join(t.TempDir(), "breachnotify")
	// go test puts the toolchain it runs under first in PATH.
	build := exec.Command("go", "build", "-buildvcs=false", "-ldflags="+ldflags, "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -ldflags=%q: %v\n%s", ldflags, err, out)
	}
	out, err := exec.Command(bin, "version", "-o", "json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if v["version"] != args["VERSION"] || v["revision"] != args["REVISION"] || v["build_time"] != args["BUILD_TIME"] || v["go_version"] != runtime.Version() {
		t.Errorf("version -o json = %s", out)
	}
}
