package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"

	"github.com/breachnotify/breachnotify/notifier/apiclient"
)

// Exit codes, distinct so scripts can tell why a command failed. They are
// part of the CLI's interface: the README lists them.
const (
	exitOK = 0
	// exitError is any other failure (a server error, a refused import, a
	// local problem).
	exitError = 1
	// exitUsage is a mistake in the command line: unknown verb or flag,
	// missing argument, a refused request such as `migrate down`.
	exitUsage = 2
	// exitAuth is no key, a rejected key (401) or a key whose role may not
	// do this (403).
	exitAuth = 3
	// exitNotFound is a 404: no such incident, wave, notice...
	exitNotFound = 4
	// exitConflict is a 409: the state does not allow it (a wave already
	// launched, a duplicate slug).
	exitConflict = 5
	// exitUnreachable is no answer from the server: refused connection,
	// DNS failure, timeout.
	exitUnreachable = 6
)

// exitCodesText documents the codes in the top-level help.
const exitCodesText = `0 ok, 1 error, 2 usage, 3 auth (no key, 401, 403),
4 not found (404), 5 conflict (409), 6 server unreachable.`

// exitCode maps an error to its exit code.
func exitCode(err error) int {
	var ue usageError
	var apiErr *apiclient.Error
	var urlErr *url.Error
	var opErr *net.OpError
	var dnsErr *net.DNSError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	case errors.Is(err, errNoAPIKey):
		return exitAuth
	case errors.As(err, &apiErr):
		switch apiErr.Status {
		case http.StatusUnauthorized, http.StatusForbidden:
			return exitAuth
		case http.StatusNotFound:
			return exitNotFound
		case http.StatusConflict:
			return exitConflict
		}
		return exitError
	case errors.Is(err, context.Canceled):
		return exitError
	case errors.As(err, &urlErr), errors.As(err, &opErr), errors.As(err, &dnsErr):
		return exitUnreachable
	}
	return exitError
}
