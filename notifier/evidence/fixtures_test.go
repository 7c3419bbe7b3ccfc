package evidence

import (
	"crypto/sha256"
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

// readRawFile reads one message file as a Raw.
func readRawFile(t testing.TB, path string) Raw {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return Raw{Source: path, Bytes: b, Size: int64(len(b)), SHA256: sha256.Sum256(b)}
}
