package gitlab

import "strings"

// What rake prints on stderr when a task raises: "rake aborted!", the
// exception ("Class: message", or for a RuntimeError just the message), the
// backtrace, one "Caused by:" block per wrapped exception, then
// "Tasks: TOP => ..." (ruby/rake lib/rake/application.rb,
// display_error_message). Stderr is unbuffered and stdout is not when it is a
// pipe, so in a merged capture this block can come before the stdout lines or
// be glued to the end of one ("   -> 0.0007srake aborted!", gitlab issue
// 360556). The marker is therefore searched anywhere in a line, never only at
// its start.
const rakeAbortedMarker = "rake aborted!"

// migrationWrapperPrefix starts the line Rails' migrator prints when it wraps
// the real error (execute_migration_in_transaction): "... this and all later
// migrations canceled:" or "... all later migrations canceled:", with a
// " (StandardError)" suffix on rake >= 13.1 with Ruby >= 3.2. The real error
// is the next non-empty line.
const migrationWrapperPrefix = "StandardError: An error has occurred"

// rakeAbortMessage returns the first meaningful line of the error rake
// printed, given the text that follows the "rake aborted!" marker. The rest
// of the marker's own line is skipped (it can only be glued stdout), as are
// empty lines, the migrator's StandardError wrapper line and a bare
// "Some::Error:" line whose message starts on the next line (Rails'
// ConcurrentMigrationError begins its message with "\n\n"). The result is
// trimmed of surrounding white space; "" when nothing follows.
func rakeAbortMessage(after string) string {
	first := true
	for line := range strings.Lines(after) {
		if first {
			// Remainder of the marker's own line.
			first = false
			continue
		}
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, migrationWrapperPrefix) || isBareExceptionClass(line) {
			continue
		}
		return line
	}
	return ""
}

// isBareExceptionClass reports whether line is only a Ruby constant path
// followed by a colon, such as "ActiveRecord::ConcurrentMigrationError:".
func isBareExceptionClass(line string) bool {
	name, ok := strings.CutSuffix(line, ":")
	if !ok || name == "" || name[0] < 'A' || name[0] > 'Z' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == ':' || c == '_' || c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// chompLine drops the line terminator strings.Lines leaves on a line: "\n",
// and a "\r" before it so that a CRLF capture parses like an LF one.
func chompLine(line string) string {
	line = strings.TrimSuffix(line, "\n")
	return strings.TrimSuffix(line, "\r")
}
