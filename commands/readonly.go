package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// runReadOnly posts a root message, runs op on host and replies in the
// thread with a parsed summary, attaching the raw output when it is long.
func (r *Router) runReadOnly(ctx context.Context, chat bot.Chat, cmd bot.Command, sub string, host Host, op gitlab.Operation, args gitlab.Args) {
	c, _ := op.Command(args) // validated by the caller
	root, err := chat.PostRoot(ctx, cmd.Channel, bot.Message{
		Text:    bot.Textf("%s on %s, asked by %s", bot.Bold(sub), bot.Bold(host.Name), cmd.User.Name),
		Context: bot.Code(c.String()),
	})
	if err != nil {
		r.logger(ctx).Error("posting root message", "err", err)
		_ = chat.Notify(ctx, cmd.Channel, cmd.User, couldNotPost(err))
		return
	}
	a := r.readOnlyAnswer(ctx, actorOf(cmd), host, op, args, r.busyReply(ctx, chat, root, host.Name))
	r.replyWithOutput(ctx, chat, root, a.Msg, op.Name, a.Out)
}

// hostAnswer is one host's answer to a read-only operation: the details
// for its thread and the one line a combined answer gives it.
type hostAnswer struct {
	Host string
	// Msg is the parsed summary (or why there is none); Out the output.
	Msg bot.Message
	Out *output
	// Line is the answer in one line, without the host's name, e.g.
	// "main: all 1,523 up · ci: 2 down"; Tone is Msg's.
	Line bot.Text
	Tone bot.Tone
	// Err is why the operation could not be run (agent unreachable, …);
	// then Line says so as a sentence.
	Err error
	// Rec is the agent's record of the run (its state and exit code), for
	// a caller that reads Out itself (a schedule's comparable facts).
	Rec agent.JobRecord
}

// readOnlyAnswer runs op on host, sharing an identical run in flight (see
// sharedRun), audits the run as asked by actor and returns the answer.
// onBusy (may be nil) is called if the agent is busy. It never fails: an
// agent that cannot be reached is an answer too.
func (r *Router) readOnlyAnswer(ctx context.Context, actor bot.User, host Host, op gitlab.Operation, args gitlab.Args, onBusy func()) hostAnswer {
	c, _ := op.Command(args) // validated by the caller
	res, shared := r.sharedRun(ctx, host, agent.RunRequest{Operation: op.Name, Args: args, Requester: actor.ID},
		readOnlyKey(host.Name, op.Name, args), readOnlyReuse, onBusy)
	rec, out, runErr := res.Rec, res.Out, res.Err
	outcome := rec.State
	a := hostAnswer{Host: host.Name, Out: out, Err: runErr, Rec: rec}
	if runErr != nil {
		outcome = "error"
		l := r.logger(ctx)
		if rec.ID != "" {
			l = l.With("job_id", rec.ID)
		}
		l.Error("read-only run", "host", host.Name, "operation", op.Name, "err", runErr)
		a.Msg = agentErrorMessage(host.Name, op.Name, runErr)
		a.Line = bot.Join(bot.Plain("could not run: "), a.Msg.Text)
	} else {
		a.Msg, a.Line = readOnlySummary(host.Name, op.Name, args.Database, rec, out)
		a.Msg.Context = joinSmallPrint(a.Msg.Context, takenAt(res.Taken, shared))
	}
	a.Tone = a.Msg.Tone
	detail := errText(runErr)
	if shared && rec.ID != "" {
		detail = joinContext(detail, "answer shared from agent job "+rec.ID)
	}
	r.audit(ctx, approvals.AuditEntry{
		Actor: actor.ID, ActorName: actor.Name, Action: approvals.ActionReadOnlyRun,
		Host: host.Name, Operation: op.Name, Argv: c.Argv(), Outcome: outcome, OutputDigest: rec.Digest,
		Detail: detail,
	})
	return a
}

// busyReply returns the onBusy of a run on host whose answer goes into
// root's thread: it says there that the agent is busy.
func (r *Router) busyReply(ctx context.Context, chat bot.Chat, root bot.Ref, host string) func() {
	return func() {
		if _, err := chat.Reply(ctx, root, busyMessage(host, r.opt.BusyWait)); err != nil {
			r.logger(ctx).Error("replying in thread", "err", err)
		}
	}
}

// readOnlyReuse is how long after an answer identical read-only commands
// on the same host are given it instead of a new run: the window in which
// a burst of `status` costs one job on the agent.
const readOnlyReuse = 3 * time.Second

// readOnlyKey identifies identical read-only runs: same host, operation
// and arguments.
func readOnlyKey(host, op string, args gitlab.Args) string {
	a, _ := json.Marshal(args) // plain strings: cannot fail
	return "read-only\x00" + host + "\x00" + op + "\x00" + string(a)
}

// sharedRun runs req on host once for every concurrent caller with the
// same key (see flights), waiting out a busy agent (see runWaiting).
func (r *Router) sharedRun(ctx context.Context, host Host, req agent.RunRequest, key string, reuse time.Duration, onBusy func()) (flightResult, bool) {
	return r.flights.do(ctx, key, host.Name, reuse, onBusy, func(onBusy func()) flightResult {
		rec, out, err := r.runWaiting(ctx, host, req, onBusy)
		taken := rec.Started
		if taken.IsZero() {
			taken = r.opt.Clock()
		}
		return flightResult{Rec: rec, Out: out, Err: err, Taken: taken}
	})
}

