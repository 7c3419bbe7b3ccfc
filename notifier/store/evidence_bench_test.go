package store_test

// BenchmarkEvidenceStore compares the two ways PostgreSQL can hold
// encrypted evidence (issue 13 asks to measure them): chunked bytea rows
// written by COPY (Store.WriteEvidence, what we keep), and large objects
// (lo_create, then lowrite per object). One op stores a batch of 100
// objects in one transaction; b.SetBytes makes the figure MB/s.
//
//	go test -run '^$' -bench EvidenceStore ./notifier/store/

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/migrations/testdb"
	"github.com/breachnotify/breachnotify/notifier/store"
)

func BenchmarkEvidenceStore(b *testing.B) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testdb.URL(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close(ctx) })
	var incident int64
	if err := conn.QueryRow(ctx, `INSERT INTO incidents (slug, title) VALUES ('bench', 'bench') RETURNING id`).Scan(&incident); err != nil {
		b.Fatal(err)
	}
	// The store only needs a pool for reads; WriteEvidence runs on the
	// transaction it is given.
	st := store.New(nil, store.Config{})
	for _, size := range []int{20 << 10, 5 << 20} {
		batch := 100
		if size > 1<<20 {
			batch = 4
		}
		objects := make([]store.EvidenceObject, batch)
		for i := range objects {
			objects[i].Ciphertext = make([]byte, size)
			rand.Read(objects[i].Ciphertext)
		}
		name := func(op, i int) []byte {
			s := sha256.Sum256(fmt.Appendf(nil, "%d/%d/%d", size, op, i))
			return s[:]
		}
		b.Run(fmt.Sprintf("bytea-copy/%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size * batch))
			op := 0
			for b.Loop() {
				op++
				for i := range objects {
					objects[i].Name = name(op, i)
				}
				if err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error { return st.WriteEvidence(ctx, tx, incident, objects) }); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("large-object/%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size * batch))
			for b.Loop() {
				err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
					los := tx.LargeObjects()
					for _, o := range objects {
						oid, err := los.Create(ctx, 0)
						if err != nil {
							return err
						}
						lo, err := los.Open(ctx, oid, pgx.LargeObjectModeWrite)
						if err != nil {
							return err
						}
						if _, err := lo.Write(o.Ciphertext); err != nil {
							return err
						}
						if err := lo.Close(); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
