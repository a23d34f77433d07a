package sim

import (
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

func TestHumanizeAndCamelize(t *testing.T) {
	cases := []struct{ file, human, class string }{
		{"add_index_on_ci_runner_machines_organization_id", "Add index on ci runner machines organization", "AddIndexOnCiRunnerMachinesOrganizationId"},
		{"queue_backfill_project_compliance_violations_namespace_id", "Queue backfill project compliance violations namespace", "QueueBackfillProjectComplianceViolationsNamespaceId"},
		{"ensure_merge_request_metrics_id_bigint_backfill_is_finished_for_self_hosts", "Ensure merge request metrics id bigint backfill is finished for self hosts", "EnsureMergeRequestMetricsIdBigintBackfillIsFinishedForSelfHosts"},
		{"add_ee_columns", "Add EE columns", "AddEEColumns"},
		{"id", "Id", "Id"},
	}
	for _, c := range cases {
		if got := humanize(c.file); got != c.human {
			t.Errorf("humanize(%q) = %q, want %q", c.file, got, c.human)
		}
		if got := camelize(c.file); got != c.class {
			t.Errorf("camelize(%q) = %q, want %q", c.file, got, c.class)
		}
	}
}

// Every announce line in the fixtures is reproduced by announce().
func TestAnnounceMatchesFixtures(t *testing.T) {
	re := regexp.MustCompile(`^(?:\w+: )?(== (\d+) (\w+): (migrating|migrated \([\d.]+s\)).*)$`)
	n := 0
	for _, f := range []string{"migrate-success.txt", "migrate-success-multi-db.txt", "migrate-fail-batched-bbm.txt", "migrate-fail-bbm-failed-to-finalize.txt", "migrate-fail-generic.txt"} {
		for _, line := range strings.Split(fixture(t, f), "\n") {
			m := re.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			n++
			if got := announce(m[2], m[3], m[4]); got != m[1] {
				t.Fatalf("%s: announce = %q, fixture %q", f, got, m[1])
			}
		}
	}
	if n < 30 {
		t.Fatalf("only %d announce lines checked", n)
	}
}

func TestRubyInspectAndToJSON(t *testing.T) {
	cases := []struct{ json, inspect, toJSON string }{
		{`[["id"], ["id_convert_to_bigint"]]`, `[["id"], ["id_convert_to_bigint"]]`, `[["id"],["id_convert_to_bigint"]]`},
		{`[null,"up"]`, `[nil, "up"]`, `[null,"up"]`},
		{`[]`, `[]`, `[]`},
		{`{"b":1,"a":[true,false]}`, `{"b"=>1, "a"=>[true, false]}`, `{"b":1,"a":[true,false]}`},
		{`["a\\b","x,y","q\"","#{x}","\n\t","é","<&>"]`, `["a\\b", "x,y", "q\"", "\#{x}", "\n\t", "é", "<&>"]`, `["a\\b","x,y","q\"","#{x}","\n\t","é","\u003c\u0026\u003e"]`},
		{`[1.0, 2.5, 1e20, -0, 12345678901234567890]`, `[1.0, 2.5, 1.0e+20, 0, 12345678901234567890]`, `[1.0,2.5,1.0e+20,0,12345678901234567890]`},
	}
	for _, c := range cases {
		v, err := decodeOrdered(c.json)
		if err != nil {
			t.Fatalf("%s: %v", c.json, err)
		}
		if got := rubyInspect(v); got != c.inspect {
			t.Errorf("inspect(%s) = %s, want %s", c.json, got, c.inspect)
		}
		if got := rubyToJSON(v); got != c.toJSON {
			t.Errorf("to_json(%s) = %s, want %s", c.json, got, c.toJSON)
		}
	}
	if _, err := decodeOrdered(`[1] 2`); err == nil {
		t.Fatal("trailing data accepted")
	}
}

func TestJSONEqualIsJSONBEquality(t *testing.T) {
	for _, c := range []struct {
		a, b string
		eq   bool
	}{
		{`[["id"],["id_convert_to_bigint"]]`, `[ ["id"], ["id_convert_to_bigint"] ]`, true},
		{`{"a":1,"b":2}`, `{"b":2,"a":1}`, true},
		{`[1]`, `[1.0]`, true},
		{`[["id"]]`, `["id"]`, false},
		{`[]`, `null`, false},
		{`[`, `[`, false},
	} {
		if got := jsonEqual(c.a, c.b); got != c.eq {
			t.Errorf("jsonEqual(%s, %s) = %v", c.a, c.b, got)
		}
	}
}

// Expected messages are what Oj 3.14.2 raises for Oj.load(s, mode: :rails).
func TestOjParseErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{`'[["id"],["id_convert_to_bigint"]]'`, `unexpected character (after ) at line 1, column 1 [parse.c:809] in ''[["id"],["id_convert_to_bigint"]]'`},
		{`[["id"]`, `unexpected character (after [1]) at line 1, column 7 [parse.c:738] in '[["id"]`},
		{`{"a":`, `unexpected character (after a) at line 1, column 5 [parse.c:738] in '{"a":`},
		{``, `unexpected character (after ) at line 1, column 1 [parse.c:738] in '`},
		{`  `, `unexpected character (after ) at line 1, column 2 [parse.c:738] in '  `},
		{`[] x`, `unexpected character (after ) at line 1, column 4 [parse.c:809] in '[] x`},
		{`[1,]`, `expected array element, not an array close (after ) at line 1, column 4 [parse.c:653] in '[1,]`},
		{`["x"y]`, `unexpected character (after [1]) at line 1, column 5 [parse.c:809] in '["x"y]`},
		{`{"a":1 "b"}`, `expected comma, not a string (after a) at line 1, column 9 [parse.c:435] in '{"a":1 "b"}`},
		{`nul`, `expected null (after ) at line 1, column 4 [parse.c:118] in 'nul`},
		{`tru`, `expected true (after ) at line 1, column 4 [parse.c:126] in 'tru`},
		{`[["id"],["id_convert_to_bigint"]`, `unexpected character (after [2]) at line 1, column 32 [parse.c:738] in '[["id"],["id_convert_to_bigint"]`},
		{`"unterminated`, `quoted string not terminated (after ) at line 1, column 13 [parse.c:384] in '"unterminated`},
		{"[\"a\",\n x]", "unexpected character (after [1]) at line 2, column 3 [parse.c:809] in '[\"a\",\n x]"},
		{`[1 2]`, `expected comma (after [1]) at line 1, column 4 [parse.c:630] in '[1 2]`},
		{`["a" "b"]`, `expected comma, not a string (after [1]) at line 1, column 7 [parse.c:435] in '["a" "b"]`},
		{`{"a" 1}`, `expected colon (after a) at line 1, column 6 [parse.c:630] in '{"a" 1}`},
		{`{1:2}`, `expected hash pair or close (after ) at line 1, column 2 [parse.c:630] in '{1:2}`},
		{`[,1]`, `unexpected comma (after [0]) at line 1, column 2 [parse.c:698] in '[,1]`},
		{`[1,,2]`, `unexpected comma (after [1]) at line 1, column 4 [parse.c:698] in '[1,,2]`},
		{`{"a":1,}`, `expected hash key, not a hash close (after a) at line 1, column 8 [parse.c:678] in '{"a":1,}`},
		{`[{"a":[1,x]}]`, `unexpected character (after [0].a[1]) at line 1, column 10 [parse.c:809] in '[{"a":[1,x]}]`},
		{`{"a":{"b":[1,2,y]}}`, `unexpected character (after a.b[2]) at line 1, column 16 [parse.c:809] in '{"a":{"b":[1,2,y]}}`},
		{`[1}`, `expected comma, not a hash close (after [1]) at line 1, column 3 [parse.c:678] in '[1}`},
		{`[]]`, `unexpected array close (after ) at line 1, column 3 [parse.c:648] in '[]]`},
		{`[1] [2]`, `unexpected characters after the JSON document (after ) at line 1, column 4 [parse.c:731] in '[1] [2]`},
		{`["a\q"]`, `invalid escaped character (after [0]) at line 1, column 4 [parse.c:317] in '["a\q"]`},
	}
	for _, c := range cases {
		if got := ojParseError(c.in); got != c.want {
			t.Errorf("ojParseError(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
	for _, ok := range []string{`[]`, `[["id"],["id_convert_to_bigint"]]`, `{"a":[1,-2.5e3,null,true,false,"x\"y"]}`, `"s"`, `5`, `+5`, `[1e999]`, `/* c */ [1]`} {
		if msg := ojParseError(ok); msg != "" {
			t.Errorf("%s: %s", ok, msg)
		}
	}
}

func TestDidYouMean(t *testing.T) {
	single := []string{"db:migrate", "db:migrate:status", "gitlab:background_migrations:status", "gitlab:background_migrations:finalize", "db:migrate:up", "db:migrate:down", "db:migrate:redo", "db:rollback"}
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"db:migrate:status:ci", []string{"db:migrate:status"}},
		// Checked against Ruby 3.1's did_you_mean 1.6.1 with this dictionary.
		{"db:migrate:stauts", []string{"db:migrate:status", "db:migrate:up"}},
		{"gitlab:background_migrations:finalize:ci", []string{"gitlab:background_migrations:finalize", "gitlab:background_migrations:status"}},
		{"nonsense", nil},
	} {
		if got := didYouMean(single, c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("didYouMean(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := didYouMeanMessage([]string{"a", "b"}); got != "\nDid you mean?  a\n               b" {
		t.Fatalf("%q", got)
	}
}

// The simulator's finalize argument handling is rake's: the argv elements
// the gitlab package builds for every example in gitlab-facts.md arrive as
// the intended JSON.
func TestRakeArgumentsRoundTrip(t *testing.T) {
	for _, js := range []string{`[["id"], ["id_convert_to_bigint"]]`, `[["id","stage_id"],["id_convert_to_bigint","stage_id_convert_to_bigint"]]`, `[null,"up"]`, `[]`, `["a\\b","x,y"]`} {
		arg := "gitlab:background_migrations:finalize[Job,t,c," + gitlab.EscapeRakeArg(js) + "]"
		_, args := gitlab.ParseRakeTask(arg)
		if len(args) != 4 || args[3] != js || ojParseError(args[3]) != "" {
			t.Fatalf("%s -> %q", arg, args)
		}
	}
}
