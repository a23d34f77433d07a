package bot

import "context"

// Adapter is one chat platform as the bot runs it: what it is called, how
// it receives commands and clicks (Run), how the router talks back to it
// (Chat), how approver groups are checked on it (Groups) and what it can
// show (Capabilities). A new platform is one package under bot/ with one
// type implementing Adapter; serve and the console build adapters from
// the configuration through a list of constructors and wire each the same
// way, so nothing outside that package names the platform.
type Adapter interface {
	// Name is the platform's name ("slack", "mattermost", "console"); it
	// is Chat().Platform() and the Platform of every Command and Action
	// the adapter hands to a Handler.
	Name() string
	// Run receives commands and clicks until ctx ends, hands each to h
	// after authenticating it, and delivers the Reply h returns in the
	// platform's own way (the response body, an ephemeral post, a line
	// for that user). It returns nil when ctx ends, or the error that
	// stopped it. An adapter whose input arrives on serve's HTTP server
	// (see HTTPRoutes) serves those routes only while Run runs.
	Run(ctx context.Context, h Handler) error
	// Chat is how the router posts, replies, edits, uploads and notifies
	// on this platform.
	Chat() Chat
	// Groups answers approver-group membership for this platform's own
	// groups; nil when the platform has no groups.
	Groups() GroupResolver
	// Capabilities says what the platform can show; the router degrades
	// where one is missing.
	Capabilities() Capabilities
}

// GroupResolver answers whether a user belongs to one of the platform's
// groups (a Slack user group, a Mattermost team or channel). It has the
// shape of approvals.GroupResolver, so an adapter's resolver is given to
// the approvals service as it is.
type GroupResolver interface {
	IsMember(ctx context.Context, group string, userID string) (bool, error)
}

// Capabilities are what a platform can show. Each missing one has a
// degraded form the router uses instead (commands/degrade.go):
//   - no Ephemeral: a Reply and Notify are shown to everyone in the
//     channel, addressed to the user;
//   - no Edits: progress is posted as a few new replies instead of one
//     message edited in place;
//   - no Uploads: a truncated excerpt of the output is posted in the
//     thread, saying it was cut;
//   - no Buttons: the message shows the commands to type
//     (`/gitlab-migrations approve <id>`);
//   - no Threads: replies are root posts that name their request;
//   - no Forms: instead of a dialog asking for a value, the user is told
//     the command to type with it (`approve <id> --code NNNNNN`);
//   - no DirectFiles: a Reply's Files are not sent; the Message says what
//     they held in words (an enrolment's otpauth:// URI without its QR
//     code).
type Capabilities struct {
	Ephemeral bool `json:"ephemeral"`
	Edits     bool `json:"edits"`
	Uploads   bool `json:"uploads"`
	Buttons   bool `json:"buttons"`
	Threads   bool `json:"threads"`
	// Forms: the adapter opens a Reply's Form (a modal or dialog) for the
	// user it answers, and hands its submission to the Handler.
	Forms bool `json:"forms,omitempty"`
	// DirectFiles: the adapter sends a Reply's Files to that user alone
	// (a direct message from the bot).
	DirectFiles bool `json:"direct_files,omitempty"`
}

// AllCapabilities is a platform that can show everything (Slack,
// Mattermost).
var AllCapabilities = Capabilities{Ephemeral: true, Edits: true, Uploads: true, Buttons: true, Threads: true}

// Capable is implemented by a Chat that knows its platform's
// capabilities (every adapter's Chat does); the router asks it, and a
// Chat without it is taken as AllCapabilities.
type Capable interface{ Capabilities() Capabilities }

// CapabilitiesOf is c's Capabilities, or AllCapabilities when c does not
// say.
func CapabilitiesOf(c Chat) Capabilities {
	if cc, ok := c.(Capable); ok {
		return cc.Capabilities()
	}
	return AllCapabilities
}
