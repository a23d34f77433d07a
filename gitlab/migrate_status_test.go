package gitlab

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// versionsOf lists the versions of rows.
func versionsOf(rows []MigrationRow) []string {
	var v []string
	for _, r := range rows {
		v = append(v, r.Version)
	}
	return v
}

func mustParseMigrateStatus(t *testing.T, out string) MigrateStatus {
	t.Helper()
	st, err := ParseMigrateStatus([]byte(out))
	if err != nil {
		t.Fatalf("ParseMigrateStatus: %v", err)
	}
	return st
}

// checkCounts asserts the per-database invariants.
func checkCounts(t *testing.T, d DatabaseMigrations) {
	t.Helper()
	up, down, noFile := 0, 0, 0
	for _, r := range d.Migrations {
		switch {
		case r.Up:
			up++
		default:
			down++
		}
		if r.NoFile {
			noFile++
			if !r.Up {
				t.Errorf("%s: NO FILE row %s is not up", d.Database, r.Version)
			}
		}
	}
	if d.Up != up || d.Down != down || d.NoFile != noFile || d.Up+d.Down != len(d.Migrations) {
		t.Errorf("%s: counts Up=%d Down=%d NoFile=%d, rows say %d/%d/%d of %d", d.Database, d.Up, d.Down, d.NoFile, up, down, noFile, len(d.Migrations))
	}
}

func TestParseMigrateStatusFixtures(t *testing.T) {
	t.Run("single-db-all-up", func(t *testing.T) {
		st := mustParseMigrateStatus(t, string(readFixture(t, "migrate-status-single-db-all-up.txt")))
		if len(st.Databases) != 1 {
			t.Fatalf("databases = %d, want 1", len(st.Databases))
		}
		d := st.Databases[0]
		checkCounts(t, d)
		if d.Database != "gitlabhq_production" || d.Config != "main" || len(d.Migrations) != 48 || d.Down != 0 {
			t.Errorf("got %s/%s rows=%d down=%d, want gitlabhq_production/main 48 rows, 0 down", d.Database, d.Config, len(d.Migrations), d.Down)
		}
		if !st.AllUp() || st.Down() != 0 {
			t.Errorf("AllUp=%v Down=%d, want true 0", st.AllUp(), st.Down())
		}
	})
	t.Run("single-db-some-down", func(t *testing.T) {
		st := mustParseMigrateStatus(t, string(readFixture(t, "migrate-status-single-db-some-down.txt")))
		d := st.Databases[0]
		checkCounts(t, d)
		want := []string{"20250508093412", "20250610142207", "20250611093054", "20250612101733", "20250613150102", "20250614083021"}
		if got := versionsOf(d.DownRows()); !slices.Equal(got, want) {
			t.Errorf("down rows %v, want %v", got, want)
		}
		if st.Down() != 6 || st.AllUp() {
			t.Errorf("Down=%d AllUp=%v, want 6 false", st.Down(), st.AllUp())
		}
		if r := d.DownRows()[0]; r.Name != "Add index on ci runner machines organization" || r.Up {
			t.Errorf("backport row = %+v", r)
		}
	})
	t.Run("multi-db", func(t *testing.T) {
		st := mustParseMigrateStatus(t, string(readFixture(t, "migrate-status-multi-db.txt")))
		if len(st.Databases) != 2 {
			t.Fatalf("databases = %d, want 2", len(st.Databases))
		}
		main, ci := st.Databases[0], st.Databases[1]
		checkCounts(t, main)
		checkCounts(t, ci)
		if main.Database != "gitlabhq_production" || main.Config != "main" || ci.Database != "gitlabhq_production_ci" || ci.Config != "ci" {
			t.Errorf("sections %s/%s and %s/%s", main.Database, main.Config, ci.Database, ci.Config)
		}
		if got := versionsOf(main.DownRows()); !slices.Equal(got, []string{"20250613150102", "20250614083021"}) {
			t.Errorf("main down %v", got)
		}
		if got := versionsOf(ci.DownRows()); !slices.Equal(got, []string{"20250612101733", "20250613150102", "20250614083021"}) {
			t.Errorf("ci down %v", got)
		}
		if main.NoFile != 1 || ci.NoFile != 0 || st.Down() != 5 {
			t.Errorf("NoFile main=%d ci=%d, Down=%d; want 1 0 5", main.NoFile, ci.NoFile, st.Down())
		}
		i := slices.IndexFunc(main.Migrations, func(r MigrationRow) bool { return r.NoFile })
		if r := main.Migrations[i]; r.Version != "20250507120455" || !r.Up || r.Name != noFileName {
			t.Errorf("NO FILE row = %+v", r)
		}
	})
	t.Run("large", func(t *testing.T) {
		st := mustParseMigrateStatus(t, string(readFixture(t, "migrate-status-large.txt")))
		d := st.Databases[0]
		checkCounts(t, d)
		if len(d.Migrations) != 3000 || d.NoFile != 120 || d.Down != 15 || d.Up != 2985 {
			t.Errorf("rows=%d NoFile=%d Down=%d Up=%d, want 3000 120 15 2985", len(d.Migrations), d.NoFile, d.Down, d.Up)
		}
		for i, r := range d.Migrations[:120] {
			if !r.NoFile {
				t.Fatalf("row %d (%s) is not NO FILE", i, r.Version)
			}
		}
		down := versionsOf(d.DownRows())
		if down[0] != "20250408000857" || down[14] != "20250820194925" {
			t.Errorf("down rows %v", down)
		}
	})
}

