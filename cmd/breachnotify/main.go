// Command breachnotify runs breach notification campaigns: the server
// (serve), the schema (migrate), API keys (apikey), a whole sample campaign
// (demo), reading stolen mail (evidence scan), and the IR verbs that talk
// to a running server.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/breachnotify/breachnotify/config"
)

// command is one subcommand: it gets its arguments and the standard streams.
type command func(ctx context.Context, env *env, args []string) error

// env is what every subcommand may use.
type env struct {
	stdout, stderr io.Writer
	// stdin is where a typed confirmation is read (incident purge); nil
	// reads nothing (no terminal).
	stdin io.Reader
	// loadConfig reads the configuration (replaceable in tests).
	loadConfig func() (*config.Config, error)
	// getenv reads the environment (nil: os.Getenv); the CLI asks it which
	// settings the environment gave, to rank them against the profile.
	getenv func(string) string
	// globals are the global flags of this run (--url, -o, ...).
	globals *globals
}

func (e *env) env(name string) string {
	if e.getenv != nil {
		return e.getenv(name)
	}
	return os.Getenv(name)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{stdout: os.Stdout, stderr: os.Stderr, stdin: os.Stdin, loadConfig: config.Load, globals: &globals{}}
	os.Exit(run(ctx, e, os.Args[1:]))
}
