package notifier

import (
	"errors"
	"strings"

	"golang.org/x/net/idna"
)

// AddressASCII returns an email address with its domain in ASCII form
// (an internationalized domain as punycode, lower-case) and its local part
// as given, and whether that local part is not ASCII: such an address
// (RFC 6531, sécurité@exämple.de) can only be sent through a relay that
// offers SMTPUTF8, while one with only a Unicode domain
// (soc@bücher.example) can be sent anywhere in its ASCII form.
func AddressASCII(addr string) (ascii string, utf8Local bool, err error) {
	at := strings.LastIndexByte(addr, '@')
	if at < 1 {
		return "", false, errors.New("no local part and domain")
	}
	domain, err := idna.Lookup.ToASCII(addr[at+1:])
	if err != nil || len(domain) > 253 || !domainPattern.MatchString(domain) {
		return "", false, errors.New("not a domain name")
	}
	local := addr[:at]
	return local + "@" + strings.ToLower(domain), !isASCII(local), nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
