package gitlab

import (
	"strings"
	"testing"
)

// TestJobArgumentsJSONErrorsAreSentences: each kind of JSON mistake is
// said with its column and what was expected, never in Go's words.
func TestJobArgumentsJSONErrorsAreSentences(t *testing.T) {
	for in, want := range map[string]string{
		`gg`:        `is not valid JSON near column 1: expected a value ([, a "quoted string", a number, true, false or null), found 'g'`,
		`[["id"] x`: `near column 9: expected , or ], found 'x'`,
		`[{"a" 1}]`: `near column 7: expected :, found '1'`,
		`[{"a":1 2`: `near column 9: expected , or }, found '2'`,
		`[{a:1}]`:   `near column 3: expected a "quoted" key, found 'a'`,
		`["a\q"]`:   `near column 5: expected one of " \ / b f n r t u after the backslash, found 'q'`,
		`[] x`:      `near column 4: expected nothing more after the array, found 'x'`,
		`[["id"]`:   `is not valid JSON: it ends too early (a closing ], } or " is missing)`,
	} {
		err := ValidateJobArguments(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", in, err, want)
			continue
		}
		for _, goWords := range []string{"invalid character", "looking for", "unexpected end of JSON input"} {
			if strings.Contains(err.Error(), goWords) {
				t.Errorf("%s: Go's wording %q reaches the user: %v", in, goWords, err)
			}
		}
	}
}
