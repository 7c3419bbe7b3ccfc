package notifier_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
)

// katKey is the fixed key of the known-answer tests: 32 bytes.
var katKey = []byte("0123456789abcdef0123456789abcdef")

// katEntry is a fixed entry whose hashes were computed independently of
// this package (Python's hmac and hashlib over the documented encoding:
// each field as "<byte length>:<bytes>").
func katEntry() notifier.AuditEntry {
	key := int64(7)
	prev := make([]byte, 32)
	for i := range prev {
		prev[i] = byte(i + 1)
	}
	return notifier.AuditEntry{
		At: time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC), ActorKey: &key, ActorName: "alice (admin key)",
		Action: "wave.launch", TargetType: "wave", TargetID: "12", RequestID: "req-1", Details: `{"deliveries":3}`,
		PrevHash: prev,
	}
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAuditHashKnownAnswers pins both hashes: a change to the encoding of
// either would stop every stored chain from verifying. The keyed one must
// cover the previous entry's hash: that is what chains the entries.
func TestAuditHashKnownAnswers(t *testing.T) {
	t.Parallel()
	e := katEntry()
	if got, want := hex.EncodeToString(notifier.LegacyAuditHash(e)), "44d4ac2c63ee2917546f55574275186eed8f43e724305f93e5cf6deff410927e"; got != want {
		t.Errorf("LegacyAuditHash = %s, want %s", got, want)
	}
	if got, want := hex.EncodeToString(notifier.AuditMAC(katKey, e)), "5091063ee82a22fa9cd35577892e75b72584ed1f1a1a0b21ca396852afff4b2b"; got != want {
		t.Errorf("AuditMAC = %s, want %s", got, want)
	}
	e.PrevHash = notifier.AuditGenesis
	if got, want := hex.EncodeToString(notifier.AuditMAC(katKey, e)), "80a4b5c8dd9258c08795695ff8c7e9277a932c0074adc8e48c84d844c7c53c55"; got != want {
		t.Errorf("AuditMAC after the genesis = %s, want %s (the previous hash must be covered)", got, want)
	}

	keys, err := notifier.NewAuditKeys(notifier.AuditKey{Secret: katKey})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := keys.CurrentID(), "4a904157d8162671"; got != want {
		t.Errorf("key id = %s, want %s", got, want)
	}
	e = katEntry()
	keys.Seal(&e)
	if e.Scheme != notifier.AuditSchemeHMAC || e.KeyID != "4a904157d8162671" || hex.EncodeToString(e.Hash) != "5091063ee82a22fa9cd35577892e75b72584ed1f1a1a0b21ca396852afff4b2b" {
		t.Errorf("Seal = %s %s %x", e.Scheme, e.KeyID, e.Hash)
	}
	other, _ := notifier.NewAuditKeys(notifier.AuditKey{Secret: []byte("another key of thirty-two bytes!")})
	if bytes.Equal(notifier.AuditMAC([]byte("another key of thirty-two bytes!"), e), e.Hash) || other.CurrentID() == keys.CurrentID() {
		t.Error("another key gives the same MAC or id")
	}

	derived, err := notifier.DeriveAuditKey([]byte("installation-secret-of-at-least-32-bytes!"))
	if got, want := hex.EncodeToString(derived), "23864e81464b5613612a1b0049be52fead06c50795b419539438b321b4329210"; err != nil || got != want {
		t.Errorf("DeriveAuditKey = %s, %v; want %s (HKDF-SHA256, info %q)", got, err, want, "breachnotify audit chain v1")
	}
	if _, err := notifier.NewAuditKeys(notifier.AuditKey{Secret: []byte("short")}); err == nil {
		t.Error("a 5-byte key was accepted")
	}
}

