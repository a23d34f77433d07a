package bot

import (
	"encoding/json"
	"testing"
	"time"
)

func TestTextf(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		got  Text
		want string
	}{
		{"plain only", Textf("%d of %d %s", 1, 2, "x"), `"1 of 2 x"`},
		{"spans inserted", Textf("%s: %s by %q", Bold("FAILED"), Code("db:migrate"), "a*b"), `[{"bold":"FAILED"},": ",{"code":"db:migrate"}," by \"a*b\""]`},
		{"percent and missing", Textf("100%% %s"), `"100% %!s(MISSING)"`},
		{"time and mention", Textf("at %s by %s", Time(at, Clock), Mention("U1")), `["at ",{"time":"2026-01-02T03:04:05Z"}," by ",{"mention":"U1"}]`},
		{"adjacent plain merged", Join(Plain("a"), Plain("b"), Bold("c"), Bold("d")), `["ab",{"bold":"cd"}]`},
		{"sentence", Sentence("run `status` or `x"), `["run ",{"code":"status"}," or ` + "`" + `x"]`},
		{"empty", Textf(""), `""`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.got)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Errorf("got %s, want %s", b, tc.want)
			}
		})
	}
}

func TestPlainString(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600))
	got := Join(Plain("a "), Bold("b"), Plain(" "), Code("c"), Plain(" "), Link("https://x", "y"), Plain(" "), Mention("U1"), Plain(" "), Time(at, DateClock)).PlainString()
	if want := "a b c y (https://x) @U1 2026-01-02 02:04:05 UTC"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestEnclose(t *testing.T) {
	for in, want := range map[string]string{"x": "*x*", " x y ": " *x y* ", "  ": "  ", "": ""} {
		if got := Enclose("*", in); got != want {
			t.Errorf("Enclose(%q) = %q, want %q", in, got, want)
		}
	}
}
