package bot

import "context"

// Chat is what an adapter offers the router: the bot posts a root message
// itself (so it owns the thread and can edit it), replies only in that
// thread, edits its own messages after a decision, uploads long output as a
// file, and tells one user alone about their mistakes.
//
// Every method may block on the platform's rate limits; none may drop a
// message silently: an error is returned instead. An adapter makes its
// errors Readable (see UserError) where it can say what to do, e.g. invite
// the bot to the channel; the router shows nothing else of them.
type Chat interface {
	// Platform names the adapter ("slack", "mattermost", "console").
	Platform() string
	// PostRoot posts a new top-level message in channel.
	PostRoot(ctx context.Context, channel string, m Message) (Ref, error)
	// Reply posts m in the thread under root, which must be a root that
	// PostRoot returned (never a reply).
	Reply(ctx context.Context, root Ref, m Message) (Ref, error)
	// Update replaces the content of a message the bot posted, buttons
	// included: a Message without buttons removes them.
	Update(ctx context.Context, ref Ref, m Message) error
	// Upload attaches f to the thread under root.
	Upload(ctx context.Context, root Ref, f File, comment string) error
	// Notify shows m to user alone, in channel (ephemeral).
	Notify(ctx context.Context, channel string, user User, m Message) error
}

// Handler is what an adapter calls, after authenticating the input. Both
// methods return at once with a Reply for the user who typed or clicked
// and do no network I/O before they return: they parse, check policy and
// arguments, audit a refusal (a local store write), hand everything that
// waits (agents, chat posts) to the handler's own goroutines, and return.
// The adapter delivers the Reply its own way (see Reply); it never wraps
// the call in goroutines or deadlines of its own, so an adapter is only
// input, output and rendering. A handler finds the Chat to post on
// through the Platform of the Command or Action.
type Handler interface {
	HandleCommand(ctx context.Context, cmd Command) Reply
	HandleAction(ctx context.Context, act Action) Reply
}

// ApproversNamer is implemented by a Handler's refusal that should say who
// may approve instead (the user who clicked or typed is not an approver).
// Approvers are user and group IDs, as in Message.Mentions; an adapter
// shows them after the refusal's text, in its own mention syntax, when
// there are any.
type ApproversNamer interface{ Approvers() []string }

// Permalinker is implemented by an adapter that can link to a message it
// posted (Slack: chat.getPermalink; Mattermost: the server's permalink
// route), so that `show` can link a request's thread.
type Permalinker interface {
	Permalink(ctx context.Context, ref Ref) (string, error)
}
