package evidence

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
)

// MaxMessageSizeDefault is the largest message kept in memory for parsing
// unless Config.MaxMessageSize says otherwise.
const MaxMessageSizeDefault = 64 << 20

// Raw is one message as it was stored: its bytes exactly, and where it
// came from.
type Raw struct {
	// Source says where the message was found: a file path, an archive
	// member ("takeout.zip!Mail/All mail.mbox#12"), a Maildir file, with
	// "#N" numbering the messages of an mbox from 1.
	Source string
	// Bytes are the message's bytes (mboxrd escaping undone); nil when
	// TooLarge.
	Bytes []byte
	// Size is the message's length in bytes, also when TooLarge.
	Size int64
	// SHA256 identifies the message: the hash of all its bytes, also when
	// TooLarge.
	SHA256 [32]byte
	// TooLarge says the message was over Config.MaxMessageSize: it was
	// hashed and measured but not kept, and Parse reports it unparseable.
	TooLarge bool
}

// Config sets how a Reader reads its inputs.
type Config struct {
	// MaxMessageSize is the largest message kept in memory, in bytes; a
	// larger one is still hashed and measured and comes back TooLarge.
	// Zero means MaxMessageSizeDefault.
	MaxMessageSize int64
	// MboxO reads mbox files as mboxo: ">From " lines are left as they
	// are. The default, mboxrd, removes one ">" from lines matching
	// ">+From " (what Google Takeout and most tools write; for an mboxo
	// file it turns a body's original ">From " into "From ").
	MboxO bool
}

func (c Config) withDefaults() (Config, error) {
	if c.MaxMessageSize < 0 {
		return c, fmt.Errorf("evidence: MaxMessageSize %d is negative", c.MaxMessageSize)
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = MaxMessageSizeDefault
	}
	return c, nil
}

// Errors a Reader yields for an input (or an archive member) it skips.
// Each comes wrapped in a *SourceError that names the input.
var (
	// ErrNotMail: the file is neither a message, an mbox, a Maildir nor
	// an archive of those.
	ErrNotMail = errors.New("not mail: neither a message, an mbox, a Maildir nor a zip or tar archive")
	// ErrNestedArchive: an archive inside an archive is not opened.
	ErrNestedArchive = errors.New("an archive inside an archive is not opened: unpack it and scan it on its own")
	// ErrZipStream: a zip archive needs random access, which a stream
	// does not give.
	ErrZipStream = errors.New("a zip archive cannot be read from a stream: give it as a file")
)

// SourceError is an input, or part of one, that could not be read or was
// skipped. The Reader goes on with the next input.
type SourceError struct {
	// Source names the input or member, as Raw.Source does.
	Source string
	// Err is why: ErrNotMail, ErrNestedArchive, ErrZipStream, an I/O error.
	Err error
}

// Error names the source and the reason.
func (e *SourceError) Error() string { return e.Source + ": " + e.Err.Error() }

// Unwrap gives the reason, for errors.Is.
func (e *SourceError) Unwrap() error { return e.Err }

// Progress is how far a Reader has got, readable while it reads.
type Progress struct {
	// Messages yielded so far.
	Messages int64
	// BytesRead of the inputs as stored (compressed archives count their
	// compressed bytes), so it compares with BytesTotal.
	BytesRead int64
	// BytesTotal is the size of all inputs, or -1 while unknown (a
	// directory still being measured, or a stream of unknown size).
	BytesTotal int64
}

// Reader streams the messages of files, directories and archives, one at
// a time, with memory bounded by Config.MaxMessageSize whatever the size
// of the inputs. One Reader reads one set of inputs at a time; Progress
// may be called from any goroutine.
type Reader struct {
	cfg        Config
	generation atomic.Int64 // which Read the size measurement is for
	messages   atomic.Int64
	bytesRead  atomic.Int64
	bytesTotal atomic.Int64
}

// NewReader returns a Reader for cfg.
func NewReader(cfg Config) (*Reader, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	r := &Reader{cfg: cfg}
	r.bytesTotal.Store(-1)
	return r, nil
}

