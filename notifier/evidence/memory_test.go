package evidence

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"testing"
	"time"
)

// generateMbox writes an mbox of about size bytes to w: messages of 2 to
// 50 KB, each with an escaped "From " line in its body, and message number
// huge of 40 MB. It holds no message whole, so the heap measured is the
// reader's.
func generateMbox(w io.Writer, size int64, huge int) (messages int, err error) {
	line := []byte("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/\n")
	bw := bufio.NewWriterSize(w, 64<<10)
	var written int64
	for i := 0; written < size; i++ {
		n, _ := fmt.Fprintf(bw, "From sender%d@example.com Thu Jan  1 00:00:00 2024\n"+
			"From: Sender %d <sender%d@org%d.example>\nTo: someone@contoso.com\nSubject: message %d\n"+
			"Message-ID: <%d@gen.example>\n\n>From the body, escaped\n", i, i, i, i%50, i, i)
		written += int64(n)
		body := 2<<10 + (i*7919)%(48<<10)
		if i == huge {
			body = 40 << 20
		}
		for b := 0; b < body; b += len(line) {
			n, _ := bw.Write(line)
			written += int64(n)
		}
		n, err = bw.WriteString("\n")
		written += int64(n)
		if err != nil {
			return messages, err
		}
		messages++
	}
	return messages, bw.Flush()
}

// TestReadMemoryFlat streams a generated mbox of 200 MB through a pipe
// (nothing on disk) and reports the peak heap, which must stay far below
// the input's size: one message at a time is held, and the 40 MB message
// over a 16 MB limit is hashed, not kept.
func TestReadMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 200 MB")
	}
	const size, hugeAt = 200 << 20, 3000
	pr, pw := io.Pipe()
	generated := make(chan int, 1)
	go func() {
		n, err := generateMbox(pw, size, hugeAt)
		pw.CloseWithError(err)
		generated <- n
	}()
	r, err := NewReader(Config{MaxMessageSize: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak, peakOrdinary uint64
	var count, tooLarge int
	var bytesIn int64
	start := time.Now()
	for raw, err := range r.ReadStream(context.Background(), "generated.mbox", pr, -1) {
		if err != nil {
			t.Fatal(err)
		}
		count++
		bytesIn += raw.Size
		if raw.TooLarge {
			tooLarge++
		}
		if count%200 == 0 || raw.TooLarge {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
			if count < hugeAt {
				peakOrdinary = max(peakOrdinary, ms.HeapAlloc)
			}
		}
	}
	elapsed := time.Since(start)
	if want := <-generated; count != want || tooLarge != 1 {
		t.Fatalf("read %d messages (%d too large), generated %d (1 too large)", count, tooLarge, want)
	}
	runtime.ReadMemStats(&ms)
	t.Logf("streamed %d messages, %.0f MB, in %v (%.0f MB/s): peak heap %.1f MB (%.1f MB before; %.1f MB over the messages before the 40 MB one, which costs its 16 MB buffer given up and the garbage of growing it), %.0f MB allocated in total",
		count, float64(bytesIn)/1e6, elapsed.Round(time.Millisecond), float64(bytesIn)/1e6/elapsed.Seconds(),
		float64(peak)/1e6, float64(base)/1e6, float64(peakOrdinary)/1e6, float64(ms.TotalAlloc)/1e6)
	if peak > 64<<20 {
		t.Errorf("peak heap %d MB while streaming 200 MB: memory is not flat", peak>>20)
	}
}

// corpusMessages returns the 101 real messages as Raws.
func corpusMessages(b *testing.B) []Raw {
	dir := mimeReal(b)
	paths, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil {
		b.Fatal(err)
	}
	sort.Strings(paths)
	var raws []Raw
	for _, p := range paths {
		raws = append(raws, readRawFile(b, p))
	}
	return raws
}

// BenchmarkParse parses the 101 real messages (1.1 MB; one of 570 KB
// weighs much) and prints messages/s and MB/s.
func BenchmarkParse(b *testing.B) {
	raws := corpusMessages(b)
	p, err := NewParser(ParserConfig{})
	if err != nil {
		b.Fatal(err)
	}
	var size int64
	for _, r := range raws {
		size += r.Size
	}
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		for _, r := range raws {
			p.Parse(r)
		}
	}
	perSec := float64(b.N*len(raws)) / b.Elapsed().Seconds()
	b.ReportMetric(perSec, "msgs/s")
}

// BenchmarkReadMbox splits corpus.mbox from memory and prints messages/s.
func BenchmarkReadMbox(b *testing.B) {
	in, err := os.ReadFile(filepath.Join(mimeReal(b), "corpus.mbox"))
	if err != nil {
		b.Fatal(err)
	}
	r, err := NewReader(Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(in)))
	n := 0
	for b.Loop() {
		for _, err := range r.ReadStream(context.Background(), "corpus.mbox", bytes.NewReader(in), int64(len(in))) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
}
