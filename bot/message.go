package bot

import (
	"bytes"
	"io"
)

// Tone colours a message where the platform can (Slack attachment colour,
// Mattermost attachment colour, a console marker).
type Tone string

const (
	ToneNone    Tone = ""
	ToneInfo    Tone = "info"
	ToneSuccess Tone = "success"
	ToneWarning Tone = "warning"
	ToneDanger  Tone = "danger"
)

// Message is the one message model every adapter renders. Its text is
// structured (Text: plain, bold, code, link, mention and time spans), never
// platform markup; plain line breaks ("\n" in a span) are kept. Each
// adapter renders the spans in its own syntax and escapes plain text, so
// text people typed is always shown literally.
type Message struct {
	// Title is a heading; platforms show it unformatted (spans' text only).
	Title  Text    `json:"title,omitempty"`
	Text   Text    `json:"text,omitempty"`
	Fields []Field `json:"fields,omitempty"`
	// Code is shown as a preformatted block (a summary of output, a command).
	Code string `json:"code,omitempty"`
	Tone Tone   `json:"tone,omitempty"`
	// Mentions are user IDs to notify (approvers), and approver group IDs
	// (a Slack user group, a Mattermost channel) to name; adapters render
	// them in their own mention syntax.
	Mentions []string `json:"mentions,omitempty"`
	// Buttons carry only an action ID and an opaque value (a request ID).
	Buttons []Button `json:"buttons,omitempty"`
	// Context is small print under the message (IDs, times).
	Context Text `json:"context,omitempty"`
}

// Field is a labelled value shown side by side with others where the
// platform can.
type Field struct {
	Label string `json:"label"`
	Value Text   `json:"value"`
	Short bool   `json:"short,omitempty"`
}

// ButtonStyle hints how prominent a button is.
type ButtonStyle string

const (
	StyleDefault ButtonStyle = ""
	StylePrimary ButtonStyle = "primary"
	StyleDanger  ButtonStyle = "danger"
)

// Button is a clickable action. ActionID is one of the Action* constants;
// Value is an opaque request ID and never a command.
type Button struct {
	ActionID string      `json:"action_id"`
	Label    string      `json:"label"`
	Value    string      `json:"value"`
	Style    ButtonStyle `json:"style,omitempty"`
}

// File is an attachment, for output too long for a message. Its content
// is read through Open rather than held in memory, so an attachment can be
// as large as a job's output (the router spools it to disk).
type File struct {
	Name  string `json:"name"`
	Title string `json:"title,omitempty"`
	// Size is the number of bytes Open's reader yields.
	Size int64 `json:"size"`
	// Open returns a new reader over the whole content, from its start.
	// An upload calls it once per attempt, so a retry sends the whole file.
	Open func() (io.Reader, error) `json:"-"`
}

// BytesFile is a File whose content is b.
func BytesFile(name, title string, b []byte) File {
	return File{Name: name, Title: title, Size: int64(len(b)), Open: func() (io.Reader, error) { return bytes.NewReader(b), nil }}
}

// Empty reports whether f has nothing to upload.
func (f File) Empty() bool { return f.Size <= 0 || f.Open == nil }
