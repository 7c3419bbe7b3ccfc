package store

import (
	"context"
	"encoding/hex"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/migrations/testdb"
	"github.com/breachnotify/breachnotify/notifier"
)

// TestDeliveryKeyBlock checks the codes drawn in Go: each is a reference
// code as the verify page reads it, and no two are alike.
func TestDeliveryKeyBlock(t *testing.T) {
	t.Parallel()
	const n = 1000
	b := newDeliveryKeyBlock(n)
	if len(b.messageIDs) != n*messageIDRandomBytes || len(b.codes) != n*referenceCodeWidth {
		t.Fatalf("block of %d: %d message-ID bytes, %d code bytes", n, len(b.messageIDs), len(b.codes))
	}
	seen := map[string]bool{}
	for i := range n {
		code := string(b.codes[i*referenceCodeWidth : (i+1)*referenceCodeWidth])
		if norm, ok := notifier.NormalizeReference(code); !ok || norm != code {
			t.Fatalf("code %d %q normalizes to %q, %v", i, code, norm, ok)
		}
		if seen[code] {
			t.Fatalf("code %q drawn twice", code)
		}
		seen[code] = true
	}
	if e := newDeliveryKeyBlock(0); e.n != 0 || e.messageIDs == nil || e.codes == nil {
		t.Fatalf("empty block %+v: its slices must be empty, not NULL", e)
	}
}

// TestNewDeliveryKeysStatement runs the launch's key columns over ten rows
// with a block of six: the first six rows take the block's keys, in order;
// the other four draw theirs in SQL, in the same format; all are distinct.
func TestNewDeliveryKeysStatement(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testdb.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })

	const rows, drawn = 10, 6
	b := newDeliveryKeyBlock(drawn)
	sql := `SELECT ` + newDeliveryKeys + `
FROM (SELECT g AS contact_id, g::bigint AS rn FROM generate_series(1, $1::int) AS g ORDER BY g) AS s
` + newDeliveryKeysFrom
	res, err := conn.Query(ctx, sql, append([]any{rows, "notify.example"}, b.args()...)...)
	if err != nil {
		t.Fatal(err)
	}
	type keys struct {
		ID                   int64
		MessageID, Reference string
	}
	got, err := pgx.CollectRows(res, pgx.RowToStructByPos[keys])
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != rows {
		t.Fatalf("%d rows, want %d", len(got), rows)
	}
	seen := map[string]bool{}
	for i, k := range got {
		if i > 0 && k.ID <= got[i-1].ID {
			t.Errorf("row %d: id %d after %d: ids must follow the rows' order", i+1, k.ID, got[i-1].ID)
		}
		if i < drawn {
			wantID := hex.EncodeToString(b.messageIDs[i*messageIDRandomBytes:(i+1)*messageIDRandomBytes]) + "@notify.example"
			wantCode := string(b.codes[i*referenceCodeWidth : (i+1)*referenceCodeWidth])
			if k.MessageID != wantID || k.Reference != wantCode {
				t.Errorf("row %d: %s %s, want the block's %s %s", i+1, k.MessageID, k.Reference, wantID, wantCode)
			}
		}
		if len(k.MessageID) != 2*messageIDRandomBytes+len("@notify.example") {
			t.Errorf("row %d: Message-ID %q", i+1, k.MessageID)
		}
		if norm, ok := notifier.NormalizeReference(k.Reference); !ok || norm != k.Reference {
			t.Errorf("row %d: reference code %q", i+1, k.Reference)
		}
		if seen[k.MessageID] || seen[k.Reference] {
			t.Errorf("row %d: a key seen before: %s %s", i+1, k.MessageID, k.Reference)
		}
		seen[k.MessageID], seen[k.Reference] = true, true
	}
}