// Progress returns the counters of the current (or last) read.
func (r *Reader) Progress() Progress {
	return Progress{
		Messages:   r.messages.Load(),
		BytesRead:  r.bytesRead.Load(),
		BytesTotal: r.bytesTotal.Load(),
	}
}

// errStop ends a walk when the consumer stopped iterating.
var errStop = errors.New("stop")

// emitFunc hands one message or one skipped input to the consumer; it
// returns errStop when the consumer wants no more.
type emitFunc func(Raw, error) error

// Read yields every message found under paths: files (.eml, mbox, zip,
// tar, tar.gz), Maildir folders and directories of those, recursively.
// A non-nil error is a *SourceError for an input that was skipped or
// could not be read (the iteration goes on), or the context's error
// (the last one yielded).
func (r *Reader) Read(ctx context.Context, paths ...string) iter.Seq2[Raw, error] {
	return func(yield func(Raw, error) bool) {
		r.reset()
		go r.measure(ctx, r.generation.Add(1), paths)
		emit := r.emitter(ctx, yield)
		for _, p := range paths {
			if err := r.readPath(ctx, p, emit); errors.Is(err, errStop) {
				return
			}
		}
	}
}

// ReadStream yields the messages of one input given as a stream: an mbox,
// a single message, a tar or tar.gz archive (detected by content, or by
// name's extension). size is its length if known, else -1.
func (r *Reader) ReadStream(ctx context.Context, name string, rd io.Reader, size int64) iter.Seq2[Raw, error] {
	return func(yield func(Raw, error) bool) {
		r.reset()
		r.generation.Add(1)
		r.bytesTotal.Store(size)
		emit := r.emitter(ctx, yield)
		_ = r.readStream(ctx, name, &countingReader{r: rd, n: &r.bytesRead}, emit, false)
	}
}

func (r *Reader) reset() {
	r.messages.Store(0)
	r.bytesRead.Store(0)
	r.bytesTotal.Store(-1)
}

func (r *Reader) emitter(ctx context.Context, yield func(Raw, error) bool) emitFunc {
	return func(raw Raw, err error) error {
		if ctxErr := ctx.Err(); ctxErr != nil {
			yield(Raw{}, ctxErr)
			return errStop
		}
		if err == nil {
			r.messages.Add(1)
		}
		if !yield(raw, err) {
			return errStop
		}
		return nil
	}
}

// measure adds up the sizes of all inputs for Progress.BytesTotal.
func (r *Reader) measure(ctx context.Context, generation int64, paths []string) {
	var total int64
	for _, p := range paths {
		err := filepath.WalkDir(p, func(_ string, d os.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if d.Type().IsRegular() {
				if fi, err := d.Info(); err == nil {
					total += fi.Size()
				}
			}
			return nil
		})
		if err != nil {
			return
		}
	}
	if r.generation.Load() == generation {
		r.bytesTotal.Store(total)
	}
}

// readPath reads one file or directory.
func (r *Reader) readPath(ctx context.Context, path string, emit emitFunc) error {
	fi, err := os.Stat(path)
	if err != nil {
		return emit(Raw{Source: path}, &SourceError{Source: path, Err: err})
	}
	if fi.IsDir() {
		return r.readDir(ctx, path, emit)
	}
	if !fi.Mode().IsRegular() {
		return emit(Raw{Source: path}, &SourceError{Source: path, Err: ErrNotMail})
	}
	return r.readFile(ctx, path, fi.Size(), emit)
}

// readFile reads one regular file of any kind.
func (r *Reader) readFile(ctx context.Context, path string, size int64, emit emitFunc) error {
	f, err := os.Open(path)
	if err != nil {
		return emit(Raw{Source: path}, &SourceError{Source: path, Err: err})
	}
	defer f.Close()
	head := make([]byte, sniffLen)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return emit(Raw{Source: path}, &SourceError{Source: path, Err: err})
	}
	if detect(path, head[:n]) == kindZip {
		return r.readZip(ctx, path, f, size, emit)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return emit(Raw{Source: path}, &SourceError{Source: path, Err: err})
	}
	return r.readStream(ctx, path, &countingReader{r: f, n: &r.bytesRead}, emit, false)
}

