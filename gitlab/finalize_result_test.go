package gitlab

import "testing"

func TestParseFinalize(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		done    bool
		kind    FinalizeFailureKind // "" for no failure
		message string
		arg     string
		job     string
	}{
		{name: "done", out: "Done.\n", done: true},
		{name: "done in colour", out: "\x1b[32mDone.\x1b[0m\n", done: true},
		{name: "done without newline", out: "Done.", done: true},
		{name: "empty", out: ""},
		{name: "specify database", out: "\x1b[31mPlease specify the database\x1b[0m\n", kind: FinalizeSpecifyDatabase, message: "Please specify the database"},
		{name: "missing argument", out: "Must specify table_name as an argument\n", kind: FinalizeMissingArgument, message: "Must specify table_name as an argument", arg: "table_name"},
		{
			name: "failed to finalize",
			out:  "rake aborted!\nGitlab::Database::BackgroundMigration::BatchedMigrationRunner::FailedToFinalize: Batched migration CopyColumnUsingBackgroundMigrationJob could not be completed and a manual action is required.Check the admin panel at (`/admin/background_migrations`) for more details.\n/opt/x.rb:79:in `finalize'\n",
			kind: FinalizeFailedToFinalize, job: "CopyColumnUsingBackgroundMigrationJob",
			message: "Gitlab::Database::BackgroundMigration::BatchedMigrationRunner::FailedToFinalize: Batched migration CopyColumnUsingBackgroundMigrationJob could not be completed and a manual action is required.Check the admin panel at (`/admin/background_migrations`) for more details.",
		},
		{
			name: "json parse error",
			out:  "rake aborted!\nJSON::ParserError: unexpected token at ''[[\"id\"]'\n/opt/x.rb:1:in `parse'\n",
			kind: FinalizeJSONParse, message: "JSON::ParserError: unexpected token at ''[[\"id\"]'",
		},
		{
			name: "unknown task",
			out:  "rake aborted!\nDon't know how to build task 'gitlab:background_migrations:finalize:ci' (See the list of available tasks with `rake --tasks`)\n",
			kind: FinalizeUnknownTask, message: "Don't know how to build task 'gitlab:background_migrations:finalize:ci' (See the list of available tasks with `rake --tasks`)",
		},
		{
			name: "generic",
			out:  "rake aborted!\nActiveRecord::RecordNotFound: Couldn't find Gitlab::Database::BackgroundMigration::BatchedMigration\n",
			kind: FinalizeGeneric, message: "ActiveRecord::RecordNotFound: Couldn't find Gitlab::Database::BackgroundMigration::BatchedMigration",
		},
		{
			name: "glued",
			out:  "some stdoutrake aborted!\nPG::ConnectionBad: boom\n",
			kind: FinalizeGeneric, message: "PG::ConnectionBad: boom",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ParseFinalize([]byte(tt.out))
			if r.Done != tt.done {
				t.Errorf("Done = %v, want %v", r.Done, tt.done)
			}
			if tt.kind == "" {
				if r.Failure != nil {
					t.Errorf("failure = %+v, want none", r.Failure)
				}
				if r.OK() != tt.done {
					t.Errorf("OK() = %v", r.OK())
				}
				return
			}
			f := r.Failure
			if f == nil || f.Kind != tt.kind || f.Message != tt.message || f.Argument != tt.arg || f.JobClass != tt.job {
				t.Errorf("failure = %+v, want %s %q arg=%q job=%q", f, tt.kind, tt.message, tt.arg, tt.job)
			}
			if r.OK() {
				t.Error("OK() with a failure")
			}
		})
	}
}

func TestStripANSI(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                   "plain",
		"\x1b[32mDone.\x1b[0m":    "Done.",
		"\x1b[1;31mred\x1b[0m!":   "red!",
		"lone \x1b esc":           "lone  esc",
		"cut \x1b[":               "cut ",
		"\x1b[38;5;196mx\x1b[39m": "x",
	} {
		if got := stripANSI(in); got != want {
			t.Errorf("stripANSI(%q) = %q, want %q", in, got, want)
		}
	}
}
