package notifier

import "io"

// ReliesOn exposes AuditKeys.reliesOn to the tests.
func ReliesOn(k *AuditKeys, c AuditCheckpoint) bool { return k.reliesOn(c) }

// ParseExposures reads a whole exposure file as the store does, without
// one: every valid row, or the error Verdict gives (the database's checks
// aside).
func ParseExposures(r io.Reader, format Format) ([]ExposureRow, error) {
	f, err := NewExposureFile(r, format, ImportLimits{})
	if err != nil {
		return nil, err
	}
	var rows []ExposureRow
	for {
		row, ok := f.Next()
		if !ok {
			break
		}
		rows = append(rows, row)
	}
	if err := f.Verdict(nil, 0); err != nil {
		return nil, err
	}
	return rows, nil
}

// ValidDomain and CheckLevel expose the membership inputs' checks to the tests.
var (
	ValidDomain = validDomain
	CheckLevel  = checkLevel
)
