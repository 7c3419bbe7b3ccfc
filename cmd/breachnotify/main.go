// Command breachnotify runs breach notification campaigns: the server
// (serve), the schema (migrate), API keys (apikey), a whole sample campaign
// (demo), reading stolen mail (evidence scan), and the IR verbs that talk
// to a running server.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/breachnotify/breachnotify/config"
)

const usage = `breachnotify: breach notification campaigns, end to end.

Usage:
  breachnotify serve [--api|--workers] run the API and the delivery workers (or only one of them)
  breachnotify migrate               create the database if needed, apply migrations, grant the service's role
  breachnotify demo [--once]         run a whole sample campaign against the embedded mailbox
  breachnotify apikey create --name NAME --role admin|operator|viewer | list | revoke ID
  breachnotify evidence rewrap-keys  wrap every incident's evidence key with the key file's first key (rotation)
  breachnotify bench --recipients N [--domains D] [--smtp discard|capture|URL] [--json]
  breachnotify bench ingest --messages N [--orgs N] [--json]   import a generated mbox into a scratch incident; messages/s
  breachnotify doctor                check sender authenticity (DKIM, SPF, DMARC, links), relay and database
  breachnotify doctor --dkim-record  print the DKIM DNS record to publish
  breachnotify healthcheck [--live]  exit 0 when the local serve process is ready (container health checks)
  breachnotify evidence scan PATH... read stolen mail (eml, mbox, Maildir, zip, tar.gz) and summarise it; no database

IR verbs (talk to a running server: BREACHNOTIFY_URL, BREACHNOTIFY_API_KEY; --json for scripts):
  breachnotify incident create --slug SLUG --title TITLE [--summary TEXT]
  breachnotify incident list | show INCIDENT
  breachnotify incident policy INCIDENT [--require-approval=B] [--auto-follow-up=B] [--follow-up-window D]
                                        [--reminder-after D] [--max-reminders N]
                                        [--purge-needs-approval=B] [--evidence-retention D]
  breachnotify org import FILE [--format csv|ndjson]               (FILE - reads stdin)
  breachnotify exposure import INCIDENT FILE [--format csv|ndjson]
  breachnotify evidence import INCIDENT PATH... [--name NAME]       (stolen mail: eml, mbox, Maildir, zip, tar.gz)
  breachnotify incident purge INCIDENT [--approve|--cancel|--status] [--reason TEXT] [--yes]   (admin; crypto-shredding)
  breachnotify evidence findings INCIDENT [--type T] [--dismissed=B] [--live=B]
  breachnotify evidence dismiss|undismiss INCIDENT FINDING --reason TEXT
  breachnotify evidence unattributed INCIDENT [--limit N]           (domains of the messages no organization was found for)
  breachnotify evidence reattribute INCIDENT                        (attribute the stored mail again, after adding organizations)
  breachnotify wave plan INCIDENT [--kind initial] [--urgent-only]
  breachnotify wave list [INCIDENT] | status ID [--watch] [--interval 1s]
  breachnotify wave launch ID [--idempotency-key KEY]
  breachnotify wave approve|pause|resume|cancel ID
  breachnotify notice list INCIDENT [--acknowledged=false] | show ID | resend ID | unreachable INCIDENT
  breachnotify bounce FILE                                          (record an RFC 3464 report)
  breachnotify template list [--kind KIND] [--locale LOCALE] [--current] | show ID | activate ID
  breachnotify template upload --kind KIND --locale LOCALE --subject-file F --text-file F --html-file F
  breachnotify template preview ID [--org REF --incident INCIDENT]
  breachnotify report INCIDENT [--format csv|json] [--output FILE]
  breachnotify audit list [--limit N] [--action ACTION] | verify [--checkpoint CHECKPOINT]

Configuration comes from BREACHNOTIFY_* environment variables (see README).
`

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
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{stdout: os.Stdout, stderr: os.Stderr, stdin: os.Stdin, loadConfig: config.Load}
	os.Exit(run(ctx, e, os.Args[1:]))
}

// run dispatches to a subcommand and returns the exit code.
func run(ctx context.Context, e *env, args []string) int {
	commands := map[string]command{
		"serve":       cmdServe,
		"migrate":     cmdMigrate,
		"demo":        cmdDemo,
		"bench":       cmdBench,
		"apikey":      cmdAPIKey,
		"doctor":      cmdDoctor,
		"healthcheck": cmdHealthcheck,
		"evidence":    cmdEvidence,

		"incident": cmdIncident,
		"org":      cmdOrg,
		"exposure": cmdExposure,
		"wave":     cmdWave,
		"template": cmdTemplate,
		"notice":   cmdNotice,
		"bounce":   cmdBounce,
		"report":   cmdReport,
		"audit":    cmdAudit,
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(e.stdout, usage)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "breachnotify: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err := cmd(ctx, e, args[1:]); err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(e.stderr, "breachnotify %s: %v\n", args[0], err)
			return 2
		}
		fmt.Fprintf(e.stderr, "breachnotify %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// usageError is a mistake in the command line (exit code 2).
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }
