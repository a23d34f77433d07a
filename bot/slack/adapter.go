package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	slackgo "github.com/slack-go/slack"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// Platform is the Slack adapter's platform name.
const Platform = "slack"

// Adapter is the Slack adapter. It implements bot.Chat (what the router
// calls to post) and the approvals group resolver (IsMember); its inbound
// side (HTTPHandler, RunSocketMode, Run) calls a bot.Handler.
type Adapter struct {
	cfg      Config
	opt      options
	log      *slog.Logger
	api      *slackgo.Client
	verifier *Verifier // nil when no signing secret is configured
	seen     bot.Seen  // once-only keys: signatures, envelope IDs
	retry    retrier
	out      *sender
	groups   *groupCache
	replies  *replySet
	recent   *recentResponders

	bg sync.WaitGroup // handler calls still running after the ack
}

var (
	_ bot.Chat        = (*Adapter)(nil)
	_ bot.Permalinker = (*Adapter)(nil)
)

// New checks cfg and returns an adapter. Nothing is contacted until a
// message is sent or Run (or RunSocketMode, or HTTPHandler's server)
// starts.
func New(cfg Config, opts ...Option) (*Adapter, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := defaultOptions()
	for _, f := range opts {
		f(&o)
	}
	a := &Adapter{
		cfg:     cfg,
		opt:     o,
		log:     o.logger.With("platform", Platform),
		seen:    o.seen,
		replies: newReplySet(10_000),
		recent:  newRecentResponders(o.clock, 10_000),
	}
	if cfg.SigningSecret != "" {
		v, err := NewVerifier(cfg.SigningSecret, o.clock)
		if err != nil {
			return nil, err
		}
		a.verifier = v
	}
	if a.seen == nil {
		a.seen = bot.NewMemorySeen(o.replayCapacity, o.clock)
	}
	a.retry = retrier{attempts: o.maxAttempts, base: o.backoffBase, max: o.backoffMax, log: a.log, obs: o.apiObserver}
	a.out = newSender(o.channelInterval, o.sendTimeout, a.retry)
	a.groups = newGroupCache(o.groupTTL, o.clock)
	apiURL := cfg.APIURL
	if o.apiURL != "" {
		apiURL = o.apiURL
	}
	apiOpts := []slackgo.Option{slackgo.OptionHTTPClient(o.httpClient), slackgo.OptionAPIURL(apiURL)}
	if cfg.AppToken != "" {
		apiOpts = append(apiOpts, slackgo.OptionAppLevelToken(cfg.AppToken))
	}
	a.api = slackgo.New(cfg.BotToken, apiOpts...)
	return a, nil
}

// Platform implements bot.Chat.
func (a *Adapter) Platform() string { return Platform }

// Wait blocks until handler calls that outlived their acknowledgement and
// all queued messages are done. Call it after stopping the inbound side.
func (a *Adapter) Wait() {
	a.bg.Wait()
	a.out.idle()
}

// PostRoot implements bot.Chat with chat.postMessage: the bot owns the
// root, so it has a ts to thread under and may edit it.
func (a *Adapter) PostRoot(ctx context.Context, channel string, m bot.Message) (bot.Ref, error) {
	if channel == "" {
		return bot.Ref{}, errors.New("slack: no channel to post in")
	}
	return a.post(ctx, channel, "", Render(m))
}

// Reply implements bot.Chat: chat.postMessage with thread_ts = the root's
// ts, never a reply's.
func (a *Adapter) Reply(ctx context.Context, root bot.Ref, m bot.Message) (bot.Ref, error) {
	if err := a.checkRoot(root); err != nil {
		return bot.Ref{}, err
	}
	ref, err := a.post(ctx, root.Channel, root.ID, Render(m))
	if err == nil {
		a.replies.add(ref.Channel + "/" + ref.ID)
	}
	return ref, err
}

func (a *Adapter) checkRoot(root bot.Ref) error {
	if root.Channel == "" || root.ID == "" {
		return errors.New("slack: no root message to reply under")
	}
	if a.replies.has(root.Channel + "/" + root.ID) {
		return fmt.Errorf("slack: %s is a reply, not a root message; replies go under the root", root.ID)
	}
	return nil
}

func (a *Adapter) post(ctx context.Context, channel, threadTS string, r Rendered) (bot.Ref, error) {
	opts := []slackgo.MsgOption{slackgo.MsgOptionText(r.Text, false), slackgo.MsgOptionBlocks(r.Blocks...)}
	if threadTS != "" {
		opts = append(opts, slackgo.MsgOptionTS(threadTS))
	}
	var gotChannel string
	ts, err := a.out.send(ctx, channel, "chat.postMessage", "", func(ctx context.Context) (string, error) {
		ch, ts, err := a.api.PostMessageContext(ctx, channel, opts...)
		gotChannel = ch
		return ts, err
	})
	if err != nil {
		return bot.Ref{}, readable(err)
	}
	if gotChannel == "" {
		gotChannel = channel
	}
	return bot.Ref{Channel: gotChannel, ID: ts}, nil
}

// Update implements bot.Chat with chat.update. The whole block list is
// sent every time, so blocks left out (the buttons after a decision)
// disappear. Edits of one message that wait in the channel's queue are
// merged: only the newest is sent.
func (a *Adapter) Update(ctx context.Context, ref bot.Ref, m bot.Message) error {
	if ref.Channel == "" || ref.ID == "" {
		return errors.New("slack: no message to update")
	}
	r := Render(m)
	_, err := a.out.send(ctx, ref.Channel, "chat.update", "update:"+ref.ID, func(ctx context.Context) (string, error) {
		_, ts, _, err := a.api.UpdateMessageContext(ctx, ref.Channel, ref.ID,
			slackgo.MsgOptionText(r.Text, false), slackgo.MsgOptionBlocks(r.Blocks...))
		return ts, err
	})
	return readable(err)
}

