package commands

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// Invocation is one parsed `/gitlab-migrations` command line:
// `<subcommand> [--host NAME] [--db NAME] [--from ID] [args] [-- reason text]`.
type Invocation struct {
	Sub    string
	Host   string
	DB     string
	From   string
	Args   []string
	Reason string
}

// UsageError is a refusal of malformed input. Its message says what is wrong
// and carries the usage line of the subcommand.
type UsageError struct {
	Msg   string
	Usage string
}

func (e *UsageError) Error() string {
	if e.Usage == "" {
		return e.Msg
	}
	return e.Msg + "\nUsage: " + e.Usage
}

// token is one word of the command line; quoted tells a quoted "--" (an
// argument) from the reason separator.
type token struct {
	text   string
	quoted bool
}

// smartQuotes maps the typographic quotes chat clients substitute back to
// ASCII, so that '["id"]' typed in Slack survives its autocorrection.
var smartQuotes = strings.NewReplacer("\u2018", "'", "\u2019", "'", "\u201c", `"`, "\u201d", `"`)

// tokenize splits s like a small shell would, without ever running one:
// white space separates words, '…' is literal, "…" allows \" and \\.
func tokenize(s string) ([]token, error) {
	s = smartQuotes.Replace(s)
	var (
		toks    []token
		cur     strings.Builder
		inWord  bool
		quoted  bool
		runes   = []rune(s)
		closing rune
	)
	flush := func() {
		if inWord {
			toks = append(toks, token{cur.String(), quoted})
		}
		cur.Reset()
		inWord, quoted = false, false
	}
	for i := 0; i < len(runes); i++ {
		r := runes[i]
		switch {
		case closing != 0:
			if r == closing {
				closing = 0
				continue
			}
			if closing == '"' && r == '\\' && i+1 < len(runes) && (runes[i+1] == '"' || runes[i+1] == '\\') {
				i++
				r = runes[i]
			}
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			closing, inWord, quoted = r, true, true
		case unicode.IsSpace(r):
			flush()
		default:
			inWord = true
			cur.WriteRune(r)
		}
	}
	if closing != 0 {
		return nil, fmt.Errorf("unterminated %c quote", closing)
	}
	flush()
	return toks, nil
}

// Parse parses the text after the command word.
func Parse(text string) (Invocation, error) {
	toks, err := tokenize(text)
	if err != nil {
		return Invocation{}, &UsageError{Msg: err.Error() + ": close the quote around the JSON arguments", Usage: "/gitlab-migrations help"}
	}
	if len(toks) == 0 {
		return Invocation{Sub: "help"}, nil
	}
	inv := Invocation{Sub: strings.ToLower(toks[0].text)}
	spec, ok := subcommands[inv.Sub]
	if !ok || toks[0].quoted {
		return inv, &UsageError{Msg: fmt.Sprintf("unknown subcommand %q", toks[0].text), Usage: "/gitlab-migrations <" + strings.Join(subcommandNames(), "|") + "> … (try /gitlab-migrations help)"}
	}
	usage := spec.usage
	for i := 1; i < len(toks); i++ {
		t := toks[i]
		if t.quoted || !strings.HasPrefix(t.text, "--") {
			inv.Args = append(inv.Args, t.text)
			continue
		}
		if t.text == "--" {
			var words []string
			for _, r := range toks[i+1:] {
				words = append(words, r.text)
			}
			inv.Reason = strings.Join(words, " ")
			break
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(t.text, "--"), "=")
		if !spec.allows(name) {
			return inv, &UsageError{Msg: fmt.Sprintf("%s does not take --%s", inv.Sub, name), Usage: usage}
		}
		if !hasValue {
			if i+1 >= len(toks) || (toks[i+1].text == "--" && !toks[i+1].quoted) {
				return inv, &UsageError{Msg: fmt.Sprintf("--%s needs a value", name), Usage: usage}
			}
			i++
			value = toks[i].text
		}
		switch name {
		case "host":
			inv.Host = value
		case "db":
			inv.DB = value
		case "from":
			inv.From = value
		}
	}
	if err := spec.checkArgs(inv); err != nil {
		return inv, &UsageError{Msg: err.Error(), Usage: usage}
	}
	return inv, nil
}

// auditCount reads the N of `audit [N]`.
func auditCount(inv Invocation) (int, error) {
	if len(inv.Args) == 0 {
		return 10, nil
	}
	n, err := strconv.Atoi(inv.Args[0])
	if err != nil || n < 1 || n > 100 {
		return 0, fmt.Errorf("N must be a number from 1 to 100, not %q", inv.Args[0])
	}
	return n, nil
}
