package commands

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// Request parameter keys. A request stores its operation's validated
// arguments under the gitlab.Field names; a failed migrate additionally
// stores the finalize GitLab asked for under suggestPrefix.
const suggestPrefix = "suggest."

// A migrate request also keeps what db:migrate:status said when it was
// opened (the state it was approved on: the fingerprint guards it), as the
// evidence for naming the database of output lines GitLab left unnamed:
// beforeDatabases lists the configuration names in status order,
// beforeDown the down versions as "<config>:<version>" words.
const (
	beforeDatabases = "before.databases"
	beforeDown      = "before.down"
)

// paramsOf turns validated arguments into a request's Params.
func paramsOf(a gitlab.Args) map[string]string {
	p := map[string]string{}
	set := func(f gitlab.Field, v string) {
		if v != "" {
			p[string(f)] = v
		}
	}
	set(gitlab.FieldDatabase, a.Database)
	set(gitlab.FieldService, a.Service)
	set(gitlab.FieldJobClass, a.JobClass)
	set(gitlab.FieldTable, a.Table)
	set(gitlab.FieldColumn, a.Column)
	set(gitlab.FieldJobArgs, a.JobArguments)
	return p
}

// argsOf is the inverse of paramsOf; prefix selects stored suggestions.
func argsOf(p map[string]string, prefix string) gitlab.Args {
	g := func(f gitlab.Field) string { return p[prefix+string(f)] }
	return gitlab.Args{
		Database: g(gitlab.FieldDatabase), Service: g(gitlab.FieldService),
		BatchedMigration: gitlab.BatchedMigration{
			JobClass: g(gitlab.FieldJobClass), Table: g(gitlab.FieldTable),
			Column: g(gitlab.FieldColumn), JobArguments: g(gitlab.FieldJobArgs),
		},
	}
}

// suggestionParams stores a finalize suggestion in a request's Params.
func suggestionParams(p map[string]string, a gitlab.Args) map[string]string {
	out := map[string]string{}
	for k, v := range p {
		out[k] = v
	}
	for k, v := range paramsOf(a) {
		out[suggestPrefix+k] = v
	}
	return out
}

// statusFingerprint identifies the set of down migrations: what a migrate
// request was based on. Approval is refused when it has changed.
func statusFingerprint(s gitlab.MigrateStatus) (fp, info string) {
	var down []string
	perDB := []string{}
	for _, d := range s.Databases {
		rows := d.DownRows()
		for _, row := range rows {
			down = append(down, d.Config+":"+row.Version)
		}
		perDB = append(perDB, fmt.Sprintf("%s: %d down", d.Config, len(rows)))
	}
	sort.Strings(down)
	sum := sha256.Sum256([]byte(strings.Join(down, "\n")))
	info = strings.Join(perDB, ", ")
	if len(down) > 0 {
		shown := down
		if len(shown) > 10 {
			shown = append(shown[:10:10], fmt.Sprintf("… %d more", len(down)-10))
		}
		info += " (" + strings.Join(shown, ", ") + ")"
	}
	return hex.EncodeToString(sum[:]), info
}

// beforeParams records the status a migrate request is based on.
func beforeParams(p map[string]string, d gitlab.DownBefore) map[string]string {
	var down []string
	for _, db := range d.Databases {
		for _, v := range d.Down[db] {
			down = append(down, db+":"+v)
		}
	}
	p[beforeDatabases] = strings.Join(d.Databases, " ")
	p[beforeDown] = strings.Join(down, " ")
	return p
}

// downBeforeOf reads what beforeParams stored; empty for requests opened
// without it (not a migrate, or an older bot).
func downBeforeOf(p map[string]string) gitlab.DownBefore {
	d := gitlab.DownBefore{Databases: strings.Fields(p[beforeDatabases]), Down: map[string][]string{}}
	for _, w := range strings.Fields(p[beforeDown]) {
		if db, v, ok := strings.Cut(w, ":"); ok {
			d.Down[db] = append(d.Down[db], v)
		}
	}
	return d
}

// preflightParams stores the pre-flight findings for the approval card.
func preflightParams(p map[string]string, notes []string) map[string]string {
	if len(notes) > 0 {
		p[preflightKey] = strings.Join(notes, "\n")
	}
	return p
}
