package gitlab

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// MigrateStatus is what `gitlab-rake db:migrate:status` (or :main, :ci, …)
// printed: one entry per "database: <name>" section, in output order.
type MigrateStatus struct {
	Databases []DatabaseMigrations `json:"databases"`
}

// DatabaseMigrations is one section of db:migrate:status.
//
// Invariant: Up+Down == len(Migrations) and NoFile <= Up.
type DatabaseMigrations struct {
	// Database is the PostgreSQL database name from the section header,
	// e.g. gitlabhq_production_ci.
	Database string `json:"database"`
	// Config is the database.yml configuration name inferred from Database
	// (the header does not print it): a name ending in _ci is ci, one
	// containing geo is geo, _embedding is embedding, _sec is sec; any other
	// name is main when it is the first section and the name itself
	// otherwise. Use it to build db:migrate:status:<config> and friends.
	Config     string         `json:"config"`
	Migrations []MigrationRow `json:"migrations"`
	Up         int            `json:"up"`
	Down       int            `json:"down"`
	NoFile     int            `json:"no_file"`
}

// MigrationRow is one row of a db:migrate:status section.
type MigrationRow struct {
	// Version is the migration ID, digits only (14 in practice).
	Version string `json:"version"`
	// Name is printed as is: Rails prints the humanized file name ("Add
	// index on ci runner machines organization"), GitLab's own layout the
	// class name. A missing file prints "********** NO FILE **********".
	// Match migrations by Version, never by Name.
	Name string `json:"name"`
	// Up is true for "up" rows and for every NO FILE row.
	Up bool `json:"up"`
	// NoFile marks a version recorded in schema_migrations whose file is not
	// in this build (an old, deleted migration, or one from a newer GitLab
	// after a package rollback). It counts as up.
	NoFile bool `json:"no_file,omitempty"`
	// Type and Milestone are filled only from GitLab's own layout, whose
	// header reads " Status   Migration ID    Type     Milestone    Name"
	// (config/initializers/active_record_database_tasks.rb); Rails' stock
	// layout has neither column.
	Type      MigrationType `json:"type,omitempty"`
	Milestone Milestone     `json:"milestone,omitzero"`
}

// MigrationType is a migration's kind in GitLab's db:migrate:status layout.
//
// It and Milestone are small values rather than strings on purpose: a
// long-lived instance lists thousands of rows, and the bytes allocated per
// row are most of what ParseMigrateStatus costs (garbage collection work
// grows with them).
type MigrationType uint8

const (
	MigrationTypeUnknown MigrationType = iota // not printed (Rails' layout) or empty
	MigrationTypeRegular                      // db/migrate
	MigrationTypePost                         // db/post_migrate
)

// String returns the name GitLab prints: "regular", "post", or "".
func (t MigrationType) String() string {
	switch t {
	case MigrationTypeRegular:
		return "regular"
	case MigrationTypePost:
		return "post"
	}
	return ""
}

// MarshalText makes the JSON form the printed name.
func (t MigrationType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// Milestone is the GitLab release that added a migration, "17.2" printed.
// The zero value means none was printed.
type Milestone struct {
	Major, Minor uint16
}

// String returns "17.2", or "" for the zero Milestone.
func (m Milestone) String() string {
	if m == (Milestone{}) {
		return ""
	}
	return strconv.Itoa(int(m.Major)) + "." + strconv.Itoa(int(m.Minor))
}

// MarshalText makes the JSON form "17.2".
func (m Milestone) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// parseMilestone accepts "<major>.<minor>", each part 1 to 4 digits.
func parseMilestone(s string) (Milestone, bool) {
	major, minor, ok := strings.Cut(s, ".")
	a, okA := parseSmallUint(major)
	b, okB := parseSmallUint(minor)
	if !ok || !okA || !okB {
		return Milestone{}, false
	}
	return Milestone{Major: a, Minor: b}, true
}

// parseSmallUint parses 1 to 4 decimal digits.
func parseSmallUint(s string) (uint16, bool) {
	if len(s) == 0 || len(s) > 4 {
		return 0, false
	}
	var v uint16
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		v = v*10 + uint16(s[i]-'0')
	}
	return v, true
}

// noFileName is what Rails prints as the name of a migration without a file.
const noFileName = "********** NO FILE **********"

// DownRows returns the rows still to be migrated, in output order.
func (d DatabaseMigrations) DownRows() []MigrationRow {
	var down []MigrationRow
	for _, r := range d.Migrations {
		if !r.Up {
			down = append(down, r)
		}
	}
	return down
}

// Down is the number of down rows over all databases.
func (s MigrateStatus) Down() int {
	n := 0
	for _, d := range s.Databases {
		n += d.Down
	}
	return n
}

