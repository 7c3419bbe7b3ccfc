package notifier

import (
	"io"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/net/idna"

	"github.com/breachnotify/breachnotify/notifier/deadlines"
)

// ContactRow is one valid row of an organizations import: an organization
// and one of its contacts.
type ContactRow struct {
	Line    int
	OrgRef  string
	OrgName string
	// Domains are the organization's mail domains this row names (its
	// domain and domains fields), lower-case, internationalized ones in
	// their ASCII (punycode) form: stolen mail is attributed by them.
	Domains      []string
	Email        string
	Name         string
	Role         string
	PortalAccess bool
	Locale       string
	// Jurisdiction is the organization's ISO 3166 country (DE) or
	// subdivision (US-CO), upper-case; "" when the row gives none. It
	// decides which obligation profiles cover the organization.
	Jurisdiction string
	// NotifyWithinHours is the organization's contractual notice period
	// (e.g. from its DPA); 0 when the row gives none.
	NotifyWithinHours int
}

// ExposureRow is one valid row of an exposure import.
type ExposureRow struct {
	Line        int
	OrgRef      string
	ItemRef     string
	Kind        string
	OccurredAt  *time.Time
	Subject     string
	Summary     string
	SecretTypes []string
}

var (
	orgColumns = columnSet{
		all: []string{"org_ref", "org_name", "domain", "domains", "contact_email", "contact_name", "role", "portal_access", "locale",
			"jurisdiction", "notify_within"},
		required: []string{"org_ref", "org_name", "contact_email"},
	}
	exposureColumns = columnSet{
		all:      []string{"org_ref", "item_ref", "kind", "occurred_at", "subject", "summary", "secret_types"},
		required: []string{"org_ref", "item_ref", "kind"},
	}

	refPattern        = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]*$`)
	domainPattern     = regexp.MustCompile(`^(?i)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$`)
	localePattern     = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$`)
	secretTypePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

	contactRoles = []string{ContactSecurity, ContactTechnical, ContactLegal, ContactExecutive}
)

// Field limits, in characters.
const (
	maxRefLen      = 100
	maxNameLen     = 200
	maxEmailLen    = 254
	maxSubjectLen  = 500
	maxSummaryLen  = 4000
	maxSecretTypes = 32
)

// ParseOrganizations reads an organizations+contacts file (one row per
// contact). It returns every valid row, or an *Error listing every bad row
// by line and field; nothing is half-accepted.
func ParseOrganizations(r io.Reader, format Format) ([]ContactRow, error) {
	var errs rowErrors
	recs, err := readRecords(r, format, orgColumns, &errs)
	if err != nil {
		return nil, err
	}
	type orgSeen struct {
		line int
		name string
	}
	// An organization's jurisdiction and contract may be given on any of
	// its rows, but never two different ones.
	type termSeen struct {
		line  int
		value string
	}
	terms := map[string]termSeen{} // org_ref + field → first row giving it
	orgs := map[string]orgSeen{}
	emails := map[string]int{} // org_ref + lower(email) → line
	rows := make([]ContactRow, 0, len(recs))
	for _, rec := range recs {
		c := fieldCheck{rec: rec, errs: &errs}
		before := len(errs.list) + errs.dropped
		row := ContactRow{Line: rec.line}
		row.OrgRef = c.ref("org_ref")
		row.OrgName, _ = c.text("org_name", true, maxNameLen)
		row.Domains = c.domains("domain", "domains")
		row.Email = c.email("contact_email")
		row.Name, _ = c.text("contact_name", false, maxNameLen)
		row.Role, _ = c.oneOf("role", ContactSecurity, contactRoles)
		row.PortalAccess, _ = c.boolean("portal_access")
		row.Locale = c.locale("locale")
		row.Jurisdiction = c.jurisdiction("jurisdiction")
		row.NotifyWithinHours = c.hours("notify_within")
		if len(errs.list)+errs.dropped > before {
			continue
		}
		conflict := false
		for _, t := range [][2]string{{"jurisdiction", row.Jurisdiction}, {"notify_within", strconv.Itoa(row.NotifyWithinHours)}} {
			field, v := t[0], t[1]
			if v == "" || v == "0" {
				continue
			}
			key := row.OrgRef + "\x00" + field
			if prev, ok := terms[key]; ok && prev.value != v {
				errs.add(rec.line, field, "%q differs from %q given for org_ref %q on line %d", v, prev.value, row.OrgRef, prev.line)
				conflict = true
			} else if !ok {
				terms[key] = termSeen{line: rec.line, value: v}
			}
		}
		if conflict {
			continue
		}
		if prev, ok := orgs[row.OrgRef]; ok && prev.name != row.OrgName {
			errs.add(rec.line, "org_name", "%q differs from %q given for org_ref %q on line %d", row.OrgName, prev.name, row.OrgRef, prev.line)
			continue
		} else if !ok {
			orgs[row.OrgRef] = orgSeen{line: rec.line, name: row.OrgName}
		}
		key := row.OrgRef + "\x00" + strings.ToLower(row.Email)
		if prev, ok := emails[key]; ok {
			errs.add(rec.line, "contact_email", "duplicate: %s is already a contact of %s on line %d", row.Email, row.OrgRef, prev)
			continue
		}
		emails[key] = rec.line
		rows = append(rows, row)
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, Errorf(CodeInvalid, "the file has no rows")
	}
	return rows, nil
}

