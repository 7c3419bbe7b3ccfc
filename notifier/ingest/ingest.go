// Package ingest imports stolen mail into an incident (issue 13): it
// reads messages from any source notifier/evidence reads, parses each,
// finds the organizations it exposes, encrypts its raw bytes under the
// incident's data key (notifier/vault) and commits them in groups, then
// closes the import with one exposure batch, so follow-ups fire as for any
// batch.
//
// Guarantees:
//   - Idempotent: a message is its SHA-256; one the incident holds is
//     skipped before it is parsed or encrypted, so importing the same
//     archive again adds nothing.
//   - Resumable: groups commit as they go; after an interruption, running
//     the import again skips what was stored and its closing transaction
//     itemizes the interrupted run's messages too.
//   - Nothing dropped: a message the MIME library cannot read is stored raw
//     and counted unparseable, with the reason; an input that cannot be
//     read at all is named in the import's error.
//   - Memory flat: one group (GroupSize messages or GroupBytes, whichever
//     comes first) is held at a time, whatever the input's size.
package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"maps"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/evidence"
	"github.com/breachnotify/breachnotify/notifier/secrets"
	"github.com/breachnotify/breachnotify/notifier/vault"
)

// Store is what an import reads and writes (notifier/store implements it).
type Store interface {
	EvidenceDirectory(ctx context.Context) (domains, contacts map[string]int64, err error)
	IncidentKey(ctx context.Context, incidentID int64) (vault.WrappedKey, bool, error)
	CreateIncidentKey(ctx context.Context, incidentID int64, w vault.WrappedKey) (vault.WrappedKey, error)
	BeginEvidenceImport(ctx context.Context, by notifier.Actor, incidentID int64, name string) (notifier.EvidenceImport, error)
	KnownEvidence(ctx context.Context, incidentID int64, hashes [][32]byte) (map[[32]byte]bool, error)
	StoreEvidence(ctx context.Context, importID, incidentID int64, g notifier.EvidenceGroup) error
	FinishEvidenceImport(ctx context.Context, by notifier.Actor, importID int64, note string) (notifier.EvidenceImport, error)
	FailEvidenceImport(ctx context.Context, importID int64, reason string) error
	EvidenceImport(ctx context.Context, importID int64) (notifier.EvidenceImport, error)
	EvidenceImports(ctx context.Context, incidentID int64, limit int) ([]notifier.EvidenceImport, error)
	RewrapIncidentKeys(ctx context.Context, by notifier.Actor, ring *vault.Keyring, scope func(incidentID int64) string) (int, error)
	ReattributeStore
}

// Defaults of Config.
const (
	GroupSizeDefault  = 500
	GroupBytesDefault = 32 << 20
)

// ErrNoKey is returned when no master key is configured: evidence is
// never stored unencrypted.
var ErrNoKey = notifier.Errorf(notifier.CodeConflict,
	"importing evidence needs a master key outside the database: set BREACHNOTIFY_EVIDENCE_KEY_FILE (or BREACHNOTIFY_SECRET_FILE)")

// Config is an Importer's parts and settings.
type Config struct {
	// Store keeps what is imported.
	Store Store
	// Keyring wraps each incident's data key; nil refuses imports (ErrNoKey).
	Keyring *vault.Keyring
	// FreeMail lists the public mail providers whose addresses count only
	// when they are known contacts; nil means none.
	FreeMail *evidence.FreeMail
	// Secrets finds the secrets in each message's subject, text and HTML;
	// nil finds none.
	Secrets *secrets.Scanner
	// GroupSize is how many messages commit together; 0 means
	// GroupSizeDefault.
	GroupSize int
	// GroupBytes ends a group early once its messages hold this many
	// bytes; 0 means GroupBytesDefault.
	GroupBytes int64
	// Logger receives a line per import; nil discards.
	Logger *slog.Logger
}

// Importer imports stolen mail. It is safe for concurrent use.
type Importer struct {
	cfg    Config
	parser *evidence.Parser
}