// AllUp reports whether at least one database was listed and no row is down.
// Nothing listed is not "all up": the caller learned nothing.
func (s MigrateStatus) AllUp() bool {
	return len(s.Databases) > 0 && s.Down() == 0
}

// MigrateStatusErrorKind classifies a db:migrate:status failure.
type MigrateStatusErrorKind string

const (
	// MigrateStatusNeverMigrated: "Schema migrations table does not exist
	// yet." (a database that was never migrated; exit 1).
	MigrateStatusNeverMigrated MigrateStatusErrorKind = "never-migrated"
	// MigrateStatusAborted: "rake aborted!", e.g. the database is
	// unreachable. Message is the first error line after the marker.
	MigrateStatusAborted MigrateStatusErrorKind = "rake-aborted"
	// MigrateStatusNoSuchTask: "Don't know how to build task
	// 'db:migrate:status:ci'": the install is not decomposed, so the
	// per-database task does not exist.
	MigrateStatusNoSuchTask MigrateStatusErrorKind = "no-such-task"
	// MigrateStatusNoSection: no "database:" header anywhere (empty or
	// unrelated output).
	MigrateStatusNoSection MigrateStatusErrorKind = "no-database-section"
	// MigrateStatusRowBeforeHeader: a migration row before any "database:"
	// header, which Rails never prints; the output is not what we think.
	MigrateStatusRowBeforeHeader MigrateStatusErrorKind = "row-before-header"
)

// MigrateStatusError is the error ParseMigrateStatus returns.
type MigrateStatusError struct {
	Kind    MigrateStatusErrorKind
	Message string // the line that identified the failure, trimmed
	Line    int    // 1-based line number of that line, 0 when not tied to one
}

func (e *MigrateStatusError) Error() string {
	var where string
	if e.Line > 0 {
		where = fmt.Sprintf(" (line %d)", e.Line)
	}
	if e.Message == "" {
		return fmt.Sprintf("db:migrate:status: %s%s", e.Kind, where)
	}
	return fmt.Sprintf("db:migrate:status: %s%s: %s", e.Kind, where, e.Message)
}

// Text that identifies the known failures. NoSuchTaskText is rake's
// answer for a task that does not exist (any task, not only status).
const (
	noSchemaTableText = "Schema migrations table does not exist yet."
	NoSuchTaskText    = "Don't know how to build task"
)

