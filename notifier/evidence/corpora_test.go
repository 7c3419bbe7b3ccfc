package evidence

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"testing"
)

// libraryCorpora are the mail test corpora shipped with the MIME library
// we parse with (enmime's testdata, in the module cache, MIT licensed)
// and with Python's email package (Debian's libpython3.11-testsuite, PSF
// licensed): mail nobody here wrote, read where it is installed and never
// copied into this repository.
func libraryCorpora(t *testing.T) []string {
	t.Helper()
	var files []string
	if dir := enmimeDir(t); dir != "" {
		for _, sub := range []string{"mail", "low-quality", "parts"} {
			m, _ := filepath.Glob(filepath.Join(dir, "testdata", sub, "*.raw"))
			files = append(files, m...)
		}
	}
	py, _ := filepath.Glob("/usr/lib/python3*/test/test_email/data/msg_*.txt")
	files = append(files, py...)
	return files
}

// enmimeDir is where the go command keeps the enmime version we build
// with, or "" when it is not there.
func enmimeDir(t *testing.T) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, m := range bi.Deps {
		if m.Path == "github.com/jhillyerd/enmime/v2" {
			out, err := exec.Command("go", "env", "GOMODCACHE").Output()
			if err != nil {
				t.Logf("go env GOMODCACHE: %v", err)
				return ""
			}
			return filepath.Join(strings.TrimSpace(string(out)), "github.com", "jhillyerd", "enmime", "v2@"+m.Version)
		}
	}
	return ""
}

// corpusDisagreements are the corpus messages where we read other
// participant domains than Python's email package, with why.
var corpusDisagreements = map[string]string{
	"data/msg_43.txt": "a bounce carrying the returned message's header block as text/rfc822-headers (To: xxxxx@dot.ca.gov): " +
		"we read its participants as those of an attached message, Python leaves text parts unread",
	"low-quality/bad-header-start.raw": "its first header line is indented (' From: James Hillyerd <james@makita.skynet>'): " +
		"Python drops that field as a defect and reads To: greg@inbucket; enmime refuses the message, and the header salvage " +
		"reads both fields, so makita.skynet is ours too",
}

// TestLibraryCorpora reads every message of the libraries' corpora: none
// may crash the parser, and each message's participant domains must be
// those Python's email package reads (testdata/pydomains.py, which makes
// exactly shared/fixtures/mime-real/expected.json from those files).
func TestLibraryCorpora(t *testing.T) {
	t.Parallel()
	files := libraryCorpora(t)
	python, err := exec.LookPath("python3")
	if len(files) == 0 || err != nil {
		msg := fmt.Sprintf("no corpus (%d files) or no python3 (%v): install libpython3.11-testsuite and python3", len(files), err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	// The script must make exactly the shared fixtures' expected.json
	// from their files: then its reading of the corpora is Python's.
	fixtures, _ := filepath.Glob(filepath.Join(mimeReal(t), "*.eml"))
	files = append(files, fixtures...)
	cmd := exec.Command(python, append([]string{filepath.Join("testdata", "pydomains.py")}, files...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pydomains.py: %v", err)
	}
	var want map[string]expectedDomains
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(mimeReal(t), "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var expected map[string]expectedDomains
	if err := json.Unmarshal(b, &expected); err != nil {
		t.Fatal(err)
	}
	for _, f := range fixtures {
		e, got := expected[filepath.Base(f)], want[f]
		if !slices.Equal(nonNil(got.Domains), nonNil(e.Domains)) || !slices.Equal(nonNil(got.NestedDomains), nonNil(e.NestedDomains)) {
			t.Fatalf("pydomains.py reads %s as %+v, expected.json says %+v", filepath.Base(f), got, e)
		}
		delete(want, f)
	}
	files = files[:len(files)-len(fixtures)]
	p := newTestParser(t)
	agree, unparseable := 0, 0
	sort.Strings(files)
	for _, f := range files {
		msg, perr := p.Parse(readRawFile(t, f))
		if perr != nil {
			unparseable++
			t.Logf("%s: %v", filepath.Base(f), perr)
		}
		top, nested := domainsByDepth(msg)
		w := want[f]
		if slices.Equal(top, nonNil(w.Domains)) && slices.Equal(nested, nonNil(w.NestedDomains)) {
			agree++
			continue
		}
		name := filepath.Base(filepath.Dir(f)) + "/" + filepath.Base(f)
		if why, ok := corpusDisagreements[name]; ok {
			t.Logf("%s: differs from Python on purpose: %s", name, why)
			continue
		}
		t.Errorf("%s: domains %q nested %q, Python read %q nested %q (parse error: %v)", name, top, nested, w.Domains, w.NestedDomains, perr)
	}
	t.Logf("%d messages: %d read as Python reads them, %d listed unparseable", len(files), agree, unparseable)
}
