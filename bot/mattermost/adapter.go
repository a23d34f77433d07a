package mattermost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// Adapter implements bot.Chat on the Mattermost REST API with the bot
// account's token, serves the inbound endpoints (HTTPHandler) and resolves
// approver groups as channel membership (IsMember). It is safe for
// concurrent use.
type Adapter struct {
	cfg    Config
	opt    Options
	log    *slog.Logger
	client *model.Client4
	signer signer
	tokens [][32]byte // SHA-256 of each command token, compared in constant time

	sources callbackSources // who may call ActionsPath

	posts *postCache
	users *userCache // user ID -> username
	chans *userCache // approver channel ID -> channel name
	me    *botIdentity

	states signer      // seals and checks dialog states (state.go)
	used   *usedStates // dialog states already submitted

	bg sync.WaitGroup // work after a response was written (direct files)

	// sleep waits between retries; tests replace it to record the waits
	// without spending them.
	sleep func(ctx context.Context, d time.Duration) error
}

var (
	_ bot.Chat        = (*Adapter)(nil)
	_ bot.Permalinker = (*Adapter)(nil)
)

// New checks cfg and returns an Adapter. Its only network call is
// resolving the server's host name when Config.CallbackSources is empty; a
// bad token shows on the first post.
func New(cfg Config, opt Options) (*Adapter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opt = opt.withDefaults()
	sources, err := parseSources(cfg.CallbackSources)
	if err != nil {
		return nil, fmt.Errorf("mattermost: %w", err)
	}
	if len(sources) == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), opt.CallTimeout)
		sources, err = serverSources(ctx, cfg.URL)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("mattermost: %w", err)
		}
	}
	client := model.NewAPIv4Client(cfg.URL)
	client.SetToken(cfg.BotToken)
	client.HTTPClient = opt.HTTPClient
	a := &Adapter{
		cfg:    cfg,
		opt:    opt,
		log:    opt.Logger.With("platform", Platform),
		client: client,
		signer: newSigner(cfg.ActionSecret),
		tokens: hashTokens(cfg.CommandTokens),
		posts:  newPostCache(4096),
		users:  newUserCache(1024, opt.UserCacheTTL, time.Now),
		chans:  newUserCache(256, opt.UserCacheTTL, time.Now),
		me:     &botIdentity{},
		states: newStateSigner(cfg.ActionSecret),
		used:   newUsedStates(100_000),
		sleep:  sleepCtx,
	}
	a.sources = sources
	opt.Logger.Info("mattermost button callbacks are accepted from these addresses only", "callback_sources", a.sources.String())
	return a, nil
}

// Platform implements bot.Chat.
func (a *Adapter) Platform() string { return Platform }

// PostRoot implements bot.Chat: a new top-level post by the bot account.
func (a *Adapter) PostRoot(ctx context.Context, channel string, m bot.Message) (bot.Ref, error) {
	return a.create(ctx, channel, "", m)
}

// Reply implements bot.Chat: a post in root's thread. Mattermost refuses a
// RootId that is itself a reply, so a reply's ID is mapped to its root.
func (a *Adapter) Reply(ctx context.Context, root bot.Ref, m bot.Message) (bot.Ref, error) {
	if root.IsZero() {
		return bot.Ref{}, errors.New("mattermost: reply without a root post")
	}
	return a.create(ctx, root.Channel, a.threadRoot(ctx, root.ID), m)
}

