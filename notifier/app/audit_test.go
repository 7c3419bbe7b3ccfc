package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/migrations/testdb"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/apiclient"
	"github.com/breachnotify/breachnotify/notifier/app"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
)

// auditEnv is a service whose audit chain has at least seven entries.
func auditEnv(t *testing.T) *apptest.Env {
	t.Helper()
	e := apptest.Start(t, apptest.Options{NoWorkers: true})
	e.LoadSample(t, "audit")
	for i := range 3 {
		if _, err := e.Client.CreateIncident(context.Background(), notifier.NewIncident{Slug: fmt.Sprintf("more-%d", i), Title: "More"}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// verifyVia asks the API to verify the chain, held to checkpoint.
func verifyVia(t *testing.T, e *apptest.Env, checkpoint string) notifier.AuditVerification {
	t.Helper()
	v, err := e.Client.AuditVerify(context.Background(), checkpoint)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return v
}

// asOwner runs statements as the schema's owner with the audit tables'
// triggers off, as someone with the owner's (not the service's) rights can.
func asOwner(t *testing.T, e *apptest.Env, fn func(tx pgx.Tx) error) {
	t.Helper()
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, e.Owner(t), func(tx pgx.Tx) error {
		for _, s := range []string{`ALTER TABLE audit_log DISABLE TRIGGER USER`, `ALTER TABLE audit_checkpoints DISABLE TRIGGER USER`} {
			if _, err := tx.Exec(ctx, s); err != nil {
				return err
			}
		}
		if err := fn(tx); err != nil {
			return err
		}
		for _, s := range []string{`ALTER TABLE audit_log ENABLE TRIGGER USER`, `ALTER TABLE audit_checkpoints ENABLE TRIGGER USER`} {
			if _, err := tx.Exec(ctx, s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("as the owner: %v", err)
	}
}

// entries reads the chain as the owner, oldest first.
func entries(t *testing.T, tx pgx.Tx) []notifier.AuditEntry {
	t.Helper()
	rows, err := tx.Query(context.Background(), `SELECT id, at, actor_key, actor_name, action, target_type, target_id, request_id, details, prev_hash, hash, scheme, key_id FROM audit_log ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	es, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (notifier.AuditEntry, error) {
		var e notifier.AuditEntry
		err := r.Scan(&e.ID, &e.At, &e.ActorKey, &e.ActorName, &e.Action, &e.TargetType, &e.TargetID, &e.RequestID, &e.Details, &e.PrevHash, &e.Hash, &e.Scheme, &e.KeyID)
		return e, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// rewrite stores e's content, links and hash over the row with e's id.
func rewrite(tx pgx.Tx, e notifier.AuditEntry) error {
	_, err := tx.Exec(context.Background(), `UPDATE audit_log SET at = $2, actor_key = $3, actor_name = $4, action = $5, target_type = $6, target_id = $7,
		request_id = $8, details = $9, prev_hash = $10, hash = $11, scheme = $12, key_id = $13 WHERE id = $1`,
		e.ID, e.At, e.ActorKey, e.ActorName, e.Action, e.TargetType, e.TargetID, e.RequestID, e.Details, e.PrevHash, e.Hash, string(e.Scheme), e.KeyID)
	return err
}

// TestAuditChainShowsDeletionAndSplices: someone with the owner's rights
// switches the triggers off and removes, swaps or re-links entries; without
// the key, every way of doing it is named at the first entry it breaks.
func TestAuditChainShowsDeletionAndSplices(t *testing.T) {
	t.Parallel()
	forger, err := notifier.NewAuditKeys(notifier.AuditKey{Secret: []byte("a key the forger made, 32 bytes!")})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, tx pgx.Tx) error
		broken int64
		reason string
	}{
		{"entry removed", func(t *testing.T, tx pgx.Tx) error {
			_, err := tx.Exec(context.Background(), `DELETE FROM audit_log WHERE id = 4`)
			return err
		}, 5, "does not follow the entry before it"},
		{"two entries swapped", func(t *testing.T, tx pgx.Tx) error {
			es := entries(t, tx)
			four, five := es[3], es[4]
			// hash is unique: park both hashes first.
			for _, e := range []notifier.AuditEntry{four, five} {
				e.Hash = []byte(fmt.Sprint("parked ", e.ID))
				if err := rewrite(tx, e); err != nil {
					return err
				}
			}
			five.ID, four.ID = 4, 5
			if err := rewrite(tx, five); err != nil {
				return err
			}
			return rewrite(tx, four)
		}, 4, "does not follow the entry before it"},
		{"entry removed, the next re-linked without the key", func(t *testing.T, tx pgx.Tx) error {
			// Only the link changes: this passes unless the MAC covers it.
			_, err := tx.Exec(context.Background(), `DELETE FROM audit_log WHERE id = 4;`)
			if err == nil {
				_, err = tx.Exec(context.Background(), `UPDATE audit_log SET prev_hash = (SELECT hash FROM audit_log WHERE id = 3) WHERE id = 5`)
			}
			return err
		}, 5, "does not match its MAC"},
		{"entry removed, the rest re-chained with the unkeyed hash", func(t *testing.T, tx pgx.Tx) error {
			if _, err := tx.Exec(context.Background(), `DELETE FROM audit_log WHERE id = 4`); err != nil {
				return err
			}
			es := entries(t, tx)
			for i := 3; i < len(es); i++ {
				es[i].PrevHash = es[i-1].Hash
				es[i].Scheme, es[i].KeyID, es[i].Hash = notifier.AuditSchemeSHA256, "", notifier.LegacyAuditHash(es[i])
				if err := rewrite(tx, es[i]); err != nil {
					return err
				}
			}
			return nil
		}, 5, "is not keyed although an entry before it is"},
		{"entry removed, the rest re-chained with another key", func(t *testing.T, tx pgx.Tx) error {
			if _, err := tx.Exec(context.Background(), `DELETE FROM audit_log WHERE id = 4`); err != nil {
				return err
			}
			es := entries(t, tx)
			for i := 3; i < len(es); i++ {
				es[i].PrevHash = es[i-1].Hash
				forger.Seal(&es[i])
				if err := rewrite(tx, es[i]); err != nil {
					return err
				}
			}
			return nil
		}, 5, "not among the audit keys"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := auditEnv(t)
			if v := verifyVia(t, e, ""); !v.OK || v.Entries < 7 {
				t.Fatalf("before: %+v", v)
			}
			asOwner(t, e, func(tx pgx.Tx) error { return tc.tamper(t, tx) })
			v := verifyVia(t, e, "")
			if v.OK || v.BrokenAt != tc.broken || !strings.Contains(v.Reason, tc.reason) {
				t.Errorf("after: %+v, want broken at %d: %q", v, tc.broken, tc.reason)
			}
			if v.Checkpoint != "" {
				t.Errorf("a broken chain got a checkpoint: %s", v.Checkpoint)
			}
		})
	}
}

// TestAuditTruncationNeedsACheckpoint: entries cut off the end leave a
// valid, shorter chain. Without a checkpoint from before, nothing can
// tell; with one (stored, or kept from the log), verify says what is gone.
func TestAuditTruncationNeedsACheckpoint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cut := func(t *testing.T, e *apptest.Env, keepCheckpoints bool) (head int64) {
		asOwner(t, e, func(tx pgx.Tx) error {
			if err := tx.QueryRow(ctx, `SELECT max(id) FROM audit_log`).Scan(&head); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM audit_log WHERE id > $1 - 2`, head); err != nil {
				return err
			}
			if keepCheckpoints {
				return nil
			}
			_, err := tx.Exec(ctx, `DELETE FROM audit_checkpoints`)
			return err
		})
		return head
	}

	t.Run("checkpoints removed too", func(t *testing.T) {
		t.Parallel()
		e := auditEnv(t)
		before := verifyVia(t, e, "")
		cp, err := notifier.ParseAuditCheckpoint(before.Checkpoint)
		if !before.OK || err != nil || cp.EntryID != before.HeadID || int(cp.Entries) != before.Entries {
			t.Fatalf("before: %+v, checkpoint %v", before, err)
		}
		head := cut(t, e, false)
		if head != cp.EntryID {
			t.Fatalf("cut at %d, checkpoint of %d", head, cp.EntryID)
		}
		// The chain left is intact: verify cannot tell, and names nothing.
		if v := verifyVia(t, e, ""); !v.OK || v.BrokenAt != 0 || v.Reason != "" || v.HeadID != head-2 {
			t.Errorf("without a checkpoint: %+v, want ok (a truncated chain is a valid chain)", v)
		}
		v := verifyVia(t, e, before.Checkpoint)
		want := fmt.Sprintf("entries after %d were removed: the checkpoint of %s saw entry %d", head-2, cp.At.Format("2006-01-02T15:04:05Z"), head)
		if v.OK || v.BrokenAt != 0 || v.Reason != want || v.CheckedAgainst != before.Checkpoint || v.Checkpoint != "" {
			t.Errorf("with the checkpoint: %+v\nwant reason %q", v, want)
		}
	})

	t.Run("stored checkpoint kept", func(t *testing.T) {
		t.Parallel()
		e := auditEnv(t)
		cp, took, err := e.App.Service.CheckpointAudit(ctx)
		if err != nil || !took {
			t.Fatalf("periodic checkpoint: %v, %v", took, err)
		}
		if _, again, err := e.App.Service.CheckpointAudit(ctx); err != nil || again {
			t.Errorf("second checkpoint with the head unmoved: took %v, %v", again, err)
		}
		head := cut(t, e, true)
		if head != cp.EntryID {
			t.Fatalf("cut at %d, checkpoint of %d", head, cp.EntryID)
		}
		// Without a checkpoint given, verify holds the chain to the newest
		// stored one.
		v := verifyVia(t, e, "")
		if v.OK || !strings.HasPrefix(v.Reason, fmt.Sprintf("entries after %d were removed", head-2)) || v.CheckedAgainst != cp.String() {
			t.Errorf("verify: %+v", v)
		}
		// Nor does the periodic job vouch for the shorter chain.
		if _, took, err := e.App.Service.CheckpointAudit(ctx); err == nil || took || !strings.Contains(err.Error(), "were removed") {
			t.Errorf("periodic checkpoint after the cut: took %v, %v", took, err)
		}
	})
}

// loggedCheckpoints returns the checkpoints in JSON log lines, in order.
func loggedCheckpoints(t *testing.T, logs *lockedBuffer) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var line struct {
			Msg        string `json:"msg"`
			Checkpoint string `json:"checkpoint"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if line.Msg == "audit checkpoint" {
			out = append(out, line.Checkpoint)
		}
	}
	return out
}

// TestAuditCheckpointsAreLoggedAndSigned: every checkpoint is one log
// line, so it also lands outside the database; the service stores it and
// refuses checkpoints it did not sign.
func TestAuditCheckpointsAreLoggedAndSigned(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	logs := &lockedBuffer{}
	cfg := apptest.TestConfig(testdb.URL(t))
	e := apptest.StartApp(t, cfg, app.Options{NoWorkers: true, Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	e.LoadSample(t, "logged")
	v := verifyVia(t, e, "")
	if !v.OK || v.Checkpoint == "" {
		t.Fatalf("verify: %+v", v)
	}
	if _, err := e.Client.CreateIncident(ctx, notifier.NewIncident{Slug: "later", Title: "Later"}); err != nil {
		t.Fatal(err)
	}
	periodic, took, err := e.App.Service.CheckpointAudit(ctx)
	if err != nil || !took || periodic.EntryID != v.HeadID+1 {
		t.Fatalf("periodic checkpoint: %+v %v %v", periodic, took, err)
	}
	if got := loggedCheckpoints(t, logs); len(got) != 2 || got[0] != v.Checkpoint || got[1] != periodic.String() {
		t.Errorf("logged checkpoints = %q, want %q and %q", got, v.Checkpoint, periodic.String())
	}
	stored, found, err := e.App.Store.LatestAuditCheckpoint(ctx)
	if err != nil || !found || stored.String() != periodic.String() {
		t.Errorf("stored checkpoint = %v %v %v", stored, found, err)
	}
	// An earlier checkpoint still holds: the chain passes through it.
	if v2 := verifyVia(t, e, v.Checkpoint); !v2.OK || v2.CheckedAgainst != v.Checkpoint {
		t.Errorf("held to the first checkpoint: %+v", v2)
	}

	// A checkpoint altered, or signed with another key, is refused.
	forger, _ := notifier.NewAuditKeys(notifier.AuditKey{Secret: []byte("a key the forger made, 32 bytes!")})
	forged := forger.SignCheckpoint(periodic)
	for _, bad := range []string{forged.String(), strings.Replace(v.Checkpoint, "bnaudit1:", "bnaudit1:1", 1), "bnaudit1:1:1"} {
		_, err := e.Client.AuditVerify(ctx, bad)
		var apiErr *apiclient.Error
		if !errors.As(err, &apiErr) || apiErr.Status != 400 || !strings.Contains(apiErr.Message, "checkpoint") {
			t.Errorf("verify with %q: %v, want 400 naming the checkpoint", bad, err)
		}
	}
}
