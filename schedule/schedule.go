// Package schedule is what a scheduled post is and when it runs: a cron
// spec (github.com/robfig/cron/v3) in a time zone, a target channel, a
// host (or all), a read-only thing to run, and when to post its result.
//
// The package owns the rules (validation, next run, catch-up, the `when`
// decision and its "what changed" text) and the loop that fires schedules
// on an injectable clock. It runs nothing itself: a Runner (the router in
// package commands) runs the read-only operation, audits it with the actor
// "scheduler" and posts. Chat-defined schedules and every schedule's last
// result live in a Store (storage implements it in bbolt).
package schedule

import (
	"context"
	"time"
)

// The read-only subcommands a schedule may run today, by name. What a
// schedule may run is the Runner's to say (Config.Whats, Validate's whats:
// the router's operation table); a destructive one is refused at
// validation, never merely skipped.
const (
	WhatStatus       = "status"
	WhatBBM          = "bbm"
	WhatServices     = "services"
	WhatUpgradeCheck = "upgrade-check"
)

// When a run's result is posted.
const (
	// WhenAlways posts every run.
	WhenAlways = "always"
	// WhenChanged posts only when the result differs from the last posted
	// one, and says what changed.
	WhenChanged = "changed"
	// WhenProblems posts only when something is down, unfinished or
	// failing, plus once when it recovers.
	WhenProblems = "problems"
)

// Where a schedule was defined.
const (
	// SourceConfig: the configuration file's schedules:, read-only from chat.
	SourceConfig = "config"
	// SourceChat: added with `schedules add`, stored, removable by admins.
	SourceChat = "chat"
)

// AllHosts as a Schedule's Host runs on every configured host.
const AllHosts = "all"

// Schedule is one scheduled post.
type Schedule struct {
	// ID names the schedule in chat (`schedules run <id>`): the
	// configuration's id, or one the store assigned.
	ID string `json:"id"`
	// Spec is a standard 5-field cron spec or a descriptor (@hourly,
	// @every 30m), as robfig/cron's standard parser with descriptors reads it.
	Spec string `json:"spec"`
	// TZ is an IANA zone name; empty means UTC.
	TZ string `json:"tz,omitempty"`
	// Platform and Channel are where results are posted.
	Platform string `json:"platform"`
	Channel  string `json:"channel"`
	// Host is a configured host name, AllHosts, or empty for the default host.
	Host string `json:"host,omitempty"`
	// What is one of the What* constants.
	What string `json:"what"`
	// When is one of the When* constants; empty means WhenAlways.
	When string `json:"when,omitempty"`
	// CatchUp runs once at start when runs were missed while the bot was
	// down (several missed runs collapse into one).
	CatchUp bool `json:"catch_up,omitempty"`
	// Source is SourceConfig or SourceChat.
	Source string `json:"source"`
	// CreatedBy and CreatedAt say who added a chat-defined schedule.
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`
}

// Result is what one run found, in a form that can be compared with the
// last one and stored.
type Result struct {
	// At is when the run finished, on the Scheduler's clock (it sets At;
	// a Runner need not).
	At time.Time `json:"at"`
	// Facts are comparable observations, one per subject, e.g.
	// {"main": "2 down", "ci": "all up"} or, for several hosts,
	// {"gitlab-1 main": "all up"}. Two results are "the same" when their
	// Facts and Failed are equal; a change is described subject by subject
	// ("main: 2 down → all up").
	Facts map[string]string `json:"facts"`
	// Problem: something is down, unfinished or not running.
	Problem bool `json:"problem"`
	// Failed: the run itself failed (agent unreachable, rake aborted);
	// Reason says why, as a sentence. A failed run is a problem.
	Failed bool   `json:"failed,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Posted: this result was posted (the last posted result is what
	// WhenChanged compares with).
	Posted bool `json:"posted,omitempty"`
}

// Post is what the Runner is asked to post after a run.
type Post struct {
	// CatchUp: this run makes up for runs missed while the bot was down.
	CatchUp bool
	// Manual: started with `schedules run <id>`, not by the clock.
	Manual bool
	// Changes describe what differs from the last posted result, one line
	// per subject ("main: 2 down → all up"); empty on a first post.
	Changes []string
	// Recovered: the previous posted result was a problem and this one is
	// not (WhenProblems posts this once).
	Recovered bool
}

// Runner runs a schedule's read-only operation and posts its result; the
// router in package commands implements it. Run never runs a destructive
// operation, audits the run with the actor "scheduler", and keeps what it
// needs to render the post (the Result carries only comparable facts).
// Run reports a failed run as a Result with Failed set, not as an error;
// an error means the bot could not even try (unknown host). The Scheduler
// stores such an error as a Failed result whose Reason is the error's
// text, so it must read as a sentence; it posts it only if Run also
// returned a PostFunc.
type Runner interface {
	Run(ctx context.Context, s Schedule) (Result, PostFunc, error)
}

// PostFunc posts the result of the run that returned it, as p says.
type PostFunc func(ctx context.Context, p Post) error

// Store keeps chat-defined schedules and every schedule's last results.
// storage.DB implements it in bbolt; every backend must keep the same
// contract.
type Store interface {
	// Schedules lists the stored (chat-defined) schedules.
	Schedules(ctx context.Context) ([]Schedule, error)
	// AddSchedule stores s under a new ID it assigns and returns s with it.
	// IDs are "s" and a number (s1, s2, …), short to type, and never
	// reused, so an old `schedules run s3` cannot hit a newer schedule.
	AddSchedule(ctx context.Context, s Schedule) (Schedule, error)
	// RemoveSchedule deletes a stored schedule (and its results); a
	// missing ID is an error wrapping ErrNotFound.
	RemoveSchedule(ctx context.Context, id string) error
	// LastResult is the newest stored result of a schedule (last) and the
	// newest posted one (posted, the zero Result when none was posted); ok
	// is false when it never ran.
	LastResult(ctx context.Context, id string) (last, posted Result, ok bool, err error)
	// PutResult records a run's result; a posted result also becomes the
	// posted one. The result of a chat-defined schedule (IsChatID) that is
	// no longer stored, because it was removed while it ran, is not kept:
	// that is an error wrapping ErrNotFound, and nothing is written.
	PutResult(ctx context.Context, id string, r Result) error
}
