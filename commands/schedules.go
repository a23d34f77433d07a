package commands

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/schedule"
)

// Schedules is the scheduler as chat uses it (`schedules …`);
// *schedule.Scheduler implements it.
type Schedules interface {
	List(ctx context.Context) ([]schedule.Entry, error)
	Add(ctx context.Context, s schedule.Schedule) (schedule.Schedule, error)
	Remove(ctx context.Context, id string) error
	RunNow(ctx context.Context, id string) error
}

// UseSchedules gives the router the scheduler that `schedules` manages.
// The scheduler runs schedules through the router (Run), so it is built
// after the router and handed over here, before the router handles
// commands.
func (r *Router) UseSchedules(s Schedules) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.schedules = s
}

func (r *Router) scheduler() Schedules {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.schedules
}

// maxScheduleIDRunes bounds a schedule ID typed in chat (configuration
// IDs are at most 32 characters, stored ones s1, s2, …).
const maxScheduleIDRunes = 64

// scheduleVerb is what `schedules` is asked to do: "" (list), add, remove
// or run.
func scheduleVerb(inv Invocation) string {
	if len(inv.Args) == 0 {
		return ""
	}
	return strings.ToLower(inv.Args[0])
}

// checkSchedulesArgs checks the shape of a `schedules` line; the schedule
// itself is checked by schedule.Validate when it is added.
func checkSchedulesArgs(inv Invocation) error {
	flags := inv.Host != "" || inv.When != "" || inv.TZ != ""
	n := len(inv.Args) - 1 // after the verb
	switch verb := scheduleVerb(inv); verb {
	case "", "list":
		if n > 0 {
			return fmt.Errorf("schedules lists every schedule and takes nothing more; to add one: schedules add \"0 8 * * 1-5\" status")
		}
		if flags {
			return fmt.Errorf("--host, --when and --tz go with schedules add")
		}
	case "add":
		switch {
		case n < 2:
			return fmt.Errorf("schedules add needs a cron spec in quotes and what to run, e.g. schedules add \"0 8 * * 1-5\" status")
		case n > 2:
			return fmt.Errorf("schedules add takes the cron spec as one argument in quotes, then what to run (%s), e.g. schedules add \"0 8 * * 1-5\" status --when changed", quoteList(inv.Args[1:]))
		}
		if err := checkLength("--tz", inv.TZ, 64); err != nil {
			return err
		}
		if err := checkLength("--when", inv.When, 16); err != nil {
			return err
		}
	case "remove", "run":
		if n != 1 {
			return fmt.Errorf("schedules %s needs the schedule's id (`schedules` lists them), e.g. schedules %s s1", verb, verb)
		}
		if flags {
			return fmt.Errorf("schedules %s takes only the schedule's id; --host, --when and --tz go with schedules add", verb)
		}
		if err := checkLength("schedule id", inv.Args[1], maxScheduleIDRunes); err != nil {
			return err
		}
	default:
		return fmt.Errorf("schedules takes add, remove or run (or nothing, to list them), not %q", echo(inv.Args[0]))
	}
	if inv.Reason != "" {
		return fmt.Errorf("schedules takes no reason after --")
	}
	return nil
}

// handleSchedules answers `schedules`, `schedules add|remove|run`.
// Listing and running are open to everyone in the allowed channels;
// adding and removing to policy.admins, audited.
func (r *Router) handleSchedules(ctx context.Context, chat bot.Chat, cmd bot.Command, inv Invocation) (bot.Reply, error) {
	sched := r.scheduler()
	if sched == nil {
		return bot.NoReply, r.refused(ctx, cmd, inv.Sub, refuse("Schedules are not available in this bot: it was started without its scheduler."))
	}
	user := qualifiedUser(cmd.Platform, cmd.User)
	usage := subcommands["schedules"].usage
	switch verb := scheduleVerb(inv); verb {
	case "add", "remove":
		if err := r.opt.Approvals.CheckAdmin(user); err != nil {
			return bot.NoReply, r.refused(ctx, cmd, inv.Sub+" "+verb, err)
		}
		if verb == "add" {
			return r.addSchedule(ctx, chat, cmd, inv, sched)
		}
		return r.removeSchedule(ctx, chat, cmd, inv.Args[1], sched)
	case "run":
		id := inv.Args[1]
		// Who asked is recorded here; the run is audited as the
		// scheduler's, as every scheduled run is.
		r.audit(ctx, approvals.AuditEntry{Actor: approvals.Qualify(cmd.Platform, cmd.User.ID), ActorName: cmd.User.Name, Action: approvals.ActionScheduleRunNow, Detail: "schedule " + id})
		r.background("schedules run "+id, func(ctx context.Context) {
			// The result is posted into the schedule's channel; only a
			// refusal or failure comes back to the person who asked.
			if err := sched.RunNow(ctx, id); err != nil {
				if err := chat.Notify(ctx, cmd.Channel, cmd.User, r.scheduleRunFailed(ctx, id, err)); err != nil {
					r.logger(ctx).Error("answering schedules run", "err", err)
				}
			}
		})
		return bot.NoReply, nil
	default:
		entries, err := sched.List(ctx)
		if err != nil {
			r.logger(ctx).Error("listing schedules", "err", err)
			return bot.NoReply, r.refused(ctx, cmd, inv.Sub, &UsageError{Msg: "I could not read the schedules from the bot's store; the bot's log has the details. Try again.", Usage: usage})
		}
		return bot.Say(schedulesMessage(entries, r.opt.Clock())), nil
	}
}

