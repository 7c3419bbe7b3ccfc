package vault_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/breachnotify/breachnotify/notifier/vault"
)

func key(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, vault.KeySize)
	rand.Read(k)
	return k
}

func keyring(t testing.TB, keys ...[]byte) *vault.Keyring {
	t.Helper()
	r, err := vault.NewKeyring(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRoundTrip encrypts objects of the sizes that matter to the segment
// boundaries and reads them back, written and read in odd-sized pieces.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	dk, _, err := keyring(t, key(t)).NewDataKey("incident 1")
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{0, 1, vault.SegmentSize - 1, vault.SegmentSize, vault.SegmentSize + 1, 3*vault.SegmentSize + 17, 2 * vault.SegmentSize} {
		plain := make([]byte, size)
		rand.Read(plain)
		var sealed bytes.Buffer
		w, err := dk.Encrypt(&sealed, "msg")
		if err != nil {
			t.Fatal(err)
		}
		// Write in pieces of 1000 bytes, as a streamed import would.
		for p := plain; len(p) > 0; {
			n := min(1000, len(p))
			if _, err := w.Write(p[:n]); err != nil {
				t.Fatal(err)
			}
			p = p[n:]
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		r, err := dk.Decrypt(iotest.HalfReader(bytes.NewReader(sealed.Bytes())), "msg")
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("size %d: read back %d bytes, %v", size, len(got), err)
		}
	}
}

// TestTamperingIsRefused alters a sealed stream every way an attacker with
// write access to the database could, and expects each to fail to open.
func TestTamperingIsRefused(t *testing.T) {
	t.Parallel()
	ring := keyring(t, key(t))
	dk, _, err := ring.NewDataKey("incident 1")
	if err != nil {
		t.Fatal(err)
	}
	plain := bytes.Repeat([]byte("stolen mail "), vault.SegmentSize/4) // three segments
	sealed, err := dk.Seal("msg", plain)
	if err != nil {
		t.Fatal(err)
	}
	other, _, _ := ring.NewDataKey("incident 2")
	seg := vault.SegmentSize + 16
	header := 17
	cases := map[string]struct {
		data   []byte
		object string
		key    *vault.DataKey
	}{
		"a flipped bit":             {flip(sealed, len(sealed)/2), "msg", dk},
		"a flipped salt":            {flip(sealed, 3), "msg", dk},
		"cut after a full segment":  {sealed[:header+seg], "msg", dk},
		"cut inside a segment":      {sealed[:len(sealed)-5], "msg", dk},
		"the last segment dropped":  {sealed[:header+2*seg], "msg", dk},
		"the header only":           {sealed[:header], "msg", dk},
		"segments swapped":          {swap(sealed, header, seg), "msg", dk},
		"another object's name":     {sealed, "msg2", dk},
		"another incident's key":    {sealed, "msg", other},
		"an unknown format version": {flip(sealed, 0), "msg", dk},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := c.key.Open(c.object, c.data)
			if !errors.Is(err, vault.ErrUnreadable) {
				t.Fatalf("opened %d bytes, err %v; want ErrUnreadable", len(got), err)
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 1
	return c
}

// swap exchanges the first two segments.
func swap(b []byte, header, seg int) []byte {
	c := bytes.Clone(b)
	copy(c[header:], b[header+seg:header+2*seg])
	copy(c[header+seg:], b[header:header+seg])
	return c
}

// TestRotation wraps a data key with an old master key, rotates, and
// checks that both forms open with the new keyring and only the rewrapped
// one after the old key is dropped.
func TestRotation(t *testing.T) {
	t.Parallel()
	oldKey, newKey := key(t), key(t)
	before := keyring(t, oldKey)
	dk, wrapped, err := before.NewDataKey("incident 7")
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := dk.Seal("msg", []byte("evidence"))

	rotated := keyring(t, newKey, oldKey)
	rewrapped, changed, err := rotated.Rewrap("incident 7", wrapped)
	if err != nil || !changed || rewrapped.MasterID != rotated.CurrentID() {
		t.Fatalf("rewrap: %+v changed=%v err=%v", rewrapped, changed, err)
	}
	if _, again, _ := rotated.Rewrap("incident 7", rewrapped); again {
		t.Fatal("rewrapping a current key changed it")
	}
	after := keyring(t, newKey)
	for name, w := range map[string]vault.WrappedKey{"rewrapped": rewrapped} {
		k, err := after.Unwrap("incident 7", w)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got, err := k.Open("msg", sealed); err != nil || string(got) != "evidence" {
			t.Fatalf("%s: evidence %q, %v", name, got, err)
		}
	}
	if _, err := after.Unwrap("incident 7", wrapped); err == nil || !strings.Contains(err.Error(), wrapped.MasterID) {
		t.Fatalf("unwrap with the old key gone: %v, want an error naming the missing key", err)
	}
	if _, err := rotated.Unwrap("incident 8", rewrapped); !errors.Is(err, vault.ErrUnreadable) {
		t.Fatalf("a wrapped key moved to another incident opened: %v", err)
	}
}

// TestKeyFile reads keys in the forms `openssl rand` prints.
func TestKeyFile(t *testing.T) {
	t.Parallel()
	good := "# rotated 2026-12\nq2yzgEn0Sg8MFLoN7hVykQyQ4B9Ss1dL4f0kM8dr6Yw=\n\n" +
		"3f8a2b6c4d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a\n"
	r, err := vault.ParseKeyFile([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if r.CurrentID() == "" {
		t.Fatal("no current key id")
	}
	for name, bad := range map[string]string{
		"empty":      "# nothing\n",
		"too short":  "c2hvcnQ=\n",
		"twice":      "q2yzgEn0Sg8MFLoN7hVykQyQ4B9Ss1dL4f0kM8dr6Yw=\nq2yzgEn0Sg8MFLoN7hVykQyQ4B9Ss1dL4f0kM8dr6Yw=\n",
		"not base64": "this is not a key at all, not even close!!\n",
	} {
		if _, err := vault.ParseKeyFile([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := vault.DeriveKeyring([]byte("too short")); err == nil {
		t.Error("DeriveKeyring accepted a short secret")
	}
	a, _ := vault.DeriveKeyring(bytes.Repeat([]byte("s"), 48))
	b, _ := vault.DeriveKeyring(bytes.Repeat([]byte("s"), 48))
	if a.CurrentID() != b.CurrentID() {
		t.Error("the derived key is not stable")
	}
}

// FuzzOpen feeds arbitrary bytes to decryption: it never panics and never
// returns plaintext for data it did not seal.
func FuzzOpen(f *testing.F) {
	k := make([]byte, vault.KeySize)
	ring, _ := vault.NewKeyring(k)
	dk, _, _ := ring.NewDataKey("fuzz")
	s, _ := dk.Seal("obj", []byte("hello"))
	f.Add(s)
	f.Add([]byte{1})
	f.Add(append([]byte{1}, make([]byte, 40)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := dk.Open("obj", data)
		if err == nil && !bytes.Equal(data, s) {
			t.Fatalf("opened data it did not seal: %q", got)
		}
	})
}

// BenchmarkEncrypt prints the throughput of encrypting evidence.
func BenchmarkEncrypt(b *testing.B) {
	dk, _, _ := keyring(b, key(b)).NewDataKey("bench")
	plain := make([]byte, 1<<20)
	b.SetBytes(int64(len(plain)))
	for b.Loop() {
		w, _ := dk.Encrypt(io.Discard, "obj")
		w.Write(plain)
		w.Close()
	}
}

// BenchmarkDecrypt prints the throughput of reading evidence back.
func BenchmarkDecrypt(b *testing.B) {
	dk, _, _ := keyring(b, key(b)).NewDataKey("bench")
	plain := make([]byte, 1<<20)
	sealed, _ := dk.Seal("obj", plain)
	b.SetBytes(int64(len(plain)))
	for b.Loop() {
		r, _ := dk.Decrypt(bytes.NewReader(sealed), "obj")
		io.Copy(io.Discard, r)
	}
}
