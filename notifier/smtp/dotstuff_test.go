package smtp

import (
	"bufio"
	"bytes"
	"net/textproto"
	"testing"
)

// textprotoDot is what net/textproto's DotWriter writes for b.
func textprotoDot(b []byte) []byte {
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	w := textproto.NewWriter(bw).DotWriter()
	_, _ = w.Write(b)
	_ = w.Close()
	return out.Bytes()
}

func TestDotStuffMatchesTextproto(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"", ".", "..", "a", "a\r\n", "a\n", "a\r", "\r", "\n", "\r\n", ".\r\n", "a\r\n.\r\nb", "a\n.b\n..c",
		"\r\r\n", "\r.\n", "a\r\n.", "x\r\n\r\n.\r\n", "line\r\n.hidden\r\nend", "\n\n.\n",
	} {
		if got, want := dotStuff(nil, []byte(in)), textprotoDot([]byte(in)); !bytes.Equal(got, want) {
			t.Errorf("dotStuff(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzDotStuff(f *testing.F) {
	f.Add([]byte("Subject: x\r\n\r\n.line\r\nbare\nlone\r.\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		if got, want := dotStuff([]byte("keep"), in), append([]byte("keep"), textprotoDot(in)...); !bytes.Equal(got, want) {
			t.Fatalf("dotStuff(%q) = %q, want %q", in, got, want)
		}
	})
}
