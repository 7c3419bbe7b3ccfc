package smtp

import (
	"testing"

	"github.com/breachnotify/breachnotify/notifier/delivery"
)

// TestThrottling classifies relay replies: a temporary reply that asks
// the sender to slow down pauses the recipient's domain; anything else
// (a greylisted or unknown recipient, a permanent failure, an accepted
// message, no reply at all) does not.
func TestThrottling(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		res  delivery.SendResult
		want bool
	}{
		{"421 closing the session", delivery.SendResult{Code: 421, Detail: "4.3.2", Reply: "Service not available, closing transmission channel"}, true},
		{"421 without text", delivery.SendResult{Code: 421}, true},
		{"450 rate", delivery.SendResult{Code: 450, Reply: "Requested mail action not taken: rate exceeded"}, true},
		{"451 too many messages", delivery.SendResult{Code: 451, Reply: "Too many messages from your IP, slow down"}, true},
		{"452 limit", delivery.SendResult{Code: 452, Reply: "Message limit reached for this hour"}, true},
		{"454 throttled", delivery.SendResult{Code: 454, Reply: "Throttled: try again later"}, true},
		{"450 4.7.28 rate limited", delivery.SendResult{Code: 450, Detail: "4.7.28", Reply: "The user has exceeded the permitted sending rate"}, true},
		{"421 4.7.28 Gmail", delivery.SendResult{Code: 421, Detail: "4.7.28", Reply: "Our system has detected an unusual rate of unsolicited mail"}, true},
		{"451 4.7.28 without text", delivery.SendResult{Code: 451, Detail: "4.7.28", Reply: "policy"}, true},
		{"452 4.3.2 not accepting", delivery.SendResult{Code: 452, Detail: "4.3.2", Reply: "System not accepting network messages"}, true},
		{"451 4.7.0 policy", delivery.SendResult{Code: 451, Detail: "4.7.0", Reply: "Temporary server error"}, true},
		{"451 4.7.500 busy", delivery.SendResult{Code: 451, Detail: "4.7.500", Reply: "Server busy"}, true},

		{"451 4.7.1 greylisted", delivery.SendResult{Code: 451, Detail: "4.7.1", Reply: "<soc@contoso.example>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/"}, false},
		{"450 4.7.1 graylisting, try again later", delivery.SendResult{Code: 450, Detail: "4.7.1", Reply: "Graylisting in action, try again later"}, false},
		{"451 4.7.1 greylisted with limit wording", delivery.SendResult{Code: 451, Detail: "4.7.1", Reply: "Greylisted: rate of new triplets limited"}, false},
		{"451 4.7.1 please retry", delivery.SendResult{Code: 451, Detail: "4.7.1", Reply: "Please retry in 5 minutes"}, false},
		{"450 mailbox busy", delivery.SendResult{Code: 450, Detail: "4.2.1", Reply: "Mailbox busy"}, false},
		{"452 mailbox full", delivery.SendResult{Code: 452, Detail: "4.2.2", Reply: "Mailbox full"}, false},
		{"451 local error", delivery.SendResult{Code: 451, Detail: "4.3.0", Reply: "Local error in processing"}, false},
		{"other 4xx code with rate text", delivery.SendResult{Code: 441, Reply: "rate exceeded"}, false},

		{"550 rate limit is permanent", delivery.SendResult{Code: 550, Verdict: delivery.Rejected, Detail: "5.7.1", Reply: "Daily sending limit exceeded"}, false},
		{"554 too many", delivery.SendResult{Code: 554, Verdict: delivery.Rejected, Reply: "Too many recipients"}, false},
		{"421 marked permanent", delivery.SendResult{Code: 421, Verdict: delivery.Rejected}, false},
		{"accepted", delivery.SendResult{Verdict: delivery.Accepted, Code: 250, Reply: "2.0.0 OK rate 1/s"}, false},
		{"accepted with a 421 code", delivery.SendResult{Verdict: delivery.Accepted, Code: 421}, false},
		{"no reply", delivery.SendResult{Code: 0, Reply: "dial tcp: connection refused; rate limit"}, false},
		{"no reply, broken", delivery.SendResult{Broken: true, Reply: "EOF"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := isThrottling(tt.res); got != tt.want {
				t.Errorf("isThrottling(%+v) = %v, want %v", tt.res, got, tt.want)
			}
		})
	}
}
