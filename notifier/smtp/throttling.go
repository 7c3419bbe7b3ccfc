package smtp

import (
	"regexp"
	"strings"

	"github.com/breachnotify/breachnotify/notifier/delivery"
)

// throttlingText recognises replies that ask the sender to slow down,
// rather than report a problem with one recipient.
var throttlingText = regexp.MustCompile(`(?i)rate|too many|throttl|slow down|exceed|limit|try again later|temporarily deferred`)

// isThrottling reports whether a deferred message's reply asks us to slow
// down sending to that domain: 421 (the server is closing the session), or
// a 450/451/452/454 that speaks of rates and limits or carries the enhanced
// codes 4.3.2, 4.7.0, 4.7.2x or 4.7.5xx. Greylisting (often 451 4.7.1) is
// not throttling: that recipient is retried on its own schedule.
func isThrottling(r delivery.SendResult) bool {
	if r.Verdict != delivery.Deferred || r.Code == 0 {
		return false
	}
	if r.Code == 421 {
		return true
	}
	switch r.Code {
	case 450, 451, 452, 454:
	default:
		return false
	}
	text := strings.ToLower(r.Reply)
	if strings.Contains(text, "greylist") || strings.Contains(text, "graylist") {
		return false
	}
	switch {
	case r.Detail == "4.3.2", r.Detail == "4.7.0", strings.HasPrefix(r.Detail, "4.7.2"), strings.HasPrefix(r.Detail, "4.7.5"):
		return true // not accepting now, policy, rate limited (4.7.28), server busy (4.7.500)
	}
	return throttlingText.MatchString(text)
}
