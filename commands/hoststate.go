package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// The read-only questions the router asks a host before a request is
// opened (pre-flight) and after it ran (the after-check).

// unreadableError: the agent ran the read-only command, but its answer
// was not usable. Its Error text is for the log; people read sentence or
// problemMessage, with GitLab's own last lines as a code block.
type unreadableError struct {
	what string // the command as an administrator would type it, e.g. "gitlab-rake db:migrate:status"
	rec  agent.JobRecord
	err  error
	tail string // GitLab's last lines of output
}

func (e *unreadableError) Error() string {
	return fmt.Sprintf("%s did not give a usable answer (exit %s): %v", e.what, exitCode(e.rec), e.err)
}

func (e *unreadableError) Unwrap() error { return e.err }

// commandOf is the command line a job ran, as an administrator would type
// it (the catalogue's argv, without the agent's path or sudo), or fallback
// when the record does not say.
func commandOf(rec agent.JobRecord, fallback string) string {
	if len(rec.Argv) == 0 {
		return fallback
	}
	return strings.Join(rec.Argv, " ")
}

// unreadableTail is how many of GitLab's last lines a problem shows.
const unreadableTail = 8

// answers is what the command would have told, for "so I cannot tell …".
func (e *unreadableError) answers() string {
	switch {
	case strings.Contains(e.what, "db:migrate:status"):
		return "which migrations are up"
	case strings.Contains(e.what, "background_migrations"):
		return "how the batched background migrations stand"
	}
	return "which services run"
}

// sentence says what happened on host and what to do next. withOutput
// says whether GitLab's last lines are shown below it (problemMessage);
// without them, GitLab's own message, if it printed one, is quoted.
func (e *unreadableError) sentence(host string, withOutput bool) string {
	below := fmt.Sprintf("Run `sudo %s` on %s to see its whole answer.", e.what, host)
	if withOutput && e.tail != "" {
		below = fmt.Sprintf("GitLab's last lines are below; run `sudo %s` on %s to see all of it.", e.what, host)
	}
	var ms *gitlab.MigrateStatusError
	if errors.As(e.err, &ms) {
		said := ""
		if ms.Message != "" && !withOutput {
			said = " GitLab said: `" + strings.ReplaceAll(truncate(ms.Message, 200), "`", "'") + "`."
		}
		switch ms.Kind {
		case gitlab.MigrateStatusNeverMigrated:
			return fmt.Sprintf("GitLab on %s says a database has never been migrated (it has no schema migrations table), so I cannot tell %s. Check the database settings in /etc/gitlab/gitlab.rb, or run the first migration on %s by hand.", host, e.answers(), host)
		case gitlab.MigrateStatusAborted:
			return fmt.Sprintf("`%s` on %s stopped with an error, so I cannot tell %s.%s Often the database is not reachable: check `sudo gitlab-ctl status` on %s. %s", e.what, host, e.answers(), said, host, below)
		case gitlab.MigrateStatusNoSuchTask:
			return fmt.Sprintf("GitLab on %s does not know the task `%s`, so I cannot tell %s.%s Check the GitLab version and whether the install has that database.", host, e.what, e.answers(), said)
		}
	}
	how := "printed an answer I could not read"
	if e.rec.State != "" && e.rec.State != agent.StateSucceeded && e.rec.ExitCode != nil && *e.rec.ExitCode != 0 {
		how = fmt.Sprintf("failed (exit %d)", *e.rec.ExitCode)
	} else if e.rec.State != "" && e.rec.State != agent.StateSucceeded {
		how = "ended " + e.rec.State
	}
	return fmt.Sprintf("`%s` on %s %s, so I cannot tell %s. %s", e.what, host, how, e.answers(), below)
}

// problem says what went wrong with a host question, as a sentence with
// the next step, for a message that has only text.
func problem(host string, err error) string {
	var u *unreadableError
	if errors.As(err, &u) {
		return u.sentence(host, false)
	}
	return agentProblem(host, err)
}

