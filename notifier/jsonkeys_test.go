package notifier_test

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
)

func TestCheckJSONKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in string
		// key and first are the DuplicateKeyError's; both empty: accepted.
		key, first string
	}{
		{`{"role":"viewer","ROLE":"admin"}`, "ROLE", "role"}, // the example
		{`{"role":"viewer","role":"admin"}`, "role", "role"},
		{`{"name":"a","role":"viewer","Role":"admin"}`, "Role", "role"},
		{`{"policy":{"max_reminders":2,"Max_Reminders":9}}`, "Max_Reminders", "max_reminders"}, // nested
		{`[{"a":1},{"b":2,"B":3}]`, "B", "b"},
		{`{"x":[1,{"y":{"z":1,"Z":2}}]}`, "Z", "z"},
		{`{"r\u006fle":"viewer","role":"admin"}`, "role", "role"},             // an escape is the same key
		{"{\"kind\":\"a\",\"\u212aind\":\"b\"}", "\u212aind", "kind"},         // Kelvin sign: encoding/json folds it to k
		{"{\"status\":\"a\",\"\u017ftatus\":\"b\"}", "\u017ftatus", "status"}, // long s
		// Accepted: the same key in different objects, or as a value.
		{`{"role":"viewer","name":"role"}`, "", ""},
		{`[{"role":"a"},{"role":"b"}]`, "", ""},
		{`{"a":{"role":1},"b":{"role":2},"role":3}`, "", ""},
		{`{"a":{},"A2":[],"b":[{}]}`, "", ""},
		{`{"n":1e400}`, "", ""},
		{`"role"`, "", ""},
		{`{}`, "", ""},
	} {
		err := notifier.CheckJSONKeys([]byte(tc.in))
		var dup *notifier.DuplicateKeyError
		switch {
		case tc.key == "" && err != nil:
			t.Errorf("%s: %v, want accepted", tc.in, err)
		case tc.key != "" && (!errors.As(err, &dup) || dup.Key != tc.key || dup.First != tc.first):
			t.Errorf("%s: %v, want %q repeating %q", tc.in, err, tc.key, tc.first)
		case tc.key != "" && !strings.Contains(err.Error(), tc.key):
			t.Errorf("%s: %q does not name the key", tc.in, err)
		}
	}
	if err := notifier.CheckJSONKeys([]byte(`{"a":`)); err == nil {
		t.Error("truncated JSON accepted")
	}
}

// keysOf returns every object's keys in the JSON value read from dec, by
// a recursive walk written apart from CheckJSONKeys.
func keysOf(dec *json.Decoder, out *[][]string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		var keys []string
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return err
			}
			keys = append(keys, k.(string))
			if err := keysOf(dec, out); err != nil {
				return err
			}
		}
		*out = append(*out, keys)
		_, err = dec.Token()
		return err
	case json.Delim('['):
		for dec.More() {
			if err := keysOf(dec, out); err != nil {
				return err
			}
		}
		_, err = dec.Token()
		return err
	}
	return nil
}

// FuzzCheckJSONKeys: a JSON value CheckJSONKeys accepts has no object
// with two keys that strings.EqualFold finds equal, and one it refuses as
// a duplicate has.
func FuzzCheckJSONKeys(f *testing.F) {
	f.Add(`{"role":"viewer","ROLE":"admin"}`)
	f.Add(`{"a":[{"b":1,"c":{"d":null}}],"e":"f"}`)
	f.Add(`[{"k":1},{"\u212a":2}]`)
	f.Add(`{"x":{"y":1},"X":true}`)
	f.Fuzz(func(t *testing.T, in string) {
		if !json.Valid([]byte(in)) {
			return
		}
		var objects [][]string
		dec := json.NewDecoder(strings.NewReader(in))
		dec.UseNumber()
		if err := keysOf(dec, &objects); err != nil && !errors.Is(err, io.EOF) {
			t.Fatalf("the reference walk failed on valid JSON %q: %v", in, err)
		}
		dupes := false
		for _, keys := range objects {
			for i := range keys {
				for j := i + 1; j < len(keys); j++ {
					dupes = dupes || strings.EqualFold(keys[i], keys[j])
				}
			}
		}
		err := notifier.CheckJSONKeys([]byte(in))
		var dup *notifier.DuplicateKeyError
		switch {
		case err != nil && !errors.As(err, &dup):
			t.Fatalf("valid JSON %q refused: %v", in, err)
		case dup == nil && dupes:
			t.Fatalf("%q accepted with keys equal but for case", in)
		case dup != nil && (!dupes || !strings.EqualFold(dup.Key, dup.First)):
			t.Fatalf("%q refused for %q and %q, which are not a duplicate", in, dup.Key, dup.First)
		}
	})
}
