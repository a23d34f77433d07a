package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
)

// maxJSONDepth bounds the nesting of a request body. Real requests nest
// three levels (request → approval → argv); the bound keeps the duplicate
// check's recursion small whatever a client sends.
const maxJSONDepth = 16

// checkNoDuplicateKeys walks data token by token and refuses an object
// that names a key twice. encoding/json keeps the last of duplicate keys,
// and matches keys case-insensitively, so without this check
// {"operation":"migrate-status","Operation":"migrate"} would pass any
// look at the first key and run the second. Keys are therefore compared
// the way encoding/json matches them: by Unicode simple case folding. It
// also refuses trailing data after the first value.
func checkNoDuplicateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // numbers are not looked at; do not lose precision
	if err := walkJSON(dec, "", 0); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &requestError{msg: "request body has data after the JSON object"}
	}
	return nil
}

// walkJSON consumes one JSON value; path names it for error messages.
func walkJSON(dec *json.Decoder, path string, depth int) error {
	if depth > maxJSONDepth {
		return &requestError{msg: fmt.Sprintf("request body nests deeper than %d levels", maxJSONDepth)}
	}
	tok, err := dec.Token()
	if err != nil {
		return &requestError{msg: "request body is not valid JSON: " + err.Error()}
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]string{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return &requestError{msg: "request body is not valid JSON: " + err.Error()}
			}
			key, _ := kt.(string) // inside an object the decoder only yields string keys
			full := key
			if path != "" {
				full = path + "." + key
			}
			folded := foldKey(key)
			if prev, dup := seen[folded]; dup {
				return &requestError{field: full, msg: fmt.Sprintf(
					"request body names the key %q more than once (%q and %q): every key must appear once", full, prev, key)}
			}
			seen[folded] = key
			if err := walkJSON(dec, full, depth+1); err != nil {
				return err
			}
		}
		_, err = dec.Token() // '}'
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if err := walkJSON(dec, fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
				return err
			}
		}
		_, err = dec.Token() // ']'
	}
	if err != nil {
		return &requestError{msg: "request body is not valid JSON: " + err.Error()}
	}
	return nil
}

// foldKey maps every rune to the smallest rune of its simple case-folding
// orbit, so foldKey(a) == foldKey(b) exactly when strings.EqualFold(a, b),
// which is how encoding/json matches a key to a struct field (including
// 'ſ' for 's' and the Kelvin sign for 'k').
func foldKey(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		b.WriteRune(m)
	}
	return b.String()
}
