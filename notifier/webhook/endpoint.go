package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/breachnotify/breachnotify/notifier"
)

// Policy says which targets an endpoint may have. The default refuses
// plain http and every address that is not public (loopback, private,
// link-local such as cloud metadata at 169.254.169.254, unique-local,
// multicast, unspecified): a webhook is a request the service makes on an
// admin's behalf, and must not reach into its own network (SSRF).
type Policy struct {
	// AllowLocalHTTP allows http:// to localhost and loopback addresses
	// (tests, development): config BREACHNOTIFY_WEBHOOK_ALLOW_LOCAL_HTTP.
	AllowLocalHTTP bool
	// AllowPrivate allows private, link-local and unique-local targets:
	// config BREACHNOTIFY_WEBHOOK_ALLOW_PRIVATE.
	AllowPrivate bool
}

// Limits of an endpoint's fields.
const (
	maxURLLen         = 2048
	maxDescriptionLen = 500
)

// EndpointInput is the JSON body that registers or changes an endpoint.
// A change (PATCH) applies only the fields present.
type EndpointInput struct {
	// Incident is the slug of the incident whose events the endpoint
	// receives; empty for every incident's. Fixed at registration.
	Incident    *string      `json:"incident"`
	URL         *string      `json:"url"`
	Description *string      `json:"description"`
	Events      *[]EventType `json:"events"`
	Enabled     *bool        `json:"enabled"`
}

// ParseEndpointInput reads and validates an endpoint's JSON body: unknown
// fields refused, every problem named by its field. creating requires the
// URL; a change may not move the endpoint to another incident.
func ParseEndpointInput(body []byte, creating bool, policy Policy) (EndpointInput, error) {
	var in EndpointInput
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return in, notifier.Errorf(notifier.CodeInvalid, "the body is not a valid endpoint (JSON with url, events, description, enabled, incident): %v", err)
	}
	if dec.More() {
		return in, notifier.Errorf(notifier.CodeInvalid, "the body holds more than one JSON value")
	}
	var details []FieldError
	bad := func(field, format string, args ...any) {
		details = append(details, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	switch {
	case in.URL == nil && creating:
		bad("url", "is required")
	case in.URL != nil:
		if err := policy.CheckURL(*in.URL); err != nil {
			bad("url", "%v", err)
		}
	}
	if in.Description != nil && (len(*in.Description) > maxDescriptionLen || !utf8.ValidString(*in.Description)) {
		bad("description", "must be UTF-8 text of at most %d bytes", maxDescriptionLen)
	}
	if in.Events != nil {
		seen := map[EventType]bool{}
		for _, e := range *in.Events {
			if !Known(e) {
				bad("events", "unknown event type %q; known: %s", e, strings.Join(typeNames(), ", "))
			} else if seen[e] {
				bad("events", "event type %q is listed twice", e)
			}
			seen[e] = true
		}
	}
	if in.Incident != nil && !creating {
		bad("incident", "cannot be changed: register a new endpoint for another incident")
	}
	if len(details) > 0 {
		msgs := make([]string, len(details))
		for i, d := range details {
			msgs[i] = d.Field + ": " + d.Message
		}
		return in, &notifier.Error{Code: notifier.CodeInvalid, Message: "the endpoint is not valid: " + strings.Join(msgs, "; "), Details: details}
	}
	return in, nil
}

// FieldError is one problem with one field of an endpoint's body.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func typeNames() []string {
	out := make([]string, len(EventTypes))
	for i, t := range EventTypes {
		out[i] = string(t)
	}
	return out
}

// CheckURL validates an endpoint's URL against the policy: https (or http
// to localhost when allowed), a host, no credentials, and a literal IP
// address only if it is one the policy allows. Host names are checked
// again at every connection, on the addresses they resolve to (Dialer).
func (p Policy) CheckURL(raw string) error {
	if len(raw) > maxURLLen {
		return fmt.Errorf("is longer than %d bytes", maxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("is not a URL")
	}
	if u.User != nil {
		return errors.New("must not carry credentials: the signature authenticates the sender")
	}
	host := u.Hostname()
	if host == "" {
		return errors.New("must name a host")
	}
	if u.Fragment != "" {
		return errors.New("must not have a fragment")
	}
	local := isLocalhost(host)
	switch u.Scheme {
	case "https":
	case "http":
		if !(p.AllowLocalHTTP && local) {
			return errors.New("must use https (http is allowed only to localhost, with BREACHNOTIFY_WEBHOOK_ALLOW_LOCAL_HTTP)")
		}
	default:
		return errors.New("must use https")
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		if err := p.CheckAddr(addr); err != nil {
			return err
		}
	} else if local && !p.AllowLocalHTTP {
		return errors.New("must not point at this machine (localhost)")
	}
	return nil
}

// isLocalhost reports whether host names this machine.
func isLocalhost(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}

// CheckAddr refuses an address the policy does not allow to be reached.
func (p Policy) CheckAddr(addr netip.Addr) error {
	addr = addr.Unmap()
	switch {
	case addr.IsLoopback():
		if !p.AllowLocalHTTP && !p.AllowPrivate {
			return fmt.Errorf("must not point at a loopback address (%s)", addr)
		}
	case addr.IsUnspecified(), addr.IsMulticast(), addr.IsInterfaceLocalMulticast():
		return fmt.Errorf("must not point at %s", addr)
	case addr.IsPrivate(), addr.IsLinkLocalUnicast(), addr.IsLinkLocalMulticast(), !addr.IsGlobalUnicast(), sharedAddressSpace.Contains(addr):
		if !p.AllowPrivate {
			return fmt.Errorf("must not point at a private or link-local address (%s); BREACHNOTIFY_WEBHOOK_ALLOW_PRIVATE allows it", addr)
		}
	}
	return nil
}

// sharedAddressSpace is carrier-grade NAT (RFC 6598), private in all but name.
var sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10")

// control is a net.Dialer Control that refuses, at connection time, an
// address the policy does not allow: a host name that resolved to a
// public address when registered may resolve to an internal one later
// (DNS rebinding).
func (p Policy) control(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("webhook target %q is not an IP address", host)
	}
	if err := p.CheckAddr(addr); err != nil {
		return fmt.Errorf("webhook target refused: %w", err)
	}
	return nil
}
