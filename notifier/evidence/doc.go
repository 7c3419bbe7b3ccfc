// Package evidence reads stolen mail: it streams the messages out of .eml
// files, mbox files, Maildir folders and zip/tar archives of those, one at
// a time and with memory bounded by the largest message kept, and
// identifies each by the SHA-256 of its bytes.
package evidence
