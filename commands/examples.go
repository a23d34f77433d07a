package commands

// example is one line a person can type, and what it does.
type example struct {
	line string
	does string
}

// examples shows, per subcommand, what `help <subcommand>` offers to copy:
// the operation table's rows bring their own (operations.go).
// TestHelpExamplesParse parses every one, so none can rot.
var examples = withOperationExamples(map[string][]example{
	"approve": {
		{"/gitlab-migrations approve r7k2qxa9", "approves request r7k2qxa9 (the ID on its approval message); the requester cannot"},
		{"/gitlab-migrations approve r7k2qxa9 --code 123456", "with your authenticator's current code, where policy.reauth asks for one (a code counts once)"},
	},
	"enroll": {
		{"/gitlab-migrations enroll", "your authenticator secret (link, key, QR code), shown to you alone"},
		{"/gitlab-migrations enroll --code 123456", "replaces an enrolled secret, proven with its current code"},
		{"/gitlab-migrations enroll --reset U0123ABCD", "an admin removes the authenticator of an approver who lost it; they enrol again"},
	},
	"deny":    {{"/gitlab-migrations deny r7k2qxa9 not during business hours", "one deny is a veto; the reason is shown in the thread"}},
	"cancel":  {{"/gitlab-migrations cancel r7k2qxa9", "withdraws your own pending request"}},
	"pending": {{"/gitlab-migrations pending", "requests waiting for approval, running ones, and open post-incident reviews"}},
	"review":  {{"/gitlab-migrations review r7k2qxa9 -- INC-1234 postmortem: https://wiki.example.com/pm/1234", "admins: acknowledges the post-incident review of emergency request r7k2qxa9"}},
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
})
