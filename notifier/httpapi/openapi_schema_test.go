package httpapi_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/httpapi"
	"github.com/breachnotify/breachnotify/notifier/webhook"
	"github.com/breachnotify/breachnotify/templates"
)

// replySchemas maps the document's schemas of replies to the Go values the
// handlers encode.
var replySchemas = map[string]any{
	"Error":                 httpapi.ErrorBody{},
	"RowError":              notifier.RowError{},
	"Incident":              notifier.Incident{},
	"Policy":                notifier.Policy{},
	"Organization":          notifier.Organization{},
	"Contact":               notifier.Contact{},
	"FactorReset":           notifier.FactorReset{},
	"EvidenceAccess":        notifier.EvidenceAccess{},
	"PortalSession":         httpapi.PortalSession{},
	"PortalSessionList":     httpapi.PortalSessionList{},
	"PortalSessionsEnded":   httpapi.PortalSessionsEnded{},
	"Members":               notifier.Members{},
	"PortalMember":          notifier.PortalMember{},
	"AccessRequest":         notifier.AccessRequest{},
	"MembershipEvent":       notifier.MembershipEvent{},
	"OrgImportResult":       notifier.OrgImportResult{},
	"UpsertCounts":          notifier.UpsertCounts{},
	"ExposureImportResult":  notifier.ExposureImportResult{},
	"EvidenceImport":        notifier.EvidenceImport{},
	"UnattributedReport":    notifier.UnattributedReport{},
	"UnattributedDomain":    notifier.UnattributedDomain{},
	"Batch":                 notifier.Batch{},
	"Item":                  notifier.Item{},
	"WavePlan":              notifier.WavePlan{},
	"SkippedOrganization":   notifier.SkippedOrganization{},
	"SampleMessage":         notifier.SampleMessage{},
	"Wave":                  notifier.Wave{},
	"Notice":                notifier.Notice{},
	"NoticeDetail":          notifier.NoticeDetail{},
	"Delivery":              notifier.Delivery{},
	"DeliveryEvent":         notifier.DeliveryEvent{},
	"DeliveryDetail":        notifier.DeliveryDetail{},
	"AuditEntry":            notifier.AuditEntry{},
	"AuditVerification":     notifier.AuditVerification{},
	"APIKey":                notifier.APIKey{},
	"CreatedAPIKey":         httpapi.CreatedKey{},
	"CapturedMessage":       notifier.CapturedMessage{},
	"ReportRow":             notifier.ReportRow{},
	"ReportAttempt":         notifier.ReportAttempt{},
	"Bounce":                notifier.Bounce{},
	"UnreachableContact":    notifier.UnreachableContact{},
	"UnreachableNotice":     notifier.UnreachableNotice{},
	"Resend":                notifier.Resend{},
	"TemplateVersion":       notifier.TemplateVersion{},
	"TemplatePreview":       notifier.TemplatePreview{},
	"IncidentPage":          notifier.ListResult[notifier.Incident]{},
	"BatchPage":             notifier.ListResult[notifier.Batch]{},
	"ItemPage":              notifier.ListResult[notifier.Item]{},
	"OrganizationPage":      notifier.ListResult[notifier.Organization]{},
	"ContactPage":           notifier.ListResult[notifier.Contact]{},
	"EvidenceAccessPage":    notifier.ListResult[notifier.EvidenceAccess]{},
	"WavePage":              notifier.ListResult[notifier.Wave]{},
	"NoticePage":            notifier.ListResult[notifier.Notice]{},
	"DeliveryPage":          notifier.ListResult[notifier.Delivery]{},
	"AuditEntryPage":        notifier.ListResult[notifier.AuditEntry]{},
	"APIKeyList":            notifier.ListResult[notifier.APIKey]{},
	"CapturedMessagePage":   notifier.ListResult[notifier.CapturedMessage]{},
	"BouncePage":            notifier.ListResult[notifier.Bounce]{},
	"ProviderBounceReply":   httpapi.ProviderBounceReply{},
	"UnreachableNoticePage": notifier.ListResult[notifier.UnreachableNotice]{},
	"TemplateVersionPage":   notifier.ListResult[notifier.TemplateVersion]{},
	// The evidence lifecycle (issue 13).
	"EvidencePurge":       notifier.EvidencePurge{},
	"EvidencePurgeRecord": notifier.EvidencePurgeRecord{},
	"Finding":             notifier.Finding{},
	"FindingDismissal":    notifier.FindingDismissal{},
	"FindingPage":         notifier.ListResult[notifier.Finding]{},
	// Deadline clocks (issue 15).
	"IncidentClock":          notifier.IncidentClock{},
	"ObligationDue":          notifier.ObligationDue{},
	"OrganizationDeadline":   notifier.OrganizationDeadline{},
	"DeadlineBoard":          notifier.DeadlineBoard{},
	"WebhookEndpoint":        webhook.Endpoint{},
	"WebhookSecret":          webhook.SecretInfo{},
	"CreatedWebhookEndpoint": webhook.CreatedEndpoint{},
	"WebhookDelivery":        webhook.Delivery{},
	"WebhookAttempt":         webhook.Attempt{},
	"WebhookEndpointPage":    notifier.ListResult[webhook.Endpoint]{},
	"WebhookDeliveryPage":    notifier.ListResult[webhook.Delivery]{},
}

