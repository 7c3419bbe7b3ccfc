package main

import (
	"context"
	"strings"

	"github.com/spf13/cobra"
)

// serverCommands are the verbs that run where the service runs, with its
// database and key files.
func serverCommands(ctx context.Context, e *env) []*cobra.Command {
	apikeyUse := "usage: breachnotify apikey create --name NAME --role admin|operator|viewer | list [--json] | revoke ID"
	benchUse := `usage:
  breachnotify bench --recipients N [--domains D] [--smtp discard|capture|URL] [--polite] [--json]
  breachnotify bench ingest --messages N [--orgs N] [--json]`
	bench := leaf(ctx, e, verbSpec{name: "bench", short: "run a whole wave against a sink and measure it", use: benchUse, run: cmdBench})
	bench.AddCommand(leaf(ctx, e, verbSpec{name: "ingest", short: "import a generated mbox into a scratch incident; messages/s",
		use: "usage: breachnotify bench ingest --messages N [--orgs N] [--json]",
		run: func(ctx context.Context, e *env, args []string) error {
			return cmdBench(ctx, e, append([]string{"ingest"}, args...))
		}}))
	return []*cobra.Command{
		leaf(ctx, e, verbSpec{name: "serve", short: "run the API and the delivery workers (or only one of them)",
			use: "usage: breachnotify serve [--api] [--workers]\nWith neither flag, both; every process serves /healthz, /readyz and /metrics.", run: cmdServe}),
		migrateCommand(ctx, e),
		leaf(ctx, e, verbSpec{name: "demo", short: "run a whole sample campaign against the embedded mailbox",
			use: "usage: breachnotify demo [--once] [--log-file FILE]", run: cmdDemo}),
		group(ctx, e, "apikey", "create, list and revoke API keys (with database access: how the first admin key is made)", apikeyUse, cmdAPIKey,
			verbSpec{name: "create", short: "create a key; it is printed once", use: "usage: breachnotify apikey create --name NAME --role admin|operator|viewer"},
			verbSpec{name: "list", short: "list the keys", use: "usage: breachnotify apikey list [--json]"},
			verbSpec{name: "revoke", short: "revoke a key", use: "usage: breachnotify apikey revoke ID"},
		),
		bench,
		leaf(ctx, e, verbSpec{name: "doctor", short: "check sender authenticity (DKIM, SPF, DMARC, links), relay and database",
			use: "usage: breachnotify doctor [--timeout 5s] [--dkim-record] [--json]", run: cmdDoctor}),
		leaf(ctx, e, verbSpec{name: "healthcheck", short: "exit 0 when the local serve process is ready (container health checks)",
			use: healthcheckUse, run: cmdHealthcheck}),
	}
}

// irCommands are the verbs that talk to a running server.
func irCommands(ctx context.Context, e *env) []*cobra.Command {
	return []*cobra.Command{
		groupFromUse(ctx, e, "incident", "create, list, show incidents; their policy; purge their evidence", incidentUse, cmdIncident, map[string]string{
			"create": "create an incident", "list": "list incidents", "show": "show one incident",
			"policy": "show or change an incident's policy", "purge": "destroy an incident's evidence (admin; crypto-shredding)",
		}),
		groupFromUse(ctx, e, "org", "import organizations and their contacts", orgUse, cmdOrg, map[string]string{
			"import": "import organizations from CSV or NDJSON",
		}),
		groupFromUse(ctx, e, "exposure", "import what each organization had exposed", exposureUse, cmdExposure, map[string]string{
			"import": "import exposure items into an incident",
		}),
		groupFromUse(ctx, e, "evidence", "stolen mail: scan, import, findings, attribution, key rotation", evidenceUse, cmdEvidence, map[string]string{
			"import": "import stolen mail into an incident", "findings": "list the secrets found in the evidence",
			"dismiss": "dismiss a finding (false positive)", "undismiss": "count a dismissed finding again",
			"unattributed": "domains of the messages no organization was found for",
			"reattribute":  "attribute the stored mail again, after adding organizations",
			"rewrap-keys":  "wrap every incident's evidence key with the key file's first key (rotation; on the server)",
			"scan":         "read stolen mail and summarise it; no database, no server",
		}),
		groupFromUse(ctx, e, "wave", "plan, approve, launch and watch waves of notices", waveUse, cmdWave, map[string]string{
			"plan": "plan a wave (nothing is sent yet)", "list": "list waves", "status": "show a wave's progress (--watch: rate and ETA)",
			"launch": "launch a planned wave", "approve": "approve a wave (a second key)", "pause": "pause a running wave",
			"resume": "resume a paused wave", "cancel": "cancel a wave",
		}),
		groupFromUse(ctx, e, "notice", "notices: list, show, resend, unreachable organizations", noticeUse, cmdNotice, map[string]string{
			"list": "list an incident's notices", "show": "show one notice", "resend": "send a notice again",
			"unreachable": "organizations no contact could be reached at",
		}),
		leaf(ctx, e, verbSpec{name: "bounce", short: "record an RFC 3464 bounce report", use: bounceUse, run: cmdBounce}),
		groupFromUse(ctx, e, "template", "message templates: list, show, upload, activate, preview", templateUse, cmdTemplate, map[string]string{
			"list": "list template versions", "show": "show a template version", "upload": "upload a new template version",
			"activate": "put a version in use", "preview": "render a version for an organization",
		}),
		leaf(ctx, e, verbSpec{name: "report", short: "an incident's delivery report (CSV or JSON)", use: reportUse, run: cmdReport, ownFlags: []string{"output"}}),
		groupFromUse(ctx, e, "audit", "the audit trail: list and verify its hash chain", auditUse, cmdAudit, map[string]string{
			"list": "list audit entries, newest first", "verify": "verify the hash chain (against a checkpoint)",
		}),
	}
}

// groupFromUse builds a group whose verbs' usage lines are taken from the
// group's usage text, so each verb's --help shows exactly its lines.
func groupFromUse(ctx context.Context, e *env, name, short, use string, dispatch command, shorts map[string]string) *cobra.Command {
	var verbs []verbSpec
	for _, verb := range verbOrder(use, name) {
		verbs = append(verbs, verbSpec{name: verb, short: shorts[verb], use: verbUse(use, name, verb)})
	}
	return group(ctx, e, name, short, use, dispatch, verbs...)
}

// verbOrder lists the verbs a group's usage text names, in its order
// ("wave approve|pause|resume|cancel ID" names four).
func verbOrder(use, group string) []string {
	var verbs []string
	seen := map[string]bool{}
	for _, line := range strings.Split(use, "\n") {
		for _, v := range verbsOnLine(line, group) {
			if !seen[v] {
				seen[v] = true
				verbs = append(verbs, v)
			}
		}
	}
	return verbs
}

func verbsOnLine(line, group string) []string {
	f := strings.Fields(line)
	if len(f) < 3 || f[0] != "breachnotify" || f[1] != group {
		return nil
	}
	return strings.Split(f[2], "|")
}

// verbUse is the usage text of one verb: the group's lines that name it,
// with their continuation lines.
func verbUse(use, group, verb string) string {
	var b strings.Builder
	b.WriteString("usage:\n")
	in := false
	for _, line := range strings.Split(use, "\n") {
		if vs := verbsOnLine(line, group); vs != nil {
			in = false
			for _, v := range vs {
				in = in || v == verb
			}
		} else if !strings.HasPrefix(line, "    ") && !strings.HasPrefix(line, "\t") {
			in = false
		}
		if in {
			b.WriteString(line + "\n")
		}
	}
	return strings.TrimRight(b.String(), "\n")
}
