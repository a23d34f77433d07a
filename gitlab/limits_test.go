package gitlab

import (
	"errors"
	"strings"
	"testing"
)

// TestArgumentLimits: every argument has its own limit; a value at the
// limit is accepted, one character more is refused with an ArgError whose
// message echoes the value shortened.
func TestArgumentLimits(t *testing.T) {
	jsonOf := func(n int) string { return `["` + strings.Repeat("a", n-4) + `"]` }
	cases := []struct {
		field string
		at    Args
		over  Args
	}{
		{"job_class", Args{BatchedMigration: BatchedMigration{"J" + strings.Repeat("a", maxJobClass-1), "t", "c", "[]"}},
			Args{BatchedMigration: BatchedMigration{"J" + strings.Repeat("a", maxJobClass), "t", "c", "[]"}}},
		{"table", Args{BatchedMigration: BatchedMigration{"J", strings.Repeat("t", maxIdentifier), "c", "[]"}},
			Args{BatchedMigration: BatchedMigration{"J", strings.Repeat("t", maxIdentifier+1), "c", "[]"}}},
		{"column", Args{BatchedMigration: BatchedMigration{"J", "t", strings.Repeat("c", maxIdentifier), "[]"}},
			Args{BatchedMigration: BatchedMigration{"J", "t", strings.Repeat("c", maxIdentifier+1), "[]"}}},
		{"job_arguments", Args{BatchedMigration: BatchedMigration{"J", "t", "c", jsonOf(maxJobArguments)}},
			Args{BatchedMigration: BatchedMigration{"J", "t", "c", jsonOf(maxJobArguments + 1)}}},
	}
	op, err := Lookup(OpFinalize)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if err := op.Validate(c.at); err != nil {
			t.Errorf("%s at its limit refused: %v", c.field, err)
		}
		err := op.Validate(c.over)
		var ae *ArgError
		if !errors.As(err, &ae) || ae.Field != c.field {
			t.Errorf("%s over its limit: %v", c.field, err)
			continue
		}
		if n := len([]rune(err.Error())); n > 400 {
			t.Errorf("%s: the refusal is %d characters long; it must echo the value shortened", c.field, n)
		}
	}
	restart, _ := Lookup(OpRestart)
	if err := restart.Validate(Args{Service: strings.Repeat("s", maxIdentifier)}); err != nil {
		t.Errorf("service at its limit: %v", err)
	}
	if err := restart.Validate(Args{Service: strings.Repeat("s", maxIdentifier+1)}); err == nil {
		t.Error("service over its limit accepted")
	}
}