// requestSchemas maps the document's schemas of request bodies to the Go
// values the handlers decode into.
var requestSchemas = map[string]any{
	"NewIncident":            notifier.NewIncident{},
	"PolicyPatch":            notifier.PolicyPatch{},
	"ContactPatch":           notifier.ContactPatch{},
	"BounceJSON":             notifier.BounceJSON{},
	"TemplateUpload":         notifier.TemplateUpload{},
	"TemplatePreviewRequest": notifier.TemplatePreviewRequest{},
	"PurgeRequest":           notifier.PurgeRequest{},
	"DismissRequest":         notifier.DismissRequest{},
	"WebhookEndpointInput":   webhook.EndpointInput{},
	"MemberInvite":           httpapi.MemberInvite{},
	"MemberChange":           notifier.MemberChange{},
	"AccessDecision":         httpapi.AccessDecision{},
	"InviteDomain":           httpapi.InviteDomain{},
}

// schemasWithoutGoType are the schemas no named Go type stands for, and
// why. Every schema is in one of the three tables, so a new one cannot
// escape TestOpenAPISchemasMatchGoTypes unnoticed.
var schemasWithoutGoType = map[string]string{
	"Health":              "healthz writes a map[string]string",
	"Readiness":           "readyz writes a map[string]string",
	"Report":              "report streams its envelope with fmt.Fprintf (its rows are ReportRow)",
	"DeliveryCounts":      "a map[DeliveryStatus]int, checked against the DeliveryStatus constants via Wave.deliveries",
	"BounceKind":          "a string enum, checked against the BounceKind constants via Bounce.kind",
	"IncidentPatch":       "an anonymous struct in patchIncident",
	"ContactStatusChange": "an anonymous struct in contactStatus",
	"PlanWaveRequest":     "an anonymous struct in planWave",
	"NewAPIKey":           "an anonymous struct in createAPIKey",
	"WaveActionRequest":   "the empty struct waveAction tolerates",
}

// narrowedEnums are the reply fields whose documented enum may be a
// subset of their Go type's constants, and why the others never occur.
var narrowedEnums = map[string]string{
	"WavePlan.kind":                   "PlanWave plans only initial and follow-up waves; the reminder job makes the others",
	"WebhookEndpoint.events[]":        "endpoints subscribe to webhook.EventTypes; webhook.test goes to the one endpoint tested, whatever it subscribes to",
	"CreatedWebhookEndpoint.events[]": "as WebhookEndpoint.events[]",
}

// enumSubsets are the fields whose values are a named subset of their Go
// type's constants: their enum is checked against the subset.
var enumSubsets = map[string][]string{
	"Wave.kind":         kindStrings(templates.WaveKinds),
	"WavePlan.kind":     kindStrings(templates.WaveKinds),
	"Notice.kind":       kindStrings(templates.WaveKinds),
	"NoticeDetail.kind": kindStrings(templates.WaveKinds),
}

func kindStrings(kinds []templates.Kind) []string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return s
}

// modulePath is the module's import path: its packages' directories,
// whose constants enumValues reads, are found relative to it.
const modulePath = "github.com/breachnotify/breachnotify"

