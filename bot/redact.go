package bot

import (
	"regexp"
	"strings"
)

// codeFlag matches the value of a --code flag (an authenticator's one-time
// code, policy.reauth) in command text: `--code 123456`, `--code=123456`,
// the dashes phones substitute (—code, –code) and a quoted value.
var codeFlag = regexp.MustCompile(`((?:--|\x{2014}|\x{2013})code(?:=|\s+))("[^"]*"|'[^']*'|\S+)`)

// RedactCommand returns command text with the values of its secret flags
// (--code) replaced by "******", for logs and audit entries: a code is
// valid until it is used or its time step passes, so it is never written
// where others can read it. A code typed without its flag is redacted too
// (`approve <id> 123456`, `enroll 123456`: see bareCodes). Everything else
// is kept as typed.
func RedactCommand(text string) string {
	return bareCodes(codeFlag.ReplaceAllString(text, "${1}******"))
}

// bareCodes replaces, in an approve or enroll command (the only ones that
// take a code), every word of 6 to 8 digits after the request ID (approve)
// or the subcommand (enroll) by "******": the length authenticators show.
// Such a command is refused (an unexpected argument) and its text is
// audited, so the code must not be. A reason's 6-to-8-digit number is
// redacted with it, the price of never writing a code. A leading
// /command word is skipped; whitespace is kept as typed.
func bareCodes(text string) string {
	words := wordSpans(text)
	if len(words) > 0 && strings.HasPrefix(text[words[0][0]:words[0][1]], "/") {
		words = words[1:]
	}
	if len(words) < 2 {
		return text
	}
	switch text[words[0][0]:words[0][1]] {
	case "approve":
		words = words[2:]
	case "enroll":
		words = words[1:]
	default:
		return text
	}
	var b strings.Builder
	last := 0
	for _, w := range words {
		if !LooksLikeCode(text[w[0]:w[1]]) {
			continue
		}
		b.WriteString(text[last:w[0]])
		b.WriteString("******")
		last = w[1]
	}
	if last == 0 {
		return text
	}
	b.WriteString(text[last:])
	return b.String()
}

// LooksLikeCode reports whether word could be a one-time code typed
// without its flag: 6 to 8 ASCII digits, the lengths authenticators show.
func LooksLikeCode(word string) bool {
	return len(word) >= 6 && len(word) <= 8 && strings.Trim(word, "0123456789") == ""
}

// wordSpans returns the [start, end) of each run of non-space bytes.
func wordSpans(text string) [][2]int {
	var out [][2]int
	start := -1
	for i := 0; i <= len(text); i++ {
		space := i == len(text) || text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'
		switch {
		case space && start >= 0:
			out = append(out, [2]int{start, i})
			start = -1
		case !space && start < 0:
			start = i
		}
	}
	return out
}
