package bot

import "regexp"

// codeFlag matches the value of a --code flag (an authenticator's one-time
// code, policy.reauth) in command text: `--code 123456`, `--code=123456`,
// the dashes phones substitute (—code, –code) and a quoted value.
var codeFlag = regexp.MustCompile(`((?:--|\x{2014}|\x{2013})code(?:=|\s+))("[^"]*"|'[^']*'|\S+)`)

// RedactCommand returns command text with the values of its secret flags
// (--code) replaced by "******", for logs and audit entries: a code is
// valid until it is used or its time step passes, so it is never written
// where others can read it. Everything else is kept as typed.
func RedactCommand(text string) string {
	return codeFlag.ReplaceAllString(text, "${1}******")
}
