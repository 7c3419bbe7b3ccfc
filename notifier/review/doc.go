// Package review shows an organization's members the stolen mail
// attributed to it, in the portal (issue 13): it reads a message's
// ciphertext back, decrypts it with the incident's data key
// (notifier/vault), parses it as the import did (notifier/evidence), masks
// the secrets found in it (notifier/secrets) and makes its HTML safe to
// look at (bluemonday, after a pass that defangs links and replaces
// images). Every use goes through notifier.Service.PortalEvidence first,
// which checks that the message is the session's organization's and
// audits the use: no audit entry, no byte of the message.
package review
