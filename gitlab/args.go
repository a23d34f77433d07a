package gitlab

// BatchedMigration identifies one batched background migration the way
// GitLab's finalize task takes it: job class, table, column and the job
// arguments as a JSON array.
type BatchedMigration struct {
	JobClass     string `json:"job_class,omitempty"`
	Table        string `json:"table,omitempty"`
	Column       string `json:"column,omitempty"`
	JobArguments string `json:"job_arguments,omitempty"` // a JSON array, e.g. [["id"],["id_convert_to_bigint"]]
}

// Args are the arguments of one catalogue operation. Each operation accepts
// only some fields (see Operation.Fields); the others must be empty.
type Args struct {
	// Database is a database configuration name from GitLab's database.yml
	// (main, ci, geo, …), not the PostgreSQL database name. Empty means the
	// task without a database suffix.
	Database string `json:"database,omitempty"`
	// Service is a gitlab-ctl service name (puma, sidekiq, …). Empty means
	// every service.
	Service string `json:"service,omitempty"`
	BatchedMigration
}
