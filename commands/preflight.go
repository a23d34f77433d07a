package commands

import (
	"context"
	"fmt"
	"strings"

	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// preflightKey is the request parameter that carries the pre-flight
// findings to the approval card.
const preflightKey = "preflight"

// preflightRefusal stops a request before it is opened: the host's current
// state says it cannot do what was asked. Its text says why and, where
// there is one, the corrected command.
type preflightRefusal struct{ msg string }

func (e *preflightRefusal) Error() string { return e.msg }

// The pre-flight checks (the operation table's preflight) run a finalize
// or restart against the host's current state (read-only agent runs)
// before an approver is asked: an impossible request is refused with the
// reason, a possible one gets the findings the approver should see. A
// check that cannot run does not block: it becomes a finding.

// preflightFinalize: the task variant must be the one the install has
// (:main/:ci exactly when it is decomposed) and the batched migration must
// exist there and not be finished.
func (r *Router) preflightFinalize(ctx context.Context, host Host, a gitlab.Args) ([]string, error) {
	s, err := r.bbmStatus(ctx, host, "")
	if err != nil {
		r.logger(ctx).Warn("pre-flight of finalize", "host", host.Name, "err", err)
		return []string{"could not check the batched background migrations first: " + problem(host.Name, err)}, nil
	}
	return finalizePreflight(host, a, s)
}

// finalizePreflight decides a finalize against the background-migration
// status s. GitLab queues some batched migrations on main and ci alike (for
// shared tables), so the requested database is searched first; another
// database is only named when the requested one has no such migration, and
// a corrected line is only suggested when pre-flight would accept it.
// Every problem of one request is said in one refusal.
func finalizePreflight(host Host, a gitlab.Args, s gitlab.BBMStatus) ([]string, error) {
	var dbs []string
	for _, d := range s.Databases {
		dbs = append(dbs, d.Name)
	}
	decomposed := gitlab.FinalizeVariants(len(s.Databases))
	what := fmt.Sprintf("%s %s.%s %s", a.JobClass, a.Table, a.Column, a.JobArguments)
	refuse := func(format string, args ...any) ([]string, error) {
		return nil, &preflightRefusal{fmt.Sprintf(format, args...)}
	}
	if !decomposed {
		row, _, found := findBBM(s, a.BatchedMigration, "")
		if a.Database != "" {
			noTask := fmt.Sprintf("%s has one database, so there is no finalize:%s task: leave out --db", host.Name, a.Database)
			switch {
			case !found:
				return refuse("%s. Even then, no batched background migration there matches %s, so finalize would do nothing. %s", noTask, what, pendingHint(s))
			case row.Done():
				return refuse("%s. Even then, %s is already %s there: there is nothing to finalize.", noTask, what, row.Status)
			}
			return refuse("%s:\n`%s`", noTask, finalizeCommand(host, a, ""))
		}
		switch {
		case !found:
			return refuse("No batched background migration on %s matches %s, so finalize would do nothing. %s", host.Name, what, pendingHint(s))
		case row.Done():
			return refuse("%s on %s is already %s: there is nothing to finalize.", what, host.Name, row.Status)
		}
		return []string{"the batched background migration exists and is " + row.Status}, nil
	}
	if a.Database == "" {
		several := fmt.Sprintf("%s has several databases (%s), so the plain finalize task would only answer \"Please specify the database\"", host.Name, strings.Join(dbs, ", "))
		row, where, found := findBBM(s, a.BatchedMigration, "")
		switch {
		case !found:
			return refuse("%s; and no batched background migration matches %s on any of them. %s", several, what, pendingHint(s))
		case row.Done():
			return refuse("%s; and %s is already %s on %s: there is nothing to finalize.", several, what, row.Status, where)
		}
		if on := unfinishedOn(s, a.BatchedMigration); len(on) > 1 {
			lines := make([]string, len(on))
			for i, db := range on {
				lines[i] = "`" + finalizeCommand(host, a, db) + "`"
			}
			return refuse("%s. This batched migration is unfinished on %s; request it for each:\n%s", several, strings.Join(on, " and "), strings.Join(lines, "\n"))
		}
		return refuse("%s. This batched migration is unfinished on %s; request it as:\n`%s`", several, where, finalizeCommand(host, a, where))
	}
	row, where, found := findBBM(s, a.BatchedMigration, a.Database)
	switch {
	case found && where == a.Database && !row.Done():
		return []string{fmt.Sprintf("the batched background migration exists on %s and is %s", where, row.Status)}, nil
	case found && where == a.Database:
		msg := fmt.Sprintf("%s on %s's %s database is already %s: there is nothing to finalize.", what, host.Name, where, row.Status)
		if other, db, ok := findBBM(s, a.BatchedMigration, ""); ok && !other.Done() && db != a.Database {
			msg += fmt.Sprintf(" On %s it is %s; to finalize it there:\n`%s`", db, other.Status, finalizeCommand(host, a, db))
		}
		return refuse("%s", msg)
	case found && !row.Done():
		return refuse("%s is on the %s database, not %s; request it as:\n`%s`", what, where, a.Database, finalizeCommand(host, a, where))
	case found:
		return refuse("No batched background migration on %s's %s database matches %s; on %s it is already %s, so there is nothing to finalize.", host.Name, a.Database, what, where, row.Status)
	}
	return refuse("No batched background migration on %s's %s database matches %s, so finalize would do nothing. %s", host.Name, a.Database, what, pendingHint(s))
}

// finalizeCommand is the /gitlab-migrations line that requests a finalize
// of a on database db ("" for the plain task).
func finalizeCommand(host Host, a gitlab.Args, db string) string {
	c := "/gitlab-migrations finalize"
	if db != "" {
		c += " --db " + db
	}
	return fmt.Sprintf("%s --host %s %s %s %s %s", c, host.Name, a.JobClass, a.Table, a.Column, gitlab.ShellQuote(a.JobArguments))
}

// pendingHint lists the batched migrations that are not finished, which
// are the ones a finalize can be for.
func pendingHint(s gitlab.BBMStatus) string {
	p := s.Pending()
	if len(p) == 0 {
		return "Every batched background migration there is finished."
	}
	var items []string
	for i, m := range p {
		if i == 5 {
			items = append(items, fmt.Sprintf("… %d more", len(p)-5))
			break
		}
		db := ""
		if m.Database != "" {
			db = m.Database + ": "
		}
		items = append(items, fmt.Sprintf("%s%s %s.%s %s (%s)", db, m.JobClass, m.Table, m.Column, m.JobArguments, m.Status))
	}
	return "Not finished there: " + strings.Join(items, "; ") + ". /gitlab-migrations bbm lists them."
}

// preflightRestart: a named service must exist (gitlab-ctl silently does
// nothing for a name it does not know); the approver sees what is down now.
func (r *Router) preflightRestart(ctx context.Context, host Host, service string) ([]string, error) {
	s, err := r.ctlStatus(ctx, host)
	if err != nil {
		r.logger(ctx).Warn("pre-flight of restart", "host", host.Name, "err", err)
		if service != "" {
			return nil, &preflightRefusal{fmt.Sprintf("I could not check that %s has a service called %s: %s", host.Name, service, problem(host.Name, err))}
		}
		return []string{"could not check the services first: " + problem(host.Name, err)}, nil
	}
	if service != "" {
		if _, ok := s.Lookup(service); !ok {
			var names []string
			for _, svc := range s.Services {
				names = append(names, svc.Name)
			}
			return nil, &preflightRefusal{fmt.Sprintf("%s has no enabled service called %q, so gitlab-ctl would restart nothing. Its services: %s.", host.Name, service, strings.Join(names, ", "))}
		}
	}
	var down []string
	for _, svc := range s.Down() {
		down = append(down, describeDown(svc))
	}
	if len(down) == 0 {
		return []string{fmt.Sprintf("all %d services are running now", len(s.Services))}, nil
	}
	return []string{fmt.Sprintf("not running now: %s", strings.Join(down, ", "))}, nil
}

// preflightMigrate flags batched background migrations that are not
// finished: a post-deployment migration that needs one stops db:migrate,
// and the approver should know which finalize will probably follow.
func (r *Router) preflightMigrate(ctx context.Context, host Host, databases int) []string {
	s, err := r.bbmStatus(ctx, host, "")
	if err != nil {
		r.logger(ctx).Warn("pre-flight of migrate", "host", host.Name, "err", err)
		return []string{"could not check the batched background migrations first: " + problem(host.Name, err)}
	}
	var notes []string
	for i, p := range s.Pending() {
		if i == 3 {
			notes = append(notes, fmt.Sprintf("… and %d more not finished (/gitlab-migrations bbm)", len(s.Pending())-3))
			break
		}
		db := gitlab.FinalizeDatabase(databases, p.Database)
		a := gitlab.Args{BatchedMigration: p.BatchedMigration}
		on := ""
		if p.Database != "" {
			on = " on " + p.Database
		}
		notes = append(notes, fmt.Sprintf("batched background migration %s (%s.%s)%s is %s: if a migration needs it, migrate will stop and need `%s`",
			p.JobClass, p.Table, p.Column, on, p.Status, finalizeCommand(host, a, db)))
	}
	return notes
}