func TestParseMigrateStatusMergedStreams(t *testing.T) {
	section := "\ndatabase: gitlabhq_production\n\n Status   Migration ID    Migration Name\n" +
		"--------------------------------------------------\n" +
		"   up     20250610142207  Add creation state to ci runners\n" +
		"  down    20250611093054  Create project compliance violations\n\n"
	for name, out := range map[string]string{
		"stderr first": "gitlab-sim: simulating gitlab-rake db:migrate:status\n" + section,
		"stderr last":  section + "gitlab-sim: done\n",
		"ruby warning": "/opt/gitlab/embedded/lib/ruby/3.2.0/net/protocol.rb:68: warning: already initialized constant Net::ProtocRetryError\n" + section,
		"crlf":         strings.ReplaceAll(section, "\n", "\r\n"),
	} {
		t.Run(name, func(t *testing.T) {
			st := mustParseMigrateStatus(t, out)
			d := st.Databases[0]
			checkCounts(t, d)
			if len(d.Migrations) != 2 || d.Down != 1 || d.Migrations[1].Name != "Create project compliance violations" {
				t.Errorf("got %+v", d)
			}
		})
	}
}

func TestParseMigrateStatusErrors(t *testing.T) {
	header := "\ndatabase: gitlabhq_production\n\n Status   Migration ID    Migration Name\n--------------------------------------------------\n"
	tests := []struct {
		name     string
		out      string
		kind     MigrateStatusErrorKind
		message  string
		sections int // sections returned alongside the error
	}{
		{name: "empty", out: "", kind: MigrateStatusNoSection},
		{name: "garbage", out: "hello\nworld\n\x00\xff\n", kind: MigrateStatusNoSection},
		{name: "header only garbage", out: " Status   Migration ID    Migration Name\n", kind: MigrateStatusNoSection},
		{
			name: "row before header",
			out:  "   up     20250610142207  Add creation state to ci runners\n" + header,
			kind: MigrateStatusRowBeforeHeader, message: "up     20250610142207  Add creation state to ci runners",
		},
		{
			name: "never migrated",
			out:  "Schema migrations table does not exist yet.\n",
			kind: MigrateStatusNeverMigrated, message: noSchemaTableText,
		},
		{
			name: "no such task",
			out:  "rake aborted!\nDon't know how to build task 'db:migrate:status:ci' (See the list of available tasks with `rake --tasks`)\n\n(See full trace by running task with --trace)\n",
			kind: MigrateStatusNoSuchTask, message: "Don't know how to build task 'db:migrate:status:ci' (See the list of available tasks with `rake --tasks`)",
		},
		{
			name: "no such task without marker",
			out:  "Don't know how to build task 'db:migrate:status:ci'\n",
			kind: MigrateStatusNoSuchTask, message: "Don't know how to build task 'db:migrate:status:ci'",
		},
		{
			name: "database unreachable",
			out: "rake aborted!\nPG::ConnectionBad: could not connect to server: No such file or directory\n" +
				"\tIs the server running locally and accepting\n/opt/gitlab/embedded/bin/bundle:25:in `load'\n",
			kind: MigrateStatusAborted, message: "PG::ConnectionBad: could not connect to server: No such file or directory",
		},
		{
			name: "ci fails after main printed",
			out: header + "   up     20250610142207  Add creation state to ci runners\n\n" +
				"rake aborted!\nActiveRecord::ConnectionNotEstablished: connection to server at \"10.0.0.5\", port 5432 failed\n",
			kind: MigrateStatusAborted, message: "ActiveRecord::ConnectionNotEstablished: connection to server at \"10.0.0.5\", port 5432 failed", sections: 1,
		},
		{
			// gitlab issue 360556: stderr glued to an unterminated stdout line.
			name: "glued to a row",
			out:  header + "   up     20250610142207  Add creation state to ci runnersrake aborted!\nPG::ConnectionBad: FATAL:  terminating connection\n",
			kind: MigrateStatusAborted, message: "PG::ConnectionBad: FATAL:  terminating connection", sections: 1,
		},
		{
			name: "glued to a header line",
			out:  "\ndatabase: gitlabhq_productionrake aborted!\nPG::ConnectionBad: FATAL:  terminating connection\n",
			kind: MigrateStatusAborted, message: "PG::ConnectionBad: FATAL:  terminating connection", sections: 1,
		},
		{
			name: "first failure wins",
			out:  "rake aborted!\nPG::ConnectionBad: boom\nSchema migrations table does not exist yet.\n",
			kind: MigrateStatusAborted, message: "PG::ConnectionBad: boom",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := ParseMigrateStatus([]byte(tt.out))
			var se *MigrateStatusError
			if !errors.As(err, &se) {
				t.Fatalf("error = %v, want a *MigrateStatusError", err)
			}
			if se.Kind != tt.kind || (tt.message != "" && se.Message != tt.message) {
				t.Errorf("got %s %q, want %s %q", se.Kind, se.Message, tt.kind, tt.message)
			}
			if len(st.Databases) != tt.sections {
				t.Errorf("sections returned = %d, want %d", len(st.Databases), tt.sections)
			}
			if !strings.Contains(err.Error(), string(tt.kind)) {
				t.Errorf("error text %q does not name the kind", err)
			}
		})
	}
}

