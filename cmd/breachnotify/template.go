package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/apiclient"
	"github.com/breachnotify/breachnotify/templates"
)

const templateUse = `usage:
  breachnotify template list [--kind KIND] [--locale LOCALE] [--current] [--json]
  breachnotify template show ID [--part subject|text|html] [--json]
  breachnotify template upload --kind KIND --locale LOCALE --subject-file F --text-file F --html-file F [--activate=false] [--json]
  breachnotify template activate ID [--json]
  breachnotify template preview ID [--org REF --incident INCIDENT] [--part subject|text|html] [--json]
kinds: initial, follow_up, reminder, escalation, portal_link`

func cmdTemplate(ctx context.Context, e *env, args []string) error {
	return subcommands(ctx, e, args, templateUse, map[string]command{
		"list":     templateList,
		"show":     templateShow,
		"upload":   templateUpload,
		"activate": templateActivate,
		"preview":  templatePreview,
	})
}

func templateList(ctx context.Context, e *env, args []string) error {
	fs, asJSON := newFlags(e, "template list")
	var f apiclient.TemplateFilter
	fs.StringVar(&f.Kind, "kind", "", "only versions of this kind")
	fs.StringVar(&f.Locale, "locale", "", "only versions of this locale")
	fs.BoolVar(&f.Current, "current", false, "only the versions in use")
	if _, err := parseArgs(fs, args, 0, templateUse); err != nil {
		return err
	}
	c, err := apiClient(e)
	if err != nil {
		return err
	}
	list, err := apiclient.All(ctx, 0, func(ctx context.Context, p apiclient.Page) (notifier.ListResult[notifier.TemplateVersion], error) {
		return c.ListTemplates(ctx, f, p)
	})
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, notifier.ListResult[notifier.TemplateVersion]{Items: nonNil(list)})
	}
	t := newTable(e.stdout, "ID", "KIND", "LOCALE", "VERSION", "CURRENT", "CREATED", "BY KEY", "SUBJECT")
	for _, v := range list {
		t.row(v.ID, v.Kind, v.Locale, v.Version, yesNo(v.Current), v.CreatedAt, v.CreatedBy, oneLine(v.Subject, 60))
	}
	if err := t.flush(); err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(e.stdout, "\nNo template uploaded: every kind and locale uses the template shipped with breachnotify.")
	}
	return nil
}

func templateShow(ctx context.Context, e *env, args []string) error {
	fs, asJSON := newFlags(e, "template show")
	part := fs.String("part", "", "print only this part, as stored (subject, text or html): to edit and upload again")
	pos, err := parseArgs(fs, args, 1, templateUse)
	if err != nil {
		return err
	}
	id, err := parseID(pos[0], templateUse)
	if err != nil {
		return err
	}
	if err := checkPart(*part); err != nil {
		return err
	}
	c, err := apiClient(e)
	if err != nil {
		return err
	}
	v, err := c.Template(ctx, id)
	if err != nil {
		return err
	}
	switch {
	case *asJSON:
		return printJSON(e.stdout, v)
	case *part != "":
		_, err := io.WriteString(e.stdout, map[string]string{"subject": v.Subject, "text": v.Text, "html": v.HTML}[*part])
		return err
	}
	if err := printTemplate(e.stdout, v); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\n--- text ---\n%s\n--- html ---\n%s\n", v.Text, v.HTML)
	return nil
}

