package notifier

import (
	"fmt"
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
	"github.com/breachnotify/breachnotify/templates"
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
	Domains []string
	// Email is the address as given, which may be internationalized
	// (RFC 6531: sécurité@exämple.de); EmailASCII is the same address with
	// its domain in ASCII (punycode, lower-case) and its local part as
	// given. Contacts are matched by the lower case of EmailASCII, so
	// soc@bücher.example and soc@xn--bcher-kva.example are one contact.
	Email        string
	EmailASCII   string
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
	// The aliases are the few other names spreadsheets and other tools
	// give these columns (after case folding, spaces and hyphens as
	// underscores); README "Import files" lists them.
	orgColumns = columnSet{
		all: []string{"org_ref", "org_name", "domain", "domains", "contact_email", "contact_name", "role", "portal_access", "locale",
			"jurisdiction", "notify_within"},
		required: []string{"org_ref", "org_name", "contact_email"},
		aliases: map[string]string{
			"organization_ref": "org_ref", "organisation_ref": "org_ref",
			"organization_name": "org_name", "organisation_name": "org_name", "organization": "org_name", "organisation": "org_name",
			"email": "contact_email", "e_mail": "contact_email", "email_address": "contact_email",
			"name": "contact_name", "language": "locale",
		},
	}
	exposureColumns = columnSet{
		all:      []string{"org_ref", "item_ref", "kind", "occurred_at", "subject", "summary", "secret_types"},
		required: []string{"org_ref", "item_ref", "kind"},
		aliases: map[string]string{
			"organization_ref": "org_ref", "organisation_ref": "org_ref",
			"item": "item_ref", "item_id": "item_ref", "secrets": "secret_types",
		},
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

// OrganizationFile is an organizations+contacts file being read for
// import, one row at a time, so that memory stays flat whatever the file's
// size: the store copies the rows as Next hands them over, runs the checks
// across rows (RowConflict) in the database, and asks Verdict whether to
// commit. Per-row checks (each field) are made here, as rows are read.
type OrganizationFile struct {
	rowFile
	// first are the first valid rows, one per contact, for a preview.
	first []ContactRow
}

// NewOrganizationFile starts reading an organizations file. Problems with
// its header are reported by Verdict with the rest; an error here is an
// I/O error or a limit reached.
func NewOrganizationFile(r io.Reader, format Format, limits ImportLimits) (*OrganizationFile, error) {
	f := &OrganizationFile{}
	var err error
	f.rr, err = newRecordReader(r, format, orgColumns, &f.errs, limits)
	return f, err
}

// Next returns the next row whose fields are valid; false at the end of
// the file or on an error, which Err then returns. Invalid rows are noted
// for Verdict and skipped. Rows are not checked against each other here.
func (f *OrganizationFile) Next() (ContactRow, bool) {
	row, ok := nextRow(&f.rowFile, f.check)
	if ok {
		f.keepFirst(row)
	}
	return row, ok
}

// FirstRows are the first valid rows read, at most importPreviewRows, a
// repeat of a contact left out: what a preview shows of a file that
// passes.
func (f *OrganizationFile) FirstRows() []ContactRow { return f.first }

func (f *OrganizationFile) keepFirst(row ContactRow) {
	if len(f.first) >= importPreviewRows {
		return
	}
	for _, r := range f.first {
		if r.OrgRef == row.OrgRef && r.ContactKey() == row.ContactKey() {
			return
		}
	}
	f.first = append(f.first, row)
}

func (f *OrganizationFile) check(rec record) (ContactRow, bool) {
	c := fieldCheck{rec: rec, errs: &f.errs}
	before := f.errs.count()
	row := ContactRow{Line: rec.line}
	row.OrgRef = c.ref("org_ref")
	row.OrgName, _ = c.text("org_name", true, maxNameLen)
	row.Domains = c.domains("domain", "domains")
	row.Email, row.EmailASCII = c.email("contact_email")
	row.Name, _ = c.text("contact_name", false, maxNameLen)
	row.Role, _ = c.oneOf("role", ContactSecurity, contactRoles)
	row.PortalAccess, _ = c.boolean("portal_access")
	row.Locale = c.locale("locale")
	row.Jurisdiction = c.jurisdiction("jurisdiction")
	row.NotifyWithinHours = c.hours("notify_within")
	return row, f.errs.count() == before
}

// ContactKey is what makes two rows of one organization the same contact:
// the lower case of the ASCII form of the address.
func (r ContactRow) ContactKey() string { return strings.ToLower(r.EmailASCII) }

// RowConflict is a row of an organizations file that contradicts an
// earlier row (FirstLine): an organization's name, jurisdiction or
// contract given differently, or a contact given twice with other
// details. Which of the two is right only the user knows, so the import
// is refused naming both. The store finds them across the whole file;
// ParseOrganizations finds the same in memory.
type RowConflict struct {
	Line int
	// Field is jurisdiction, notify_within, org_name or contact_email.
	Field  string
	OrgRef string
	// Value is the row's value (for contact_email, the address as
	// given); FirstValue the earlier row's (not used for contact_email).
	Value, FirstValue string
	FirstLine         int
}

// RowError says what the conflict is and what to do.
func (c RowConflict) RowError() RowError {
	msg := fmt.Sprintf("%q differs from %q given for org_ref %q on line %d", c.Value, c.FirstValue, c.OrgRef, c.FirstLine)
	if c.Field == "contact_email" {
		msg = fmt.Sprintf("%s is already a contact of %s on line %d, with other details; keep one of lines %d and %d",
			c.Value, c.OrgRef, c.FirstLine, c.FirstLine, c.Line)
	}
	return RowError{Line: c.Line, Field: c.Field, Message: msg}
}

// ParseOrganizations reads an organizations+contacts file (one row per
// contact) into memory. It returns every valid row, or an *Error listing
// every bad row by line and field; nothing is half-accepted. A row
// repeated word for word is taken once; two rows for the same contact that
// differ are refused, naming both lines. The import itself streams
// (OrganizationFile) and makes the checks across rows in the database;
// this is the same reading for callers that want the rows, and the
// reference the store's checks are tested against.
func ParseOrganizations(r io.Reader, format Format, limits ImportLimits) ([]ContactRow, error) {
	f, err := NewOrganizationFile(r, format, limits)
	if err != nil {
		return nil, err
	}
	var rows []ContactRow
	checks := newCrossRowChecks()
	for {
		row, ok := f.Next()
		if !ok {
			break
		}
		conflicts, repeat := checks.add(row, len(rows), rows)
		for _, c := range conflicts {
			e := c.RowError()
			f.errs.add(e.Line, e.Field, "%s", e.Message)
		}
		if len(conflicts) == 0 && !repeat {
			rows = append(rows, row)
		}
	}
	if err := f.Verdict(nil, 0); err != nil {
		return nil, err
	}
	return rows, nil
}

// crossRowChecks holds, in memory, what ParseOrganizations has seen of a
// file, to find the rows that contradict earlier ones.
type crossRowChecks struct {
	// An organization's jurisdiction and contract may be given on any of
	// its rows, but never two different ones.
	terms    map[string]termSeen // org_ref + field → first row giving it
	orgs     map[string]termSeen // org_ref → first row naming it
	contacts map[string]int      // org_ref + ContactKey → index in rows
}

type termSeen struct {
	line  int
	value string
}

func newCrossRowChecks() *crossRowChecks {
	return &crossRowChecks{terms: map[string]termSeen{}, orgs: map[string]termSeen{}, contacts: map[string]int{}}
}

// add checks row against the rows seen before it; rows are the rows
// taken so far, and next the index row gets if taken. repeat is true for
// a row that repeats a taken one word for word.
func (cc *crossRowChecks) add(row ContactRow, next int, rows []ContactRow) (conflicts []RowConflict, repeat bool) {
	for _, t := range [][2]string{{"jurisdiction", row.Jurisdiction}, {"notify_within", strconv.Itoa(row.NotifyWithinHours)}} {
		field, v := t[0], t[1]
		if v == "" || v == "0" {
			continue
		}
		key := row.OrgRef + "\x00" + field
		if prev, ok := cc.terms[key]; ok && prev.value != v {
			conflicts = append(conflicts, RowConflict{Line: row.Line, Field: field, OrgRef: row.OrgRef, Value: v, FirstValue: prev.value, FirstLine: prev.line})
		} else if !ok {
			cc.terms[key] = termSeen{line: row.Line, value: v}
		}
	}
	if len(conflicts) > 0 {
		return conflicts, false
	}
	if prev, ok := cc.orgs[row.OrgRef]; ok && prev.value != row.OrgName {
		return []RowConflict{{Line: row.Line, Field: "org_name", OrgRef: row.OrgRef, Value: row.OrgName, FirstValue: prev.value, FirstLine: prev.line}}, false
	} else if !ok {
		cc.orgs[row.OrgRef] = termSeen{line: row.Line, value: row.OrgName}
	}
	key := row.OrgRef + "\x00" + row.ContactKey()
	if i, ok := cc.contacts[key]; ok {
		prev := rows[i]
		if sameContact(prev, row) {
			return nil, true // the same row again, as a merge of two lists gives
		}
		return []RowConflict{{Line: row.Line, Field: "contact_email", OrgRef: row.OrgRef, Value: row.Email, FirstLine: prev.Line}}, false
	}
	cc.contacts[key] = next
	return nil, false
}

// sameContact reports whether two rows say the same of one contact, down
// to the spelling of the address.
func sameContact(a, b ContactRow) bool {
	a.Line, b.Line = 0, 0
	return slices.Equal(a.Domains, b.Domains) && a.Email == b.Email && a.Name == b.Name && a.Role == b.Role &&
		a.PortalAccess == b.PortalAccess && a.Locale == b.Locale && a.OrgName == b.OrgName
}

// ExposureFile is an exposure file being read for import, one row at a
// time, so that a file of a million rows is never held in memory: the
// store copies the rows as Next hands them over, runs the checks only the
// database can make (does each org_ref exist, does an item_ref come twice
// with different content), and asks Verdict whether to commit.
type ExposureFile struct {
	rowFile
}

// rowFile is what a file imported one row at a time keeps while it is
// read: the reader, every problem found so far, the error that ended it
// early, and how many rows passed.
type rowFile struct {
	rr    *recordReader
	errs  rowErrors
	err   error
	valid int
}

// nextRow returns the next row of f whose fields pass check; false at
// the end of the file or on an error, which Err then returns. Rows that
// fail are noted (by check) for Verdict and skipped.
func nextRow[T any](f *rowFile, check func(record) (T, bool)) (T, bool) {
	for f.err == nil {
		rec, ok, err := f.rr.next()
		if err != nil {
			f.err = err
			break
		}
		if !ok {
			break
		}
		if row, ok := check(rec); ok {
			f.valid++
			return row, true
		}
	}
	var none T
	return none, false
}

// Err is the I/O error or limit that ended the file early, if any.
func (f *rowFile) Err() error { return f.err }

// NewExposureFile starts reading an exposure file. Problems with its
// header are reported by Verdict with the rest; an error here is an I/O
// error or a limit reached.
func NewExposureFile(r io.Reader, format Format, limits ImportLimits) (*ExposureFile, error) {
	f := &ExposureFile{}
	var err error
	f.rr, err = newRecordReader(r, format, exposureColumns, &f.errs, limits)
	return f, err
}

// Next returns the next valid row; false at the end of the file or on an
// error, which Err then returns. Invalid rows are noted for Verdict and
// skipped.
func (f *ExposureFile) Next() (ExposureRow, bool) { return nextRow(&f.rowFile, f.check) }

func (f *ExposureFile) check(rec record) (ExposureRow, bool) {
	c := fieldCheck{rec: rec, errs: &f.errs}
	before := f.errs.count()
	row := ExposureRow{Line: rec.line}
	row.OrgRef = c.ref("org_ref")
	row.ItemRef, _ = c.text("item_ref", true, maxNameLen)
	row.Kind, _ = c.oneOf("kind", "", ItemKinds)
	if row.Kind == "" && rec.fields["kind"] == "" {
		f.errs.add(rec.line, "kind", "is required (one of %s)", strings.Join(ItemKinds, ", "))
	}
	row.OccurredAt = c.timestamp("occurred_at")
	row.Subject, _ = c.text("subject", false, maxSubjectLen)
	row.Summary, _ = c.multiline("summary", maxSummaryLen)
	row.SecretTypes = c.secretTypes("secret_types")
	return row, f.errs.count() == before
}

// Verdict says, once every row was read, whether the import may be
// committed: nil, or the error listing every problem of the file in line
// order, those found while reading and those the store found, across rows
// or in the database (found, and unlisted more).
func (f *rowFile) Verdict(found []RowError, unlisted int) error {
	if f.err != nil {
		return f.err
	}
	f.errs.merge(found, unlisted)
	if err := f.errs.err(); err != nil {
		return err
	}
	if f.valid == 0 {
		return Errorf(CodeInvalid, "the file has no rows")
	}
	return nil
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

// email checks an address, internationalized ones included (RFC 6531:
// a local part in any script, a domain in Unicode or punycode), and
// returns it as given and in its ASCII form (the domain as punycode,
// lower-case).
func (c fieldCheck) email(name string) (given, ascii string) {
	v, ok := c.text(name, true, maxEmailLen)
	if !ok {
		return "", ""
	}
	addr, err := mail.ParseAddress(v)
	if err != nil || addr.Address != v || addr.Name != "" {
		c.errs.add(c.rec.line, name, "%q is not a valid email address", v)
		return "", ""
	}
	ascii, _, err = AddressASCII(v)
	if err != nil {
		c.errs.add(c.rec.line, name, "%q is not a valid email address: its domain is %v", v, err)
		return "", ""
	}
	return v, ascii
}

// locale reads a language tag in the forms people type it (EN, en_US,
// fr-ca) and returns it in canonical case (en, en-US, fr-CA); a region is
// kept, since templates fall back from it to the language.
func (c fieldCheck) locale(name string) string {
	v, ok := c.text(name, false, 16)
	if !ok {
		return ""
	}
	if v == "" {
		return "en"
	}
	tag, ok := templates.NormalizeLocale(strings.ReplaceAll(v, "_", "-"))
	if !ok || !localePattern.MatchString(tag) {
		c.errs.add(c.rec.line, name, "%q is not a language tag such as en, de or fr-CA", v)
		return ""
	}
	return tag
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