// ParseMigrateStatus parses the output of gitlab-rake db:migrate:status
// (any database suffix). It accepts stdout alone or stdout and stderr merged
// in either order: lines it does not know (a simulator banner, Ruby warnings,
// the column header and the dashes) are ignored.
//
// Rows have the semantics of the regular expression
// ^\s*(up|down)\s+(\d+)\s+(.*)$ (RE2 \s, a trailing "\r" dropped first),
// scanned by hand because status output of long-lived instances has
// thousands of rows and this runs on every status request.
//
// On a known failure the returned error is a *MigrateStatusError and the
// MigrateStatus holds whatever sections were printed before it (on a
// decomposed install main can succeed and ci fail). The first failure wins.
func ParseMigrateStatus(out []byte) (MigrateStatus, error) {
	// One conversion; every Version and Name below is a substring of s, so
	// rows cost no allocation of their own. All sections share one backing
	// array, sized by the line count so it is allocated exactly once.
	s := string(out)
	rows := make([]MigrationRow, 0, bytes.Count(out, []byte{'\n'})+1)
	// Rows only need checking for a glued "rake aborted!" when the text has
	// a '!' at all. One vectorised IndexByte for a byte that is rare in
	// status output is far cheaper than searching for the marker itself,
	// whose first byte, 'r', is everywhere.
	glued := strings.IndexByte(s, '!') >= 0

	var (
		st         MigrateStatus
		cur        = -1 // index of the current section in st.Databases
		curStart   int  // index in rows of its first row
		milestones bool // the current section uses GitLab's layout
		fail       *MigrateStatusError
		abortAt    int // offset in s of "rake aborted!" when fail is that
		lineNo     int
	)
	closeSection := func() {
		if cur >= 0 {
			// Full slice expression: a later append can never write into
			// another section's rows.
			st.Databases[cur].Migrations = rows[curStart:len(rows):len(rows)]
		}
	}
	for pos := 0; pos < len(s); {
		// Almost every line is a row in the exact layout Rails prints:
		// take it straight from s, without cutting the line first.
		if cur >= 0 && !glued {
			// The slot past len(rows) exists (one per line) and is still
			// zero; exactStatusRow writes it only when ok.
			if next, ok := exactStatusRow(s, pos, &rows[:len(rows)+1][len(rows)]); ok {
				lineNo++
				pos = next
				rows = rows[:len(rows)+1]
				row := &rows[len(rows)-1]
				if milestones {
					row.Type, row.Milestone, row.Name = splitTypeMilestone(row.Name)
				}
				countRow(&st.Databases[cur], row)
				continue
			}
		}
		end := strings.IndexByte(s[pos:], '\n')
		var line string
		lineStart := pos
		if end < 0 {
			line, pos = s[pos:], len(s)
		} else {
			line, pos = s[pos:pos+end], pos+end+1
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		lineNo++

		if up, version, rest, ok := parseStatusRow(line); ok {
			if cur < 0 {
				return MigrateStatus{}, &MigrateStatusError{Kind: MigrateStatusRowBeforeHeader, Message: strings.TrimSpace(line), Line: lineNo}
			}
			// A merged capture can glue stderr's "rake aborted!" to the end
			// of a row; the row itself is still good.
			if glued {
				if i := strings.Index(rest, rakeAbortedMarker); i >= 0 {
					if fail == nil {
						fail = &MigrateStatusError{Kind: MigrateStatusAborted, Line: lineNo}
						abortAt = lineStart + (len(line) - len(rest)) + i
					}
					rest = strings.TrimRight(rest[:i], " \t")
				}
			}
			// Fill the row in place. rows has a slot for every line and
			// make zeroed them all, so extending it copies nothing.
			rows = rows[:len(rows)+1]
			row := &rows[len(rows)-1]
			row.Version, row.Name, row.Up = version, rest, up
			if milestones {
				row.Type, row.Milestone, row.Name = splitTypeMilestone(rest)
			}
			countRow(&st.Databases[cur], row)
			continue
		}

		// Not a row: few lines, so the marker search is affordable here. Keep
		// whatever stdout text it was glued to.
		if i := strings.Index(line, rakeAbortedMarker); glued && i >= 0 {
			if fail == nil {
				// The message follows on later lines; read it at the end.
				fail = &MigrateStatusError{Kind: MigrateStatusAborted, Line: lineNo}
				abortAt = lineStart + i
			}
			line = line[:i]
		}
		switch {
		case strings.HasPrefix(line, "database:"):
			closeSection()
			name := strings.TrimSpace(line[len("database:"):])
			st.Databases = append(st.Databases, DatabaseMigrations{
				Database: name,
				Config:   inferDatabaseConfig(name, len(st.Databases) == 0),
			})
			cur, curStart, milestones = len(st.Databases)-1, len(rows), false
		case isStatusHeader(line):
			milestones = strings.Contains(line, "Milestone")
		case fail != nil:
			// Only the first failure is reported.
		case strings.Contains(line, noSchemaTableText):
			fail = &MigrateStatusError{Kind: MigrateStatusNeverMigrated, Message: noSchemaTableText, Line: lineNo}
		case strings.Contains(line, NoSuchTaskText):
			fail = &MigrateStatusError{Kind: MigrateStatusNoSuchTask, Message: strings.TrimSpace(line[strings.Index(line, NoSuchTaskText):]), Line: lineNo}
		}
	}
	closeSection()

	if fail != nil && fail.Kind == MigrateStatusAborted {
		fail.Message = rakeAbortMessage(s[abortAt:])
		if strings.HasPrefix(fail.Message, NoSuchTaskText) {
			// rake prints "rake aborted!" before this one too.
			fail.Kind = MigrateStatusNoSuchTask
		}
	}
	if fail != nil {
		return st, fail
	}
	if len(st.Databases) == 0 {
		return st, &MigrateStatusError{Kind: MigrateStatusNoSection, Message: "no \"database:\" section in the output"}
	}
	return st, nil
}

// countRow marks a NO FILE row as such and counts row in d.
func countRow(d *DatabaseMigrations, row *MigrationRow) {
	if row.Name == noFileName {
		// Rails lists a version without a file only because it is in
		// schema_migrations, i.e. applied.
		row.NoFile, row.Up = true, true
		d.NoFile++
	}
	if row.Up {
		d.Up++
	} else {
		d.Down++
	}
}

// exactStatusRow recognises, at offset pos of s (the start of a line), a
// row in the exact layout Rails prints: status.center(8), two spaces, a
// 14-digit version, two spaces, then a name that starts with a byte outside
// RE2's \s. For such a line it sets row's Version, Name and Up to exactly
// what parseStatusRow gives for the line (cut at '\n', one trailing '\r'
// dropped) and returns the offset of the next line; any other line is not
// ok, leaves row untouched and goes through the general path.
func exactStatusRow(s string, pos int, row *MigrationRow) (next int, ok bool) {
	if len(s)-pos < 27 {
		return 0, false
	}
	up := false
	switch s[pos : pos+10] {
	case "   up     ":
		up = true
	case "  down    ":
	default:
		return 0, false
	}
	if !digits8(s[pos+10:pos+18]) || !digits8(s[pos+16:pos+24]) ||
		s[pos+24] != ' ' || s[pos+25] != ' ' || isRESpace(s[pos+26]) {
		return 0, false
	}
	start := pos + 26
	end := len(s)
	next = len(s)
	if i := strings.IndexByte(s[start:], '\n'); i >= 0 {
		end, next = start+i, start+i+1
	}
	// s[start] is not '\r', so dropping a trailing one leaves a name.
	if s[end-1] == '\r' {
		end--
	}
	row.Version, row.Name, row.Up = s[pos+10:pos+24], s[start:end], up
	return next, true
}

// parseStatusRow matches line against ^\s*(up|down)\s+(\d+)\s+(.*)$ with
// RE2's \s ([\t\n\f\r ]) and \d ([0-9]). Every quantifier is forced (the
// classes on either side of each boundary are disjoint), so one left-to-right
// pass gives exactly the regexp's captures; rest is group 3.
func parseStatusRow(line string) (up bool, version, rest string, ok bool) {
	// Fast path for the exact layout Rails prints, status.center(8) + two
	// spaces: one 10-byte comparison instead of a byte loop.
	if len(line) > 10 && line[9] == ' ' {
		switch line[:10] {
		case "   up     ":
			up = true
			fallthrough
		case "  down    ":
			k := 10
			if len(line) > 24 && digits8(line[10:18]) && digits8(line[16:24]) {
				// The usual 14-digit version, checked 8 bytes at a time.
				k = 24
			}
			for k < len(line) && line[k]-'0' < 10 {
				k++
			}
			m := k
			for m < len(line) && isRESpace(line[m]) {
				m++
			}
			if k > 10 && m > k {
				return up, line[10:k], line[m:], true
			}
			// Not the exact layout (say, more padding): the general scan
			// below decides.
			up = false
		}
	}
	i := 0
	for i < len(line) && isRESpace(line[i]) {
		i++
	}
	switch {
	case strings.HasPrefix(line[i:], "up"):
		up, i = true, i+2
	case strings.HasPrefix(line[i:], "down"):
		i += 4
	default:
		return false, "", "", false
	}
	j := i
	for j < len(line) && isRESpace(line[j]) {
		j++
	}
	k := j
	for k < len(line) && line[k] >= '0' && line[k] <= '9' {
		k++
	}
	m := k
	for m < len(line) && isRESpace(line[m]) {
		m++
	}
	if j == i || k == j || m == k {
		return false, "", "", false
	}
	return up, line[j:k], line[m:], true
}

// digits8 reports whether the 8 bytes of s are all ASCII digits, in one
// word: each byte must be 0x3_ and stay 0x3_ after adding 6 (0x3A-0x3F
// become 0x4_). The first test bounds every byte to 0x30-0x3F, so adding 6
// cannot carry into the next byte.
func digits8(s string) bool {
	_ = s[7] // one bounds check; the compiler merges the loads
	x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	const hi, three, six = 0xF0F0F0F0F0F0F0F0, 0x3030303030303030, 0x0606060606060606
	return x&hi == three && (x+six)&hi == three
}

// isRESpace reports whether c is in RE2's \s class.
func isRESpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

// isStatusHeader recognises the column header line, " Status   Migration ID
// Migration Name" (Rails) or "... Type     Milestone    Name" (GitLab).
func isStatusHeader(line string) bool {
	return strings.HasPrefix(strings.TrimLeft(line, " "), "Status") && strings.Contains(line, "Migration ID")
}

// splitTypeMilestone splits the rest of a row in GitLab's layout,
// "<type>  <milestone>  <ClassName>", where type and milestone are
// left-justified and may be empty. Fields are recognised by their values
// (type is regular or post, a milestone is dotted digits, a class name starts
// with a capital letter), not by column, so an empty field cannot shift the
// name.
func splitTypeMilestone(rest string) (typ MigrationType, milestone Milestone, name string) {
	switch f, after := cutField(rest); f {
	case "regular":
		typ, rest = MigrationTypeRegular, after
	case "post":
		typ, rest = MigrationTypePost, after
	}
	if f, after := cutField(rest); f != "" {
		if m, ok := parseMilestone(f); ok {
			milestone, rest = m, after
		}
	}
	return typ, milestone, rest
}

// cutField returns the first space-separated field of s and what follows the
// spaces after it.
func cutField(s string) (field, after string) {
	i := strings.IndexByte(s, ' ')
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimLeft(s[i:], " ")
}

// inferDatabaseConfig guesses the database.yml name of a section from its
// PostgreSQL database name; see DatabaseMigrations.Config.
func inferDatabaseConfig(db string, first bool) string {
	switch {
	case strings.HasSuffix(db, "_ci"):
		return "ci"
	case strings.Contains(db, "geo"):
		return "geo"
	case strings.HasSuffix(db, "_embedding"):
		return "embedding"
	case strings.HasSuffix(db, "_sec"):
		return "sec"
	case first:
		return "main"
	}
	return db
}
