package notifier

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DuplicateKeyError is a JSON object with two keys that are equal but for
// case ("role" and "ROLE"), or the same key twice.
type DuplicateKeyError struct {
	// Key is the later of the two keys; First the earlier one, equal to
	// Key when it was repeated exactly.
	Key, First string
}

func (e *DuplicateKeyError) Error() string {
	if e.Key == e.First {
		return fmt.Sprintf("the key %q appears twice in one object; send each key once", e.Key)
	}
	return fmt.Sprintf("the keys %q and %q differ only in case; send each key once", e.First, e.Key)
}

// CheckJSONKeys returns a *DuplicateKeyError for the first object, at any
// depth of the JSON value data, that has two keys equal but for case, nil
// when there is none (or no value at all), and the decoder's error when
// data is not JSON.
// encoding/json matches keys to fields ignoring case and lets the last
// duplicate win: {"role":"viewer","ROLE":"admin"} decodes as an admin,
// while whatever reads the first key (a reviewer, a log, a proxy's
// filter) sees a viewer. Every JSON body and NDJSON line this service
// accepts is checked with it. Case is compared as strings.EqualFold does
// (Unicode simple folding, which covers the K of the Kelvin sign and the
// long s that encoding/json also folds to k and s).
func CheckJSONKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // numbers are not the point; never fail on their size
	// stack holds a frame for each object or array open around the
	// current token: an object's folded keys so far (each with its first
	// spelling) and whether a key comes next; an array's keys are nil.
	type frame struct {
		keys    map[string]string
		wantKey bool
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			if len(stack) > 0 {
				return io.ErrUnexpectedEOF
			}
			return nil
		}
		if err != nil {
			return err
		}
		if n := len(stack); n > 0 && stack[n-1].keys != nil && stack[n-1].wantKey {
			top := &stack[n-1]
			key, ok := tok.(string)
			if !ok { // the object's closing brace
				stack = stack[:n-1]
				continue
			}
			folded := foldKey(key)
			if first, seen := top.keys[folded]; seen {
				return &DuplicateKeyError{Key: key, First: first}
			}
			top.keys[folded] = key
			top.wantKey = false
			continue
		}
		// A value: the object around it (if any) next wants a key.
		if n := len(stack); n > 0 && stack[n-1].keys != nil {
			stack[n-1].wantKey = true
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{keys: map[string]string{}, wantKey: true})
		case json.Delim('['):
			stack = append(stack, frame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
}

// foldKey maps s to one spelling per class of strings.EqualFold: each rune
// becomes the smallest rune of its simple case-folding orbit.
func foldKey(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		// The orbit of an ASCII letter may hold a non-ASCII rune (K and
		// the Kelvin sign, S and the long s), but its smallest member is
		// the ASCII upper case.
		return strings.ToUpper(s)
	}
	var b strings.Builder
	for _, r := range s {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}