// New returns an Importer for cfg.
func New(cfg Config) (*Importer, error) {
	if cfg.Store == nil {
		return nil, errors.New("ingest: no store")
	}
	if cfg.GroupSize <= 0 {
		cfg.GroupSize = GroupSizeDefault
	}
	if cfg.GroupBytes <= 0 {
		cfg.GroupBytes = GroupBytesDefault
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p, err := evidence.NewParser(evidence.ParserConfig{})
	if err != nil {
		return nil, err
	}
	return &Importer{cfg: cfg, parser: p}, nil
}

// Scope is the name an incident's data key is bound to.
func Scope(incidentID int64) string { return "incident " + strconv.FormatInt(incidentID, 10) }

// maxSourceErrors bounds the unreadable inputs an import names.
const maxSourceErrors = 20

// Import reads messages into the incident, as one import run named name.
// It needs the operator role. On failure, what was committed stays and
// the import is marked failed with the reason; running it again resumes.
func (im *Importer) Import(ctx context.Context, by notifier.Actor, incidentID int64, name string, messages iter.Seq2[evidence.Raw, error]) (notifier.EvidenceImport, error) {
	if err := notifier.RequireRole(by, notifier.RoleOperator); err != nil {
		return notifier.EvidenceImport{}, err
	}
	if im.cfg.Keyring == nil {
		return notifier.EvidenceImport{}, ErrNoKey
	}
	key, err := im.dataKey(ctx, incidentID)
	if err != nil {
		return notifier.EvidenceImport{}, err
	}
	dir, err := im.directory(ctx)
	if err != nil {
		return notifier.EvidenceImport{}, err
	}
	imp, err := im.cfg.Store.BeginEvidenceImport(ctx, by, incidentID, name)
	if err != nil {
		return imp, err
	}
	log := im.cfg.Logger.With("import_id", imp.ID, "incident_id", incidentID)
	log.InfoContext(ctx, "evidence import started", "name", name)

	run := &run{im: im, ctx: ctx, importID: imp.ID, incidentID: incidentID, key: key, dir: dir}
	var sourceErrs []string
	for raw, err := range messages {
		if err != nil {
			var se *evidence.SourceError
			if !errors.As(err, &se) {
				return im.fail(ctx, log, imp, errors.Join(err, run.wait()))
			}
			run.sourceErrors++
			if len(sourceErrs) < maxSourceErrors {
				sourceErrs = append(sourceErrs, se.Error())
			}
			continue
		}
		if err := run.add(raw); err != nil {
			return im.fail(ctx, log, imp, errors.Join(err, run.wait()))
		}
	}
	if err := errors.Join(run.flush(), run.wait()); err != nil {
		return im.fail(ctx, log, imp, err)
	}
	note := ""
	if run.sourceErrors > 0 {
		note = fmt.Sprintf("%d inputs could not be read: %s", run.sourceErrors, strings.Join(sourceErrs, "; "))
	}
	done, err := im.cfg.Store.FinishEvidenceImport(ctx, by, imp.ID, note)
	if err != nil {
		return im.fail(ctx, log, imp, err)
	}
	log.InfoContext(ctx, "evidence import done", "messages", done.Messages, "stored", done.Stored, "known", done.Known,
		"unparseable", done.Unparseable, "unattributed", done.Unattributed, "unreadable_inputs", run.sourceErrors)
	return done, nil
}

// Get returns an import with its progress (viewer role).
func (im *Importer) Get(ctx context.Context, by notifier.Actor, importID int64) (notifier.EvidenceImport, error) {
	if err := notifier.RequireRole(by, notifier.RoleViewer); err != nil {
		return notifier.EvidenceImport{}, err
	}
	return im.cfg.Store.EvidenceImport(ctx, importID)
}

// MaxListed is the most imports List returns.
const MaxListed = 100

// List returns an incident's last MaxListed imports, newest first
// (viewer role): the running ones show their progress.
func (im *Importer) List(ctx context.Context, by notifier.Actor, incidentID int64) ([]notifier.EvidenceImport, error) {
	if err := notifier.RequireRole(by, notifier.RoleViewer); err != nil {
		return nil, err
	}
	return im.cfg.Store.EvidenceImports(ctx, incidentID, MaxListed)
}

// RewrapKeys wraps every incident's data key again with the keyring's
// first master key (admin): after a new key is put first in the key file,
// this lets the old one go. Evidence itself is not re-encrypted.
func (im *Importer) RewrapKeys(ctx context.Context, by notifier.Actor) (int, error) {
	if err := notifier.RequireRole(by, notifier.RoleAdmin); err != nil {
		return 0, err
	}
	if im.cfg.Keyring == nil {
		return 0, ErrNoKey
	}
	return im.cfg.Store.RewrapIncidentKeys(ctx, by, im.cfg.Keyring, Scope)
}

// fail marks the import failed (with a context of its own: ctx may be
// what ended it) and returns err.
func (im *Importer) fail(ctx context.Context, log *slog.Logger, imp notifier.EvidenceImport, err error) (notifier.EvidenceImport, error) {
	reason := err.Error()
	if ctx.Err() != nil {
		reason = "interrupted: " + reason
	}
	if ferr := im.cfg.Store.FailEvidenceImport(context.WithoutCancel(ctx), imp.ID, reason); ferr != nil {
		log.ErrorContext(ctx, "recording the failed evidence import", "error", ferr)
	}
	log.WarnContext(ctx, "evidence import failed; run it again to resume", "error", err)
	imp.Status, imp.Error = notifier.EvidenceImportFailed, reason
	return imp, fmt.Errorf("evidence import %d: %w", imp.ID, err)
}

// dataKey returns the incident's data key, creating it on first use.
func (im *Importer) dataKey(ctx context.Context, incidentID int64) (*vault.DataKey, error) {
	scope := Scope(incidentID)
	w, found, err := im.cfg.Store.IncidentKey(ctx, incidentID)
	if err != nil {
		return nil, err
	}
	if !found {
		_, fresh, err := im.cfg.Keyring.NewDataKey(scope)
		if err != nil {
			return nil, err
		}
		// The stored key wins a race with another import.
		if w, err = im.cfg.Store.CreateIncidentKey(ctx, incidentID, fresh); err != nil {
			return nil, err
		}
	}
	return im.cfg.Keyring.Unwrap(scope, w)
}

// directory loads the organizations' domains and contacts.
func (im *Importer) directory(ctx context.Context) (*evidence.StaticDirectory, error) {
	domains, contacts, err := im.cfg.Store.EvidenceDirectory(ctx)
	if err != nil {
		return nil, err
	}
	d, c := make(map[string]evidence.OrgID, len(domains)), make(map[string]evidence.OrgID, len(contacts))
	for k, v := range domains {
		d[k] = evidence.OrgID(v)
	}
	for k, v := range contacts {
		c[k] = evidence.OrgID(v)
	}
	dir, err := evidence.NewStaticDirectory(d, c)
	if err != nil {
		return nil, notifier.Errorf(notifier.CodeConflict, "the organizations cannot attribute mail: %v (fix the organization import)", err)
	}
	return dir, nil
}

// run is one import's group in the making.
type run struct {
	im           *Importer
	ctx          context.Context
	importID     int64
	incidentID   int64
	key          *vault.DataKey
	dir          *evidence.StaticDirectory
	group        []evidence.Raw
	groupBytes   int64
	sourceErrors int
	// storing carries the result of the group being committed, if any:
	// the next group is read and prepared meanwhile.
	storing chan error
}

func (r *run) add(raw evidence.Raw) error {
	r.group = append(r.group, raw)
	r.groupBytes += int64(len(raw.Bytes))
	if len(r.group) >= r.im.cfg.GroupSize || r.groupBytes >= r.im.cfg.GroupBytes {
		return r.flush()
	}
	return nil
}

// flush prepares the group's new messages (on every core) and commits
// them with the group's counts.
func (r *run) flush() error {
	if len(r.group) == 0 {
		return nil
	}
	g := notifier.EvidenceGroup{Read: int64(len(r.group))}
	hashes := make([][32]byte, len(r.group))
	for i, raw := range r.group {
		hashes[i] = raw.SHA256
		g.Bytes += raw.Size
	}
	known, err := r.im.cfg.Store.KnownEvidence(r.ctx, r.incidentID, hashes)
	if err != nil {
		return err
	}
	var todo []evidence.Raw
	seen := map[[32]byte]bool{}
	for _, raw := range r.group {
		if known[raw.SHA256] || seen[raw.SHA256] {
			g.Known++ // stored before, or twice in this group
			continue
		}
		seen[raw.SHA256] = true
		todo = append(todo, raw)
	}
	g.Messages = make([]notifier.StoredEvidence, len(todo))
	errs := make([]error, len(todo))
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				g.Messages[i], errs[i] = r.prepare(todo[i])
			}
		})
	}
	for i := range todo {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, m := range g.Messages {
		if m.Unparseable != "" {
			g.Unparseable++
		}
	}
	r.group, r.groupBytes = r.group[:0], 0
	if err := r.wait(); err != nil {
		return err
	}
	r.storing = make(chan error, 1)
	go func() {
		// A group handed over is committed even if the import is being
		// interrupted: it is prepared, and committed it is work a resumed
		// import need not redo.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), storeTimeout)
		defer cancel()
		r.storing <- r.im.cfg.Store.StoreEvidence(ctx, r.importID, r.incidentID, g)
	}()
	return nil
}