// TestAuditCheckpointKnownAnswer pins the checkpoint's text and MAC.
func TestAuditCheckpointKnownAnswer(t *testing.T) {
	t.Parallel()
	keys, _ := notifier.NewAuditKeys(notifier.AuditKey{Secret: katKey})
	cp := keys.SignCheckpoint(notifier.AuditCheckpoint{
		EntryID: 42, Entries: 40, At: time.Date(2026, 1, 2, 3, 0, 0, 999, time.UTC),
		Hash: unhex(t, "5091063ee82a22fa9cd35577892e75b72584ed1f1a1a0b21ca396852afff4b2b"),
	})
	want := "bnaudit1:42:40:5091063ee82a22fa9cd35577892e75b72584ed1f1a1a0b21ca396852afff4b2b:1767322800:9f7a1977fdcc26b1a5a3cceaa6fdedf3ca251f8564cc7b9ca912c6f202591f49"
	if cp.String() != want {
		t.Fatalf("checkpoint = %s\nwant         %s", cp, want)
	}
	parsed, err := notifier.ParseAuditCheckpoint("  " + want + "\n")
	if err != nil || parsed.String() != want || !keys.VerifyCheckpoint(parsed) {
		t.Fatalf("ParseAuditCheckpoint = %v, %v", parsed, err)
	}
	// The MAC covers every field.
	for i, forged := range []string{
		strings.Replace(want, ":42:", ":43:", 1),
		strings.Replace(want, ":40:", ":41:", 1),
		strings.Replace(want, ":1767322800:", ":1767322801:", 1),
		strings.Replace(want, ":5091", ":5092", 1),
	} {
		c, err := notifier.ParseAuditCheckpoint(forged)
		if err != nil || keys.VerifyCheckpoint(c) {
			t.Errorf("forgery %d: %v, verifies %v", i, err, err == nil && keys.VerifyCheckpoint(c))
		}
	}
	// Old keys verify, after a rotation.
	rotated, _ := notifier.NewAuditKeys(notifier.AuditKey{Secret: []byte("the new key, also 32 bytes long!")}, notifier.AuditKey{Secret: katKey})
	if !rotated.VerifyCheckpoint(parsed) {
		t.Error("a checkpoint of the old key does not verify with it in second place")
	}
}

func TestParseAuditCheckpointRefuses(t *testing.T) {
	t.Parallel()
	h := strings.Repeat("ab", 32)
	for _, s := range []string{
		"",
		"bnaudit1",
		"bnaudit2:1:1:" + h + ":1:" + h,
		"bnaudit1:1:1:" + h + ":1",
		"bnaudit1:1:1:" + h + ":1:" + h + ":x",
		"bnaudit1:0:1:" + h + ":1:" + h,
		"bnaudit1:-1:1:" + h + ":1:" + h,
		"bnaudit1:+1:1:" + h + ":1:" + h,
		"bnaudit1:01:1:" + h + ":1:" + h,
		"bnaudit1:1:1:" + strings.ToUpper(h) + ":1:" + h,
		"bnaudit1:1:1:" + h[:62] + ":1:" + h,
		"bnaudit1:1:1:" + h + ":1:" + h + "ab",
		"bnaudit1:1:1:" + h + ":1e3:" + h,
		"bnaudit1:99999999999999999999:1:" + h + ":1:" + h,
		"bnaudit1:1:1:" + h + ":1:" + h + strings.Repeat(" ", 300) + "x",
	} {
		if c, err := notifier.ParseAuditCheckpoint(s); err == nil {
			t.Errorf("ParseAuditCheckpoint(%q) = %v, want an error", s, c)
		}
	}
}

// FuzzParseAuditCheckpoint: whatever is typed, parsing does not panic, and
// what it accepts prints back as itself.
func FuzzParseAuditCheckpoint(f *testing.F) {
	h := strings.Repeat("0f", 32)
	for _, s := range []string{"", "bnaudit1:1:1:" + h + ":1:" + h, "bnaudit1:42:40:" + h + ":1767322800:" + h + "\n", "bnaudit1:::::", "bnaudit1:1:1:" + h + ":1:" + h + ":"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := notifier.ParseAuditCheckpoint(s)
		if err != nil {
			return
		}
		if c.String() != strings.TrimSpace(s) || c.EntryID <= 0 || c.Entries <= 0 || len(c.Hash) != 32 || len(c.MAC) != 32 {
			t.Errorf("ParseAuditCheckpoint(%q) = %+v, prints as %q", s, c, c.String())
		}
	})
}

// chain builds n keyed entries (ids 1..n) under keys, after legacy
// unkeyed ones (ids first), as the store writes them.
func chain(keys *notifier.AuditKeys, legacy, n int) []notifier.AuditEntry {
	var es []notifier.AuditEntry
	prev := notifier.AuditGenesis
	for i := 1; i <= legacy+n; i++ {
		e := notifier.AuditEntry{ID: int64(i), At: time.Unix(int64(1767322800+i), 0).UTC(), ActorName: "alice", Action: "incident.create",
			TargetType: "incident", TargetID: fmt.Sprint(i), Details: "{}", PrevHash: prev}
		if i <= legacy {
			e.Scheme, e.Hash = notifier.AuditSchemeSHA256, notifier.LegacyAuditHash(e)
		} else {
			keys.Seal(&e)
		}
		es = append(es, e)
		prev = e.Hash
	}
	return es
}

