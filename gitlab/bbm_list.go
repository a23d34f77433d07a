package gitlab

import (
	"fmt"
	"strings"
)

// BBMList is what `gitlab-rake gitlab:background_migrations:list` (GitLab
// 18.x CLI) printed: one row per batched background migration of every
// database except geo, in queue order.
type BBMList struct {
	Migrations []BBMListRow `json:"migrations"`
}

// BBMListRow is one table row. Cells are printed left-justified (padded with
// trailing spaces); they are stored trimmed.
type BBMListRow struct {
	// ID is the CLI's migration id, "<database>_<id>" (main_85, ci_12), the
	// argument of show[...], pause[...] and resume[...].
	ID string `json:"id"`
	// Database is the part of ID before its last underscore.
	Database string `json:"database"`
	Table    string `json:"table"`
	JobClass string `json:"job_class"`
	Status   string `json:"status"`
	// Progress is the optional progress column of later builds, as printed;
	// "" when the column is absent.
	Progress string `json:"progress,omitempty"`
}

// Done reports whether the migration no longer blocks an upgrade.
func (r BBMListRow) Done() bool { return bbmStatusDone(r.Status) }

// Pending returns the rows that are not done, in output order.
func (l BBMList) Pending() []BBMListRow {
	var p []BBMListRow
	for _, r := range l.Migrations {
		if !r.Done() {
			p = append(p, r)
		}
	}
	return p
}

// ParseBBMList parses the table gitlab:background_migrations:list prints
// (Gitlab::Database::BackgroundMigration::RakeTask#print_table): an empty
// line, the header, a separator of dashes joined by "-|-", the rows with
// cells joined by " | ", an empty line. Columns are located by their header
// names (id, table_name, job_class_name, status, and progress if present),
// so added or reordered columns do not break it. Lines before the header are
// ignored (warnings on a merged stderr); after it, every non-empty line must
// be a row with as many cells as the header. No header is an error.
func ParseBBMList(out []byte) (BBMList, error) {
	var (
		list   BBMList
		cols   map[string]int // header name -> cell index
		ncols  int
		lineNo int
	)
	s := string(out)
	for line := range strings.Lines(s) {
		lineNo++
		line = chompLine(line)
		if strings.Contains(line, rakeAbortedMarker) {
			after := s[strings.Index(s, rakeAbortedMarker):]
			return list, fmt.Errorf("background migrations list: line %d: rake aborted: %s", lineNo, rakeAbortMessage(after))
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		cells := strings.Split(line, "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if cols == nil {
			cols = bbmListHeader(cells)
			ncols = len(cells)
			continue
		}
		if isTableSeparator(line) {
			continue
		}
		if len(cells) != ncols {
			return list, fmt.Errorf("background migrations list: line %d: %d cells, the header has %d: %q", lineNo, len(cells), ncols, line)
		}
		row := BBMListRow{
			ID:       cells[cols["id"]],
			Table:    cells[cols["table_name"]],
			JobClass: cells[cols["job_class_name"]],
			Status:   cells[cols["status"]],
		}
		if i, ok := cols["progress"]; ok {
			row.Progress = cells[i]
		}
		if row.ID == "" {
			return list, fmt.Errorf("background migrations list: line %d: empty id: %q", lineNo, line)
		}
		if i := strings.LastIndexByte(row.ID, '_'); i > 0 {
			row.Database = row.ID[:i]
		}
		list.Migrations = append(list.Migrations, row)
	}
	if cols == nil {
		return list, fmt.Errorf("background migrations list: no table header (id | table_name | job_class_name | status)")
	}
	return list, nil
}

// bbmListHeader maps the header's column names to their index, or returns
// nil when cells is not the header (so the caller keeps looking): all of id,
// table_name, job_class_name and status must be there.
func bbmListHeader(cells []string) map[string]int {
	cols := make(map[string]int, len(cells))
	for i, c := range cells {
		if _, dup := cols[c]; !dup {
			cols[c] = i
		}
	}
	for _, need := range []string{"id", "table_name", "job_class_name", "status"} {
		if _, ok := cols[need]; !ok {
			return nil
		}
	}
	return cols
}

// isTableSeparator reports whether line is made of dashes and bars only.
func isTableSeparator(line string) bool {
	return strings.Trim(line, "-|") == "" && strings.Contains(line, "-")
}
