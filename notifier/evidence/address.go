package evidence

import (
	"fmt"
	"net/mail"
	"regexp"
	"strings"

	"github.com/jhillyerd/enmime/v2"
	"golang.org/x/net/idna"
)

// participantHeaders are the header fields whose addresses make someone a
// participant of a message, in the order they are reported.
var participantHeaders = []string{"From", "Sender", "Reply-To", "To", "Cc", "Bcc", "Delivered-To"}

// Participant is one address found in a participant header.
type Participant struct {
	// Header is the field it was found in ("From", "Cc", ...).
	Header string `json:"header"`
	// Depth is 0 for the message's own headers, 1 for a message attached
	// to it (message/rfc822) or the headers of a returned one
	// (text/rfc822-headers), 2 for one attached to that, and so on.
	Depth int `json:"depth"`
	// Name is the display name, decoded.
	Name string `json:"name,omitempty"`
	// Address is the address as written, with its domain part in the
	// normalised form of Domain when that could be made.
	Address string `json:"address"`
	// Domain is the address's domain, lower case, in its ASCII (punycode)
	// form; empty when the address has none or it is not a valid domain
	// name (then DomainError says why).
	Domain      string `json:"domain,omitempty"`
	DomainError string `json:"domain_error,omitempty"`
}

// domainProfile is idna.Lookup (UTS 46 mapping, STD3 rules, the bidi rule)
// plus DNS length checks, so that empty labels ("a..b") and over-long
// names are refused too. Like idna.Lookup it is immutable.
var domainProfile = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.VerifyDNSLength(true))

// NormalizeDomain returns a domain name lower-cased and in its ASCII form
// (IDNA 2008 lookup rules, so "Bücher.Example" becomes
// "xn--bcher-kva.example"), without a final dot. It fails on names that
// cannot be a domain name (address literals such as [192.0.2.1] among them).
func NormalizeDomain(domain string) (string, error) {
	d := strings.TrimSuffix(strings.TrimSpace(domain), ".")
	if d == "" {
		return "", fmt.Errorf("empty domain")
	}
	if strings.HasPrefix(d, "[") {
		return "", fmt.Errorf("address literal %q is not a domain name", d)
	}
	ascii, err := domainProfile.ToASCII(d)
	if err != nil {
		return "", fmt.Errorf("domain %q: %w", d, err)
	}
	return strings.ToLower(ascii), nil
}

// addressesOf reads the addresses of one header value leniently: with
// enmime's address parser (net/mail plus repairs such as missing commas),
// then each comma-separated piece on its own with net/mail, then, for
// what still fails, anything shaped like local@domain. problem is set
// when the value was not well formed.
func addressesOf(value string) (addrs []*mail.Address, problem string) {
	list, err := enmime.ParseAddressList(value)
	if err == nil || err == mail.ErrHeaderNotPresent {
		return list, ""
	}
	problem = err.Error()
	for _, piece := range strings.Split(value, ",") {
		if strings.TrimSpace(piece) == "" {
			continue
		}
		if a, err := enmime.ParseAddressList(piece); err == nil {
			addrs = append(addrs, a...)
			continue
		}
		for _, m := range looseAddress.FindAllString(piece, -1) {
			addrs = append(addrs, &mail.Address{Address: m})
		}
	}
	return addrs, problem
}

// looseAddress finds address-shaped text in a header nothing else reads.
var looseAddress = regexp.MustCompile(`[^\s<>()",;:@\[\]]+@[^\s<>()",;:@\[\]]+`)

// participant builds a Participant from a parsed address.
func participant(header string, depth int, a *mail.Address) Participant {
	p := Participant{Header: header, Depth: depth, Name: a.Name, Address: a.Address}
	at := strings.LastIndexByte(a.Address, '@')
	if at < 0 {
		p.DomainError = "no domain"
		return p
	}
	d, err := NormalizeDomain(a.Address[at+1:])
	if err != nil {
		p.DomainError = err.Error()
		return p
	}
	p.Domain = d
	p.Address = a.Address[:at+1] + d
	return p
}