func TestParseMigrateStatusGluedRowKeepsRow(t *testing.T) {
	out := "\ndatabase: gitlabhq_production\n\n  down    20250610142207  Add creation state to ci runnersrake aborted!\nPG::ConnectionBad: boom\n"
	st, err := ParseMigrateStatus([]byte(out))
	if err == nil {
		t.Fatal("glued rake aborted! not reported")
	}
	r := st.Databases[0].Migrations[0]
	if r.Name != "Add creation state to ci runners" || r.Up {
		t.Errorf("row = %+v", r)
	}
}

// GitLab overrides Rails' migrate_status (config/initializers/
// active_record_database_tasks.rb, doc/administration/raketasks/
// maintenance.md) with Type and Milestone columns and class names.
func TestParseMigrateStatusGitLabLayout(t *testing.T) {
	out := "\ndatabase: gitlabhq_production\n\n" +
		" Status   Migration ID    Type     Milestone    Name\n" +
		"--------------------------------------------------\n" +
		"   up     20240701074848  regular  17.2         AddGroupIdToPackagesDebianGroupComponents\n" +
		"   up     20240604064938  post     17.2         FinalizeBackfillPartitionIdCiPipelineMessage\n" +
		"  down    20230101000000                        OldMigrationWithoutMilestone\n" +
		"  down    20240801000000  regular  17.10        AddSomething\n\n" +
		"\ndatabase: gitlabhq_production_ci\n\n" +
		" Status   Migration ID    Migration Name\n" +
		"--------------------------------------------------\n" +
		"   up     20240701074848  regular  17.2 looks like a layout but is a name\n"
	st := mustParseMigrateStatus(t, out)
	rows := st.Databases[0].Migrations
	want := []MigrationRow{
		{Version: "20240701074848", Name: "AddGroupIdToPackagesDebianGroupComponents", Up: true, Type: MigrationTypeRegular, Milestone: Milestone{17, 2}},
		{Version: "20240604064938", Name: "FinalizeBackfillPartitionIdCiPipelineMessage", Up: true, Type: MigrationTypePost, Milestone: Milestone{17, 2}},
		{Version: "20230101000000", Name: "OldMigrationWithoutMilestone"},
		{Version: "20240801000000", Name: "AddSomething", Type: MigrationTypeRegular, Milestone: Milestone{17, 10}},
	}
	if !slices.Equal(rows, want) {
		t.Errorf("rows\n got %+v\nwant %+v", rows, want)
	}
	if got := st.Databases[1].Migrations[0]; got.Name != "regular  17.2 looks like a layout but is a name" || got.Type != MigrationTypeUnknown {
		t.Errorf("Rails layout row after a GitLab section = %+v", got)
	}
	if (Milestone{17, 10}).String() != "17.10" || (Milestone{}).String() != "" {
		t.Error("Milestone.String")
	}
}

func TestInferDatabaseConfig(t *testing.T) {
	tests := []struct {
		db    string
		first bool
		want  string
	}{
		{"gitlabhq_production", true, "main"},
		{"gitlabhq_production", false, "gitlabhq_production"},
		{"gitlabhq_production_ci", true, "ci"},
		{"gitlabhq_production_ci", false, "ci"},
		{"gitlabhq_geo_production", false, "geo"},
		{"gitlabhq_production_embedding", false, "embedding"},
		{"gitlabhq_production_sec", false, "sec"},
		{"custom_main_db", true, "main"},
	}
	for _, tt := range tests {
		if got := inferDatabaseConfig(tt.db, tt.first); got != tt.want {
			t.Errorf("inferDatabaseConfig(%q, %v) = %q, want %q", tt.db, tt.first, got, tt.want)
		}
	}
}