func templateUpload(ctx context.Context, e *env, args []string) error {
	fs, asJSON := newFlags(e, "template upload")
	var in notifier.TemplateUpload
	kind := fs.String("kind", "", "what the template is for: initial, follow_up, reminder, escalation or portal_link")
	fs.StringVar(&in.Locale, "locale", "", "language tag such as en, de or fr-CA")
	subjectFile := fs.String("subject-file", "", "file with the subject template")
	textFile := fs.String("text-file", "", "file with the plain-text template")
	htmlFile := fs.String("html-file", "", "file with the HTML template")
	activate := fs.Bool("activate", true, "make the version the current one for its kind and locale")
	if _, err := parseArgs(fs, args, 0, templateUse); err != nil {
		return err
	}
	if *kind == "" || in.Locale == "" || *subjectFile == "" || *textFile == "" || *htmlFile == "" {
		return usageError{"--kind, --locale, --subject-file, --text-file and --html-file are required\n" + templateUse}
	}
	in.Kind = templates.Kind(*kind)
	in.Activate = activate
	for _, f := range []struct {
		path string
		dst  *string
	}{{*subjectFile, &in.Subject}, {*textFile, &in.Text}, {*htmlFile, &in.HTML}} {
		b, err := os.ReadFile(f.path)
		if err != nil {
			return err
		}
		*f.dst = string(b)
	}
	c, err := apiClient(e)
	if err != nil {
		return err
	}
	v, created, err := c.UploadTemplate(ctx, in)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, v)
	}
	if err := printTemplate(e.stdout, v); err != nil {
		return err
	}
	switch {
	case !created:
		fmt.Fprintf(e.stdout, "\nThis content was already stored as template %d.\n", v.ID)
	case !v.Current:
		fmt.Fprintf(e.stdout, "\nStored, not in use. Try it: breachnotify template preview %d --org REF --incident INCIDENT\nthen: breachnotify template activate %d\n", v.ID, v.ID)
	}
	return nil
}

func templateActivate(ctx context.Context, e *env, args []string) error {
	fs, asJSON := newFlags(e, "template activate")
	pos, err := parseArgs(fs, args, 1, templateUse)
	if err != nil {
		return err
	}
	id, err := parseID(pos[0], templateUse)
	if err != nil {
		return err
	}
	c, err := apiClient(e)
	if err != nil {
		return err
	}
	v, err := c.ActivateTemplate(ctx, id)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, v)
	}
	return printTemplate(e.stdout, v)
}

func templatePreview(ctx context.Context, e *env, args []string) error {
	fs, asJSON := newFlags(e, "template preview")
	org := fs.String("org", "", "organization (ref or id) whose data to render; with --incident")
	incident := fs.String("incident", "", "incident (slug or id); with --org")
	part := fs.String("part", "", "print only this part (subject, text or html)")
	pos, err := parseArgs(fs, args, 1, templateUse)
	if err != nil {
		return err
	}
	id, err := parseID(pos[0], templateUse)
	if err != nil {
		return err
	}
	if (*org == "") != (*incident == "") {
		return usageError{"give both --org and --incident, or neither for the sample data\n" + templateUse}
	}
	if err := checkPart(*part); err != nil {
		return err
	}
	c, err := apiClient(e)
	if err != nil {
		return err
	}
	p, err := c.PreviewTemplate(ctx, id, *org, *incident)
	if err != nil {
		return err
	}
	switch {
	case *asJSON:
		return printJSON(e.stdout, p)
	case *part != "":
		_, err := io.WriteString(e.stdout, map[string]string{"subject": p.Subject, "text": p.Text, "html": p.HTML}[*part])
		return err
	}
	to := p.To
	switch {
	case p.SampleData:
		to = "(sample data)"
	case p.SampleContact:
		to += " (sample contact: the organization has no active contact)"
	}
	t := newTable(e.stdout, "TEMPLATE", p.TemplateID)
	t.row("kind", p.Kind)
	t.row("locale", p.Locale)
	t.row("version", p.Version)
	t.row("to", to)
	t.row("subject", p.Subject)
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\n%s\n(the HTML part: --part html)\n", p.Text)
	return nil
}

func printTemplate(out io.Writer, v notifier.TemplateVersion) error {
	t := newTable(out, "TEMPLATE", v.ID)
	t.row("kind", v.Kind)
	t.row("locale", v.Locale)
	t.row("version", v.Version)
	t.row("current", yesNo(v.Current))
	t.row("subject", oneLine(v.Subject, 0))
	t.row("created", v.CreatedAt)
	t.row("created by key", v.CreatedBy)
	t.row("activated", v.ActivatedAt)
	return t.flush()
}

// checkPart validates a --part flag.
func checkPart(part string) error {
	switch part {
	case "", "subject", "text", "html":
		return nil
	}
	return usageError{fmt.Sprintf("--part must be subject, text or html, not %q\n%s", part, templateUse)}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// oneLine puts text on one line for a table, cut to max runes (0: no limit).
func oneLine(s string, max int) string {
	r := []rune(strings.Join(strings.Fields(s), " "))
	if max > 0 && len(r) > max {
		return string(r[:max-1]) + "…"
	}
	return string(r)
}
