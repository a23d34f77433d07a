// Package bottest is the conformance kit every chat adapter runs: one
// fixture of every message the router builds, rendered by the adapter into
// a golden file of its own (testdata/bottest/*.golden in the adapter's
// folder), and RunAdapterSuite, the behaviour every adapter owes the
// router and the people using it.
//
// An adapter supplies a Harness: its renderer, and a way to start it
// against its platform (a fake platform server on loopback that follows the
// platform's documented API) and to act as that platform: deliver a slash
// command, forge one, and say what the platform now shows.
package bottest

import (
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// Harness is what an adapter's test gives RunAdapterSuite.
type Harness struct {
	// Caps says what the platform can do; the suite expects a graceful
	// degradation where it cannot.
	Caps Caps
	// Render is the adapter's own rendering of m, as its platform
	// receives it (JSON for an API, text for a terminal), for the goldens.
	Render func(m bot.Message) ([]byte, error)
	// RenderForm is the adapter's rendering of a Form as its platform
	// receives it (a Slack modal, a Mattermost dialog), for the goldens;
	// nil for a platform without forms.
	RenderForm func(f bot.Form) ([]byte, error)
	// Start starts the adapter against its platform with h as the
	// handler of everything that comes in; it stops at the test's end.
	Start func(t *testing.T, h bot.Handler) *Conn
}

// Caps are the capabilities of a platform that change what the suite
// expects.
type Caps struct {
	// AckBudget is how long the platform waits for the adapter's answer
	// to a slash command before it tells the user it failed (Slack 3 s).
	// Zero: the platform waits for no answer (a terminal).
	AckBudget time.Duration
	// Edits: the bot can edit its own posts in place. Without it, Update
	// must still show the new content (e.g. as a new post in the thread).
	Edits bool
	// Uploads: files are attached whole. Without it, Upload must show an
	// excerpt of the content in the thread.
	Uploads bool
}

// Conn is one adapter started against its platform.
type Conn struct {
	// Adapter is the adapter, started with Run, once it implements
	// bot.Adapter (nil until then); the suite then checks that it says
	// what it is and can do consistently with what it does.
	Adapter bot.Adapter
	// Chat is the adapter as the router uses it (Adapter.Chat()).
	Chat bot.Chat
	// Channel is a channel the bot may post in; User a user who may type
	// commands there (IDs in the platform's own shape).
	Channel string
	User    bot.User
	// Approver is a user the platform knows, named in a refusal as who
	// may approve instead.
	Approver bot.User
	// Command delivers text as typed by User in Channel, authenticated as
	// the platform does, and returns when the platform has the adapter's
	// answer, with the text the user saw in that answer (empty if the
	// platform shows none, or shows it through the API: see Seen).
	Command func(text string) (answer string, err error)
	// Click clicks the button actionID on the post ref as User, as the
	// platform delivers a click, and returns the text the user saw in the
	// platform's answer (as Command). Nil when the platform has no buttons.
	Click func(ref bot.Ref, actionID string) (answer string, err error)
	// StallAPI makes the platform's API (posting, ephemeral messages)
	// hang from now until the test ends, so that an adapter that called
	// it before answering a command would miss its budget. Nil when the
	// platform has no API (a terminal).
	StallAPI func()
	// Seen is everything the platform shows now, in posting order.
	Seen func() []Post
	// Forgeries are inbound requests with bad credentials. An adapter
	// whose input does not come over a network (a terminal) has none.
	Forgeries []Forgery
	// Forms lists the forms the platform opened, in order; Submit submits
	// one as User with the values typed into its fields, as the platform
	// delivers a submission, and returns the text the user saw in the
	// platform's answer (an error shown in the open form); ForgeSubmit
	// sends a submission of it with bad credentials (a wrong signature,
	// an altered state) and reports whether the adapter refused it as
	// forged. All nil when the platform has no forms.
	Forms       func() []OpenForm
	Submit      func(f OpenForm, fields map[string]string) (answer string, err error)
	ForgeSubmit func(f OpenForm) (refused bool, err error)
}

// OpenForm is a form the platform opened.
type OpenForm struct {
	// ID is the platform's handle of the open form (a view ID, an index).
	ID string
	// User is whom it was opened for.
	User  string
	Title string
}

// Post is one thing the platform shows.
type Post struct {
	ID      string
	Channel string
	// Root is the root's ID for a thread reply, "" for a root post.
	Root string
	// Text is what people read, as the platform shows it.
	Text string
	// Ephemeral posts are seen by User alone.
	Ephemeral bool
	User      string
	// Buttons is how many clickable buttons the post carries.
	Buttons int
	// File, Size and Content are an attachment's name, size and bytes
	// (Content nil when the platform keeps no content, e.g. a terminal).
	File    string
	Size    int64
	Content []byte
	// Edits is how often the post was edited in place.
	Edits int
	// Direct: the post is in a direct message between the bot and User,
	// which nobody else sees.
	Direct bool
}

// Forgery is one kind of inbound request with bad credentials (a wrong
// signature, token or HMAC).
type Forgery struct {
	Name string
	// Send delivers the forged request. With garbage its body is not even
	// parseable. refused reports that the adapter answered with its
	// refusal of bad credentials: where the platform sends them outside
	// the body (a signature or token header), a garbage body must get
	// that same refusal, not a parse error, which proves they were checked
	// before the body was parsed.
	Send func(garbage bool) (refused bool, err error)
}
