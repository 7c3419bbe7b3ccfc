package capture

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestSkipDataFindsTheEndAcrossReads(t *testing.T) {
	t.Parallel()
	body := "Subject: x\r\n\r\n..dot-stuffed\r\n.\r\n"
	for _, in := range []string{body, ".\r\n", "a\r\n.\r\n", strings.Repeat("line of text\r\n", 3000) + ".\r\n"} {
		// One byte per read puts the end across every possible boundary.
		for name, r := range map[string]io.Reader{"whole": strings.NewReader(in + "NEXT"), "bytewise": iotest.OneByteReader(strings.NewReader(in + "NEXT"))} {
			br := bufio.NewReaderSize(r, 16)
			if err := skipData(br); err != nil {
				t.Fatalf("%s %q: %v", name, in[:min(len(in), 20)], err)
			}
			rest, _ := io.ReadAll(br)
			if !bytes.Equal(rest, []byte("NEXT")) {
				t.Errorf("%s %q: left %q, want NEXT", name, in[:min(len(in), 20)], rest)
			}
		}
	}
	if err := skipData(bufio.NewReader(strings.NewReader("no end\r\n"))); err == nil {
		t.Error("a body without its end was accepted")
	}
}
