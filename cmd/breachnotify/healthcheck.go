package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

const healthcheckUse = `usage: breachnotify healthcheck [--live] [--timeout 5s]
Asks the serve process on BREACHNOTIFY_HTTP_ADDR whether it is ready (the
database answers) or, with --live, merely running; exit 0 when it is, 1 when
not. The container image has no shell or curl: this is its health check.`

// cmdHealthcheck probes the local serve process's /readyz (or /healthz).
// It reads the listen address, not BREACHNOTIFY_URL: a health check is
// about this container's process, not whichever server the CLI talks to.
func cmdHealthcheck(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	live := fs.Bool("live", false, "check only that the process answers (/healthz), not the database")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error() + "\n" + healthcheckUse}
	}
	if fs.NArg() > 0 {
		return usageError{healthcheckUse}
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	path := "/readyz"
	if *live {
		path = "/healthz"
	}
	url := "http://" + localAddr(cfg.HTTPAddr) + path
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		// %v, not %w: a health check fails with 1 whatever the cause (the
		// IR verbs' "unreachable" code is for people and scripts, not for
		// container runtimes).
		return fmt.Errorf("%s: %v", url, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	fmt.Fprintf(e.stdout, "%s: ok\n", url)
	return nil
}

// localAddr turns a listen address into one to dial: a wildcard host
// (0.0.0.0, ::, empty) becomes the loopback address.
func localAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	switch strings.Trim(host, "[]") {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}