// TestOpenAPISchemasMatchGoTypes checks the document's object schemas
// against the Go types behind them: the same JSON keys, `required` only
// for keys that are always written, enums equal to the Go constants, and
// nested schemas ($ref or inline) standing for the right types.
func TestOpenAPISchemasMatchGoTypes(t *testing.T) {
	doc := openAPIDoc(t)
	components, _ := doc["components"].(map[string]any)
	schemas, _ := components["schemas"].(map[string]any)
	if len(schemas) == 0 {
		t.Fatal("the document has no components.schemas")
	}

	c := &schemaCheck{t: t, doc: doc, schemaOf: map[reflect.Type]string{}, constants: map[string]map[string][]string{}}
	for _, table := range []map[string]any{replySchemas, requestSchemas} {
		for name, v := range table {
			if prev, dup := c.schemaOf[reflect.TypeOf(v)]; dup {
				t.Errorf("schemas %s and %s both stand for %T", prev, name, v)
			}
			c.schemaOf[reflect.TypeOf(v)] = name
		}
	}

	for _, name := range sortedKeys(schemas) {
		_, reply := replySchemas[name]
		_, request := requestSchemas[name]
		_, without := schemasWithoutGoType[name]
		if !reply && !request && !without {
			t.Errorf("schema %s is in no table of this test; map it to its Go type (or say why it has none)", name)
		}
	}
	for _, name := range slices.Concat(sortedKeys(replySchemas), sortedKeys(requestSchemas), sortedKeys(schemasWithoutGoType)) {
		if _, ok := schemas[name]; !ok {
			t.Errorf("this test names schema %s, which the document does not have", name)
		}
	}

	for _, at := range sortedKeys(narrowedEnums) {
		if _, ok := replySchemas[strings.Split(at, ".")[0]]; !ok {
			t.Errorf("narrowedEnums names %s, which is not in a reply schema of this test", at)
		}
	}
	for _, at := range sortedKeys(enumSubsets) {
		if _, ok := replySchemas[strings.Split(at, ".")[0]]; !ok {
			t.Errorf("enumSubsets names %s, which is not in a reply schema of this test", at)
		}
	}

	c.reply = true
	for _, name := range sortedKeys(replySchemas) {
		if s, ok := schemas[name].(map[string]any); ok {
			c.object(name, reflect.TypeOf(replySchemas[name]), s)
		}
	}
	c.reply = false
	for _, name := range sortedKeys(requestSchemas) {
		if s, ok := schemas[name].(map[string]any); ok {
			c.object(name, reflect.TypeOf(requestSchemas[name]), s)
		}
	}
}

// schemaCheck compares schemas with Go types.
type schemaCheck struct {
	t   *testing.T
	doc map[string]any
	// reply is true while checking what the server writes: every key it
	// always writes must be required and enums must list every value (but
	// see narrowedEnums). A request schema may document fewer values than
	// the type has (the use case refuses the others) and leaves optional
	// what clients may omit.
	reply bool
	// schemaOf is the inverse of the tables.
	schemaOf map[reflect.Type]string
	// constants caches the string constants of the module's packages, by
	// package path and type name.
	constants map[string]map[string][]string
}

// object checks a struct type against an object schema.
func (c *schemaCheck) object(at string, typ reflect.Type, schema map[string]any) {
	props, required, ok := c.objectShape(schema)
	if !ok {
		c.t.Errorf("%s: the Go type %s is a JSON object but the schema has no properties", at, typ)
		return
	}
	fields := jsonFields(typ)
	byName := map[string]jsonField{}
	for _, f := range fields {
		byName[f.name] = f
	}

	var undocumented, extra []string
	for _, f := range fields {
		if _, ok := props[f.name]; !ok {
			undocumented = append(undocumented, f.name)
		}
	}
	for _, name := range sortedKeys(props) {
		if _, ok := byName[name]; !ok {
			extra = append(extra, name)
		}
	}
	if len(undocumented) > 0 {
		c.t.Errorf("%s: %s has JSON fields the schema lacks: %s", at, typ, strings.Join(undocumented, ", "))
	}
	if len(extra) > 0 {
		c.t.Errorf("%s: the schema has properties %s lacks: %s", at, typ, strings.Join(extra, ", "))
	}

	for _, name := range required {
		f, ok := byName[name]
		switch {
		case !ok:
			c.t.Errorf("%s: required names %q, which %s does not have", at, name, typ)
		case c.reply && f.omitempty:
			c.t.Errorf("%s: %q is required but the Go field is omitempty, so replies may leave it out", at, name)
		}
	}
	if c.reply {
		// The document's convention: a reply key is required exactly when
		// it is always written (null included).
		for _, f := range fields {
			if !f.omitempty && !slices.Contains(required, f.name) {
				// An undocumented key is reported above.
				if _, documented := props[f.name]; documented {
					c.t.Errorf("%s: %q is always written (no omitempty) but not listed in required", at, f.name)
				}
			}
		}
	}

	for _, f := range fields {
		if p, ok := props[f.name].(map[string]any); ok {
			c.value(at+"."+f.name, f.typ, p)
		}
	}
}

