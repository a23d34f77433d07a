package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	slackgo "github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// Run runs what the adapter serves by itself until ctx ends: Socket Mode.
// In http mode the endpoints are HTTPHandler, which the caller mounts on
// its own server (serve's one listener); Run then only waits for ctx.
// Either way, call Wait once the caller's server has stopped too.
func (a *Adapter) Run(ctx context.Context, h bot.Handler) error {
	if a.cfg.Mode == ModeSocket {
		return a.RunSocketMode(ctx, h)
	}
	<-ctx.Done()
	return nil
}

// Reach calls auth.test: Slack answers and takes the bot token. serve
// calls it at start, and reports the platform not ready until it
// succeeds.
//
// A refused token is bot.ErrCredentialsRefused: retrying cannot help.
func (a *Adapter) Reach(ctx context.Context) error {
	r, err := a.api.AuthTestContext(ctx)
	var se slackgo.SlackErrorResponse
	if errors.As(err, &se) && refusedToken[se.Err] {
		return fmt.Errorf("slack auth.test: Slack refused slack.bot_token (or %s) with %s; check the token, and reinstall the app if it was revoked: %w", EnvBotToken, se.Err, bot.ErrCredentialsRefused)
	}
	if err != nil {
		return fmt.Errorf("slack auth.test: %w", err)
	}
	a.log.Info("slack reached", "team", r.Team, "team_id", r.TeamID, "bot_user", r.UserID, "enterprise_id", r.EnterpriseID)
	return nil
}

// RunSocketMode connects to Slack over Socket Mode with the app-level
// token and hands slash commands and clicks to h until ctx ends. Every
// envelope is acknowledged promptly. slack-go reconnects by itself when
// Slack asks; when a reconnect fails, RunSocketMode tries again with
// backoff, so it returns only when ctx ends.
func (a *Adapter) RunSocketMode(ctx context.Context, h bot.Handler) error {
	if a.cfg.AppToken == "" {
		return errors.New("slack: socket mode needs an app-level token (app_token / " + EnvAppToken + ")")
	}
	client := socketmode.New(a.api, socketmode.OptionLog(slog.NewLogLogger(a.log.Handler(), slog.LevelDebug)))
	var connected atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.socketEvents(ctx, client, h, &connected)
	}()
	wait := a.opt.socketRetryBase
	for ctx.Err() == nil {
		connected.Store(false)
		err := client.RunContext(ctx)
		if ctx.Err() != nil {
			break
		}
		if connected.Load() {
			wait = a.opt.socketRetryBase // it had worked: start the backoff over
		}
		a.log.Warn("socket mode connection ended; reconnecting", "err", err, "wait", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		wait = min(2*wait, time.Minute)
	}
	wg.Wait()
	a.Wait()
	return nil
}

// refusedToken are auth.test's answers that mean the token itself is bad.
var refusedToken = map[string]bool{
	"not_authed": true, "invalid_auth": true, "account_inactive": true, "token_revoked": true, "token_expired": true,
}

