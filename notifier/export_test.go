package notifier

// ReliesOn exposes AuditKeys.reliesOn to the tests.
func ReliesOn(k *AuditKeys, c AuditCheckpoint) bool { return k.reliesOn(c) }

// ValidDomain and CheckLevel expose the membership inputs' checks to the tests.
var (
	ValidDomain = validDomain
	CheckLevel  = checkLevel
)