// value checks the schema of one value: enums, and the shape of nested
// objects, arrays and maps.
func (c *schemaCheck) value(at string, typ reflect.Type, schema map[string]any) {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	if marshalsItself(typ) {
		return // its JSON is its own; time.Time, notifier.Duration, HexBytes
	}
	schema = c.nonNull(schema)
	if values := c.enumValues(typ); values != nil {
		c.enum(at, typ, values, schema)
		return
	}
	switch typ.Kind() {
	case reflect.Slice, reflect.Array:
		items, ok := c.resolve(schema)["items"].(map[string]any)
		if !ok {
			c.t.Errorf("%s: the Go type %s is a JSON array but the schema has no items", at, typ)
			return
		}
		c.value(at+"[]", typ.Elem(), items)
	case reflect.Map:
		// A map keyed by an enum documented as an object has one property
		// per value (Wave.deliveries has a count for every status).
		props, _, ok := c.objectShape(schema)
		if values := c.enumValues(typ.Key()); values != nil && ok {
			c.sameSet(at, "properties", sortedKeys(props), typ.Key(), values)
		}
	case reflect.Struct:
		if ref, ok := schema["$ref"].(string); ok {
			name := strings.TrimPrefix(ref, "#/components/schemas/")
			if want, known := c.schemaOf[typ]; known {
				if name != want {
					c.t.Errorf("%s refers to schema %s, but the Go type %s is schema %s", at, name, typ, want)
				}
				return // checked under its own name
			}
		}
		c.object(at, typ, schema)
	}
}

// enum checks a documented enum against a Go enum type's constants.
func (c *schemaCheck) enum(at string, typ reflect.Type, values []string, schema map[string]any) {
	raw, ok := c.resolve(schema)["enum"].([]any)
	if !ok {
		return // a plain string is truthful, if vague
	}
	var documented []string
	for _, v := range raw {
		s, _ := v.(string)
		documented = append(documented, s)
	}
	if subset, ok := enumSubsets[at]; ok {
		values = subset
	}
	if _, narrowed := narrowedEnums[at]; c.reply && !narrowed {
		c.sameSet(at, "enum", documented, typ, values)
		return
	}
	for _, v := range documented {
		if !slices.Contains(values, v) {
			c.t.Errorf("%s: enum value %q is not a %s constant (%s)", at, v, typ, strings.Join(values, ", "))
		}
	}
}

func (c *schemaCheck) sameSet(at, what string, documented []string, typ reflect.Type, values []string) {
	var missing, extra []string
	for _, v := range values {
		if !slices.Contains(documented, v) {
			missing = append(missing, v)
		}
	}
	for _, v := range documented {
		if !slices.Contains(values, v) {
			extra = append(extra, v)
		}
	}
	if len(missing) > 0 {
		c.t.Errorf("%s: %s lacks %s values: %s", at, what, typ, strings.Join(missing, ", "))
	}
	if len(extra) > 0 {
		c.t.Errorf("%s: %s has values that are not %s constants: %s", at, what, typ, strings.Join(extra, ", "))
	}
}

// resolve follows a $ref.
func (c *schemaCheck) resolve(schema map[string]any) map[string]any {
	return resolve(c.t, c.doc, schema)
}

// nonNull picks the one non-null alternative of an anyOf or oneOf, which
// is how the document spells a nullable $ref.
func (c *schemaCheck) nonNull(schema map[string]any) map[string]any {
	for _, key := range []string{"anyOf", "oneOf"} {
		alts, ok := schema[key].([]any)
		if !ok {
			continue
		}
		var kept []map[string]any
		for _, a := range alts {
			if m, _ := a.(map[string]any); m != nil && m["type"] != "null" {
				kept = append(kept, m)
			}
		}
		if len(kept) == 1 {
			return kept[0]
		}
	}
	return schema
}