func verify(keys *notifier.AuditKeys, es []notifier.AuditEntry, against *notifier.AuditCheckpoint) notifier.AuditVerification {
	v := notifier.NewChainVerifier(keys)
	if against != nil {
		v.Against(*against)
	}
	for _, e := range es {
		if !v.Add(e) {
			break
		}
	}
	return v.Result()
}

// TestChainVerifierKeyedChains checks, without a database, what the
// verifier makes of chains rewritten by someone without the key.
func TestChainVerifierKeyedChains(t *testing.T) {
	t.Parallel()
	keys, _ := notifier.NewAuditKeys(notifier.AuditKey{Secret: katKey})
	good := chain(keys, 2, 4)
	if r := verify(keys, good, nil); !r.OK || r.Entries != 6 || r.LegacyEntries != 2 || r.HeadID != 6 || r.Head != hex.EncodeToString(good[5].Hash) {
		t.Fatalf("intact chain: %+v", r)
	}
	// Without the key only the links and the legacy hashes are checked.
	if r := verify(nil, good, nil); !r.OK || r.UncheckedMACs != 4 {
		t.Errorf("without the key: %+v", r)
	}

	for _, tc := range []struct {
		name   string
		edit   func([]notifier.AuditEntry) []notifier.AuditEntry
		broken int64
		reason string
	}{
		{"content changed", func(es []notifier.AuditEntry) []notifier.AuditEntry {
			es[3].Details = `{"x":1}`
			return es
		}, 4, "does not match its MAC"},
		{"re-linked over a removed entry", func(es []notifier.AuditEntry) []notifier.AuditEntry {
			es[4].PrevHash = es[2].Hash // entry 4 is gone; 5 now points at 3
			return append(es[:3], es[4:]...)
		}, 5, "does not match its MAC"},
		{"downgraded to the unkeyed hash", func(es []notifier.AuditEntry) []notifier.AuditEntry {
			for i := 3; i < len(es); i++ { // entries 4.. rewritten unkeyed, each relinked
				es[i].PrevHash = es[i-1].Hash
				es[i].Details = `{"rewritten":true}`
				es[i].Scheme, es[i].KeyID, es[i].Hash = notifier.AuditSchemeSHA256, "", notifier.LegacyAuditHash(es[i])
			}
			return es
		}, 4, "is not keyed although an entry before it is"},
		{"re-keyed with another key", func(es []notifier.AuditEntry) []notifier.AuditEntry {
			forger, _ := notifier.NewAuditKeys(notifier.AuditKey{Secret: []byte("the forger's key, 32 bytes long!")})
			for i := 3; i < len(es); i++ {
				es[i].PrevHash = es[i-1].Hash
				forger.Seal(&es[i])
			}
			return es
		}, 4, "not among the audit keys"},
		{"unknown scheme", func(es []notifier.AuditEntry) []notifier.AuditEntry {
			es[1].Scheme = "md5"
			return es
		}, 2, "unknown scheme"},
	} {
		es := tc.edit(chain(keys, 2, 4))
		if r := verify(keys, es, nil); r.OK || r.BrokenAt != tc.broken || !strings.Contains(r.Reason, tc.reason) {
			t.Errorf("%s: %+v, want broken at %d with %q", tc.name, r, tc.broken, tc.reason)
		}
	}
}

