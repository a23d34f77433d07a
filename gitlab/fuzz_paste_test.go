package gitlab

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// FuzzDecodeFinalize checks the paste decoder's promise: whatever is
// pasted, it is refused with a PasteError, or its decoded values re-encode
// (through the catalogue) to an argv element that rake splits back into
// exactly those values; and the task word offered as a fix decodes to the
// same values again.
func FuzzDecodeFinalize(f *testing.F) {
	for _, l := range runbookLines(f) {
		f.Add(l)
		f.Add(typographic(l))
	}
	for _, s := range []string{
		`Job t c '[["id"]\, ["x"]]'`, `Job t c [["id"]\, ["x"]]`, `Job t c '["it'\''s"]'`,
		`gitlab:background_migrations:finalize:ci[Job,t,c,'["a\"b"\, 1]']`,
		`gitlab:background_migrations:finalize[Job,t,c,'[["id"], ["x"]]']`,
		`gitlab:background_migrations:finalize[Job,t,c,[["id"]\,["x"]]]`,
		"`gitlab-rake gitlab:background_migrations:finalize[A::B,s.t,c,'[null\\,\"up\"]']`",
		`sudo gitlab-rake gitlab:background_migrations:finalize[Job,t,c,' [1\, "x\\y"] ']`,
	} {
		f.Add(s)
	}
	op, err := Lookup(OpFinalize)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string) {
		a, err := DecodeFinalize(text)
		if err != nil {
			var pe *PasteError
			if !errors.As(err, &pe) {
				t.Fatalf("refusal is not a PasteError: %v", err)
			}
			return
		}
		cmd, err := op.Command(a)
		if err != nil {
			return // decoded, but not plausible identifiers: the catalogue refuses
		}
		task, args := ParseRakeTask(cmd.Args[0])
		wantTask := FinalizeTask
		if a.Database != "" {
			wantTask += ":" + a.Database
		}
		if task != wantTask || len(args) != 4 || args[0] != a.JobClass || args[1] != a.Table || args[2] != a.Column {
			t.Fatalf("%s decoded to %+v, but rake would receive %q %q", text, a, task, args)
		}
		if !jsonEqual(t, args[3], a.JobArguments) {
			t.Fatalf("%s: job_arguments %q arrive as %q", text, a.JobArguments, args[3])
		}
		if w, ok := FinalizeTaskWord(a); ok {
			b, err := DecodeFinalize(w)
			if err != nil {
				t.Fatalf("the task word %s for %+v is refused: %v", w, a, err)
			}
			if b.Database != a.Database || b.JobClass != a.JobClass || b.Table != a.Table || b.Column != a.Column || !jsonEqual(t, b.JobArguments, a.JobArguments) {
				t.Fatalf("the task word %s decodes to %+v, want %+v", w, b, a)
			}
		}
	})
}

func jsonEqual(t *testing.T, x, y string) bool {
	t.Helper()
	var a, b any
	if err := json.Unmarshal([]byte(x), &a); err != nil {
		t.Fatalf("%q: %v", x, err)
	}
	if err := json.Unmarshal([]byte(y), &b); err != nil {
		t.Fatalf("%q: %v", y, err)
	}
	return reflect.DeepEqual(a, b)
}