// addSchedule adds a chat-defined schedule posting into the channel it
// was typed in, and audits it.
func (r *Router) addSchedule(ctx context.Context, chat bot.Chat, cmd bot.Command, inv Invocation, sched Schedules) (bot.Reply, error) {
	s := schedule.Schedule{
		Spec: inv.Args[1], What: strings.ToLower(inv.Args[2]), Host: inv.Host, When: strings.ToLower(inv.When), TZ: inv.TZ,
		Platform: chat.Platform(), Channel: cmd.Channel, CreatedBy: cmd.User.ID,
	}
	// A host the schedule could never run on is refused now, not at its
	// first run: with several hosts and no default, one must be named.
	if s.Host != "" {
		if _, err := r.targets(s.Host); err != nil {
			return bot.NoReply, r.refused(ctx, cmd, inv.Sub+" add", &UsageError{Msg: err.Error(), Usage: subcommands["schedules"].usage})
		}
	} else if _, ok := r.defaultHost(); !ok {
		return bot.NoReply, r.refused(ctx, cmd, inv.Sub+" add", &UsageError{Msg: fmt.Sprintf("several hosts are configured (%s) and none is the default: name the one this schedule is for with --host NAME, or --host all", r.hostList()), Usage: subcommands["schedules"].usage})
	}
	added, err := sched.Add(ctx, s)
	if err != nil {
		if errors.Is(err, schedule.ErrInvalid) {
			return bot.NoReply, r.refused(ctx, cmd, inv.Sub+" add", &UsageError{Msg: err.Error(), Usage: subcommands["schedules"].usage})
		}
		r.logger(ctx).Error("adding a schedule", "err", err)
		return bot.NoReply, r.refused(ctx, cmd, inv.Sub+" add", refuse("I could not store the schedule in the bot's store; the bot's log has the details. Nothing was added; try again."))
	}
	r.audit(ctx, approvals.AuditEntry{
		Actor: approvals.Qualify(cmd.Platform, cmd.User.ID), ActorName: cmd.User.Name, Action: approvals.ActionScheduleAdded,
		Host: added.Host, Operation: added.What, Detail: describeSchedule(added).PlainString(),
	})
	next := ""
	if entries, err := sched.List(ctx); err == nil {
		for _, e := range entries {
			if e.Schedule.ID == added.ID && !e.Next.IsZero() {
				next = " Next run: " + whenText(e.Next, added.TZ) + "."
			}
		}
	}
	return bot.Say(bot.Message{Tone: bot.ToneSuccess,
		Title: bot.Plain("Schedule " + added.ID + " added"),
		Text: bot.Textf("%s.%s Try it now with %s; remove it with %s.", describeSchedule(added), next,
			bot.Code("/gitlab-migrations schedules run "+added.ID), bot.Code("schedules remove "+added.ID))}), nil
}

// removeSchedule removes a chat-defined schedule and audits it, with what
// the schedule was.
func (r *Router) removeSchedule(ctx context.Context, chat bot.Chat, cmd bot.Command, id string, sched Schedules) (bot.Reply, error) {
	var gone schedule.Schedule
	if entries, err := sched.List(ctx); err == nil {
		for _, e := range entries {
			if e.Schedule.ID == id {
				gone = e.Schedule
			}
		}
	}
	if err := sched.Remove(ctx, id); err != nil {
		if errors.Is(err, schedule.ErrNotFound) || errors.Is(err, schedule.ErrReadOnly) {
			return bot.NoReply, r.refused(ctx, cmd, "schedules remove", refuse("%s", sentenceOf(err.Error())))
		}
		r.logger(ctx).Error("removing a schedule", "schedule", id, "err", err)
		return bot.NoReply, r.refused(ctx, cmd, "schedules remove", refuse("I could not remove schedule %s from the bot's store; the bot's log has the details. Try again.", echo(id)))
	}
	if gone.ID == "" {
		gone.ID = id
	}
	r.audit(ctx, approvals.AuditEntry{
		Actor: approvals.Qualify(cmd.Platform, cmd.User.ID), ActorName: cmd.User.Name, Action: approvals.ActionScheduleRemoved,
		Host: gone.Host, Operation: gone.What, Detail: describeSchedule(gone).PlainString(),
	})
	return bot.Say(bot.Message{Tone: bot.ToneSuccess,
		Title: bot.Plain("Schedule " + id + " removed"), Text: bot.Join(describeSchedule(gone), bot.Plain(". It will not run again."))}), nil
}

