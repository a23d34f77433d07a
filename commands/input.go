package commands

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// Input bounds. Everything a person types ends up on an approval card, in
// the audit trail and in the request store; each field has a limit so that
// a paste accident (or an attack) cannot post or store megabytes. The
// finalize arguments have their own limits in the gitlab package.
const (
	maxCommandBytes = 8192 // the whole text after the command word
	maxReasonRunes  = 500
	maxHostRunes    = 64
)

// Refused in anything an approver reads: every character of Unicode's
// format category (Cf: bidirectional overrides and isolates, zero-width
// characters, the tag characters U+E0000–U+E007F, the deprecated format
// characters U+206A–U+206F, …), the Hangul fillers, which are letters that
// show as blank space, and control characters other than tab and newline
// (terminals and some clients act on them). They can make an approval card
// show something other than what runs (a reversed argument, a hidden word).
//
// invisibleNames names the ones people meet, for refusals; the rest are
// named by their category.
var invisibleNames = map[rune]string{
	'\u00ad': "SOFT HYPHEN",
	'\u061c': "ARABIC LETTER MARK",
	'\u115f': "HANGUL CHOSEONG FILLER",
	'\u1160': "HANGUL JUNGSEONG FILLER",
	'\u180e': "MONGOLIAN VOWEL SEPARATOR",
	'\u200b': "ZERO WIDTH SPACE",
	'\u200c': "ZERO WIDTH NON-JOINER",
	'\u200d': "ZERO WIDTH JOINER",
	'\u200e': "LEFT-TO-RIGHT MARK",
	'\u200f': "RIGHT-TO-LEFT MARK",
	'\u202a': "LEFT-TO-RIGHT EMBEDDING",
	'\u202b': "RIGHT-TO-LEFT EMBEDDING",
	'\u202c': "POP DIRECTIONAL FORMATTING",
	'\u202d': "LEFT-TO-RIGHT OVERRIDE",
	'\u202e': "RIGHT-TO-LEFT OVERRIDE",
	'\u2060': "WORD JOINER",
	'\u2066': "LEFT-TO-RIGHT ISOLATE",
	'\u2067': "RIGHT-TO-LEFT ISOLATE",
	'\u2068': "FIRST STRONG ISOLATE",
	'\u2069': "POP DIRECTIONAL ISOLATE",
	'\u3164': "HANGUL FILLER",
	'\ufeff': "ZERO WIDTH NO-BREAK SPACE",
	'\uffa0': "HALFWIDTH HANGUL FILLER",
}

// invisible reports whether r is refused, and its name.
func invisible(r rune) (string, bool) {
	if n, ok := invisibleNames[r]; ok {
		return n, true
	}
	switch {
	case unicode.Is(unicode.Cf, r):
		return "(an invisible format character)", true
	case (r < 0x20 && r != '\t' && r != '\n') || (r >= 0x7f && r < 0xa0):
		return "(a control character)", true
	}
	return "", false
}

// checkVisible refuses a field that holds an invisible or bidi character or
// invalid UTF-8, naming the field, the character and where it is.
func checkVisible(field, s string) error {
	is, contains := "is", "contains"
	if strings.HasSuffix(field, "arguments") {
		is, contains = "are", "contain"
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("the %s %s not valid UTF-8: retype it", field, is)
	}
	for i, r := range []rune(s) {
		if name, bad := invisible(r); bad {
			return fmt.Errorf("the %s %s U+%04X %s at character %d: invisible and text-direction characters can make the approval card show something other than what runs; retype the %s without it", field, contains, r, name, i+1, field)
		}
	}
	return nil
}

// checkLength refuses a field longer than max characters.
func checkLength(field, s string, max int) error {
	if n := utf8.RuneCountInString(s); n > max {
		return fmt.Errorf("the %s is %d characters long; at most %d are allowed", field, n, max)
	}
	return nil
}

// echo shortens user text quoted back in a message (gitlab.Echo).
func echo(s string) string { return gitlab.Echo(s) }

// oneLine shows free text a person typed (a reason, a name) on one line:
// line breaks and runs of white space become one space, so a reason stays
// a field's value and cannot lay out the card. Adapters escape it (it is
// plain text); the stored text is what was typed.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// checkVisibleText refuses a command holding an invisible or bidi
// character anywhere, naming the field it is in. Every field an approver
// reads comes from this text, so checking it whole covers them all.
func checkVisibleText(text string, words []gitlab.ShellWord) error {
	for off, r := range text {
		if _, bad := invisible(r); bad {
			field := fieldAt(text, words, off)
			return checkVisible(field, text[wordStart(words, off):])
		}
	}
	if !utf8.ValidString(text) {
		return checkVisible("command", text)
	}
	return nil
}

// wordStart is where the word holding byte offset off starts (so that the
// character position in a refusal counts within the field), or 0.
func wordStart(words []gitlab.ShellWord, off int) int {
	for _, w := range words {
		if reasonSeparator(w) && off >= w.End {
			return w.End
		}
		if off >= w.Start && off < w.End {
			return w.Start
		}
	}
	return 0
}

// fieldAt names the part of a command that byte offset off falls in, for
// refusals: the reason, a flag's value, or an argument of the subcommand.
func fieldAt(text string, words []gitlab.ShellWord, off int) string {
	for i, w := range words {
		if reasonSeparator(w) && off >= w.End {
			return "reason"
		}
		if off < w.Start || off >= w.End {
			continue
		}
		if i == 0 && !pastedFinalize(w.Text) {
			return "subcommand"
		}
		if prev := words[max(i-1, 0)].Text; i > 0 && strings.HasPrefix(prev, "--") && !strings.Contains(prev, "=") && prev != "--" {
			return "value of " + prev
		}
		sub := strings.ToLower(words[0].Text)
		if pastedFinalize(words[0].Text) {
			sub = "finalize"
		}
		row, _ := operationOf(sub)
		switch {
		case row.argsName != "":
			return row.argsName
		case sub == "deny":
			if i > 1 {
				return "reason"
			}
		}
		return fmt.Sprintf("argument %q", echo(strings.Map(visibleOnly, w.Text)))
	}
	return "command"
}

// visibleOnly drops refused characters, to name a word without them.
func visibleOnly(r rune) rune {
	if _, bad := invisible(r); bad {
		return -1
	}
	return r
}

// checkBounds applies the length limits of the fields the grammar owns.
func (inv Invocation) checkBounds() error {
	if err := checkLength("reason", inv.Reason, maxReasonRunes); err != nil {
		return fmt.Errorf("%w: shorten it (a ticket link is enough)", err)
	}
	return checkLength("host name", inv.Host, maxHostRunes)
}

// displayName is a person's name as cards show it. Names come from the
// platform, not from the command, so they are cleaned rather than refused:
// invisible and text-direction characters dropped (a name must not reorder
// the card around it), one line, the length bounded; the ID stands in for
// a name left empty. Adapters escape it where they show it.
func displayName(u bot.User) string {
	n := oneLine(strings.Map(visibleOnly, u.Name))
	if n == "" {
		n = u.ID
	}
	return echo(n)
}

// parseID is approvals.ParseID with the typed text echoed, shortened, in
// the refusal.
func parseID(s string) (string, error) {
	id, err := approvals.ParseID(s)
	if err != nil {
		return "", fmt.Errorf("%q is %w", echo(s), err)
	}
	return id, nil
}