// create posts m. A post with buttons is created without them and then
// patched: the buttons' HMAC binds the post ID, which exists only once
// the post does.
func (a *Adapter) create(ctx context.Context, channel, rootID string, m bot.Message) (bot.Ref, error) {
	if !model.IsValidId(channel) {
		return bot.Ref{}, fmt.Errorf("mattermost: %q is not a channel ID", channel)
	}
	if err := checkButtons(m.Buttons); err != nil {
		return bot.Ref{}, err
	}
	first := m
	first.Buttons = nil
	r, err := a.render(ctx, first, nil)
	if err != nil {
		return bot.Ref{}, err
	}
	post := &model.Post{ChannelId: channel, RootId: rootID, Message: r.message, PendingPostId: model.NewId()}
	if len(r.attachments) > 0 {
		post.AddProp(model.PostPropsAttachments, r.attachments)
	}
	var created *model.Post
	if _, err := a.call(ctx, "create post", retryAll, a.opt.CallTimeout, func(ctx context.Context) (*model.Response, error) {
		var resp *model.Response
		var err error
		created, resp, err = a.client.CreatePost(ctx, post)
		return resp, err
	}); err != nil {
		return bot.Ref{}, err
	}
	if created == nil || !model.IsValidId(created.Id) {
		return bot.Ref{}, errors.New("mattermost create post: the server answered without a post ID")
	}
	a.posts.remember(created)
	ref := bot.Ref{Channel: channel, ID: created.Id}
	if len(m.Buttons) > 0 {
		if err := a.Update(ctx, ref, m); err != nil {
			return ref, fmt.Errorf("mattermost: post %s was created but its buttons could not be added: %w", ref.ID, err)
		}
	}
	return ref, nil
}

// Update implements bot.Chat. PatchPost replaces all of the post's props,
// so the new attachments (with or without buttons) replace the old ones;
// the props the server set at creation (from_bot) are carried over.
func (a *Adapter) Update(ctx context.Context, ref bot.Ref, m bot.Message) error {
	if !model.IsValidId(ref.ID) || !model.IsValidId(ref.Channel) {
		return fmt.Errorf("mattermost: cannot update %q in %q: not a post and channel ID", ref.ID, ref.Channel)
	}
	if err := checkButtons(m.Buttons); err != nil {
		return err
	}
	r, err := a.render(ctx, m, &binding{postID: ref.ID, channelID: ref.Channel})
	if err != nil {
		return err
	}
	props := a.retainedProps(ctx, ref.ID)
	if len(r.attachments) > 0 {
		props[model.PostPropsAttachments] = r.attachments
	}
	err = a.patch(ctx, ref.ID, &model.PostPatch{Message: &r.message, Props: &props})
	var appErr *model.AppError
	if errors.As(err, &appErr) && appErr.Id == editTimeLimitError {
		// ServiceSettings.PostEditTimeLimit forbids editing the message of
		// older posts, but not their props: the update then lives in the
		// attachment alone, so buttons still go and outcomes still show.
		a.log.Warn("Mattermost's PostEditTimeLimit refuses message edits; updating the attachment only", "post", ref.ID)
		if len(r.attachments) == 0 {
			props[model.PostPropsAttachments] = []*model.MessageAttachment{a.people(ctx, m).attachmentOf(m, nil)}
		}
		err = a.patch(ctx, ref.ID, &model.PostPatch{Props: &props})
	}
	return err
}

// editTimeLimitError is the AppError ID of a message edit refused by
// ServiceSettings.PostEditTimeLimit.
const editTimeLimitError = "api.post.update_post.permissions_time_limit.app_error"

func (a *Adapter) patch(ctx context.Context, id string, patch *model.PostPatch) error {
	_, err := a.call(ctx, "patch post", retryAll, a.opt.CallTimeout, func(ctx context.Context) (*model.Response, error) {
		_, resp, err := a.client.PatchPost(ctx, id, patch)
		return resp, err
	})
	return err
}

// Upload implements bot.Chat: the file goes into root's channel and a post
// in the thread carries it.
func (a *Adapter) Upload(ctx context.Context, root bot.Ref, f bot.File, comment string) error {
	if root.IsZero() || !model.IsValidId(root.Channel) {
		return fmt.Errorf("mattermost: cannot upload %q: no root post and channel", f.Name)
	}
	return a.upload(ctx, root.Channel, a.threadRoot(ctx, root.ID), f, comment)
}

