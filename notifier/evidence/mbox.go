package evidence

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"hash"
	"io"
)

// mboxBufferSize is the line buffer of the mbox reader. A line longer than
// this is read in pieces; only its first piece can start a separator or an
// escaped "From ", so nothing is lost.
const mboxBufferSize = 64 << 10

// mboxMessage is one message split out of an mbox, before it becomes a Raw.
type mboxMessage struct {
	// fromLine is the separator line that opened the message, with its line
	// end; nil for text before the first separator (a file that does not
	// start with "From ").
	fromLine []byte
	// data is the message with mboxrd escaping undone; nil when tooLarge.
	data     []byte
	size     int64
	sum      [32]byte
	tooLarge bool
	// trailer is the blank line that ended the message and belongs to the
	// mbox format, not to the message (empty when the message ran to the end
	// of the file without one).
	trailer []byte
}

// mboxReader splits an mbox stream into messages one at a time, holding
// at most one message (bounded by max) in memory.
//
// The rules, chosen to read what Thunderbird (mboxo) and Google Takeout
// (mboxrd) write and the way the fixtures' corpus.mbox was made:
//   - a message starts at a line beginning "From " at the start of the
//     file or after a blank line ("\n" or "\r\n"); a "From " line elsewhere
//     is body text;
//   - the blank line before a separator, and one final blank line at the
//     end of the file, belong to the format and are dropped;
//   - with unescape (mboxrd) a line matching ">+From " loses one ">";
//   - text before the first separator is a message of its own unless it is
//     only blank lines.
//
// A writer that appends a line end to a message lacking one before the
// separating blank line makes "X" and "X\n" indistinguishable: such a
// message is read back with a final line end it did not have.
type mboxReader struct {
	br       *bufio.Reader
	max      int64
	unescape bool

	started bool   // a line has been read
	pending []byte // the next message's separator line, already read
	eof     bool
}

func newMboxReader(r io.Reader, max int64, unescape bool) *mboxReader {
	return &mboxReader{br: bufio.NewReaderSize(r, mboxBufferSize), max: max, unescape: unescape}
}

// msgBuilder accumulates one message: hashed whole, kept up to max bytes.
type msgBuilder struct {
	h        hash.Hash
	buf      []byte
	size     int64
	max      int64
	tooLarge bool
}

func newMsgBuilder(max int64) *msgBuilder {
	return &msgBuilder{h: sha256.New(), max: max}
}

func (b *msgBuilder) Write(p []byte) (int, error) {
	b.h.Write(p)
	b.size += int64(len(p))
	if b.tooLarge {
		return len(p), nil
	}
	if b.size > b.max {
		b.tooLarge = true
		b.buf = nil
		return len(p), nil
	}
	if need := len(b.buf) + len(p); need > cap(b.buf) {
		// Grow by doubling as append would, but never past max: a
		// message near the limit costs the limit, not twice it.
		grown := make([]byte, len(b.buf), min(max(2*cap(b.buf), need, 4<<10), int(b.max)))
		copy(grown, b.buf)
		b.buf = grown
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *msgBuilder) finish() (data []byte, size int64, sum [32]byte, tooLarge bool) {
	b.h.Sum(sum[:0])
	if !b.tooLarge {
		data = b.buf
		if data == nil {
			data = []byte{}
		}
	}
	return data, b.size, sum, b.tooLarge
}

// readPiece returns the next piece of a line: a whole line with its line
// end, or (for lines longer than the buffer, or the last line of a file
// without a line end) a part of one; complete says whether the piece ends
// the line.
func (m *mboxReader) readPiece() (piece []byte, complete bool, err error) {
	piece, err = m.br.ReadSlice('\n')
	switch {
	case err == nil:
		return piece, true, nil
	case errors.Is(err, bufio.ErrBufferFull):
		return piece, false, nil
	case errors.Is(err, io.EOF):
		if len(piece) == 0 {
			return nil, false, io.EOF
		}
		return piece, true, nil
	}
	return nil, false, err
}

func isBlankLine(p []byte) bool {
	return (len(p) == 1 && p[0] == '\n') || (len(p) == 2 && p[0] == '\r' && p[1] == '\n')
}

var fromPrefix = []byte("From ")

// isEscapedFrom reports whether p starts with one or more '>' then "From ".
func isEscapedFrom(p []byte) bool {
	i := 0
	for i < len(p) && p[i] == '>' {
		i++
	}
	return i > 0 && bytes.HasPrefix(p[i:], fromPrefix)
}

// maxFromLine bounds how much of a separator line is kept; the rest of an
// absurdly long one is read and dropped (it is not message content).
const maxFromLine = 4 << 10

// next returns the next message, or io.EOF after the last one.
func (m *mboxReader) next() (mboxMessage, error) {
	for {
		msg, empty, err := m.readOne()
		if err != nil || !empty {
			return msg, err
		}
		if m.eof && m.pending == nil {
			return mboxMessage{}, io.EOF
		}
	}
}

// readOne reads up to the next separator or the end of the input; empty
// reports that there was nothing but blank lines before the first
// separator (or nothing at all).
func (m *mboxReader) readOne() (msg mboxMessage, empty bool, err error) {
	msg.fromLine, m.pending = m.pending, nil
	if m.eof && msg.fromLine == nil {
		return msg, true, nil
	}
	b := newMsgBuilder(m.max)
	afterBlank := !m.started // a separator may start here
	atLineStart := true
	nonBlank := false // the message has a line that is not blank
	var blank []byte  // a blank line held back: it may precede a separator
	for {
		piece, complete, err := m.readPiece()
		if errors.Is(err, io.EOF) {
			m.eof = true
			msg.trailer = blank
			break
		}
		if err != nil {
			return msg, false, err
		}
		m.started = true
		if atLineStart && afterBlank && bytes.HasPrefix(piece, fromPrefix) {
			line, err := m.restOfLine(piece, complete)
			if err != nil {
				return msg, false, err
			}
			if msg.fromLine == nil && !nonBlank {
				// The file's first separator, after nothing or only blank lines.
				msg.fromLine = line
				b = newMsgBuilder(m.max)
				blank, afterBlank = nil, false
				continue
			}
			m.pending = line
			msg.trailer = blank
			break
		}
		if atLineStart && complete && isBlankLine(piece) {
			if blank != nil {
				b.Write(blank)
			}
			blank = append(blank[:0:0], piece...)
			afterBlank = true
			continue
		}
		if blank != nil {
			b.Write(blank)
			blank = nil
		}
		if atLineStart && m.unescape && isEscapedFrom(piece) {
			piece = piece[1:]
		}
		b.Write(piece)
		nonBlank, afterBlank, atLineStart = true, false, complete
	}
	msg.data, msg.size, msg.sum, msg.tooLarge = b.finish()
	return msg, msg.fromLine == nil && !nonBlank, nil
}

// restOfLine copies a separator line whose first piece is first, reading
// the rest of it if it is longer than the buffer.
func (m *mboxReader) restOfLine(first []byte, complete bool) ([]byte, error) {
	line := append([]byte(nil), first...)
	for !complete {
		piece, c, err := m.readPiece()
		if errors.Is(err, io.EOF) {
			m.eof = true
			break
		}
		if err != nil {
			return nil, err
		}
		if len(line) < maxFromLine {
			line = append(line, piece[:min(len(piece), maxFromLine-len(line))]...)
		}
		complete = c
	}
	return line, nil
}
