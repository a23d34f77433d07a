package commands

import (
	"slices"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
	"github.com/gitlab-chatops/gitlab-chatops/schedule"
)

// TestOperationTableMatchesCatalogue: the router's operation table and
// gitlab's catalogue agree, so that adding an operation is a catalogue
// entry and a row and nothing else: every catalogue operation is run by a
// row (its own, or one a composite row runs), every row names catalogue
// operations, and each row has what its kind needs (a read-only one its
// summary, a destructive one its result, label and after-check, never a
// schedule). The schedulable rows are exactly what schedule.Validate
// accepts as a schedule's what.
func TestOperationTableMatchesCatalogue(t *testing.T) {
	ran := map[string]bool{}
	seen := map[string]bool{}
	for _, o := range operations {
		if seen[o.sub] {
			t.Errorf("%s: two rows", o.sub)
		}
		seen[o.sub] = true
		if len(o.examples) == 0 || o.usage == "" || o.summary == "" {
			t.Errorf("%s: a row needs usage, summary and examples", o.sub)
		}
		if o.op == "" {
			if o.ask == nil || o.runOne == nil || len(o.runs) == 0 {
				t.Errorf("%s: a row without a catalogue operation needs ask, runOne and runs", o.sub)
			}
			if o.schedulable && o.scheduled == nil {
				t.Errorf("%s: schedulable without scheduled", o.sub)
			}
			for _, name := range o.runs {
				if op, err := gitlab.Lookup(name); err != nil || op.Kind != gitlab.ReadOnly {
					t.Errorf("%s runs %s: %v (kind %v)", o.sub, name, err, op.Kind)
				}
				ran[name] = true
			}
			continue
		}
		op, err := gitlab.Lookup(o.op)
		if err != nil {
			t.Errorf("%s: %v", o.sub, err)
			continue
		}
		ran[o.op] = true
		switch op.Kind {
		case gitlab.ReadOnly:
			if o.summarize == nil {
				t.Errorf("%s: read-only without summarize", o.sub)
			}
			if o.schedulable && o.facts == nil {
				t.Errorf("%s: schedulable without facts", o.sub)
			}
			if o.result != nil || o.followUp != nil || o.preflight != nil || o.prepare != nil {
				t.Errorf("%s: read-only with a destructive operation's hooks", o.sub)
			}
		case gitlab.Destructive:
			if o.result == nil || o.followUp == nil || o.label == "" {
				t.Errorf("%s: destructive without result, followUp or label", o.sub)
			}
			if o.schedulable || o.summarize != nil || o.ask != nil {
				t.Errorf("%s: destructive yet schedulable or answered at once", o.sub)
			}
			if !destructive(o.sub) {
				t.Errorf("%s: destructive in the catalogue, not for the router", o.sub)
			}
		}
		if got, _ := operationFor(o.op); got.sub != o.sub {
			t.Errorf("%s: operationFor(%s) finds %q", o.sub, o.op, got.sub)
		}
	}
	for _, op := range gitlab.Catalogue() {
		if !ran[op.Name] {
			t.Errorf("catalogue operation %s has no row in the operation table", op.Name)
		}
	}
	for _, o := range operations {
		_, err := schedule.Validate(schedule.Schedule{Spec: "@daily", What: o.sub, Platform: "p", Channel: "c"}, nil, ScheduleWhats())
		if accepted := err == nil; accepted != o.schedulable {
			t.Errorf("%s: schedulable %v in the table, schedule.Validate: %v", o.sub, o.schedulable, err)
		}
	}
	if got, want := schedulableSubs(), []string{schedule.WhatStatus, schedule.WhatBBM, schedule.WhatServices, schedule.WhatUpgradeCheck}; !slices.Equal(got, want) {
		t.Errorf("schedulable %v, schedule knows %v", got, want)
	}
}

// TestOutputStreamsFromCatalogue: each operation's parser reads the
// streams the catalogue names: stdout alone for gitlab-ctl and the 18.x
// bbm list, stdout then stderr for the other rake tasks.
func TestOutputStreamsFromCatalogue(t *testing.T) {
	o := &output{}
	o.stdout.WriteString("out\n")
	o.stderr.WriteString("err\n")
	for _, tc := range []struct{ op, want string }{
		{gitlab.OpMigrateStatus, "out\nerr\n"}, {gitlab.OpBBMStatus, "out\nerr\n"}, {gitlab.OpMigrate, "out\nerr\n"}, {gitlab.OpFinalize, "out\nerr\n"},
		{gitlab.OpServices, "out\n"}, {gitlab.OpRestart, "out\n"}, {gitlab.OpBBMList, "out\n"},
	} {
		if got := string(o.parsed(tc.op)); got != tc.want {
			t.Errorf("%s parses %q, want %q", tc.op, got, tc.want)
		}
	}
}
