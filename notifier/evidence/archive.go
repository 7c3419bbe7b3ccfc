package evidence

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"
)

// readDir reads a directory: a Maildir (it has cur/ or new/) or a folder
// of mail files, recursively. Symbolic links are not followed, so a link
// loop cannot make the walk endless.
func (r *Reader) readDir(ctx context.Context, dir string, emit emitFunc) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return emit(Raw{Source: dir}, &SourceError{Source: dir, Err: err})
	}
	maildir := isMaildir(entries)
	if maildir {
		for _, sub := range []string{"cur", "new"} {
			if err := r.readMaildirFolder(ctx, filepath.Join(dir, sub), emit); err != nil {
				return err
			}
		}
	}
	for _, e := range entries {
		name := e.Name()
		p := filepath.Join(dir, name)
		switch {
		case maildir && (name == "cur" || name == "new" || name == "tmp"):
			continue
		case maildir && !e.IsDir():
			// dovecot-uidlist, maildirfolder, courier files: the Maildir's
			// own bookkeeping, not mail.
			continue
		case e.IsDir():
			if err := r.readDir(ctx, p, emit); err != nil {
				return err
			}
		case e.Type().IsRegular():
			fi, err := e.Info()
			if err != nil {
				if err := emit(Raw{Source: p}, &SourceError{Source: p, Err: err}); err != nil {
					return err
				}
				continue
			}
			if err := r.readFile(ctx, p, fi.Size(), emit); err != nil {
				return err
			}
		}
	}
	return nil
}

func isMaildir(entries []os.DirEntry) bool {
	for _, e := range entries {
		if e.IsDir() && (e.Name() == "cur" || e.Name() == "new") {
			return true
		}
	}
	return false
}

// readMaildirFolder reads cur/ or new/ of a Maildir: every file is one
// message, whatever its first bytes.
func (r *Reader) readMaildirFolder(_ context.Context, dir string, emit emitFunc) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return emit(Raw{Source: dir}, &SourceError{Source: dir, Err: err})
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if err := r.readMaildirFile(p, emit); err != nil {
			return err
		}
	}
	return nil
}

func (r *Reader) readMaildirFile(p string, emit emitFunc) error {
	f, err := os.Open(p)
	if err != nil {
		return emit(Raw{Source: p}, &SourceError{Source: p, Err: err})
	}
	defer f.Close()
	return r.readEML(p, &countingReader{r: f, n: &r.bytesRead}, emit)
}

// memberName names an archive member as a source.
func memberName(archive, member string) string { return archive + "!" + member }

// maildirMember reports whether an archive member lies in a Maildir's
// cur/ or new/ (one message per file) or tmp/ (to be ignored).
func maildirMember(name string) (message, ignore bool) {
	switch path.Base(path.Dir(name)) {
	case "cur", "new":
		return true, false
	case "tmp":
		return false, true
	}
	return false, false
}

// readTar reads the members of a tar (gzipped or not) from a stream; a
// gzip that holds no tar is read as the mbox or message it holds.
func (r *Reader) readTar(ctx context.Context, name string, rd io.Reader, gzipped bool, emit emitFunc) error {
	if gzipped {
		gz, err := gzip.NewReader(rd)
		if err != nil {
			return emit(Raw{Source: name}, &SourceError{Source: name, Err: err})
		}
		defer gz.Close()
		br := bufio.NewReaderSize(gz, mboxBufferSize)
		if head, _ := br.Peek(sniffLen); detect("", head) != kindTar {
			// A gzipped mbox or message (inbox.mbox.gz), not a tar.
			return r.readStream(ctx, name, br, emit, true)
		}
		rd = br
	}
	tr := tar.NewReader(rd)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return emit(Raw{Source: name}, &SourceError{Source: name, Err: err})
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if err := r.readMember(ctx, name, h.Name, tr, emit); err != nil {
			return err
		}
	}
}

// readMember reads one regular archive member.
func (r *Reader) readMember(ctx context.Context, archive, member string, rd io.Reader, emit emitFunc) error {
	src := memberName(archive, member)
	message, ignore := maildirMember(member)
	switch {
	case ignore:
		return nil
	case message:
		return r.readEML(src, rd, emit)
	}
	return r.readStream(ctx, src, rd, emit, true)
}

// readZip reads the members of a zip file in their stored order (the
// order of the file, so reading is sequential).
func (r *Reader) readZip(ctx context.Context, name string, f *os.File, size int64, emit emitFunc) error {
	zr, err := zip.NewReader(&countingReaderAt{r: f, n: &r.bytesRead}, size)
	if err != nil {
		return emit(Raw{Source: name}, &SourceError{Source: name, Err: err})
	}
	for _, zf := range zr.File {
		if zf.FileInfo().IsDir() || strings.HasSuffix(zf.Name, "/") {
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			if err := emit(Raw{Source: memberName(name, zf.Name)}, &SourceError{Source: memberName(name, zf.Name), Err: err}); err != nil {
				return err
			}
			continue
		}
		err = r.readMember(ctx, name, zf.Name, rc, emit)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// countingReaderAt adds the bytes read through it to n.
type countingReaderAt struct {
	r io.ReaderAt
	n *atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}
