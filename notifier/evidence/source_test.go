package evidence

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// sourceBundle is a folder of inputs made from the fixtures, and the
// hashes of the messages they hold.
type sourceBundle struct {
	dir    string
	emls   map[string][]byte // fixture name -> bytes
	hashes map[[32]byte]string
}

func setupSources(t *testing.T) *sourceBundle {
	t.Helper()
	real := mimeReal(t)
	b := &sourceBundle{dir: t.TempDir(), emls: map[string][]byte{}, hashes: map[[32]byte]string{}}
	for _, name := range []string{"001-arf.eml", "002-bounce.eml", "038-jt-0498.eml", "056-russian.eml", "074-ending-boundaries.eml"} {
		data, err := os.ReadFile(filepath.Join(real, name))
		if err != nil {
			t.Fatal(err)
		}
		b.emls[name] = data
		b.hashes[sha256.Sum256(data)] = name
	}
	return b
}

// names returns the fixture names in a fixed order.
func (b *sourceBundle) names() []string {
	var n []string
	for name := range b.emls {
		n = append(n, name)
	}
	sort.Strings(n)
	return n
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// collect reads paths and returns the fixture names found (by hash) and
// the errors, as strings.
func collect(t *testing.T, b *sourceBundle, paths ...string) (found, sources, errs []string) {
	t.Helper()
	r, err := NewReader(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for raw, err := range r.Read(context.Background(), paths...) {
		if err != nil {
			errs = append(errs, strings.TrimPrefix(err.Error(), b.dir+string(filepath.Separator)))
			continue
		}
		if raw.SHA256 != sha256.Sum256(raw.Bytes) || raw.Size != int64(len(raw.Bytes)) {
			t.Errorf("%s: hash or size does not match its bytes", raw.Source)
		}
		name, ok := b.hashes[raw.SHA256]
		if !ok {
			name = "unknown:" + raw.Source
		}
		found = append(found, name)
		sources = append(sources, strings.TrimPrefix(raw.Source, b.dir+string(filepath.Separator)))
	}
	if p := r.Progress(); p.Messages != int64(len(found)) {
		t.Errorf("progress counts %d messages, %d were yielded", p.Messages, len(found))
	}
	return found, sources, errs
}

func TestReadMaildir(t *testing.T) {
	t.Parallel()
	b := setupSources(t)
	names := b.names()
	md := filepath.Join(b.dir, "Maildir")
	writeFile(t, filepath.Join(md, "cur", "1.host:2,S"), b.emls[names[0]])
	writeFile(t, filepath.Join(md, "new", "2.host"), b.emls[names[1]])
	writeFile(t, filepath.Join(md, "tmp", "3.host"), b.emls[names[2]]) // being delivered: ignored
	writeFile(t, filepath.Join(md, "dovecot-uidlist"), []byte("3 V1 N4\n"))
	writeFile(t, filepath.Join(md, ".Sent", "cur", "4.host:2,S"), b.emls[names[3]]) // Maildir++ subfolder
	found, _, errs := collect(t, b, md)
	want := []string{names[0], names[1], names[3]}
	if !slices.Equal(found, want) || errs != nil {
		t.Errorf("Maildir: found %q (errors %q), want %q", found, errs, want)
	}
}

func TestReadDirectoryOfEverything(t *testing.T) {
	t.Parallel()
	b := setupSources(t)
	names := b.names()
	writeFile(t, filepath.Join(b.dir, "in", "a.eml"), b.emls[names[0]])
	writeFile(t, filepath.Join(b.dir, "in", "sub", "Inbox"), mboxOf(b, names[1], names[2])) // Thunderbird: no extension
	writeFile(t, filepath.Join(b.dir, "in", "sub", "Inbox.msf"), []byte("// <!-- <mdb:mork:z v=\"1.4\"/> -->"))
	writeFile(t, filepath.Join(b.dir, "in", "notes.txt"), []byte("not mail at all\n"))
	found, sources, errs := collect(t, b, filepath.Join(b.dir, "in"))
	want := []string{names[0], names[1], names[2]}
	if !slices.Equal(found, want) {
		t.Errorf("found %q, want %q", found, want)
	}
	if !slices.Equal(sources, []string{"in/a.eml", "in/sub/Inbox#1", "in/sub/Inbox#2"}) {
		t.Errorf("sources %q", sources)
	}
	if len(errs) != 2 || !strings.Contains(errs[0], "notes.txt: not mail") || !strings.Contains(errs[1], "Inbox.msf: not mail") {
		t.Errorf("errors %q, want notes.txt and Inbox.msf reported as not mail", errs)
	}
}

// mboxOf writes messages as an mboxrd file, the way corpus.mbox was made.
func mboxOf(b *sourceBundle, names ...string) []byte {
	var out bytes.Buffer
	for _, n := range names {
		out.WriteString("From MAILER-DAEMON Thu Jan  1 00:00:00 2024\n")
		out.Write(escapeMboxrd(b.emls[n]))
		if !bytes.HasSuffix(b.emls[n], []byte("\n")) {
			out.WriteString("\n")
		}
		out.WriteString("\n")
	}
	return out.Bytes()
}

// escapeMboxrd adds a ">" to every line matching ">*From ".
func escapeMboxrd(b []byte) []byte {
	lines := bytes.SplitAfter(b, []byte("\n"))
	var out bytes.Buffer
	for _, l := range lines {
		if bytes.HasPrefix(bytes.TrimLeft(l, ">"), fromPrefix) {
			out.WriteByte('>')
		}
		out.Write(l)
	}
	return out.Bytes()
}

func TestReadArchives(t *testing.T) {
	t.Parallel()
	b := setupSources(t)
	names := b.names()
	members := []struct {
		name string
		data []byte
	}{
		{"Takeout/Mail/All mail.mbox", mboxOf(b, names[0], names[1])},
		{"export/one.eml", b.emls[names[2]]},
		{"export/Maildir/cur/17.host:2,S", b.emls[names[3]]},
		{"export/Maildir/tmp/18.host", b.emls[names[4]]},
		{"export/nested.zip", []byte("PK\x03\x04 nested")},
		{"README.txt", []byte("exported by a tool\n")},
	}
	var zbuf, tbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	gz := gzip.NewWriter(&tbuf)
	tw := tar.NewWriter(gz)
	for _, m := range members {
		w, err := zw.Create(m.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(m.data)
		if err := tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(m.data)
	}
	for _, c := range []io.Closer{zw, tw, gz} {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(b.dir, "takeout.zip"), zbuf.Bytes())
	writeFile(t, filepath.Join(b.dir, "takeout.tgz"), tbuf.Bytes())
	writeFile(t, filepath.Join(b.dir, "noext"), tbuf.Bytes()) // detected by content
	want := []string{names[0], names[1], names[2], names[3]}
	for _, archive := range []string{"takeout.zip", "takeout.tgz", "noext"} {
		found, sources, errs := collect(t, b, filepath.Join(b.dir, archive))
		if !slices.Equal(found, want) {
			t.Errorf("%s: found %q, want %q", archive, found, want)
		}
		if len(sources) > 1 && sources[1] != archive+"!Takeout/Mail/All mail.mbox#2" {
			t.Errorf("%s: second source %q", archive, sources[1])
		}
		if len(errs) != 2 || !strings.Contains(errs[0], "nested.zip: an archive inside an archive") ||
			!strings.Contains(errs[1], "README.txt: not mail") {
			t.Errorf("%s: errors %q", archive, errs)
		}
	}
}

func TestReadGzippedMbox(t *testing.T) {
	t.Parallel()
	b := setupSources(t)
	names := b.names()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	gz.Write(mboxOf(b, names[0], names[1]))
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(b.dir, "inbox.mbox.gz"), buf.Bytes())
	found, sources, errs := collect(t, b, filepath.Join(b.dir, "inbox.mbox.gz"))
	if !slices.Equal(found, names[:2]) || errs != nil || sources[1] != "inbox.mbox.gz#2" {
		t.Errorf("gzipped mbox: found %q as %q (errors %q)", found, sources, errs)
	}
}

func TestReadStream(t *testing.T) {
	t.Parallel()
	b := setupSources(t)
	names := b.names()
	r, err := NewReader(Config{})
	if err != nil {
		t.Fatal(err)
	}
	in := mboxOf(b, names...)
	var found []string
	for raw, err := range r.ReadStream(context.Background(), "upload", bytes.NewReader(in), int64(len(in))) {
		if err != nil {
			t.Fatal(err)
		}
		found = append(found, b.hashes[raw.SHA256])
	}
	// 074 has no final line end: the mbox gives it one (see mboxReader).
	want := slices.Clone(names)
	want[4] = ""
	if !slices.Equal(found, want) {
		t.Errorf("found %q, want %q", found, want)
	}
	if p := r.Progress(); p.BytesRead != int64(len(in)) || p.BytesTotal != int64(len(in)) || p.Messages != 5 {
		t.Errorf("progress %+v", p)
	}
	for _, err := range r.ReadStream(context.Background(), "a.zip", strings.NewReader("PK\x03\x04...."), -1) {
		if !errors.Is(err, ErrZipStream) {
			t.Errorf("zip from a stream: %v, want ErrZipStream", err)
		}
	}
}

func TestReadStopsEarlyAndOnCancel(t *testing.T) {
	t.Parallel()
	b := setupSources(t)
	names := b.names()
	path := filepath.Join(b.dir, "box.mbox")
	writeFile(t, path, mboxOf(b, names...))
	r, err := NewReader(Config{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range r.Read(context.Background(), path) {
		n++
		if n == 2 {
			break
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var last error
	n = 0
	for _, err := range r.Read(ctx, path) {
		n++
		cancel()
		last = err
	}
	if n != 2 || !errors.Is(last, context.Canceled) {
		t.Errorf("after cancel: %d yields, last error %v; want 2 and context.Canceled", n, last)
	}
}

func TestReadTooLarge(t *testing.T) {
	t.Parallel()
	b := setupSources(t)
	data := b.emls["002-bounce.eml"]
	path := filepath.Join(b.dir, "big.eml")
	writeFile(t, path, data)
	r, err := NewReader(Config{MaxMessageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for raw, err := range r.Read(context.Background(), path) {
		if err != nil || !raw.TooLarge || raw.Bytes != nil || raw.Size != int64(len(data)) || raw.SHA256 != sha256.Sum256(data) {
			t.Errorf("too large: %v tooLarge=%v size=%d kept=%v", err, raw.TooLarge, raw.Size, raw.Bytes != nil)
		}
	}
}