// statusRowRE is the specification parseStatusRow implements by hand.
var statusRowRE = regexp.MustCompile(`^\s*(up|down)\s+(\d+)\s+(.*)$`)

// checkStatusRowMatchesRE compares parseStatusRow with the regexp on one
// line (without its newline, "\r" already dropped as the parser does).
func checkStatusRowMatchesRE(t *testing.T, line string) {
	t.Helper()
	up, version, rest, ok := parseStatusRow(line)
	m := statusRowRE.FindStringSubmatch(line)
	if ok != (m != nil) {
		t.Fatalf("line %q: parseStatusRow ok=%v, regexp match=%v", line, ok, m != nil)
	}
	if ok && (up != (m[1] == "up") || version != m[2] || rest != m[3]) {
		t.Fatalf("line %q: got (%v,%q,%q), regexp (%q,%q,%q)", line, up, version, rest, m[1], m[2], m[3])
	}
}

// checkExactRowAgrees checks the parser's fast path on one line as
// strings.Lines yields it (terminator kept): whenever exactStatusRow takes
// the line, it must give what parseStatusRow gives for the chomped line, and
// continue at the next line.
func checkExactRowAgrees(t *testing.T, line string) {
	t.Helper()
	var row MigrationRow
	next, ok := exactStatusRow(line, 0, &row)
	if !ok {
		if row != (MigrationRow{}) {
			t.Fatalf("line %q: exactStatusRow not ok but wrote %+v", line, row)
		}
		return
	}
	up, version, name := row.Up, row.Version, row.Name
	wantNext := len(line)
	if i := strings.IndexByte(line, '\n'); i >= 0 {
		wantNext = i + 1
	}
	cut := strings.TrimSuffix(line[:wantNext], "\n")
	cut = strings.TrimSuffix(cut, "\r")
	gUp, gVersion, gRest, gOK := parseStatusRow(cut)
	if !gOK || up != gUp || version != gVersion || name != gRest || next != wantNext {
		t.Fatalf("line %q: exactStatusRow (%v,%q,%q,next %d), parseStatusRow (%v,%q,%q,%v), next %d",
			line, up, version, name, next, gUp, gVersion, gRest, gOK, wantNext)
	}
}

func TestParseStatusRowMatchesRegexp(t *testing.T) {
	for _, line := range []string{
		"   up     20250610142207  Add creation state to ci runners",
		"  down    20250611093054  Create project compliance violations",
		"   up     20221103071635  ********** NO FILE **********",
		"up 1 x", "down 1 x", "\t\fup\t1\tx", "up 1 ", "up 1", "up  x", "upx 1 x", "up 1x y",
		"down1 x", " Status   Migration ID    Migration Name", "", "   ", "up", "down ",
		"   up     2025061014220Z  Name", "   up     20250610142207", "   up     20250610142207  ",
		"   up     20250610142207\tName with\ttabs ", "   up     20250610142207  \x00\xff",
		"  down    123  a  b  ", "   up     ١٢٣  unicode digits",
		"   up      0 ", "  down     1 x", "   up     \t1\tx", // found by fuzzing: extra padding after the status
		"   up     202506101422070  x", "   up     20250610142207   x", "   up     20250610142207 \tx",
		"   up     20250610142207  x\r", "   up     20250610142207  \r", "   up     20250610142207  1",
	} {
		checkStatusRowMatchesRE(t, line)
		for _, end := range []string{"", "\n", "\r\n", "\r", "\nnext"} {
			checkExactRowAgrees(t, line+end)
		}
	}
	// The fast path must take Rails' own rows, or the check above proves
	// nothing about what the parser does with them.
	for _, line := range []string{
		"   up     20250610142207  Add creation state to ci runners\n",
		"  down    20250611093054  Create project compliance violations\r\n",
		"   up     20221103071635  ********** NO FILE **********",
	} {
		if _, ok := exactStatusRow(line, 0, new(MigrationRow)); !ok {
			t.Errorf("exactStatusRow(%q) not ok", line)
		}
	}
}

func TestDigits8(t *testing.T) {
	// Every byte value in every position of an otherwise all-digit word.
	for pos := range 8 {
		for c := range 256 {
			b := []byte("01234567")
			b[pos] = byte(c)
			want := c >= '0' && c <= '9'
			if got := digits8(string(b)); got != want {
				t.Fatalf("digits8(%q) = %v, want %v", b, got, want)
			}
		}
	}
	for _, s := range []string{"99999999", "00000000", "20250610"} {
		if !digits8(s) {
			t.Errorf("digits8(%q) = false", s)
		}
	}
}