// TestChainVerifierCheckpoints: a chain cut short is still a valid chain;
// only a checkpoint taken before shows what is missing.
func TestChainVerifierCheckpoints(t *testing.T) {
	t.Parallel()
	keys, _ := notifier.NewAuditKeys(notifier.AuditKey{Secret: katKey})
	es := chain(keys, 0, 6)
	at := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	cp := keys.SignCheckpoint(notifier.AuditCheckpoint{EntryID: 5, Entries: 5, Hash: es[4].Hash, At: at})
	if r := verify(keys, es, &cp); !r.OK || r.CheckedAgainst != cp.String() {
		t.Fatalf("intact chain against its checkpoint: %+v", r)
	}
	truncated := es[:3]
	if r := verify(keys, truncated, nil); !r.OK || r.BrokenAt != 0 || r.Reason != "" {
		t.Errorf("truncated, no checkpoint: %+v, want ok (nothing to see)", r)
	}
	r := verify(keys, truncated, &cp)
	if r.OK || r.BrokenAt != 0 || r.Reason != "entries after 3 were removed: the checkpoint of 2026-01-02T03:00:00Z saw entry 5" {
		t.Errorf("truncated, against the checkpoint: %+v", r)
	}
	if r := verify(keys, nil, &cp); r.OK || !strings.HasPrefix(r.Reason, "every entry was removed") {
		t.Errorf("emptied: %+v", r)
	}
	// Entry 5 removed, 6 re-linked and re-keyed by someone holding the key:
	// the links hold, the checkpoint does not.
	relinked := append(chain(keys, 0, 6)[:4], es[5])
	relinked[4].PrevHash = relinked[3].Hash
	keys.Seal(&relinked[4])
	if r := verify(keys, relinked, &cp); r.OK || r.BrokenAt != 6 || !strings.Contains(r.Reason, "entry 5 should be") {
		t.Errorf("checkpointed entry removed: %+v", r)
	}
	rewritten := chain(keys, 0, 6)
	rewritten[4].Details = `{"x":1}`
	keys.Seal(&rewritten[4])
	rewritten[5].PrevHash = rewritten[4].Hash
	keys.Seal(&rewritten[5])
	if r := verify(keys, rewritten, &cp); r.OK || r.BrokenAt != 5 || !strings.Contains(r.Reason, "does not have the hash the checkpoint") {
		t.Errorf("checkpointed entry rewritten with the key: %+v", r)
	}

	// From resumes at the checkpoint's entry, checking only what follows.
	v := notifier.NewChainVerifier(keys)
	v.From(cp)
	for _, e := range es[4:] {
		v.Add(e)
	}
	if r := v.Result(); !r.OK || r.Entries != 6 || r.HeadID != 6 {
		t.Errorf("resumed from the checkpoint: %+v", r)
	}
	v = notifier.NewChainVerifier(keys)
	v.From(cp)
	if r := v.Result(); r.OK || !strings.HasPrefix(r.Reason, "entry 5 and those after it were removed") {
		t.Errorf("resumed past the end: %+v", r)
	}
}

// TestChainVerifierDatabaseKey: an installation that started with the key
// derived from the database's secret and was then given a key file keeps
// a verifiable chain; but after the first entry keyed with the outside key,
// nothing keyed with the database's key (which anyone with the database
// can derive) is accepted, nor are checkpoints signed with it relied on.
func TestChainVerifierDatabaseKey(t *testing.T) {
	t.Parallel()
	dbKey := notifier.AuditKey{Secret: []byte("derived from the database secret"), InDatabase: true}
	fileKey := notifier.AuditKey{Secret: katKey}
	before, _ := notifier.NewAuditKeys(dbKey)
	after, _ := notifier.NewAuditKeys(fileKey, dbKey)
	es := chain(before, 1, 3) // a legacy entry, then three keyed in the database
	prev := es[len(es)-1].Hash
	for i := 5; i <= 6; i++ { // then the key file
		e := notifier.AuditEntry{ID: int64(i), At: time.Unix(int64(1767322800+i), 0).UTC(), ActorName: "alice", Action: "x", Details: "{}", PrevHash: prev}
		after.Seal(&e)
		es = append(es, e)
		prev = e.Hash
	}
	if r := verify(after, es, nil); !r.OK || r.Entries != 6 {
		t.Fatalf("database key, then file key: %+v", r)
	}
	// Someone with the database derives its key and appends with it.
	forged := notifier.AuditEntry{ID: 7, At: time.Unix(1767322900, 0).UTC(), ActorName: "mallory", Action: "x", Details: "{}", PrevHash: prev}
	before.Seal(&forged)
	if r := verify(after, append(es, forged), nil); r.OK || r.BrokenAt != 7 || !strings.Contains(r.Reason, "rewritten by someone with access to the database") {
		t.Errorf("database key after the file key: %+v", r)
	}
	// A check without the database's key (the CLI's) leaves those entries
	// to the server when told to, and counts them.
	fileOnly, _ := notifier.NewAuditKeys(fileKey)
	v := notifier.NewChainVerifier(fileOnly)
	v.AllowMissingKeys()
	for _, e := range es {
		v.Add(e)
	}
	if r := v.Result(); !r.OK || r.UncheckedMACs != 3 {
		t.Errorf("without the database key, missing keys allowed: %+v", r)
	}
	if r := verify(fileOnly, es, nil); r.OK || r.BrokenAt != 2 {
		t.Errorf("without the database key: %+v, want broken at 2", r)
	}

	at := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	signedInDB := before.SignCheckpoint(notifier.AuditCheckpoint{EntryID: 6, Entries: 6, Hash: es[5].Hash, At: at})
	if !after.VerifyCheckpoint(signedInDB) {
		t.Error("a checkpoint of the database key does not verify")
	}
	if !notifier.ReliesOn(before, signedInDB) || notifier.ReliesOn(after, signedInDB) || !notifier.ReliesOn(after, after.SignCheckpoint(signedInDB)) {
		t.Error("a checkpoint signed in the database is relied on once the key is kept outside")
	}
}
