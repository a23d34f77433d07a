package gitlab

import "testing"

func TestRakeAbortMessage(t *testing.T) {
	for after, want := range map[string]string{
		"rake aborted!\nPG::ConnectionBad: boom\n/x.rb:1\n":                                                             "PG::ConnectionBad: boom",
		"rake aborted!\nStandardError: An error has occurred, all later migrations canceled:\n\nthe real error\n":       "the real error",
		"rake aborted!\nStandardError: An error has occurred, all later migrations canceled: (StandardError)\n\nreal\n": "real",
		"rake aborted!\nActiveRecord::ConcurrentMigrationError: \n\nCannot run\n":                                       "Cannot run",
		"rake aborted!glued stdout\n  \tindented message  \n":                                                           "indented message",
		"rake aborted!":   "",
		"rake aborted!\n": "",
	} {
		if got := rakeAbortMessage(after); got != want {
			t.Errorf("rakeAbortMessage(%q) = %q, want %q", after, got, want)
		}
	}
}