// couldNotPost tells the user who asked that the bot's root post failed.
// It says "the channel where you asked", not "this channel": an adapter
// may have to deliver it elsewhere (Mattermost: a direct message, which
// names the channel). The adapter's sentence (bot.Readable) says why and
// what to do; a Go error is never shown (the caller logs it).
func couldNotPost(err error) bot.Message {
	text, ok := bot.TextFor(err)
	if !ok {
		text = "Is the bot a member of it? Invite it with `/invite @gitlab-chatops`, then try again."
	}
	return bot.Message{Tone: bot.ToneDanger, Text: bot.Join(bot.Plain("I could not post in the channel where you asked. "), bot.Sentence(text))}
}

// busyMessage is the progress line of a run waiting for the agent.
func busyMessage(host string, bound time.Duration) bot.Message {
	return bot.Message{Tone: bot.ToneInfo,
		Text: bot.Textf("⏳ The agent on %s is busy with other read-only jobs; retrying (for up to %s)…", host, bound)}
}

// takenAt says when an answer was taken, and that it was shared.
func takenAt(t time.Time, shared bool) bot.Text {
	s := bot.Join(bot.Plain("taken at "), bot.Time(t, bot.Clock))
	if shared {
		s = bot.Join(s, bot.Plain(", shared with an identical request"))
	}
	return s
}

func joinContext(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + " · " + b
}

// joinSmallPrint joins two parts of small print with " · ", either alone
// when the other is empty.
func joinSmallPrint(a, b bot.Text) bot.Text {
	switch {
	case a.IsEmpty():
		return b
	case b.IsEmpty():
		return a
	}
	return bot.Join(a, bot.Plain(" · "), b)
}

// readOnlySummary parses a read-only operation's output (the operation
// table's summarize) into a message and the same in one line
// (hostAnswer.Line). db is the database asked for
// with --db ("" for all).
func readOnlySummary(host, opName, db string, rec agent.JobRecord, out *output) (bot.Message, bot.Text) {
	text := out.combined()
	if db != "" && rec.State != agent.StateSucceeded && bytes.Contains(text, []byte(gitlab.NoSuchTaskText)) {
		// The per-database tasks exist only for databases this install
		// really has (db:migrate:status:ci only when ci is separate).
		return bot.Message{
			Title: bot.Textf("%s has no %s database", host, db),
			Text:  bot.Textf("GitLab on %s has no separate %s database (its tasks have no :%s variant). Leave out --db to see every database it has.", host, db, db),
			Tone:  bot.ToneWarning,
		}, bot.Textf("no separate %s database", db)
	}
	var (
		m    bot.Message
		line string
		err  error
	)
	if row, ok := operationFor(opName); ok && row.summarize != nil {
		m, line, err = row.summarize(host, out.parsed(opName))
	} else {
		err = fmt.Errorf("no summary for %s", opName)
	}
	if err != nil {
		// GitLab's own last lines help the administrator; the parser's
		// error is for the log (the caller's job record has it).
		u := &unreadableError{what: commandOf(rec, opName), rec: rec, err: err, tail: tail(out, 15)}
		return bot.Message{
			Title: bot.Textf("No usable answer from %s on %s", opName, host),
			Text:  bot.Sentence(u.sentence(host, true)),
			Code:  u.tail,
			Tone:  bot.ToneDanger,
		}, bot.Textf("no usable answer from %s (exit code %s); see the thread", opName, exitCode(rec))
	}
	if op, _ := gitlab.Lookup(opName); rec.State != agent.StateSucceeded && !op.ExitReportsDown {
		// An exit code that counts what is down (gitlab-ctl status) is
		// not shown: the parsed lines say more than the number.
		m.Context = bot.Textf("exit code %s", exitCode(rec))
	}
	return m, bot.Sentence(line)
}

// replyWithOutput replies with m and, when the output is long, attaches it.
func (r *Router) replyWithOutput(ctx context.Context, chat bot.Chat, root bot.Ref, m bot.Message, name string, out *output) {
	if _, err := chat.Reply(ctx, root, m); err != nil {
		r.logger(ctx).Error("replying in thread", "err", err)
	}
	r.attachOutput(ctx, chat, root, name+".txt", "Full output of "+name, out)
}

// attachOutput uploads the full output (from its spool, or from memory
// for a read-only run) when it is longer than a message shows.
func (r *Router) attachOutput(ctx context.Context, chat bot.Chat, root bot.Ref, name, title string, out *output) {
	if out == nil || out.lines <= int64(r.opt.AttachOver) {
		return
	}
	f, err := out.attachment(name, title)
	if err == nil {
		err = chat.Upload(ctx, root, f, fmt.Sprintf("%d lines of output", out.lines))
	}
	if err != nil {
		r.logger(ctx).Error("uploading output", "err", err)
	}
}

// agentErrorMessage explains an agent failure in words an operator can act
// on; the caller logs err itself.
func agentErrorMessage(host, opName string, err error) bot.Message {
	return bot.Message{
		Title: bot.Textf("Could not run %s on %s", subcommandOf(opName), host),
		Text:  bot.Sentence(agentProblem(host, err)),
		Tone:  bot.ToneDanger,
	}
}

// tail returns the last n lines of the output, for a message's code block.
func tail(out *output, n int) string {
	if out == nil {
		return ""
	}
	b := out.combined()
	lines := 0
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' && i != len(b)-1 {
			lines++
			if lines == n {
				return string(b[i+1:])
			}
		}
	}
	return string(b)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
