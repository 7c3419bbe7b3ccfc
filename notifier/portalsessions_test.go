package notifier_test

import (
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
)

func TestCoarseNetwork(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"203.0.113.77", "203.0.113.0/24"},
		{"::ffff:198.51.100.9", "198.51.100.0/24"},
		{"2001:db8:abcd:12::1", "2001:db8:abcd::/48"},
		{"", ""},
		{"not an address", ""},
		{"203.0.113.77:5000", ""},
	} {
		if got := notifier.CoarseNetwork(c.in); got != c.want {
			t.Errorf("CoarseNetwork(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
