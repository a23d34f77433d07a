package bot

// User is a chat user. ID is the platform's immutable user ID and is the only
// thing authorisation looks at; Name is for display.
type User struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Ref points at one message the bot posted: a Slack channel and ts, a
// Mattermost channel and post ID, a console post number.
type Ref struct {
	Channel string `json:"channel"`
	ID      string `json:"id"`
}

// IsZero reports whether r points nowhere.
func (r Ref) IsZero() bool { return r.ID == "" }

// Command is one slash command as typed, after the adapter authenticated the
// request.
type Command struct {
	Platform string // "slack", "mattermost", "console"
	User     User
	Channel  string
	// Text is everything after the command word, e.g. "status --db ci".
	Text string
}

// Action is one button click, after the adapter authenticated it (Slack
// signature, Mattermost context HMAC bound to the post).
type Action struct {
	Platform string
	User     User
	// Message is the message that carries the button.
	Message Ref
	// ActionID is the button's action (ActionApprove, ActionDeny); Value
	// is the opaque request ID it carries. Nothing else comes from a button.
	ActionID string
	Value    string
	// Fields are the values of a Form's submission, by FormField.Name;
	// nil for a click. A submission is an Action with the Form's ActionID
	// and Value.
	Fields map[string]string
}

// Button action IDs. They are letters only, which both platforms accept
// (Mattermost routes action IDs matching [A-Za-z0-9]+).
const (
	ActionApprove = "approve"
	ActionDeny    = "deny"
)