// scheduleRunFailed tells the person who typed `schedules run` why
// nothing (or not everything) was posted.
func (r *Router) scheduleRunFailed(ctx context.Context, id string, err error) bot.Message {
	for _, known := range []error{schedule.ErrNotFound, schedule.ErrBusy, schedule.ErrInvalid} {
		if errors.Is(err, known) {
			return bot.Message{Tone: bot.ToneDanger, Text: bot.Sentence(sentenceOf(err.Error()))}
		}
	}
	var rd bot.Readable
	if errors.As(err, &rd) {
		return bot.Message{Tone: bot.ToneDanger, Text: bot.Sentence(rd.UserText())}
	}
	r.logger(ctx).Error("schedules run", "schedule", id, "err", err)
	return bot.Message{Tone: bot.ToneDanger, Text: bot.Textf("Schedule %s ran, but I could not post or record its result; the bot's log has the details.", echo(id))}
}

// describeSchedule is a schedule in one line: "s3: status on gitlab-1 at
// 0 8 * * 1-5 Europe/Berlin, when changed, into C0123 (slack)", the spec
// as code.
func describeSchedule(s schedule.Schedule) bot.Text {
	host := s.Host
	switch host {
	case "":
		host = "the default host"
	case schedule.AllHosts:
		host = "every host"
	}
	d := bot.Textf("%s: %s on %s at %s, when %s, into %s (%s)", s.ID, s.What, host, scheduleTiming(s), cmpWhen(s.When), s.Channel, s.Platform)
	if s.CatchUp {
		d = bot.Join(d, bot.Plain(", catching up missed runs"))
	}
	return d
}

func cmpWhen(w string) string {
	if w == "" {
		return schedule.WhenAlways
	}
	return w
}

// whenText is t in zone tz (UTC when empty or unknown), e.g. "Mon 7 Dec
// 08:00 CET".
func whenText(t time.Time, tz string) string {
	loc := time.UTC
	if tz != "" {
		if l, err := time.LoadLocation(tz); err == nil {
			loc = l
		}
	}
	return t.In(loc).Format("Mon 2 Jan 15:04 MST")
}

// schedulesMessage lists every schedule: what it runs where, its next run
// in its own zone, its last result; configuration ones marked read-only.
func schedulesMessage(entries []schedule.Entry, now time.Time) bot.Message {
	m := bot.Message{Title: bot.Plain("Schedules"), Tone: bot.ToneInfo}
	if len(entries) == 0 {
		m.Text = bot.Textf("No schedules. Admins add one with %s (it posts into the channel it was typed in); the configuration file's %s defines others.", bot.Code(`/gitlab-migrations schedules add "0 8 * * 1-5" status --when changed`), bot.Code("schedules:"))
		return m
	}
	lines := make([]bot.Text, 0, len(entries))
	for _, e := range entries {
		s := e.Schedule
		line := bot.Join(bot.Plain("• "), bot.Bold(s.ID), bot.Plain(": "), cutPlainPrefixOr(describeSchedule(s), s.ID+": "))
		if s.Source == schedule.SourceConfig {
			line = bot.Join(line, bot.Plain(" · from the bot's configuration (read-only here)"))
		}
		switch {
		case e.Problem != "":
			line = bot.Join(line, bot.Plain("\n  ⚠️ "), bot.Sentence(e.Problem))
		case !e.Next.IsZero():
			line = bot.Join(line, bot.Plain("\n  next: "+whenText(e.Next, s.TZ)))
		}
		if e.Running {
			line = bot.Join(line, bot.Plain(" · running now"))
		}
		line = bot.Join(line, bot.Plain("\n  last: "), bot.Sentence(lastResultText(e, now)))
		lines = append(lines, line)
	}
	m.Text = bot.JoinWith("\n", lines...)
	m.Context = bot.Textf("%s runs one now; admins: %s, %s", bot.Code("schedules run <id>"), bot.Code("schedules add …"), bot.Code("schedules remove <id>"))
	return m
}

// lastResultText is an entry's last result in a few words.
func lastResultText(e schedule.Entry, now time.Time) string {
	if !e.HasLast {
		return "never ran"
	}
	r := e.Last
	var what string
	switch {
	case r.Failed:
		what = "run failed: " + r.Reason
	case len(r.Facts) == 0:
		what = "nothing to report"
	default:
		facts := make([]string, 0, len(r.Facts))
		for _, k := range slices.Sorted(maps.Keys(r.Facts)) {
			facts = append(facts, k+": "+r.Facts[k])
		}
		what = strings.Join(facts, ", ")
	}
	posted := "not posted"
	if r.Posted {
		posted = "posted"
	}
	return fmt.Sprintf("%s (%s, %s)", what, ago(now.Sub(r.At)), posted)
}

// ago says how long ago, in minutes: "just now", "5m ago", "2h30m ago".
func ago(d time.Duration) string {
	if d < time.Minute {
		return "just now"
	}
	return strings.TrimSuffix(d.Round(time.Minute).String(), "0s") + " ago"
}