// storeTimeout bounds the commit of one group.
const storeTimeout = 5 * time.Minute

// wait waits for the group being committed, if any.
func (r *run) wait() error {
	if r.storing == nil {
		return nil
	}
	err := <-r.storing
	r.storing = nil
	return err
}

// prepare parses, attributes and encrypts one new message.
func (r *run) prepare(raw evidence.Raw) (notifier.StoredEvidence, error) {
	msg, perr := r.im.parser.Parse(raw)
	storable(&msg)
	s := notifier.StoredEvidence{
		SHA256: raw.SHA256, Source: clean(raw.Source), Size: raw.Size, MessageID: msg.MessageID, Subject: msg.Subject,
		Problems: msg.Problems,
	}
	var unparseable *evidence.UnparseableError
	if errors.As(perr, &unparseable) {
		s.Unparseable = clean(unparseable.Reason)
	} else if perr != nil {
		return s, perr
	}
	if len(msg.InReplyTo) > 0 {
		s.InReplyTo = msg.InReplyTo[0]
	}
	if !msg.Date.IsZero() {
		d := msg.Date
		s.SentAt = &d
	}
	for _, p := range msg.Participants {
		if p.Header == "From" && p.Depth == 0 {
			s.From = p.Address
			break
		}
	}
	var err error
	if s.Participants, err = json.Marshal(nonNil(msg.Participants)); err != nil {
		return s, err
	}
	if s.Attachments, err = json.Marshal(nonNil(msg.Attachments)); err != nil {
		return s, err
	}
	s.Exposures = exposures(msg, r.dir, r.im.cfg.FreeMail)
	s.Findings, s.SecretTypes = r.im.findSecrets(msg)
	if raw.TooLarge {
		// Too large to hold: hashed and measured, listed unparseable, its
		// bytes not kept (evidence.Config.MaxMessageSize).
		s.Ciphertext, err = r.key.Seal(objectName(raw.SHA256), nil)
		return s, err
	}
	s.Ciphertext, err = r.key.Seal(objectName(raw.SHA256), raw.Bytes)
	return s, err
}