// ParseExposures reads an exposure batch file. Like ParseOrganizations it
// returns every row or an *Error listing every bad one. Whether each org_ref
// exists is checked by the caller against the database.
func ParseExposures(r io.Reader, format Format) ([]ExposureRow, error) {
	var errs rowErrors
	recs, err := readRecords(r, format, exposureColumns, &errs)
	if err != nil {
		return nil, err
	}
	rows := make([]ExposureRow, 0, len(recs))
	for _, rec := range recs {
		c := fieldCheck{rec: rec, errs: &errs}
		before := len(errs.list) + errs.dropped
		row := ExposureRow{Line: rec.line}
		row.OrgRef = c.ref("org_ref")
		row.ItemRef, _ = c.text("item_ref", true, maxNameLen)
		row.Kind, _ = c.oneOf("kind", "", ItemKinds)
		if row.Kind == "" && rec.fields["kind"] == "" {
			errs.add(rec.line, "kind", "is required (one of %s)", strings.Join(ItemKinds, ", "))
		}
		row.OccurredAt = c.timestamp("occurred_at")
		row.Subject, _ = c.text("subject", false, maxSubjectLen)
		row.Summary, _ = c.text("summary", false, maxSummaryLen)
		row.SecretTypes = c.secretTypes("secret_types")
		if len(errs.list)+errs.dropped > before {
			continue
		}
		rows = append(rows, row)
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, Errorf(CodeInvalid, "the file has no rows")
	}
	return rows, nil
}

func (c fieldCheck) ref(name string) string {
	v, ok := c.text(name, true, maxRefLen)
	if ok && !refPattern.MatchString(v) {
		c.errs.add(c.rec.line, name, "%q must be letters, digits and . _ : - (starting with a letter or digit)", v)
		return ""
	}
	return v
}

// maxDomains bounds the domains one row may name.
const maxDomains = 64

// domains reads the single domain field and the list field (domains
// separated by semicolons, commas or spaces) into one list without
// repeats.
func (c fieldCheck) domains(single, list string) []string {
	var out []string
	add := func(name, v string) bool {
		d, ok := c.domain(name, v)
		if ok && d != "" && !slices.Contains(out, d) {
			out = append(out, d)
		}
		return ok
	}
	if v, ok := c.text(single, false, 253); ok {
		add(single, v)
	}
	v, ok := c.text(list, false, maxDomains*254)
	if !ok {
		return out
	}
	parts := strings.FieldsFunc(v, func(r rune) bool { return r == ';' || r == ',' || unicode.IsSpace(r) })
	if len(parts) > maxDomains {
		c.errs.add(c.rec.line, list, "lists more than %d domains", maxDomains)
		return out
	}
	for _, p := range parts {
		if !add(list, p) {
			break
		}
	}
	return out
}

