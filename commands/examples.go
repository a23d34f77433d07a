package commands

// example is one line a person can type, and what it does.
type example struct {
	line string
	does string
}

// examples shows, per subcommand, what `help <subcommand>` offers to copy.
// TestHelpExamplesParse parses every one, so none can rot.
var examples = map[string][]example{
	"status": {{"/gitlab-migrations status", "every database: how many migrations are up, which are down"}, {"/gitlab-migrations status --db ci", "only the ci database (decomposed installs)"},
		{"/gitlab-migrations status --host all", "every host: one line each, the details in the thread"}},
	"bbm":      {{"/gitlab-migrations bbm", "batched background migrations that are not finished"}},
	"services": {{"/gitlab-migrations services", "gitlab-ctl status, summarised"}},
	"upgrade-check": {{"/gitlab-migrations upgrade-check", "READY or NOT READY: down migrations, unfinished batched background migrations, services not running, each with the line that fixes it"},
		{"/gitlab-migrations upgrade-check --host gitlab-2", "the same for another host"},
		{"/gitlab-migrations upgrade-check --host all", "every host: READY or NOT READY in one line each, the reasons in the thread"}},
	"migrate": {{"/gitlab-migrations migrate -- upgrade to 17.5", "asks for approval to run gitlab-rake db:migrate"},
		{"/gitlab-migrations migrate --host gitlab-2 -- upgrade to 17.5", "with several hosts a change always names its host"}},
	"finalize": {
		{`/gitlab-migrations finalize sudo gitlab-rake gitlab:background_migrations:finalize[CopyColumnUsingBackgroundMigrationJob,ci_stages,id,'[["id"]\, ["id_convert_to_bigint"]]'] -- migrate is blocked`,
			"paste GitLab's command as it printed it (with or without sudo and gitlab-rake; :main / :ci select the database)"},
		{`/gitlab-migrations finalize CopyColumnUsingBackgroundMigrationJob ci_stages id '[["id"], ["id_convert_to_bigint"]]' --db ci -- migrate is blocked`,
			"or give the four values: job class, table, column, JSON job arguments"},
		{"/gitlab-migrations finalize --from r7k2qxa9 -- as GitLab asked", "or the finalize a failed migrate request suggested"},
	},
	"restart": {{"/gitlab-migrations restart sidekiq -- jobs are stuck", "asks for approval to run gitlab-ctl restart sidekiq"}, {"/gitlab-migrations restart -- after the upgrade", "every service (a short outage)"}},
	"approve": {{"/gitlab-migrations approve r7k2qxa9", "approves request r7k2qxa9 (the ID on its approval message); the requester cannot"}},
	"deny":    {{"/gitlab-migrations deny r7k2qxa9 not during business hours", "one deny is a veto; the reason is shown in the thread"}},
	"cancel":  {{"/gitlab-migrations cancel r7k2qxa9", "withdraws your own pending request"}},
	"pending": {{"/gitlab-migrations pending", "requests waiting for approval, and running ones"}},
	"audit": {
		{"/gitlab-migrations audit 20", "the last 20 audit entries"},
		{"/gitlab-migrations audit 500", "the last 500, as an attached file; the answer names the next page"},
		{"/gitlab-migrations audit 500 --before 4123", "the 500 entries before entry 4123 (the first number of each line)"},
	},
	"show": {{"/gitlab-migrations show r7k2qxa9", "who asked for r7k2qxa9 and when, what ran on which host, who approved, how it ended, and a link to its thread"}},
	"schedules": {
		{"/gitlab-migrations schedules", "every schedule: what it runs where, its next run in its time zone, its last result"},
		{`/gitlab-migrations schedules add "0 8 * * 1-5" status --when changed --tz Europe/Berlin`, "admins: status at 08:00 Berlin time on weekdays, posted into this channel when it changed"},
		{`/gitlab-migrations schedules add "@every 30m" services --host all --when problems`, "admins: every host's services every 30 minutes, posted only when one is down, and once when all run again"},
		{"/gitlab-migrations schedules run s1", "runs schedule s1 now and posts into its channel"},
		{"/gitlab-migrations schedules remove s1", "admins: removes schedule s1 (schedules from the configuration file are removed there)"},
	},
	"hosts": {{"/gitlab-migrations hosts", "every GitLab host: its agent's version, whether it answers and how fast, which is the default"}},
	"help":  {{"/gitlab-migrations help finalize", "what finalize takes, with examples"}},
}
