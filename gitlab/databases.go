package gitlab

// NoFinalizeDatabase is the one database GitLab defines no finalize:<db>
// task for (gitlab-facts.md: finalize:<db> exists for every database with
// database tasks except geo).
const NoFinalizeDatabase = "geo"

// FinalizeVariants reports whether an install with n databases has the
// per-database finalize tasks (finalize:main, finalize:ci). GitLab defines
// them only on a decomposed install (several databases), where the plain
// task answers "Please specify the database"; an install with one
// database has only the plain task.
func FinalizeVariants(n int) bool { return n > 1 }

// FinalizeDatabase is the database suffix a finalize of a migration queued
// on db needs on an install with n databases: db where the variants
// exist, none otherwise.
func FinalizeDatabase(n int, db string) string {
	if FinalizeVariants(n) {
		return db
	}
	return ""
}
