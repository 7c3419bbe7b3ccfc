package evidence

import (
	"bufio"
	_ "embed"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// OrgID identifies an organization (notifier.Organization.ID).
type OrgID int64

// Directory is what attribution needs to know about the incident's
// organizations. Keys are normalised: domains by NormalizeDomain,
// addresses by NormalizeAddress.
type Directory interface {
	// OrgOfDomain returns the organization that owns exactly this domain.
	OrgOfDomain(domain string) (OrgID, bool)
	// OrgOfContact returns the organization of a known contact address.
	OrgOfContact(address string) (OrgID, bool)
}

// NormalizeAddress lower-cases an address and puts its domain in ASCII
// form, so that the same mailbox written two ways compares equal.
func NormalizeAddress(address string) (string, error) {
	at := strings.LastIndexByte(address, '@')
	if at <= 0 {
		return "", fmt.Errorf("address %q has no local part and domain", address)
	}
	d, err := NormalizeDomain(address[at+1:])
	if err != nil {
		return "", err
	}
	return strings.ToLower(strings.TrimSpace(address[:at])) + "@" + d, nil
}

// domainAndParents returns domain and each parent domain above it, down
// to but not including its public suffix: "a.b.example.co.uk" gives
// a.b.example.co.uk, b.example.co.uk, example.co.uk.
func domainAndParents(domain string) []string {
	suffix, _ := publicsuffix.PublicSuffix(domain)
	var out []string
	for d := domain; d != "" && d != suffix; {
		out = append(out, d)
		i := strings.IndexByte(d, '.')
		if i < 0 {
			break
		}
		d = d[i+1:]
	}
	return out
}

// MatchDomain returns the organization owning domain or its nearest
// parent domain: mail.eu.contoso.com belongs to whoever owns contoso.com
// unless eu.contoso.com has an owner of its own. A public suffix (com,
// co.uk) is never matched. domain must be normalised.
func MatchDomain(dir Directory, domain string) (OrgID, bool) {
	for _, d := range domainAndParents(domain) {
		if org, ok := dir.OrgOfDomain(d); ok {
			return org, true
		}
	}
	return 0, false
}

// Attribute returns the organizations a message exposes, sorted: those
// owning (or a parent of) a participant's domain, and those with a
// participant among their known contacts. A participant at a free-mail
// provider counts only through its exact address, since anyone can have
// an address there.
func Attribute(msg Message, dir Directory, free *FreeMail) []OrgID {
	byOrg := AttributeParticipants(msg, dir, free)
	orgs := make([]OrgID, 0, len(byOrg))
	for org := range byOrg {
		orgs = append(orgs, org)
	}
	slices.Sort(orgs)
	return orgs
}

// AttributeParticipants is Attribute with, for each organization, the
// participants that make it exposed (what its exposure item will show),
// in the message's order.
func AttributeParticipants(msg Message, dir Directory, free *FreeMail) map[OrgID][]Participant {
	byOrg := map[OrgID][]Participant{}
	for _, p := range msg.Participants {
		if org, ok := orgOf(p, dir, free); ok {
			byOrg[org] = append(byOrg[org], p)
		}
	}
	return byOrg
}

// orgOf says which organization a participant belongs to, if any.
func orgOf(p Participant, dir Directory, free *FreeMail) (OrgID, bool) {
	if p.Domain == "" {
		return 0, false
	}
	if addr, err := NormalizeAddress(p.Address); err == nil {
		if org, ok := dir.OrgOfContact(addr); ok {
			return org, true
		}
	}
	if free.IsFreeMail(p.Domain) {
		return 0, false
	}
	return MatchDomain(dir, p.Domain)
}

// StaticDirectory is a Directory held in memory.
type StaticDirectory struct {
	domains  map[string]OrgID
	contacts map[string]OrgID
}

// NewStaticDirectory builds a Directory from organization domains and
// contact addresses, normalising both; it fails on a domain or address
// that cannot be normalised, or one claimed by two organizations.
func NewStaticDirectory(domains, contacts map[string]OrgID) (*StaticDirectory, error) {
	d := &StaticDirectory{domains: map[string]OrgID{}, contacts: map[string]OrgID{}}
	for raw, org := range domains {
		n, err := NormalizeDomain(raw)
		if err != nil {
			return nil, fmt.Errorf("organization %d: %w", org, err)
		}
		if prev, ok := d.domains[n]; ok && prev != org {
			return nil, fmt.Errorf("domain %s is claimed by organizations %d and %d", n, prev, org)
		}
		d.domains[n] = org
	}
	for raw, org := range contacts {
		n, err := NormalizeAddress(raw)
		if err != nil {
			return nil, fmt.Errorf("organization %d: %w", org, err)
		}
		if prev, ok := d.contacts[n]; ok && prev != org {
			return nil, fmt.Errorf("contact %s is claimed by organizations %d and %d", n, prev, org)
		}
		d.contacts[n] = org
	}
	return d, nil
}

// OrgOfDomain implements Directory.
func (d *StaticDirectory) OrgOfDomain(domain string) (OrgID, bool) {
	org, ok := d.domains[domain]
	return org, ok
}

// OrgOfContact implements Directory.
func (d *StaticDirectory) OrgOfContact(address string) (OrgID, bool) {
	org, ok := d.contacts[address]
	return org, ok
}

// defaultFreeMail is the embedded free-mail list; its header names its
// source and licence.
//
//go:embed freemail.txt
var defaultFreeMail string

// FreeMail is a set of public mail provider domains.
type FreeMail struct {
	domains map[string]struct{}
}

// DefaultFreeMailDomains returns the embedded list of free-mail domains
// (about 14,000, from the npm package free-email-domains), to start a
// configurable list from.
func DefaultFreeMailDomains() []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(defaultFreeMail))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	return out
}

// NewFreeMail builds a FreeMail set from domains (for instance
// DefaultFreeMailDomains plus or minus the incident's own choices),
// normalising each; it fails on one that is not a domain name.
func NewFreeMail(domains []string) (*FreeMail, error) {
	f := &FreeMail{domains: make(map[string]struct{}, len(domains))}
	for _, raw := range domains {
		d, err := NormalizeDomain(raw)
		if err != nil {
			return nil, fmt.Errorf("free-mail list: %w", err)
		}
		f.domains[d] = struct{}{}
	}
	return f, nil
}

// IsFreeMail reports whether domain (normalised) or a parent of it is a
// free-mail provider's.
func (f *FreeMail) IsFreeMail(domain string) bool {
	if f == nil {
		return false
	}
	for _, d := range domainAndParents(domain) {
		if _, ok := f.domains[d]; ok {
			return true
		}
	}
	return false
}
