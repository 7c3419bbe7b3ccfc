package store_test

// BenchmarkPortalMessages pages through the mail list of an organization
// with 150,000 stolen messages (and as many of another one): the first
// page, a page deep in the list (keyset: the same cost), and a search by
// subject. It logs the plan of a deep page, which should be an index
// scan of evidence_exposures_mail_list stopping after 26 rows.
//
//	go test -run '^$' -bench PortalMessages -v ./notifier/store/

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/breachnotify/breachnotify/migrations/testdb"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/store"
)

func BenchmarkPortalMessages(b *testing.B) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testdb.URL(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	const perOrg = 150000
	for _, stmt := range []string{
		`INSERT INTO incidents (slug, title) VALUES ('bench', 'bench')`,
		`INSERT INTO organizations (ref, name) VALUES ('big', 'Big'), ('other', 'Other')`,
		`INSERT INTO evidence_imports (incident_id, name) SELECT id, 'bench' FROM incidents`,
		`INSERT INTO evidence_messages (incident_id, sha256, import_id, source, size, subject, sent_at, from_address, participants, attachments, secret_types)
		 SELECT i.id, sha256(g::text::bytea), im.id, 'bench', 1000, 'Subject number ' || g, now() - g * interval '1 minute',
		        'x@big.example', '[{"header":"From","depth":0,"address":"x@big.example","domain":"big.example"}]', '[]',
		        CASE WHEN g % 50 = 0 THEN '{password}'::text[] ELSE '{}' END
		 FROM generate_series(1, 2 * ` + strconv.Itoa(perOrg) + `) g, incidents i, evidence_imports im`,
		`INSERT INTO evidence_exposures (incident_id, sha256, organization_id)
		 SELECT m.incident_id, m.sha256, CASE WHEN right(m.subject, 1) IN ('0','2','4','6','8') THEN o1.id ELSE o2.id END
		 FROM evidence_messages m, organizations o1, organizations o2 WHERE o1.ref = 'big' AND o2.ref = 'other'`,
		`ANALYZE`,
	} {
		if _, err := pool.Exec(ctx, stmt); err != nil {
			b.Fatalf("%.60s: %v", stmt, err)
		}
	}
	var org int64
	if err := pool.QueryRow(ctx, `SELECT id FROM organizations WHERE ref = 'big'`).Scan(&org); err != nil {
		b.Fatal(err)
	}
	st := store.New(pool, store.Config{})
	// A cursor 100,000 rows deep.
	var deep notifier.MessageCursor
	var sha []byte
	if err := pool.QueryRow(ctx, `SELECT coalesce(sent_at, '0001-01-01 00:00:00+00'::timestamptz), incident_id, sha256 FROM evidence_exposures
		WHERE organization_id = $1 ORDER BY 1 DESC, 2 DESC, 3 DESC OFFSET 100000 LIMIT 1`, org).Scan(&deep.SortAt, &deep.IncidentID, &sha); err != nil {
		b.Fatal(err)
	}
	copy(deep.SHA256[:], sha)
	rows, err := pool.Query(ctx, `EXPLAIN (ANALYZE, COSTS OFF) `+store.PortalMessagesAfterSQL, org, "", "", store.Undated, store.NoLaterThan, false, 26,
		deep.SortAt, deep.IncidentID, deep.SHA256[:])
	if err != nil {
		b.Fatal(err)
	}
	plan, _ := pgx.CollectRows(rows, pgx.RowTo[string])
	b.Logf("plan of a page 100,000 rows deep:\n%s", strings.Join(plan, "\n"))
	for _, c := range []struct {
		name  string
		f     notifier.PortalMessageFilter
		after *notifier.MessageCursor
	}{
		{"first-page", notifier.PortalMessageFilter{}, nil},
		{"page-100k-deep", notifier.PortalMessageFilter{}, &deep},
		{"has-secrets", notifier.PortalMessageFilter{HasSecrets: true}, nil},
		{"subject-search", notifier.PortalMessageFilter{Subject: "number 12345"}, nil},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := st.PortalMessages(ctx, org, c.f, c.after, 25); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
