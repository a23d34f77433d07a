package bot

// Form is a small dialog an adapter opens for the one user whose command
// or click it is answering: a Slack modal (views.open with the
// interaction's trigger_id), a Mattermost interactive dialog
// (OpenInteractiveDialog with its trigger_id). The router uses it to ask
// an approver for the current code of their authenticator app before an
// approval that needs re-authentication counts.
//
// What the user submits comes back to the Handler as an Action (see
// Action.Fields) with the Form's ActionID and Value, after the adapter
// authenticated the submission as it does a click (Slack's request
// signature; on Mattermost an HMAC over the dialog's state, bound to the
// user it was opened for). Like a button, a Form carries only an action
// and an opaque request ID, never a command.
type Form struct {
	// ActionID and Value come back in the submission's Action.
	ActionID string `json:"action_id"`
	Value    string `json:"value"`
	// Title is the dialog's heading (plain, at most 24 characters: Slack's
	// limit for a modal title).
	Title string `json:"title"`
	// Intro is shown above the fields.
	Intro Text `json:"intro,omitempty"`
	// Fields are the inputs, in order.
	Fields []FormField `json:"fields"`
	// Submit labels the submit button.
	Submit string `json:"submit"`
}

// FormField is one text input of a Form.
type FormField struct {
	// Name is the key of the value in Action.Fields.
	Name  string `json:"name"`
	Label string `json:"label"`
	// Hint is shown under or in the input.
	Hint string `json:"hint,omitempty"`
	// MinLength and MaxLength bound the text the platform accepts (0: no
	// bound).
	MinLength int `json:"min_length,omitempty"`
	MaxLength int `json:"max_length,omitempty"`
}
