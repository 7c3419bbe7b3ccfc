package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/breachnotify/breachnotify/notifier"
)

const orgUse = `usage:
  breachnotify org import FILE [--format csv|ndjson] [--json]
FILE is .csv, .ndjson or .jsonl; - reads standard input and needs --format.`

const exposureUse = `usage:
  breachnotify exposure import INCIDENT FILE [--format csv|ndjson] [--json]
FILE is .csv, .ndjson or .jsonl; - reads standard input and needs --format.`

func cmdOrg(ctx context.Context, e *env, args []string) error {
	return subcommands(ctx, e, args, orgUse, map[string]command{"import": orgImport})
}

func cmdExposure(ctx context.Context, e *env, args []string) error {
	return subcommands(ctx, e, args, exposureUse, map[string]command{"import": exposureImport})
}

func orgImport(ctx context.Context, e *env, args []string) error {
	fs, asJSON := newFlags(e, "org import")
	format := fs.String("format", "", "csv or ndjson (default: from the file's extension)")
	pos, err := parseArgs(fs, args, 1, orgUse)
	if err != nil {
		return err
	}
	body, f, err := openImport(pos[0], *format, orgUse)
	if err != nil {
		return err
	}
	defer body.Close()
	c, err := apiClient(e)
	if err != nil {
		return err
	}
	res, err := c.ImportOrganizations(ctx, body, f)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, res)
	}
	t := newTable(e.stdout, "IMPORTED", "CREATED", "UPDATED")
	t.row("organizations", res.Organizations.Created, res.Organizations.Updated)
	t.row("contacts", res.Contacts.Created, res.Contacts.Updated)
	return t.flush()
}

func exposureImport(ctx context.Context, e *env, args []string) error {
	fs, asJSON := newFlags(e, "exposure import")
	format := fs.String("format", "", "csv or ndjson (default: from the file's extension)")
	pos, err := parseArgs(fs, args, 2, exposureUse)
	if err != nil {
		return err
	}
	body, f, err := openImport(pos[1], *format, exposureUse)
	if err != nil {
		return err
	}
	defer body.Close()
	c, err := apiClient(e)
	if err != nil {
		return err
	}
	res, err := c.ImportExposures(ctx, pos[0], body, f)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, res)
	}
	t := newTable(e.stdout, "BATCH", "NEW ITEMS", "DUPLICATES", "ORGANIZATIONS")
	t.row(res.BatchID, res.ItemsNew, res.ItemsDuplicate, res.Organizations)
	if err := t.flush(); err != nil {
		return err
	}
	// What the batch sets in motion, which only --json used to show.
	fmt.Fprintln(e.stdout)
	t = newTable(e.stdout, "follow-ups", refSummary(res.FollowUps, "(told before: a follow-up is scheduled)"))
	t.row("awaiting initial", refSummary(res.AwaitingInitial, "(never told: the next initial wave takes them)"))
	return t.flush()
}

// refsShown is how many organization refs a summary line names.
const refsShown = 10

// refSummary is a count and the first refs of a list of organizations;
// -o json has them all.
func refSummary(refs []string, why string) string {
	if len(refs) == 0 {
		return "0"
	}
	shown := refs[:min(len(refs), refsShown)]
	s := fmt.Sprintf("%d %s: %s", len(refs), why, strings.Join(shown, ", "))
	if more := len(refs) - len(shown); more > 0 {
		s += fmt.Sprintf(" and %d more (-o json lists them all)", more)
	}
	return s
}

// openImport opens an import file (- for standard input) and settles its
// format: --format wins, otherwise the extension decides.
func openImport(name, format, use string) (io.ReadCloser, notifier.Format, error) {
	var f notifier.Format
	switch format {
	case "csv":
		f = notifier.FormatCSV
	case "ndjson", "jsonl":
		f = notifier.FormatNDJSON
	case "":
		if name == "-" {
			return nil, "", usageError{"reading standard input needs --format csv or --format ndjson\n" + use}
		}
		var ok bool
		if f, ok = notifier.FormatFromFileName(strings.ToLower(name)); !ok {
			return nil, "", usageError{fmt.Sprintf("cannot tell the format of %q from its extension (.csv, .ndjson, .jsonl); give --format csv|ndjson\n%s", name, use)}
		}
	default:
		return nil, "", usageError{fmt.Sprintf("--format must be csv or ndjson, not %q\n%s", format, use)}
	}
	if name == "-" {
		return io.NopCloser(os.Stdin), f, nil
	}
	file, err := os.Open(name)
	if err != nil {
		return nil, "", err
	}
	return file, f, nil
}