// clean makes stolen text storable as PostgreSQL text and jsonb, which
// refuse NUL and invalid UTF-8: a header can carry both (an encoded word
// of =00, raw 8-bit bytes in no declared charset), and one such message
// must not stop an import. Each becomes U+FFFD, visibly.
func clean(s string) string {
	if strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", "\uFFFD"), "\uFFFD")
}

// storable cleans every text of msg that is stored or shown (its bodies
// are only scanned, never stored apart from the encrypted original).
func storable(msg *evidence.Message) {
	msg.Subject, msg.MessageID = clean(msg.Subject), clean(msg.MessageID)
	for _, list := range [][]string{msg.InReplyTo, msg.References, msg.Problems} {
		for i := range list {
			list[i] = clean(list[i])
		}
	}
	for i := range msg.Participants {
		p := &msg.Participants[i]
		p.Header, p.Name, p.Address, p.Domain, p.DomainError = clean(p.Header), clean(p.Name), clean(p.Address), clean(p.Domain), clean(p.DomainError)
	}
	for i := range msg.Attachments {
		a := &msg.Attachments[i]
		a.Name, a.ContentType = clean(a.Name), clean(a.ContentType)
	}
}

// findSecrets scans every text of the message (evidence.TextPart): its
// subject, header block, text and HTML (its markup included: a secret in
// an attribute is still a secret), those of attached messages, and
// text-like attachments. It returns the findings and their types, sorted,
// each once.
func (im *Importer) findSecrets(msg evidence.Message) ([]notifier.EvidenceFinding, []string) {
	if im.cfg.Secrets == nil {
		return nil, nil
	}
	var found []notifier.EvidenceFinding
	var types []string
	for _, part := range msg.TextParts {
		for _, f := range im.cfg.Secrets.Scan(secrets.Part{Name: part.Name, Text: part.Text}) {
			found = append(found, notifier.EvidenceFinding{Type: string(f.Type), RuleID: f.RuleID, Part: f.Part, Line: f.Line,
				Column: f.Column, Fingerprint: f.Fingerprint, Masked: clean(f.Masked), Live: f.Live})
			if !slices.Contains(types, string(f.Type)) {
				types = append(types, string(f.Type))
			}
		}
	}
	slices.Sort(types)
	return found, types
}

// objectName is the name a message's ciphertext is bound to.
func objectName(sha [32]byte) string { return string(sha[:]) }

// exposures lists the organizations msg exposes (evidence's attribution
// rules), each with its own people among the participants, sorted.
func exposures(msg evidence.Message, dir evidence.Directory, free *evidence.FreeMail) []notifier.EvidenceExposure {
	byOrg := evidence.AttributeParticipants(msg, dir, free)
	orgs := slices.Sorted(maps.Keys(byOrg))
	out := make([]notifier.EvidenceExposure, 0, len(orgs))
	for _, org := range orgs {
		var people []string
		for _, p := range byOrg[org] {
			if addr := strings.ToLower(p.Address); !slices.Contains(people, addr) {
				people = append(people, addr)
			}
		}
		out = append(out, notifier.EvidenceExposure{OrganizationID: int64(org), Participants: people})
	}
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Keyring is the master keys the importer wraps data keys with (nil
// without one): the portal's review (notifier/review) unwraps with the
// same.
func (im *Importer) Keyring() *vault.Keyring { return im.cfg.Keyring }

// Scanner is the importer's secret scanner (nil without one): the
// portal's review finds the findings' secrets again with it, under the
// same fingerprint key.
func (im *Importer) Scanner() *secrets.Scanner { return im.cfg.Secrets }
