package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// The read-only questions the router asks a host before a request is
// opened (pre-flight) and after it ran (the after-check).

// unreadableError: the agent ran the read-only command, but its answer
// was not usable. Its text is fit for the channel.
type unreadableError struct {
	what string // e.g. "db:migrate:status"
	rec  agent.JobRecord
	err  error
}

func (e *unreadableError) Error() string {
	return fmt.Sprintf("%s did not give a usable answer (exit %s): %v", e.what, exitCode(e.rec), e.err)
}

func (e *unreadableError) Unwrap() error { return e.err }

// problem says what went wrong with a host question, for the channel.
func problem(host string, err error) string {
	var u *unreadableError
	if errors.As(err, &u) {
		return u.Error() + "."
	}
	return agentProblem(host, err)
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
	s, err := gitlab.ParseMigrateStatus(out.combined())
	if err == nil && rec.State != agent.StateSucceeded {
		err = errors.New("the command " + rec.State)
	}
	if err != nil {
		return s, &unreadableError{"db:migrate:status", rec, err}
	}
	return s, nil
}

// bbmStatus runs gitlab:background_migrations:status (for db, or every
// database when db is "") and parses it.
func (r *Router) bbmStatus(ctx context.Context, host Host, db string) (gitlab.BBMStatus, error) {
	rec, out, err := r.runWaiting(ctx, host, agent.RunRequest{Operation: gitlab.OpBBMStatus, Args: gitlab.Args{Database: db}}, nil)
	if err != nil {
		return gitlab.BBMStatus{}, err
	}
	s, err := gitlab.ParseBBMStatus(out.combined())
	if err == nil && rec.State != agent.StateSucceeded {
		err = errors.New("the command " + rec.State)
	}
	if err != nil {
		return s, &unreadableError{"gitlab:background_migrations:status", rec, err}
	}
	return s, nil
}

// ctlStatus runs gitlab-ctl status for every service and parses stdout;
// its exit code only counts the services that are down.
func (r *Router) ctlStatus(ctx context.Context, host Host) (gitlab.CtlStatus, error) {
	rec, out, err := r.runWaiting(ctx, host, agent.RunRequest{Operation: gitlab.OpServices}, nil)
	if err != nil {
		return gitlab.CtlStatus{}, err
	}
	s, err := gitlab.ParseCtlStatus(out.stdoutBytes())
	if err != nil {
		return s, &unreadableError{"gitlab-ctl status", rec, err}
	}
	return s, nil
}
