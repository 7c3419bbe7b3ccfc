// Package sampledata holds the project's own fictional dataset (.example
// domains): organizations with their contacts, two exposure batches and a
// bounce report. The demo loads it; tests use it as realistic input.
package sampledata

import "embed"

//go:embed *.csv *.eml
var files embed.FS

// The sample files.
const (
	Organizations = "organizations.csv"
	// ExposuresBatch1 is the first batch: 12 items over 7 organizations.
	ExposuresBatch1 = "exposures-batch1.csv"
	// ExposuresBatch2 is a later batch: one item already known, new items
	// for contoso and fabrikam, and a first item for proseware.
	ExposuresBatch2 = "exposures-batch2.csv"
	// HardBounce is an RFC 3464 report of a permanent failure.
	HardBounce = "dsn-hard-bounce.eml"
)

// File returns a sample file's bytes.
func File(name string) []byte {
	b, err := files.ReadFile(name)
	if err != nil {
		panic("sampledata: no file " + name) // a programming error: the names are constants
	}
	return b
}
