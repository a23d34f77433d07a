package gitlab

import (
	"slices"
	"testing"
)

// These follow rake 13's parse_task_string, as gitlab-facts.md describes it;
// TestRealRakeRoundTrip checks the same behaviour against Debian's rake.
func TestParseRakeTask(t *testing.T) {
	cases := []struct {
		in   string
		task string
		args []string
	}{
		{"db:migrate", "db:migrate", nil},
		{"t[]", "t", nil},
		{"t[a,b]", "t", []string{"a", "b"}},
		{"t[ a , b ]", "t", []string{"a", "b"}},
		{`t[a\,b,c]`, "t", []string{"a,b", "c"}},
		{`t[a\\,b]`, "t", []string{`a\`, "b"}},
		{"t[a,]", "t", []string{"a", ""}},
		{"t[a,b,c,d,e]", "t", []string{"a", "b", "c", "d", "e"}},
		{`t[J,t,c,[["id"]\,["x"]]]`, "t", []string{"J", "t", "c", `[["id"],["x"]]`}},
		{`t[J,t,c,'[["id"]\,["x"]]']`, "t", []string{"J", "t", "c", `'[["id"],["x"]]'`}},
		{"t[a]x", "t[a]x", nil},
		{"t[a\nb]", "t[a\nb]", nil},
		{"[a]", "[a]", nil},
	}
	for _, c := range cases {
		task, args := ParseRakeTask(c.in)
		if task != c.task || !slices.Equal(args, c.args) {
			t.Errorf("ParseRakeTask(%q) = %q %q, want %q %q", c.in, task, args, c.task, c.args)
		}
	}
}

func TestEscapeRakeArg(t *testing.T) {
	for _, s := range []string{"", "plain", `a,b`, `a\b`, `\,`, `[["id"]\, ["x"]]`, `é,ü\`} {
		_, args := ParseRakeTask("t[x," + EscapeRakeArg(s) + "]")
		if len(args) != 2 || args[1] != s {
			t.Errorf("EscapeRakeArg(%q) does not round-trip: got %q", s, args)
		}
	}
}