// Upload implements bot.Chat with Slack's external upload flow
// (files.getUploadURLExternal, the upload, files.completeUploadExternal),
// shared into the thread under root.
func (a *Adapter) Upload(ctx context.Context, root bot.Ref, f bot.File, comment string) error {
	if err := a.checkRoot(root); err != nil {
		return err
	}
	return a.upload(ctx, root.Channel, root.ID, f, comment)
}

// upload shares f into channel, under the thread threadTS ("" for none).
func (a *Adapter) upload(ctx context.Context, channel, threadTS string, f bot.File, comment string) error {
	if f.Empty() {
		return fmt.Errorf("slack: file %q is empty; Slack refuses empty uploads", f.Name)
	}
	name := f.Name
	if name == "" {
		name = "output.txt"
	}
	_, err := a.out.send(ctx, channel, "files.upload", "", func(ctx context.Context) (string, error) {
		// A fresh reader per attempt: a retry must send the whole file.
		content, err := f.Open()
		if err != nil {
			return "", fmt.Errorf("reading %q: %w", name, err)
		}
		sum, err := a.api.UploadFileContext(ctx, slackgo.UploadFileParameters{
			Reader:          content,
			FileSize:        int(f.Size),
			Filename:        name,
			Title:           f.Title,
			InitialComment:  Mrkdwn(bot.Sentence(comment)),
			Channel:         channel,
			ThreadTimestamp: threadTS,
		})
		if err != nil {
			return "", err
		}
		return sum.ID, nil
	})
	return readable(err)
}

// Notify implements bot.Chat for background work: m is shown to user
// alone through chat.postEphemeral, and if that fails (the bot is not in
// the channel), the user's latest response_url in that channel. (A
// handler's own answer is its Reply, delivered by the adapter.) Its error is
// Readable: the sentence tells the user what to do (invite the bot …).
func (a *Adapter) Notify(ctx context.Context, channel string, user bot.User, m bot.Message) error {
	err := a.ephemeral(ctx, channel, user.ID, m)
	if err == nil {
		return nil
	}
	if u, ok := a.recent.get(user.ID, channel); ok {
		if rerr := a.respond(ctx, u, m); rerr == nil {
			return nil
		}
	}
	return err
}

func (a *Adapter) ephemeral(ctx context.Context, channel, userID string, m bot.Message) error {
	if channel == "" || userID == "" {
		return errors.New("slack: an ephemeral message needs a channel and a user")
	}
	r := Render(m)
	ctx, cancel := context.WithTimeout(ctx, a.opt.sendTimeout)
	defer cancel()
	// Not through the channel lane: a refusal for one person must not
	// wait behind a queue of progress edits.
	_, err := a.retry.do(ctx, "chat.postEphemeral", func(ctx context.Context) (string, error) {
		return a.api.PostEphemeralContext(ctx, channel, userID, slackgo.MsgOptionText(r.Text, false), slackgo.MsgOptionBlocks(r.Blocks...))
	})
	return readable(err)
}

// Permalink implements bot.Permalinker with chat.getPermalink.
func (a *Adapter) Permalink(ctx context.Context, ref bot.Ref) (string, error) {
	link, err := a.api.GetPermalinkContext(ctx, &slackgo.PermalinkParameters{Channel: ref.Channel, Ts: ref.ID})
	if err != nil {
		return "", fmt.Errorf("slack chat.getPermalink: %w", err)
	}
	return link, nil
}

var (
	_ bot.Adapter    = (*Adapter)(nil)
	_ bot.HTTPServed = (*Adapter)(nil)
	_ bot.Reacher    = (*Adapter)(nil)
	_ bot.Drainer    = (*Adapter)(nil)
)

// NewAdapter is New with the program's Setup, as serve builds every
// adapter.
func NewAdapter(cfg Config, s bot.Setup) (*Adapter, error) {
	opts := []Option{WithAPIObserver(s.APIObserver), WithHTTPClient(apiClient(s.HTTPTransport)), WithSeen(s.Seen)}
	if s.Logger != nil {
		opts = append(opts, WithLogger(s.Logger))
	}
	if s.OnRefused != nil {
		opts = append(opts, WithOnRefused(s.OnRefused))
	}
	return New(cfg, opts...)
}

// Name implements bot.Adapter.
func (a *Adapter) Name() string { return Platform }

// Chat implements bot.Adapter: the adapter is its own Chat.
func (a *Adapter) Chat() bot.Chat { return a }

// Groups implements bot.Adapter: Slack user groups.
func (a *Adapter) Groups() bot.GroupResolver { return a }

// Capabilities implements bot.Adapter and bot.Capable: Slack shows
// everything, opens forms as modals (form.go) and sends files to one user
// by direct message (direct.go).
func (a *Adapter) Capabilities() bot.Capabilities {
	c := bot.AllCapabilities
	c.Forms, c.DirectFiles = true, true
	return c
}

// HTTPPrefix implements bot.HTTPServed: PathCommands and PathInteractions
// are under it.
func (a *Adapter) HTTPPrefix() string { return "/slack/" }

// HTTPListen implements bot.HTTPServed: Slack's endpoints are on serve's
// main listener.
func (a *Adapter) HTTPListen() string { return "" }

// ReachCall implements bot.Reacher.
func (a *Adapter) ReachCall() string { return "auth.test" }