// readStream reads one input of any kind but zip from a stream; inArchive
// says it is an archive member (so another archive is not opened).
func (r *Reader) readStream(ctx context.Context, name string, rd io.Reader, emit emitFunc, inArchive bool) error {
	br := bufio.NewReaderSize(rd, mboxBufferSize)
	head, err := br.Peek(sniffLen)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return emit(Raw{Source: name}, &SourceError{Source: name, Err: err})
	}
	switch k := detect(name, head); k {
	case kindEML:
		return r.readEML(name, br, emit)
	case kindMbox:
		return r.readMbox(name, br, emit)
	case kindZip, kindGzip, kindTar:
		if inArchive {
			return emit(Raw{Source: name}, &SourceError{Source: name, Err: ErrNestedArchive})
		}
		if k == kindZip {
			return emit(Raw{Source: name}, &SourceError{Source: name, Err: ErrZipStream})
		}
		return r.readTar(ctx, name, br, k == kindGzip, emit)
	case kindOutlook:
		return emit(Raw{Source: name}, &SourceError{Source: name, Err: errOutlook})
	default:
		return emit(Raw{Source: name}, &SourceError{Source: name, Err: ErrNotMail})
	}
}

// readEML reads a stream holding exactly one message.
func (r *Reader) readEML(name string, rd io.Reader, emit emitFunc) error {
	b := newMsgBuilder(r.cfg.MaxMessageSize)
	if _, err := io.Copy(b, rd); err != nil {
		return emit(Raw{Source: name}, &SourceError{Source: name, Err: err})
	}
	data, size, sum, tooLarge := b.finish()
	return emit(Raw{Source: name, Bytes: data, Size: size, SHA256: sum, TooLarge: tooLarge}, nil)
}

// readMbox reads the messages of an mbox stream.
func (r *Reader) readMbox(name string, rd io.Reader, emit emitFunc) error {
	m := newMboxReader(rd, r.cfg.MaxMessageSize, !r.cfg.MboxO)
	for i := 1; ; i++ {
		msg, err := m.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		src := fmt.Sprintf("%s#%d", name, i)
		if err != nil {
			return emit(Raw{Source: src}, &SourceError{Source: src, Err: err})
		}
		raw := Raw{Source: src, Bytes: msg.data, Size: msg.size, SHA256: msg.sum, TooLarge: msg.tooLarge}
		if err := emit(raw, nil); err != nil {
			return err
		}
	}
}

// countingReader adds the bytes read through it to n.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// kind is what an input holds.
type kind int

const (
	kindNotMail kind = iota
	kindEML
	kindMbox
	kindZip
	kindGzip // gzip, expected to hold a tar
	kindTar
	kindOutlook
)

var errOutlook = errors.New("an Outlook .msg/.pst file (OLE or PST format) is not read: export it as .eml or mbox")

// sniffLen is how much of an input detect looks at (a tar header's magic
// is at offset 257).
const sniffLen = 512

// detect tells an input's kind from its first bytes, then its name.
func detect(name string, head []byte) kind {
	lower := strings.ToLower(name)
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return kindZip
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return kindGzip
	case len(head) >= 262 && bytes.Equal(head[257:262], []byte("ustar")):
		return kindTar
	case bytes.HasPrefix(head, []byte{0xd0, 0xcf, 0x11, 0xe0}), bytes.HasPrefix(head, []byte("!BDN")):
		return kindOutlook
	case bytes.HasPrefix(head, fromPrefix) && !strings.HasSuffix(lower, ".eml"):
		return kindMbox
	case strings.HasSuffix(lower, ".mbox"), strings.HasSuffix(lower, ".mbx"):
		return kindMbox
	case strings.HasSuffix(lower, ".eml"):
		return kindEML
	case looksLikeHeader(head):
		return kindEML
	}
	return kindNotMail
}

// looksLikeHeader reports whether head starts with a header field
// ("Name: value"), as a message file without a known extension does.
func looksLikeHeader(head []byte) bool {
	for i, c := range head {
		switch {
		case c == ':':
			return i > 0
		case c < '!' || c > '~':
			return false
		}
	}
	return false
}
