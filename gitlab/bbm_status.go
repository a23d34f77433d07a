package gitlab

import (
	"encoding/json"
	"fmt"
	"strings"
)

// BBMStatus is what `gitlab-rake gitlab:background_migrations:status` (or
// status:main, status:ci) printed: every batched background migration ever
// queued, finished ones included, grouped by database.
type BBMStatus struct {
	Databases []BBMDatabase `json:"databases"`
}

// BBMDatabase is one "Database: <name>" block.
type BBMDatabase struct {
	// Name is the database.yml configuration name (main, ci), as printed.
	// It is "" for rows printed before any "Database:" line, which is how
	// the task looked before multi-database support (GitLab 14.x).
	Name       string   `json:"name"`
	Migrations []BBMRow `json:"migrations"`
}

// BBMRow is one migration line, printf("%-10s | %s") of the status name and
// "JobClass,table,column,<job_arguments.to_json>".
type BBMRow struct {
	// Status is the state name: paused, active, finished, failed,
	// finalizing, finalized.
	Status string `json:"status"`
	// BatchedMigration holds the four finalize arguments; JobArguments is
	// the compact JSON exactly as printed (checked with json.Valid).
	BatchedMigration
}

// Done reports whether the migration no longer blocks an upgrade.
func (r BBMRow) Done() bool { return bbmStatusDone(r.Status) }

// bbmStatusDone: finished (3) and finalized (6) are the only states that do
// not block an upgrade; paused, active, failed and finalizing all do.
func bbmStatusDone(status string) bool {
	return status == "finished" || status == "finalized"
}

// PendingBBM is a migration that is not done, with the database it runs on.
type PendingBBM struct {
	Database string `json:"database"`
	BBMRow
}

// Pending returns the migrations that are not done, in output order.
func (s BBMStatus) Pending() []PendingBBM {
	var p []PendingBBM
	for _, d := range s.Databases {
		for _, r := range d.Migrations {
			if !r.Done() {
				p = append(p, PendingBBM{Database: d.Name, BBMRow: r})
			}
		}
	}
	return p
}

// AllDone reports whether no listed migration is pending. Zero migrations
// (a fresh install) is all done.
func (s BBMStatus) AllDone() bool { return len(s.Pending()) == 0 }

// ParseBBMStatus parses gitlab:background_migrations:status output, single
// or multi database. Empty lines and lines that are neither a "Database:"
// header nor contain " | " (Ruby warnings on a merged stderr) are ignored.
// A row that does not split into status, three fields and valid JSON is an
// error naming its line, as is "rake aborted!". Empty output is valid: the
// 14.x task printed nothing when no migration existed.
func ParseBBMStatus(out []byte) (BBMStatus, error) {
	var st BBMStatus
	s := string(out)
	lineNo := 0
	for line := range strings.Lines(s) {
		lineNo++
		line = chompLine(line)
		if strings.Contains(line, rakeAbortedMarker) {
			after := s[strings.Index(s, rakeAbortedMarker):]
			return st, fmt.Errorf("background migrations status: line %d: rake aborted: %s", lineNo, rakeAbortMessage(after))
		}
		if name, ok := strings.CutPrefix(line, "Database: "); ok {
			st.Databases = append(st.Databases, BBMDatabase{Name: strings.TrimSpace(name)})
			continue
		}
		status, fields, ok := strings.Cut(line, " | ")
		if !ok {
			continue
		}
		row, err := parseBBMRow(status, fields)
		if err != nil {
			return st, fmt.Errorf("background migrations status: line %d: %w", lineNo, err)
		}
		if len(st.Databases) == 0 {
			st.Databases = append(st.Databases, BBMDatabase{})
		}
		d := &st.Databases[len(st.Databases)-1]
		d.Migrations = append(d.Migrations, row)
	}
	return st, nil
}

// parseBBMRow splits "JobClass,table,column,<json>" on its first three
// commas: the three names cannot contain one, the JSON can.
func parseBBMRow(status, fields string) (BBMRow, error) {
	status = strings.TrimSpace(status)
	if status == "" || strings.ContainsAny(status, " \t") {
		return BBMRow{}, fmt.Errorf("bad status %q", status)
	}
	parts := strings.SplitN(fields, ",", 4)
	if len(parts) != 4 {
		return BBMRow{}, fmt.Errorf("want JobClass,table,column,job_arguments, got %q", fields)
	}
	for i, name := range []string{"job class", "table", "column"} {
		if parts[i] == "" {
			return BBMRow{}, fmt.Errorf("empty %s in %q", name, fields)
		}
	}
	if !json.Valid([]byte(parts[3])) {
		return BBMRow{}, fmt.Errorf("job_arguments are not valid JSON: %q", parts[3])
	}
	return BBMRow{
		Status: status,
		BatchedMigration: BatchedMigration{
			JobClass:     parts[0],
			Table:        parts[1],
			Column:       parts[2],
			JobArguments: parts[3],
		},
	}, nil
}
