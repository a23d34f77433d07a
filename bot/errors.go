package bot

import "errors"

// Readable is implemented by an error whose text is written for people: a
// refusal, or a failure told as a sentence with the next step. Adapters
// show a Handler's error, and the router shows an adapter's, only through
// UserText; any other error is a Go error (URLs, syscalls, JSON) that
// belongs in the log alone.
type Readable interface {
	error
	// UserText is what happened and what to do next, as a sentence;
	// `backticked` parts are shown as code (see Sentence).
	UserText() string
}

// UserError pairs a sentence for people with the Go error behind it. Its
// Error text carries both, for the log; UserText only the sentence.
type UserError struct {
	Text string // shown to people
	Err  error  // logged only; may be nil
}

func (e *UserError) Error() string {
	if e.Err == nil {
		return e.Text
	}
	return e.Text + " (" + e.Err.Error() + ")"
}

// UserText implements Readable.
func (e *UserError) UserText() string { return e.Text }

func (e *UserError) Unwrap() error { return e.Err }

// FailedText is what a person is shown of an error that is not Readable:
// the bot's own failure, whose details are in its log.
const FailedText = "Something went wrong inside the bot, so this was not done; the bot's log has the details. Try again, and if it happens again, ask whoever runs the bot to look at its log."

// TextFor is what a person may read of err: the UserText of the first
// Readable in its chain, or FailedText. readable is false in the second
// case, and the caller then logs err.
func TextFor(err error) (text string, readable bool) {
	var r Readable
	if errors.As(err, &r) {
		return r.UserText(), true
	}
	return FailedText, false
}

// Refusal is how a Handler's error is shown to its user: TextFor's text
// in ToneDanger, with who may approve instead when err is an
// ApproversNamer (the adapter shows them in its own mention syntax).
// readable is false when the caller must log err.
func Refusal(err error) (m Message, approvers []string, readable bool) {
	text, readable := TextFor(err)
	var an ApproversNamer
	if errors.As(err, &an) {
		approvers = an.Approvers()
	}
	return Message{Text: Sentence(text), Tone: ToneDanger}, approvers, readable
}

// ErrCredentialsRefused marks a platform's definitive refusal of the bot's
// own credentials (Slack invalid_auth, Mattermost 401): retrying cannot
// help, the configuration must change. serve stops at start on it.
var ErrCredentialsRefused = errors.New("the chat platform refused the bot's credentials")
