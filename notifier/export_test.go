package notifier

// ReliesOn exposes AuditKeys.reliesOn to the tests.
func ReliesOn(k *AuditKeys, c AuditCheckpoint) bool { return k.reliesOn(c) }
