package store

import (
	"os"
	"strings"
	"testing"
)

// TestWebhookTriggersFollowTheRules: the webhook triggers (migration 0029,
// SQL that cannot be built from Go) test the same status lists as the
// statements here.
func TestWebhookTriggersFollowTheRules(t *testing.T) {
	b, err := os.ReadFile("../../migrations/sql/0029_webhooks.sql")
	if err != nil {
		t.Fatal(err)
	}
	sql := string(b)
	for _, want := range []string{
		"d.status IN (" + reachingStatuses + ")",
		"n.status IN (" + undeliveredStatuses + ")",
		"n.status IN (" + failedStatuses + ")",
	} {
		if !strings.Contains(sql, want) {
			t.Errorf("the webhook triggers do not test %s", want)
		}
	}
}
