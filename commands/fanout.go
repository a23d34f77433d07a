package commands

import (
	"context"
	"strings"
	"sync"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// fanOutLimit bounds how many hosts a fan-out talks to at once: each
// answer costs its agent a job, and the bot holds a connection per host.
const fanOutLimit = 4

// targets are the hosts a read-only run named name is for: every
// configured host for AllHosts, else the one host (the default when name
// is empty), in configuration order.
func (r *Router) targets(name string) ([]Host, error) {
	if name == AllHosts {
		return r.opt.Hosts, nil
	}
	h, err := r.host(name)
	if err != nil {
		return nil, err
	}
	return []Host{h}, nil
}

// eachHost calls fn for every host, at most fanOutLimit at a time, and
// returns when every call has returned. fn gets the host's index in hosts,
// so it may store its result in a slot of its own without locking. One
// host's failure never fails the others: fn reports a failure in its
// result, and a panic in fn is logged and ends only that host's call
// (its slot keeps whatever the caller put there before).
func (r *Router) eachHost(ctx context.Context, hosts []Host, fn func(ctx context.Context, i int, h Host)) {
	sem := make(chan struct{}, fanOutLimit)
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			defer func() {
				if p := recover(); p != nil {
					r.logger(ctx).Error("work on one host panicked", "host", h.Name, "panic", p)
				}
			}()
			fn(ctx, i, h)
		}()
	}
	wg.Wait()
}

// fanOut is a read-only subcommand as it runs on each host of --host all.
type fanOut struct {
	sub string
	// commands are the commands it runs on a host, for the root post.
	commands bot.Text
	// ask answers on one host, auditing what it ran as by's; it never
	// fails (an unreachable agent is an answer). onBusy says in the thread
	// that the host's agent is busy.
	ask func(ctx context.Context, h Host, by bot.User, onBusy func()) hostAnswer
}

// fanOutOf is the fan-out of a read-only subcommand: its own operation
// through the shared read-only path, or the row's own ask (upgrade-check's
// three).
func (r *Router) fanOutOf(inv Invocation) (fanOut, error) {
	if row, _ := operationOf(inv.Sub); row.ask != nil {
		return fanOut{sub: inv.Sub, commands: row.commands,
			ask: func(ctx context.Context, h Host, by bot.User, onBusy func()) hostAnswer {
				return row.ask(r, ctx, h, by, onBusy)
			}}, nil
	}
	op, args, err := readOnlyOp(inv)
	if err != nil {
		return fanOut{}, err
	}
	c, _ := op.Command(args) // validated by readOnlyOp
	return fanOut{sub: inv.Sub, commands: bot.Code(c.String()),
		ask: func(ctx context.Context, h Host, by bot.User, onBusy func()) hostAnswer {
			return r.readOnlyAnswer(ctx, by, h, op, args, onBusy)
		}}, nil
}

// upgradeAnswer is upgrade-check on one host as a hostAnswer: the verdict
// in one line (UpgradeVerdict.Summary without the host) and the full
// verdict for the thread.
func (r *Router) upgradeAnswer(ctx context.Context, h Host, by bot.User, onBusy func()) hostAnswer {
	v, err := r.upgradeCheck(ctx, h, approvals.User{ID: by.ID, Name: by.Name}, onBusy)
	if err != nil {
		// Only a stopping bot ends a check early; nothing is posted then.
		return hostAnswer{Host: h.Name, Err: err, Tone: bot.ToneWarning, Line: bot.Plain("the bot stopped before the answer came")}
	}
	m := upgradeMessage(v)
	return hostAnswer{Host: h.Name, Msg: m, Tone: m.Tone, Line: bot.Sentence(strings.TrimPrefix(v.Summary(), v.Host+": "))}
}

// runOnEveryHost runs f on every host (--host all): the root post becomes
// one combined summary, a line per host in configuration order, and each
// host's details follow in the thread in the same order. Each host runs
// what the subcommand runs for one host (shared with identical runs,
// audited per host); a host that fails is a line, never the end of the
// others.
func (r *Router) runOnEveryHost(ctx context.Context, chat bot.Chat, cmd bot.Command, f fanOut) {
	hosts := r.opt.Hosts
	root, err := chat.PostRoot(ctx, cmd.Channel, bot.Message{
		Text:    bot.Textf("%s on every host, asked by %s: asking %s…", bot.Bold(f.sub), cmd.User.Name, r.hostList()),
		Context: f.commands,
	})
	if err != nil {
		r.logger(ctx).Error("posting root message", "err", err)
		_ = chat.Notify(ctx, cmd.Channel, cmd.User, couldNotPost(err))
		return
	}
	answers := make([]hostAnswer, len(hosts))
	for i, h := range hosts {
		answers[i] = hostAnswer{Host: h.Name, Tone: bot.ToneDanger,
			Line: bot.Plain("the bot failed inside while asking; its log has the details")}
	}
	r.eachHost(ctx, hosts, func(ctx context.Context, i int, h Host) {
		answers[i] = f.ask(ctx, h, actorOf(cmd), r.busyReply(ctx, chat, root, h.Name))
	})
	if ctx.Err() != nil {
		r.logger(ctx).Info("stopped before every host answered", "subcommand", f.sub)
		return
	}
	m := combinedMessage(answers)
	m.Title = bot.Textf("%s on every host, asked by %s", f.sub, cmd.User.Name)
	m.Context = bot.Join(f.commands, bot.Plain(" · details per host in the thread"))
	r.updateRoot(ctx, chat, root, m)
	for _, a := range answers {
		if a.Msg.Title.IsEmpty() && a.Msg.Text.IsEmpty() {
			continue // its line says all there is
		}
		r.replyWithOutput(ctx, chat, root, a.Msg, f.sub+"-"+a.Host, a.Out)
	}
}

// combinedMessage is one line per host answer, in order, toned by the
// worst of them.
func combinedMessage(answers []hostAnswer) bot.Message {
	lines := make([]bot.Text, len(answers))
	tone := bot.ToneSuccess
	for i, a := range answers {
		lines[i] = bot.Textf("• %s: %s", bot.Bold(a.Host), a.Line)
		tone = worseTone(tone, a.Tone)
	}
	return bot.Message{Text: bot.JoinWith("\n", lines...), Tone: tone}
}

// worseTone is the more alarming of two tones.
func worseTone(a, b bot.Tone) bot.Tone {
	rank := func(t bot.Tone) int {
		switch t {
		case bot.ToneDanger:
			return 3
		case bot.ToneWarning:
			return 2
		case bot.ToneSuccess:
			return 1
		}
		return 0
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}
