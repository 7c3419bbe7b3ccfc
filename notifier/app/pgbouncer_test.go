package app_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/migrations/testdb"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
)

// TestCampaignThroughPgBouncer runs a campaign with the service behind a
// real PgBouncer in transaction pooling mode, poll-only: every delivery is
// sent exactly once and the wave completes. The pooler has 4 server
// connections for the service's three pools, so the service's connections
// take turns on them transaction by transaction. PgBouncer before 1.21
// (Debian 12 ships 1.18) keeps no prepared statements across
// transactions, and no LISTEN or session setting survives one: anything of
// the service that relied on them would fail here.
func TestCampaignThroughPgBouncer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const serverConns = 4
	ownerURL := testdb.URL(t)
	serviceURL := testdb.LoginURL(t, ownerURL, testdb.ServiceLogin)
	apptest.StartAsServiceRole(t, ownerURL, testdb.ServiceLogin)
	bouncer := apptest.StartPgBouncer(t, ownerURL, serverConns, testdb.ServiceLogin, testdb.OwnerRole)

	t.Run("refuses a login that would switch role", func(t *testing.T) {
		cfg := apptest.TestConfig(bouncer.URL(t, ownerURL))
		cfg.DatabasePollOnly = true
		_, err := app.New(ctx, cfg, app.Options{Logger: slog.New(slog.DiscardHandler), NoWorkers: true})
		if err == nil || !strings.Contains(err.Error(), "ALTER ROLE "+pgx.Identifier{testdb.OwnerRole}.Sanitize()+" IN DATABASE") {
			t.Fatalf("app.New as the owner through PgBouncer: %v, want a refusal saying to ALTER ROLE", err)
		}
	})

	t.Run("without poll-only the start fails saying to set it", func(t *testing.T) {
		// One server connection: the second pool's first statement meets
		// the first pool's prepared statement there.
		single := apptest.StartPgBouncer(t, ownerURL, 1, testdb.ServiceLogin)
		cfg := apptest.TestConfig(single.URL(t, serviceURL))
		_, err := app.New(ctx, cfg, app.Options{Logger: slog.New(slog.DiscardHandler), NoWorkers: true})
		if err == nil || !strings.Contains(err.Error(), "set BREACHNOTIFY_DATABASE_POLL_ONLY=true") {
			t.Fatalf("app.New through PgBouncer without poll-only: %v, want a refusal saying to set BREACHNOTIFY_DATABASE_POLL_ONLY", err)
		}
	})

	cfg := apptest.TestConfig(bouncer.URL(t, serviceURL))
	cfg.DatabasePollOnly = true
	cfg.ChunkSize = 10 // many jobs, fetched and completed concurrently
	e := apptest.StartApp(t, cfg, app.Options{})
	slug := e.LoadSample(t, "pgbouncer")
	const extra = 120
	orgs := "org_ref,org_name,domain,contact_email,contact_name,role,portal_access,locale\n"
	items := "org_ref,item_ref,kind\n"
	for i := range extra {
		ref := fmt.Sprintf("pooled%03d", i)
		orgs += fmt.Sprintf("%s,Pooled %d,%s.example,security@%s.example,Desk %d,security,false,en\n", ref, i, ref, ref, i)
		items += ref + ",ITEM-" + ref + ",email\n"
	}
	if _, err := e.Client.ImportOrganizations(ctx, strings.NewReader(orgs), notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.ImportExposures(ctx, slug, strings.NewReader(items), notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}
	w := e.LaunchInitial(t, slug)

	want := len(batch1Recipients) + extra
	if w.Status != notifier.WaveCompleted || w.Deliveries[notifier.DeliverySent] != want {
		t.Fatalf("wave = %s %v, want completed with %d sent", w.Status, w.Deliveries, want)
	}
	perRecipient := map[string]int{}
	ids := map[string]bool{}
	for _, m := range e.Mailbox.Messages() {
		perRecipient[m.Recipients[0]]++
		ids[msgID(apptest.Parse(t, m.Raw))] = true
	}
	for rcpt := range batch1Recipients {
		if perRecipient[rcpt] != 1 {
			t.Errorf("%s received %d messages, want 1", rcpt, perRecipient[rcpt])
		}
	}
	for i := range extra {
		if rcpt := fmt.Sprintf("security@pooled%03d.example", i); perRecipient[rcpt] != 1 {
			t.Errorf("%s received %d messages, want 1", rcpt, perRecipient[rcpt])
		}
	}
	if len(e.Mailbox.Messages()) != want || len(ids) != want {
		t.Errorf("%d messages with %d Message-IDs at the relay, want %d of each", len(e.Mailbox.Messages()), len(ids), want)
	}
	clients, servers := bouncer.Pools(t)
	if clients <= servers || servers > serverConns {
		t.Errorf("PgBouncer holds %d client connections of the service on %d server connections, want more clients than servers, at most %d", clients, servers, serverConns)
	}
	t.Logf("%d deliveries sent once each through PgBouncer: %d client connections on %d server connections", want, clients, servers)
}
