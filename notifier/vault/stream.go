package vault

import (
	"bufio"
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
)

// SegmentSize is the plaintext of one sealed segment: what decryption
// holds in memory at a time.
const SegmentSize = 64 << 10

const (
	streamVersion = 1
	saltSize      = 16
	headerSize    = 1 + saltSize
	tagSize       = 16
)

// Encrypt returns a writer that encrypts what is written to it into dst
// as object (a name unique within the data key's scope, such as a
// message's SHA-256; it is bound into the ciphertext). Close seals the
// last segment: a stream that was not closed does not open.
func (d *DataKey) Encrypt(dst io.Writer, object string) (io.WriteCloser, error) {
	salt := make([]byte, saltSize)
	rand.Read(salt)
	aead, err := d.objectKey(salt, object)
	if err != nil {
		return nil, err
	}
	if _, err := dst.Write(append([]byte{streamVersion}, salt...)); err != nil {
		return nil, err
	}
	return &encrypter{dst: dst, aead: aead, buf: make([]byte, 0, SegmentSize+tagSize)}, nil
}

type encrypter struct {
	dst     io.Writer
	aead    cipher.AEAD
	buf     []byte // plaintext not yet sealed; at most SegmentSize
	out     []byte
	counter uint64
	err     error
	closed  bool
}

func (e *encrypter) Write(p []byte) (int, error) {
	if e.closed {
		return 0, errors.New("vault: write after close")
	}
	n := 0
	for len(p) > 0 && e.err == nil {
		// A full segment is sealed only when more follows: the last one,
		// full or not, is sealed by Close with the last flag.
		if len(e.buf) == SegmentSize {
			e.seal(false)
			continue
		}
		k := copy(e.buf[len(e.buf):SegmentSize], p)
		e.buf = e.buf[:len(e.buf)+k]
		p, n = p[k:], n+k
	}
	return n, e.err
}

func (e *encrypter) Close() error {
	if e.closed {
		return e.err
	}
	e.closed = true
	if e.err == nil {
		e.seal(true)
	}
	return e.err
}

func (e *encrypter) seal(last bool) {
	e.out = e.aead.Seal(e.out[:0], segmentNonce(e.counter, last), e.buf, nil)
	e.counter++
	e.buf = e.buf[:0]
	_, e.err = e.dst.Write(e.out)
}

// segmentNonce is a segment's GCM nonce: its index and whether it is the
// last. Each object has a key of its own, so an index never repeats
// under one key.
func segmentNonce(i uint64, last bool) []byte {
	n := make([]byte, 12)
	binary.BigEndian.PutUint64(n[3:11], i)
	if last {
		n[11] = 1
	}
	return n
}

// Decrypt returns a reader of the plaintext of object, encrypted into src
// by Encrypt. Every segment is checked before any of its bytes is
// returned; a failure is ErrUnreadable.
func (d *DataKey) Decrypt(src io.Reader, object string) (io.Reader, error) {
	header := make([]byte, headerSize)
	if _, err := io.ReadFull(src, header); err != nil || header[0] != streamVersion {
		return nil, ErrUnreadable
	}
	aead, err := d.objectKey(header[1:], object)
	if err != nil {
		return nil, err
	}
	return &decrypter{src: bufio.NewReaderSize(src, SegmentSize+tagSize+1), aead: aead,
		sealed: make([]byte, SegmentSize+tagSize)}, nil
}

type decrypter struct {
	src     *bufio.Reader
	aead    cipher.AEAD
	sealed  []byte
	plain   []byte // opened, not yet read
	counter uint64
	done    bool
	err     error
}

func (r *decrypter) Read(p []byte) (int, error) {
	for len(r.plain) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.done {
			return 0, io.EOF
		}
		r.next()
	}
	n := copy(p, r.plain)
	r.plain = r.plain[n:]
	return n, nil
}

// next opens the next segment. A short segment, or a full one with
// nothing after it, must be the last.
func (r *decrypter) next() {
	n, err := io.ReadFull(r.src, r.sealed)
	var last bool
	switch {
	case err == nil:
		_, peek := r.src.Peek(1)
		last = errors.Is(peek, io.EOF)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		last = true
	default:
		r.err = err
		return
	}
	plain, err := r.aead.Open(r.sealed[:0], segmentNonce(r.counter, last), r.sealed[:n], nil)
	if err != nil {
		r.err = ErrUnreadable
		return
	}
	r.counter++
	r.plain, r.done = plain, last
}

// Seal encrypts a small object whole (Encrypt into memory).
func (d *DataKey) Seal(object string, plaintext []byte) ([]byte, error) {
	var b bytes.Buffer
	w, err := d.Encrypt(&b, object)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(plaintext); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Open decrypts what Seal (or Encrypt) produced for object.
func (d *DataKey) Open(object string, sealed []byte) ([]byte, error) {
	r, err := d.Decrypt(bytes.NewReader(sealed), object)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}
