//go:build unix

package smtp_test

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time this process has used, user and system: a
// benchmark's cost that other tenants of a shared machine do not inflate
// the way they inflate wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