// socketEvents reads the client's events without ever blocking on a
// handler: the read loop stalls everything if it waits.
func (a *Adapter) socketEvents(ctx context.Context, client *socketmode.Client, h bot.Handler, connected *atomic.Bool) {
	// Slack redelivers an envelope whose ack it did not get (retry_attempt
	// > 0), possibly to another replica's connection; the adapter's Seen
	// (shared by the replicas) keeps a command from running twice.
	// duplicate acks a redelivered envelope again (so Slack stops) and
	// reports that it must not be handled a second time. When the Seen
	// cannot be asked, the envelope is not acked either: Slack delivers
	// it again, and by then the Seen may answer.
	duplicate := func(env string) bool {
		err := a.firstSeen(ctx, keyEnvelope+env, envelopeTTL)
		switch {
		case errors.Is(err, ErrReplayCheck):
			a.log.Error("socket mode envelope not handled nor acked, for Slack to redeliver: cannot tell whether it was handled already", "envelope", env, "err", err)
			return true
		case err != nil:
			a.log.Warn("socket mode envelope not handled", "envelope", env, "reason", err)
			a.ack(ctx, client, env, nil)
			return true
		}
		return false
	}
	// Handlers get a context that shutdown does not cancel: a command in
	// flight when the bot stops finishes (RunSocketMode waits for it)
	// instead of failing with "context canceled".
	hctx := context.WithoutCancel(ctx)
	for {
		var evt socketmode.Event
		select {
		case <-ctx.Done():
			return
		case evt = <-client.Events:
		}
		switch evt.Type {
		case socketmode.EventTypeConnecting:
			a.log.Debug("socket mode connecting")
		case socketmode.EventTypeConnected:
			connected.Store(true)
			a.log.Info("socket mode connected")
		case socketmode.EventTypeHello, socketmode.EventTypeDisconnect:
			a.log.Debug("socket mode", "event", evt.Type)
		case socketmode.EventTypeConnectionError, socketmode.EventTypeInvalidAuth,
			socketmode.EventTypeIncomingError, socketmode.EventTypeErrorBadMessage, socketmode.EventTypeErrorWriteFailed:
			a.log.Warn("socket mode problem", "event", evt.Type, "detail", fmt.Sprint(evt.Data))
		case socketmode.EventTypeSlashCommand:
			sc, ok := evt.Data.(slackgo.SlashCommand)
			if !ok || evt.Request == nil || duplicate(evt.Request.EnvelopeID) {
				continue
			}
			env := evt.Request.EnvelopeID
			a.bg.Add(1)
			go func() {
				defer a.bg.Done()
				a.ackCommand(ctx, client, env, sc, a.command(hctx, h, sc))
			}()
		case socketmode.EventTypeInteractive:
			ic, ok := evt.Data.(slackgo.InteractionCallback)
			if !ok || evt.Request == nil || duplicate(evt.Request.EnvelopeID) {
				continue
			}
			env := evt.Request.EnvelopeID
			if ic.Type == slackgo.InteractionTypeViewSubmission {
				// The ack carries the answer (errors keep the modal open),
				// so it waits for the handler, within the ack budget.
				a.bg.Add(1)
				go func() {
					defer a.bg.Done()
					var payload any
					if resp := a.submission(hctx, h, ic); resp != nil {
						payload = resp
					}
					a.ack(ctx, client, env, payload)
				}()
				continue
			}
			a.ack(ctx, client, env, nil)
			a.interaction(hctx, h, ic)
		case socketmode.EventTypeEventsAPI:
			// The app subscribes to no events; ack anyway so that Slack
			// does not redeliver.
			if evt.Request != nil {
				a.ack(ctx, client, evt.Request.EnvelopeID, nil)
			}
		}
	}
}

// ackCommand acknowledges a slash command envelope, with the handler's
// Reply as the ephemeral response when there is one.
func (a *Adapter) ackCommand(ctx context.Context, client *socketmode.Client, env string, sc slackgo.SlashCommand, reply bot.Reply) {
	rp := responder{url: sc.ResponseURL, user: sc.UserID, channel: sc.ChannelID, trigger: sc.TriggerID}
	user := bot.User{ID: sc.UserID, Name: sc.UserName}
	reply, later, follows := splitReply(reply)
	if follows {
		defer a.deliver(context.WithoutCancel(ctx), rp, sc.ChannelID, user, later)
	}
	if reply.IsZero() {
		a.ack(ctx, client, env, nil)
		return
	}
	// slack-go refuses payloads of 20 KB or more (Slack would drop them
	// silently); then ack empty and show the Reply another way.
	err := client.AckCtx(ctx, env, ephemeralBody(a.replyMessage(reply)))
	if err == nil {
		return
	}
	a.log.Warn("socket mode ack with payload failed; acking empty", "err", err)
	a.ack(ctx, client, env, nil)
	reply.Err = nil // logged once, above
	a.deliver(ctx, rp, sc.ChannelID, user, reply)
}

func (a *Adapter) ack(ctx context.Context, client *socketmode.Client, env string, payload any) {
	if err := client.AckCtx(ctx, env, payload); err != nil {
		a.log.Warn("socket mode ack failed", "envelope", env, "err", err)
	}
}
