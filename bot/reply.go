package bot

// Reply is a Handler's answer to the one user who typed or clicked: one
// ephemeral message, or nothing. The handler returns it without any
// network I/O; the adapter delivers it in its platform's way (Slack: the
// slash command's HTTP body or Socket Mode ack payload, a click's
// response_url; Mattermost: the command's response body, the action's
// response; console: a line printed for that user). Everything else the
// command causes (posts, threads, edits) happens later, through Chat.
type Reply struct {
	// Message is shown to the user alone; nil: nothing to show.
	Message *Message `json:"message,omitempty"`
	// Approvers are user and group IDs who may approve instead (a
	// refusal of someone who is not an approver); the adapter names them
	// after the message in its own mention syntax.
	Approvers []string `json:"approvers,omitempty"`
	// Refused marks a refusal (bad input, policy); a refusal is audited by
	// the handler before it returns.
	Refused bool `json:"refused,omitempty"`
	// Err is the bot's own failure behind a FailedText reply, for the
	// adapter's log (never shown); nil otherwise.
	Err error `json:"-"`
	// Form, when set, is opened for the user instead of showing Message,
	// by an adapter with Capabilities.Forms (the router sets it only
	// then). If the platform refuses to open it (its trigger expired),
	// the adapter shows Message, which must therefore say what to type
	// instead. A Reply to a form's submission that is Refused is shown in
	// the open dialog where the platform can (Slack's response_action
	// errors, Mattermost's dialog error), so the user can try again.
	Form *Form `json:"form,omitempty"`
	// Files go to the user alone, by an adapter with
	// Capabilities.DirectFiles (a direct message from the bot), after the
	// Reply's Message is shown; the router sets them only then. Sending
	// them is the adapter's work after the ack.
	Files []File `json:"files,omitempty"`
}

// NoReply is a Reply that shows nothing: the command was accepted and its
// answer follows in the channel.
var NoReply = Reply{}

// Say is a Reply showing m.
func Say(m Message) Reply { return Reply{Message: &m} }

// IsZero reports whether r shows nothing.
func (r Reply) IsZero() bool { return r.Message == nil }

// WithApprovers is the message as an adapter shows it: after a refusal
// that names who may approve instead, a line "Who may approve: …" of
// mention spans, which each adapter renders in its own syntax (Slack
// <@U…> and user groups, Mattermost @user and ~channel).
func (r Reply) WithApprovers() Message {
	if r.Message == nil {
		return Message{}
	}
	m := *r.Message
	if len(r.Approvers) > 0 {
		who := make([]Text, len(r.Approvers))
		for i, id := range r.Approvers {
			who[i] = Mention(id)
		}
		m.Text = Join(m.Text, Plain("\nWho may approve: "), JoinWith(", ", who...))
	}
	return m
}

// ReplyFor is how err is shown to the user who typed or clicked: its
// Readable sentence in ToneDanger, marked Refused, with who may approve
// instead when err is an ApproversNamer; any other error becomes
// FailedText with Err set, for the log. A nil err is NoReply.
func ReplyFor(err error) Reply {
	if err == nil {
		return NoReply
	}
	m, approvers, readable := Refusal(err)
	r := Reply{Message: &m, Approvers: approvers, Refused: readable}
	if !readable {
		r.Err = err
	}
	return r
}
