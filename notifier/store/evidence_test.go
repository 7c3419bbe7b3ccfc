package store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/store"
	"github.com/breachnotify/breachnotify/notifier/vault"
)

func incidentScope(id int64) string { return "incident " + strconv.FormatInt(id, 10) }

func masterKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, vault.KeySize)
	rand.Read(k)
	return k
}

// TestEvidenceKeysAndShredding walks an incident's evidence through its
// life: a data key created once (a racing second import gets the first
// one), evidence written and read back segment by segment, a master key
// rotation that leaves the evidence readable under the new key alone,
// and a purge after which a copy of the ciphertext taken before (a
// backup) can no longer be decrypted and nothing is left.
func TestEvidenceKeysAndShredding(t *testing.T) {
	t.Parallel()
	st, b := setup(t)
	ctx := context.Background()
	var incident int64
	if err := b.pool.QueryRow(ctx, `SELECT id FROM incidents WHERE slug = 'first-breach'`).Scan(&incident); err != nil {
		t.Fatal(err)
	}
	scope := incidentScope(incident)
	oldMaster, newMaster := masterKey(t), masterKey(t)
	ring, _ := vault.NewKeyring(oldMaster)

	if _, found, err := st.IncidentKey(ctx, incident); err != nil || found {
		t.Fatalf("a new incident has a key: %v %v", found, err)
	}
	dk, wrapped, _ := ring.NewDataKey(scope)
	stored, err := st.CreateIncidentKey(ctx, incident, wrapped)
	if err != nil || !bytes.Equal(stored.Sealed, wrapped.Sealed) {
		t.Fatalf("create key: %v", err)
	}
	_, racing, _ := ring.NewDataKey(scope)
	if again, err := st.CreateIncidentKey(ctx, incident, racing); err != nil || !bytes.Equal(again.Sealed, wrapped.Sealed) {
		t.Fatalf("a second create replaced the key: %v", err)
	}

	// Three rows for a message of 600 KiB, one for a short one.
	big := make([]byte, 600<<10)
	rand.Read(big)
	messages := [][]byte{big, []byte("Subject: hello\r\n\r\nthe password is hunter2\r\n")}
	var objects []store.EvidenceObject
	for _, m := range messages {
		name := sha256.Sum256(m)
		sealed, err := dk.Seal(string(name[:]), m)
		if err != nil {
			t.Fatal(err)
		}
		objects = append(objects, store.EvidenceObject{Name: name[:], Ciphertext: sealed})
	}
	if err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error { return st.WriteEvidence(ctx, tx, incident, objects) }); err != nil {
		t.Fatal(err)
	}
	var rows int
	b.pool.QueryRow(ctx, `SELECT count(*) FROM evidence_blobs WHERE incident_id = $1`, incident).Scan(&rows)
	if rows != 4 {
		t.Fatalf("%d rows of evidence, want 4 (600 KiB in segments of 256 KiB, and one)", rows)
	}
	read := func(ring *vault.Keyring, i int) ([]byte, error) {
		t.Helper()
		w, found, err := st.IncidentKey(ctx, incident)
		if err != nil || !found {
			return nil, errors.Join(err, errors.New("no key"))
		}
		k, err := ring.Unwrap(scope, w)
		if err != nil {
			return nil, err
		}
		r, err := st.EvidenceReader(ctx, incident, objects[i].Name)
		if err != nil {
			return nil, err
		}
		plain, err := k.Decrypt(r, string(objects[i].Name))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(plain)
	}
	for i, m := range messages {
		if got, err := read(ring, i); err != nil || !bytes.Equal(got, m) {
			t.Fatalf("message %d read back %d bytes, %v", i, len(got), err)
		}
	}
	if _, err := st.EvidenceReader(ctx, incident, make([]byte, 32)); notifier.ErrorCode(err) != notifier.CodeNotFound {
		t.Fatalf("an unknown object: %v, want not_found", err)
	}

	// Rotation: the new master key alone reads everything.
	rotated, _ := vault.NewKeyring(newMaster, oldMaster)
	if n, err := st.RewrapIncidentKeys(ctx, actor, rotated, incidentScope); err != nil || n != 1 {
		t.Fatalf("rewrapped %d keys, %v; want 1", n, err)
	}
	if n, _ := st.RewrapIncidentKeys(ctx, actor, rotated, incidentScope); n != 0 {
		t.Fatalf("a second rotation rewrapped %d keys", n)
	}
	newOnly, _ := vault.NewKeyring(newMaster)
	if got, err := read(newOnly, 1); err != nil || !bytes.Equal(got, messages[1]) {
		t.Fatalf("after rotation: %q, %v", got, err)
	}

	// A backup taken before the purge.
	backup := map[int32][]byte{}
	rs, _ := b.pool.Query(ctx, `SELECT seq, data FROM evidence_blobs WHERE incident_id = $1 AND object = $2`, incident, objects[1].Name)
	var seq int32
	var data []byte
	pgx.ForEachRow(rs, []any{&seq, &data}, func() error { backup[seq] = bytes.Clone(data); return nil })

	deleted, err := st.ShredEvidence(ctx, incident)
	if err != nil || deleted != 4 {
		t.Fatalf("shred deleted %d rows, %v; want 4", deleted, err)
	}
	if _, _, err := st.IncidentKey(ctx, incident); !errors.Is(err, store.ErrEvidenceShredded) {
		t.Fatalf("key after shredding: %v", err)
	}
	if _, err := st.CreateIncidentKey(ctx, incident, racing); !errors.Is(err, store.ErrEvidenceShredded) {
		t.Fatalf("a new key after shredding: %v, want refused", err)
	}
	var keys, left int
	b.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM incident_keys WHERE incident_id = $1),
		(SELECT count(*) FROM evidence_blobs WHERE incident_id = $1)`, incident).Scan(&keys, &left)
	if keys != 0 || left != 0 {
		t.Fatalf("after shredding: %d keys, %d evidence rows left", keys, left)
	}
	// With every master key at hand, the backup's ciphertext still does
	// not open: the data key it needs no longer exists anywhere, and a
	// fresh one is of no use.
	other, _, _ := rotated.NewDataKey(scope)
	if _, err := other.Open(string(objects[1].Name), backup[0]); !errors.Is(err, vault.ErrUnreadable) {
		t.Fatalf("the backup opened after shredding: %v", err)
	}
	if n, err := st.ShredEvidence(ctx, incident); err != nil || n != 0 {
		t.Fatalf("a second purge: %d, %v", n, err)
	}
}