// problemMessage is a host question's failure as a whole message: the
// sentence, then (for GitLab's own unusable answer) its last lines as a
// code block, which is what helps the administrator. next is appended
// to the sentence ("Check with /gitlab-migrations status.").
func problemMessage(title, host string, err error, next string) bot.Message {
	m := bot.Message{Title: bot.Plain(title), Text: bot.Sentence(problem(host, err)), Tone: bot.ToneDanger}
	var u *unreadableError
	if errors.As(err, &u) {
		m.Text, m.Code = bot.Sentence(u.sentence(host, true)), u.tail
	}
	if next != "" {
		m.Text = bot.Join(m.Text, bot.Plain(" "), bot.Sentence(next))
	}
	return m
}

// These runs wait out a busy agent (runWaiting) but are never shared with
// other callers: the after-check of a migrate must describe the state
// after it, not an answer taken before.

// migrateStatus runs db:migrate:status and parses it.
func (r *Router) migrateStatus(ctx context.Context, host Host) (gitlab.MigrateStatus, error) {
	rec, out, err := r.runWaiting(ctx, host, agent.RunRequest{Operation: gitlab.OpMigrateStatus}, nil)
	if err != nil {
		return gitlab.MigrateStatus{}, err
	}
	return parseStatusRun(rec, out)
}

// parseStatusRun parses a finished db:migrate:status run.
func parseStatusRun(rec agent.JobRecord, out *output) (gitlab.MigrateStatus, error) {
	return parseRakeRun(rec, out, out.parsed(gitlab.OpMigrateStatus), "db:migrate:status", gitlab.ParseMigrateStatus)
}

// parseRakeRun parses b, the output of a finished rake run of task, with
// parse. A run that did not succeed is no answer even when its output
// parses; a failure carries GitLab's last lines for the administrator.
func parseRakeRun[T any](rec agent.JobRecord, out *output, b []byte, task string, parse func([]byte) (T, error)) (T, error) {
	v, err := parse(b)
	if err == nil && rec.State != agent.StateSucceeded {
		err = errors.New("the command " + rec.State)
	}
	if err != nil {
		return v, &unreadableError{commandOf(rec, "gitlab-rake "+task), rec, err, tail(out, unreadableTail)}
	}
	return v, nil
}

// bbmStatus runs gitlab:background_migrations:status (for db, or every
// database when db is "") and parses it.
func (r *Router) bbmStatus(ctx context.Context, host Host, db string) (gitlab.BBMStatus, error) {
	rec, out, err := r.runWaiting(ctx, host, agent.RunRequest{Operation: gitlab.OpBBMStatus, Args: gitlab.Args{Database: db}}, nil)
	if err != nil {
		return gitlab.BBMStatus{}, err
	}
	return parseBBMRun(rec, out)
}

// parseBBMRun parses a finished gitlab:background_migrations:status run.
func parseBBMRun(rec agent.JobRecord, out *output) (gitlab.BBMStatus, error) {
	return parseRakeRun(rec, out, out.parsed(gitlab.OpBBMStatus), gitlab.BBMStatusTask, gitlab.ParseBBMStatus)
}

// parseBBMListRun parses a finished gitlab:background_migrations:list run,
// from stdout alone (the catalogue's gitlab.StdoutOnly says why).
func parseBBMListRun(rec agent.JobRecord, out *output) (gitlab.BBMList, error) {
	return parseRakeRun(rec, out, out.parsed(gitlab.OpBBMList), gitlab.BBMListTask, gitlab.ParseBBMList)
}

// ctlStatus runs gitlab-ctl status for every service and parses stdout;
// its exit code only counts the services that are down.
func (r *Router) ctlStatus(ctx context.Context, host Host) (gitlab.CtlStatus, error) {
	rec, out, err := r.runWaiting(ctx, host, agent.RunRequest{Operation: gitlab.OpServices}, nil)
	if err != nil {
		return gitlab.CtlStatus{}, err
	}
	return parseCtlRun(rec, out)
}

// parseCtlRun parses a finished gitlab-ctl status run (stdout only).
func parseCtlRun(rec agent.JobRecord, out *output) (gitlab.CtlStatus, error) {
	s, err := gitlab.ParseCtlStatus(out.parsed(gitlab.OpServices))
	if err != nil {
		return s, &unreadableError{commandOf(rec, "gitlab-ctl status"), rec, err, tail(out, unreadableTail)}
	}
	return s, nil
}