// upload puts f into channel, in a post in the thread of rootID ("": a
// post of its own) that carries comment.
func (a *Adapter) upload(ctx context.Context, channel, rootID string, f bot.File, comment string) error {
	if f.Empty() {
		return fmt.Errorf("mattermost: %q is empty; there is nothing to upload", f.Name)
	}
	name := fileName(f.Name)
	size, content := uploadContent(f, a.opt.MaxUploadBytes)
	// An upload session streams the file: the bot never holds it in
	// memory, whatever its size. Each attempt starts a new session and
	// sends the whole file.
	var info *model.FileInfo
	if _, err := a.call(ctx, "upload file", retryAll, a.opt.UploadTimeout, func(ctx context.Context) (*model.Response, error) {
		us, resp, err := a.client.CreateUpload(ctx, &model.UploadSession{Type: model.UploadTypeAttachment, ChannelId: channel, Filename: name, FileSize: size})
		if err != nil {
			return resp, err
		}
		r, err := content()
		if err != nil {
			return nil, fmt.Errorf("reading %q: %w", name, err)
		}
		info, resp, err = a.client.UploadData(ctx, us.Id, r)
		if err == nil && info == nil {
			err = fmt.Errorf("the server kept only part of %q", name)
		}
		return resp, err
	}); err != nil {
		return err
	}
	msg := people{}.markdownOf(bot.Sentence(strings.TrimSpace(comment)))
	if f.Title != "" {
		msg = joinNonEmpty(" · ", bot.Enclose("**", escapeMarkdown(f.Title, false)), msg)
	}
	post := &model.Post{
		ChannelId: channel, RootId: rootID, Message: noSlackLinks(truncateRunes(msg, maxMessageRunes)),
		FileIds: model.StringArray{info.Id}, PendingPostId: model.NewId(),
	}
	_, err := a.call(ctx, "create file post", retryAll, a.opt.CallTimeout, func(ctx context.Context) (*model.Response, error) {
		p, resp, err := a.client.CreatePost(ctx, post)
		if err == nil {
			a.posts.remember(p)
		}
		return resp, err
	})
	return err
}

// fileName keeps the base name of a file and replaces what Mattermost or a
// downloader's file system would trip on.
func fileName(name string) string {
	name = path.Base(strings.ReplaceAll(strings.TrimSpace(name), `\`, "/"))
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(`/\:*?"<>|`, r) {
			return '_'
		}
		return r
	}, name)
	if name == "" || name == "." || name == ".." || name == "/" {
		return "output.txt"
	}
	return name
}

// uploadContent returns the size and the reader of what is uploaded of f:
// all of it, or its first limit bytes ending with a note that says so.
func uploadContent(f bot.File, limit int64) (int64, func() (io.Reader, error)) {
	if f.Size <= limit {
		return f.Size, func() (io.Reader, error) {
			r, err := f.Open()
			if err != nil {
				return nil, err
			}
			return io.LimitReader(r, f.Size), nil
		}
	}
	note := fmt.Sprintf("\n--- cut here at the %d bytes Mattermost accepts; the full output is %d bytes, the agent keeps it ---\n", limit, f.Size)
	keep := max(limit-int64(len(note)), 0)
	return keep + int64(len(note)), func() (io.Reader, error) {
		r, err := f.Open()
		if err != nil {
			return nil, err
		}
		return io.MultiReader(io.LimitReader(r, keep), strings.NewReader(note)), nil
	}
}

// Permalink implements bot.Permalinker: the server's permalink route,
// which opens the post in whichever team it belongs to. No API call: the
// link is made from url and the post ID.
func (a *Adapter) Permalink(_ context.Context, ref bot.Ref) (string, error) {
	return strings.TrimSuffix(a.cfg.URL, "/") + "/_redirect/pl/" + ref.ID, nil
}
