package gitlab

// DownBefore is what db:migrate:status said before a migrate run: the
// databases in database.yml order and, per database, the versions that
// were down. It is the evidence for naming the database of output lines
// that do not name one (GitLab before the "main: "/"ci: " prefixes, plain
// Rails).
type DownBefore struct {
	// Databases are the configuration names (main, ci), in status order.
	Databases []string
	// Down maps a configuration name to its down versions.
	Down map[string][]string
}

// DownBeforeOf takes the evidence from a parsed status.
func DownBeforeOf(s MigrateStatus) DownBefore {
	d := DownBefore{Down: map[string][]string{}}
	for _, db := range s.Databases {
		d.Databases = append(d.Databases, db.Config)
		for _, row := range db.DownRows() {
			d.Down[db.Config] = append(d.Down[db.Config], row.Version)
		}
	}
	return d
}

// Decomposed reports whether the install has several databases, so that
// database tasks need their :main / :ci suffix.
func (d DownBefore) Decomposed() bool { return len(d.Databases) > 1 }

// owner returns the one database on which version was down, or "" when it
// was down on none or on several: then the status cannot say where it ran.
func (d DownBefore) owner(version string) string {
	found := ""
	for _, db := range d.Databases {
		for _, v := range d.Down[db] {
			if v == version {
				if found != "" {
					return ""
				}
				found = db
				break
			}
		}
	}
	return found
}

// Attribute names the database of every migrated and failed version the
// output left unnamed, from the status before the run: a version that was
// down on exactly one database can only have run there. Anything else keeps
// Database "" (GitLab did not name it, and guessing could send a finalize
// to the wrong database). Names GitLab printed are never changed. With no
// evidence (no databases) r is returned as is.
func (r MigrateResult) Attribute(before DownBefore) MigrateResult {
	if len(before.Databases) == 0 {
		return r
	}
	out := r
	out.Migrated = make([]AppliedMigration, len(r.Migrated))
	for i, m := range r.Migrated {
		if m.Database == "" {
			m.Database = before.owner(m.Version)
		}
		out.Migrated[i] = m
	}
	if r.Failure != nil {
		f := *r.Failure
		if f.Database == "" && f.Version != "" {
			f.Database = before.owner(f.Version)
		}
		out.Failure = &f
	}
	return out
}