// domain checks one domain name and returns it lower-case in its ASCII
// form: an internationalized name (bücher.example) becomes its punycode
// (xn--bcher-kva.example), the form mail headers and DNS use, so that a
// domain compares equal however it was written.
func (c fieldCheck) domain(name, v string) (string, bool) {
	if v == "" {
		return "", true
	}
	ascii, err := idna.Lookup.ToASCII(v)
	if err != nil || len(ascii) > 253 || !domainPattern.MatchString(ascii) {
		c.errs.add(c.rec.line, name, "%q is not a domain name", v)
		return "", false
	}
	return strings.ToLower(ascii), true
}

func (c fieldCheck) email(name string) string {
	v, ok := c.text(name, true, maxEmailLen)
	if !ok {
		return ""
	}
	addr, err := mail.ParseAddress(v)
	at := strings.LastIndexByte(v, '@')
	if err != nil || addr.Address != v || addr.Name != "" || at < 1 || !domainPattern.MatchString(v[at+1:]) {
		c.errs.add(c.rec.line, name, "%q is not a valid email address", v)
		return ""
	}
	return v
}

func (c fieldCheck) locale(name string) string {
	v, ok := c.text(name, false, 16)
	if !ok {
		return ""
	}
	if v == "" {
		return "en"
	}
	if !localePattern.MatchString(v) {
		c.errs.add(c.rec.line, name, "%q is not a language tag such as en, de or fr-CA", v)
		return ""
	}
	return v
}

// jurisdiction reads an ISO 3166-1 alpha-2 country or ISO 3166-2
// subdivision code, in any case.
func (c fieldCheck) jurisdiction(name string) string {
	v, ok := c.text(name, false, 6)
	if !ok || v == "" {
		return ""
	}
	v = strings.ToUpper(v)
	if !deadlines.ValidJurisdiction(v) {
		c.errs.add(c.rec.line, name, "%q is not an ISO 3166 country or subdivision code such as DE or US-CO", v)
		return ""
	}
	return v
}

// maxNotifyWithin bounds a contractual notice period: a year, in hours.
const maxNotifyWithin = 8760

// hours reads a whole number of hours ("72" or "72h"), 1 to a year.
func (c fieldCheck) hours(name string) int {
	v, ok := c.text(name, false, 8)
	if !ok || v == "" {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSuffix(strings.ToLower(v), "h"))
	if err != nil || n < 1 || n > maxNotifyWithin {
		c.errs.add(c.rec.line, name, "%q is not a whole number of hours from 1 to %d, such as 72", v, maxNotifyWithin)
		return 0
	}
	return n
}

func (c fieldCheck) timestamp(name string) *time.Time {
	v, ok := c.text(name, false, 64)
	if !ok || v == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		c.errs.add(c.rec.line, name, "%q is not an RFC 3339 timestamp such as 2024-01-05T14:22:00Z", v)
		return nil
	}
	if t.Year() < 1970 || t.Year() > 9999 {
		c.errs.add(c.rec.line, name, "%q is out of range", v)
		return nil
	}
	t = t.UTC()
	return &t
}

func (c fieldCheck) secretTypes(name string) []string {
	v, ok := c.text(name, false, maxSecretTypes*65)
	if !ok || v == "" {
		return []string{}
	}
	parts := strings.Split(v, ";")
	if len(parts) > maxSecretTypes {
		c.errs.add(c.rec.line, name, "lists more than %d secret types", maxSecretTypes)
		return nil
	}
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		p = strings.ToLower(strings.TrimSpace(p))
		if p == "" {
			continue
		}
		if !secretTypePattern.MatchString(p) {
			c.errs.add(c.rec.line, name, "%q is not a secret type (lowercase letters, digits, _ . -)", p)
			return nil
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}