// objectShape returns an object schema's properties and required names,
// following $ref and merging allOf.
func (c *schemaCheck) objectShape(schema map[string]any) (props map[string]any, required []string, ok bool) {
	schema = c.resolve(schema)
	props = map[string]any{}
	if p, has := schema["properties"].(map[string]any); has {
		ok = true
		for k, v := range p {
			props[k] = v
		}
	}
	for _, r := range asSlice(schema["required"]) {
		if s, is := r.(string); is {
			required = append(required, s)
		}
	}
	for _, part := range asSlice(schema["allOf"]) {
		m, _ := part.(map[string]any)
		p, r, has := c.objectShape(m)
		if !has {
			continue
		}
		ok = true
		for k, v := range p {
			props[k] = v
		}
		required = append(required, r...)
	}
	return props, required, ok
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// enumValues returns the string constants declared for a named string type
// of this module, or nil if it has none.
func (c *schemaCheck) enumValues(typ reflect.Type) []string {
	pkg := typ.PkgPath()
	if typ.Kind() != reflect.String || typ.Name() == "" || (pkg != modulePath && !strings.HasPrefix(pkg, modulePath+"/")) {
		return nil
	}
	consts, ok := c.constants[pkg]
	if !ok {
		dir := filepath.Join("..", "..", filepath.FromSlash(strings.TrimPrefix(strings.TrimPrefix(pkg, modulePath), "/")))
		consts = stringConstants(c.t, dir)
		c.constants[pkg] = consts
	}
	return consts[typ.Name()]
}

// stringConstants reads the typed string constants (`Name Type = "value"`)
// of the package in dir, by type name.
func stringConstants(t *testing.T, dir string) map[string][]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	consts := map[string][]string{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				typ, ok := vs.Type.(*ast.Ident)
				if !ok || len(vs.Values) != len(vs.Names) {
					continue
				}
				for _, v := range vs.Values {
					if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						if s, err := strconv.Unquote(lit.Value); err == nil {
							consts[typ.Name] = append(consts[typ.Name], s)
						}
					}
				}
			}
		}
	}
	return consts
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[interface{ MarshalText() ([]byte, error) }]()
)

func marshalsItself(typ reflect.Type) bool {
	for _, m := range []reflect.Type{jsonMarshaler, textMarshaler} {
		if typ.Implements(m) || reflect.PointerTo(typ).Implements(m) {
			return true
		}
	}
	return false
}

// jsonField is one key encoding/json writes for a struct.
type jsonField struct {
	name string
	// omitempty is true when the key may be left out (omitempty or
	// omitzero).
	omitempty bool
	typ       reflect.Type
}

// jsonFields lists the keys encoding/json writes for a struct type, in
// order, with the fields of embedded structs promoted. A shallower field
// hides a deeper one of the same name, as in encoding/json.
func jsonFields(typ reflect.Type) []jsonField {
	var out []jsonField
	seen := map[string]bool{}
	for level := []reflect.Type{typ}; len(level) > 0; {
		var next []reflect.Type
		for _, st := range level {
			for i := range st.NumField() {
				f := st.Field(i)
				tag := f.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				if f.Anonymous && name == "" {
					ft := f.Type
					if ft.Kind() == reflect.Pointer {
						ft = ft.Elem()
					}
					if ft.Kind() == reflect.Struct {
						next = append(next, ft)
						continue
					}
				}
				if !f.IsExported() {
					continue
				}
				if name == "" {
					name = f.Name
				}
				if seen[name] {
					continue
				}
				seen[name] = true
				options := strings.Split(opts, ",")
				out = append(out, jsonField{name: name, typ: f.Type,
					omitempty: slices.Contains(options, "omitempty") || slices.Contains(options, "omitzero")})
			}
		}
		level = next
	}
	return out
}

// TestJSONFields pins jsonFields to what encoding/json writes, so the
// schema test compares the document with the real replies.
func TestJSONFields(t *testing.T) {
	for _, v := range []any{httpapi.CreatedKey{}, notifier.NoticeDetail{}, notifier.WavePlan{}, httpapi.ErrorBody{}} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var written map[string]any
		if err := json.Unmarshal(b, &written); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range jsonFields(reflect.TypeOf(v)) {
			if !f.omitempty {
				got = append(got, f.name)
			}
		}
		slices.Sort(got)
		if want := sortedKeys(written); !slices.Equal(got, want) {
			t.Errorf("%T: jsonFields gives %v without omitempty; encoding/json writes %v", v, got, want)
		}
	}
}
