package evidence

import (
	"os"
	"path/filepath"
	"testing"
)

// fixturesDir finds the shared fixtures: BREACHNOTIFY_FIXTURES, or
// ../shared/fixtures beside the module root (where CI lays shared/).
func fixturesDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("BREACHNOTIFY_FIXTURES")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "fixtures")
	}
	if _, err := os.Stat(filepath.Join(dir, "mime-real", "expected.json")); err != nil {
		t.Skipf("fixtures not found at %s (set BREACHNOTIFY_FIXTURES to the shared/fixtures folder): %v", dir, err)
	}
	return dir
}

// mimeReal returns the 101 real messages' folder.
func mimeReal(t testing.TB) string {
	return filepath.Join(fixturesDir(t), "mime-real")
}
