package portal

import (
	"strings"
	"testing"
)

// TestSafeFilename: a stolen file name becomes a download name that
// names no directory, hides no extension, runs nothing when opened by a
// double click, and fits a header.
func TestSafeFilename(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"report.pdf":             "report.pdf.download",
		"../../etc/passwd":       "passwd.download",
		`..\..\Windows\evil.exe`: "evil.exe.download",
		"invoice<1>.pdf.exe":     "invoice_1_.pdf.exe.download",
		"\"; filename=evil.exe":  "filename_evil.exe.download",
		"résumé\r\n.docm":        "r_sum___.docm.download",
		"gnp.exe\u202e.pdf":      "gnp.exe_.pdf.download",
		".htaccess":              "htaccess.download",
		"":                       "file.download",
		"/":                      "file.download",
	} {
		if got := safeFilename(in); got != want {
			t.Errorf("safeFilename(%q) = %q, want %q", in, got, want)
		}
	}
	long := safeFilename(strings.Repeat("x", 300) + ".pdf")
	if len(long) != 100+len(".download") || !strings.HasSuffix(long, ".pdf.download") {
		t.Errorf("a long name gives %d characters", len(long))
	}
}
