package gitlab

import (
	"fmt"
	"strings"
)

// ShellWord is one word of a line as a POSIX shell splits it (sh, dash,
// bash): Text is the word after quote removal, Raw the characters typed,
// Start and End their byte offsets in the line. Nothing is ever expanded or
// run; Shelly records the first character a shell would have interpreted
// instead of passing it on, so that a paste relying on it can be refused.
type ShellWord struct {
	Text       string
	Raw        string
	Start, End int
	// Quoted is true when any part of the word was quoted or escaped.
	Quoted bool
	// Stripped is true when a shell removed a double quote or a backslash
	// outside single quotes: the word differs from what was typed by more
	// than its single quotes.
	Stripped bool
	// Shelly is the first character outside single quotes that a shell
	// would act on ($ or ` expand; ; | & < > ( ) end or redirect the
	// command), or 0.
	Shelly rune
}

// ShellError is a line a shell could not split: an unterminated quote or a
// trailing backslash. Msg names the offending character's position.
type ShellError struct {
	Msg string
}

func (e *ShellError) Error() string { return e.Msg }

// shellBlank reports the characters that separate words. A newline ends a
// command in sh; chat clients fold pasted lines, so it separates words here
// and the caller decides whether more words are acceptable.
func shellBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// SplitShellWords splits line into words by the quoting rules of POSIX sh
// (XCU 2.2 and 2.6.7): outside quotes a backslash keeps the next character
// literal (and a backslash-newline disappears); a # that starts a word
// starts a comment; '…' keeps everything literally; inside "…" a
// backslash escapes only $ ` " \ and newline and is kept before anything
// else. On an error the words read so far are
// returned with it, so that a caller can still find a "--" before it.
func SplitShellWords(line string) ([]ShellWord, error) {
	var (
		words []ShellWord
		cur   strings.Builder
		w     ShellWord
		in    bool
	)
	start := func(i int) {
		if !in {
			in = true
			w = ShellWord{Start: i}
			cur.Reset()
		}
	}
	shelly := func(c rune) {
		if w.Shelly == 0 {
			w.Shelly = c
		}
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case shellBlank(c):
			if in {
				w.Text, w.End, w.Raw = cur.String(), i, line[w.Start:i]
				words = append(words, w)
				in = false
			}
		case c == '#' && !in:
			// A # that starts a word starts a comment, to the end of the
			// line (GitLab's docs put some after a command).
			j := strings.IndexByte(line[i:], '\n')
			if j < 0 {
				return words, nil
			}
			i += j
		case c == '\\':
			start(i)
			w.Quoted, w.Stripped = true, true
			if i+1 >= len(line) {
				return words, &ShellError{"the line ends with a backslash, which escapes nothing"}
			}
			i++
			if line[i] != '\n' {
				cur.WriteByte(line[i])
			}
		case c == '\'':
			start(i)
			w.Quoted = true
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return words, &ShellError{fmt.Sprintf("the ' at character %d is never closed", runeIndex(line, i))}
			}
			cur.WriteString(line[i+1 : i+1+end])
			i += end + 1
		case c == '"':
			start(i)
			w.Quoted, w.Stripped = true, true
			j := i + 1
			for ; j < len(line) && line[j] != '"'; j++ {
				switch {
				case line[j] == '\\' && j+1 < len(line) && strings.IndexByte("$`\"\\\n", line[j+1]) >= 0:
					j++
					if line[j] != '\n' {
						cur.WriteByte(line[j])
					}
				case line[j] == '$' || line[j] == '`':
					shelly(rune(line[j]))
					cur.WriteByte(line[j])
				default:
					cur.WriteByte(line[j])
				}
			}
			if j >= len(line) {
				return words, &ShellError{fmt.Sprintf("the \" at character %d is never closed", runeIndex(line, i))}
			}
			i = j
		default:
			start(i)
			if strings.IndexByte("$`;|&<>()", c) >= 0 {
				shelly(rune(c))
			}
			cur.WriteByte(c)
		}
	}
	if in {
		w.Text, w.End, w.Raw = cur.String(), len(line), line[w.Start:]
		words = append(words, w)
	}
	return words, nil
}

// runeIndex is the 1-based character position of byte offset i, for
// messages.
func runeIndex(s string, i int) int {
	return len([]rune(s[:i])) + 1
}

// ShellQuote quotes s for a POSIX shell: as it is when it needs no quoting,
// otherwise in single quotes, each apostrophe closed, escaped and reopened.
func ShellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n\r'\"\\$`;|&<>()*?[]#~=%{}!") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
