package gitlab

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
)

// syntaxRE splits encoding/json's syntax error text ("invalid character 'x'
// looking for beginning of value") into the character and the context.
var syntaxRE = regexp.MustCompile(`^invalid character '(.+)' (.+)$`)

// expectations says, for each context encoding/json names, what JSON
// expected there, in an operator's words.
var expectations = map[string]string{
	"looking for beginning of value":             `a value ([, a "quoted string", a number, true, false or null)`,
	"after array element":                        ", or ]",
	"after object key":                           ":",
	"after object key:value pair":                ", or }",
	"looking for beginning of object key string": `a "quoted" key`,
	"in string escape code":                      `one of " \ / b f n r t u after the backslash`,
	"in string literal":                          `a closing " (a line break or tab must be escaped)`,
	"after top-level value":                      "nothing more after the array",
}

// jsonProblem turns encoding/json's error for job arguments into a phrase
// that follows "is not valid JSON": where, what was expected and what was
// found, without Go's wording. It is "" when the error says nothing more.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return ""
	}
	if se.Error() == "unexpected end of JSON input" {
		return ": it ends too early (a closing ], } or \" is missing)"
	}
	m := syntaxRE.FindStringSubmatch(se.Error())
	if m == nil {
		return fmt.Sprintf(" near column %d", se.Offset)
	}
	found, want := "'"+m[1]+"'", expectations[m[2]]
	if want == "" {
		return fmt.Sprintf(" near column %d: %s is not allowed there", se.Offset, found)
	}
	return fmt.Sprintf(" near column %d: expected %s, found %s", se.Offset, want, found)
}
