package bot

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Text is structured message text: a sequence of spans, never platform
// markup. Each adapter renders the spans in its own format and escapes
// every plain span, which is where text people typed (a reason, a name)
// goes: no character of it can format, link or ping on any platform.
type Text []Span

// SpanKind says what a span is.
type SpanKind uint8

const (
	// SpanPlain is text shown as is; adapters escape it.
	SpanPlain SpanKind = iota
	// SpanBold is text shown strong.
	SpanBold
	// SpanCode is inline code (a command, an ID).
	SpanCode
	// SpanLink is a link: URL, shown as Text (the URL when Text is empty).
	SpanLink
	// SpanMention names a user or group by its platform ID (ID), in the
	// platform's mention syntax.
	SpanMention
	// SpanTime is a moment (At), shown in the reader's time zone where the
	// platform can (Slack), otherwise in UTC with the zone named.
	SpanTime
	// SpanPre is a preformatted block (pretty JSON in a field), on lines
	// of its own.
	SpanPre
)

// TimeStyle is how much of a SpanTime is shown.
type TimeStyle uint8

const (
	// Clock shows the time of day with seconds: 15:04:05 UTC.
	Clock TimeStyle = iota
	// ClockMinutes shows the time of day to the minute: 15:04 UTC.
	ClockMinutes
	// DateClock shows the date and the time with seconds:
	// 2006-01-02 15:04:05 UTC.
	DateClock
)

// Span is one piece of Text. Which fields matter depends on Kind.
type Span struct {
	Kind  SpanKind
	Text  string    // plain, bold, code: the text; link: the label
	URL   string    // link
	ID    string    // mention: a user or group ID
	At    time.Time // time
	Style TimeStyle // time
}

// Plain is text shown as is (escaped by every adapter).
func Plain(s string) Text {
	if s == "" {
		return nil
	}
	return Text{{Kind: SpanPlain, Text: s}}
}

// Bold is text shown strong.
func Bold(s string) Text {
	if s == "" {
		return nil
	}
	return Text{{Kind: SpanBold, Text: s}}
}

// Code is inline code.
func Code(s string) Text {
	if s == "" {
		return nil
	}
	return Text{{Kind: SpanCode, Text: s}}
}

// Pre is a preformatted block on lines of its own.
func Pre(s string) Text {
	if s == "" {
		return nil
	}
	return Text{{Kind: SpanPre, Text: s}}
}

// Link is a link to url shown as label (the URL itself when label is "").
func Link(url, label string) Text { return Text{{Kind: SpanLink, URL: url, Text: label}} }

// Mention names a user or group by its platform ID.
func Mention(id string) Text { return Text{{Kind: SpanMention, ID: id}} }

// Time is a moment shown in style, in the reader's time zone where the
// platform can.
func Time(t time.Time, style TimeStyle) Text {
	return Text{{Kind: SpanTime, At: t, Style: style}}
}

// Join concatenates texts.
func Join(parts ...Text) Text {
	var out Text
	for _, p := range parts {
		out = out.appendSpans(true, p...)
	}
	return out
}

// JoinWith concatenates texts with a plain separator between them.
func JoinWith(sep string, parts ...Text) Text {
	var out Text
	for i, p := range parts {
		if i > 0 {
			out = out.appendSpans(true, Plain(sep)...)
		}
		out = out.appendSpans(true, p...)
	}
	return out
}

// Append adds spans to t, merging adjacent spans of the same kind so that
// text built piece by piece stays compact.
func (t Text) Append(spans ...Span) Text { return t.appendSpans(false, spans...) }

// appendSpans is Append. owned says that no other Text shares t's array
// (Join's and JoinWith's result, which starts empty): a merge then
// rewrites the last span in place. Otherwise a merge copies t first, so
// that a Text appended to never changes another one; joining a thousand
// lines that way copied the whole text at every line (`pending` with 1,000
// requests, figure P7).
func (t Text) appendSpans(owned bool, spans ...Span) Text {
	for _, s := range spans {
		if (s.Kind <= SpanCode || s.Kind == SpanPre) && s.Text == "" {
			continue
		}
		if n := len(t); n > 0 && s.Kind <= SpanBold && t[n-1].Kind == s.Kind {
			if owned {
				t[n-1].Text += s.Text
			} else {
				t = append(t[:n-1:n-1], Span{Kind: s.Kind, Text: t[n-1].Text + s.Text})
			}
			continue
		}
		t = append(t, s)
	}
	return t
}

// Textf formats like fmt.Sprintf, except that an argument that is a Text
// (or a Span) is inserted as its spans, whatever its verb. Everything else
// becomes plain text: the format itself and formatted values alike.
func Textf(format string, args ...any) Text {
	var out Text
	var lit strings.Builder
	flush := func() {
		out = out.Append(Plain(lit.String())...)
		lit.Reset()
	}
	next := 0
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			lit.WriteByte(c)
			continue
		}
		j := i + 1
		for j < len(format) && strings.IndexByte("+-# 0123456789.*[]", format[j]) >= 0 {
			j++
		}
		if j >= len(format) {
			lit.WriteString(format[i:])
			break
		}
		verb := format[i : j+1]
		i = j
		if verb == "%%" {
			lit.WriteByte('%')
			continue
		}
		if next >= len(args) {
			lit.WriteString("%!" + verb[len(verb)-1:] + "(MISSING)")
			continue
		}
		switch a := args[next].(type) {
		case Text:
			flush()
			out = out.Append(a...)
		case Span:
			flush()
			out = out.Append(a)
		default:
			lit.WriteString(fmt.Sprintf(verb, a))
		}
		next++
	}
	flush()
	return out
}

// IsEmpty reports whether t shows nothing.
func (t Text) IsEmpty() bool {
	for _, s := range t {
		if (s.Kind > SpanCode && s.Kind != SpanPre) || s.Text != "" {
			return false
		}
	}
	return true
}

// UTC is how a moment reads where the platform cannot show it in the
// reader's zone: in UTC, the zone named.
func (s Span) UTC() string {
	switch s.Style {
	case ClockMinutes:
		return s.At.UTC().Format("15:04 UTC")
	case DateClock:
		return s.At.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	return s.At.UTC().Format("15:04:05 UTC")
}

// PlainString is t as unformatted text, for places that show no markup
// at all (a Slack header, a notification, a terminal): the spans' text,
// a link as "label (URL)", a mention as @ID, a time in UTC.
func (t Text) PlainString() string {
	var b strings.Builder
	for _, s := range t {
		switch s.Kind {
		case SpanLink:
			switch {
			case s.Text == "" || s.Text == s.URL:
				b.WriteString(s.URL)
			default:
				b.WriteString(s.Text + " (" + s.URL + ")")
			}
		case SpanMention:
			b.WriteString("@" + s.ID)
		case SpanTime:
			b.WriteString(s.UTC())
		default:
			b.WriteString(s.Text)
		}
	}
	return b.String()
}

// String is a debugging form, for tests and logs, never sent to a
// platform: *bold*, `code`, <URL|label>, <@ID>, a time in UTC.
func (t Text) String() string {
	var b strings.Builder
	for _, s := range t {
		switch s.Kind {
		case SpanBold:
			b.WriteString("*" + s.Text + "*")
		case SpanCode:
			b.WriteString("`" + s.Text + "`")
		case SpanLink:
			b.WriteString("<" + s.URL + "|" + s.Text + ">")
		case SpanMention:
			b.WriteString("<@" + s.ID + ">")
		case SpanTime:
			b.WriteString(s.UTC())
		case SpanPre:
			b.WriteString("```\n" + s.Text + "\n```")
		default:
			b.WriteString(s.Text)
		}
	}
	return b.String()
}

// MarshalJSON writes text that is all plain as a string, anything else
// as an array of strings (plain) and one-key objects (bold, code, link,
// mention, time), so that goldens of messages stay readable.
func (t Text) MarshalJSON() ([]byte, error) {
	if len(t) == 1 && t[0].Kind == SpanPlain {
		return marshalText(t[0].Text)
	}
	if len(t) == 0 {
		return []byte(`""`), nil
	}
	out := make([]any, 0, len(t))
	for _, s := range t {
		switch s.Kind {
		case SpanPlain:
			out = append(out, s.Text)
		case SpanBold:
			out = append(out, map[string]string{"bold": s.Text})
		case SpanCode:
			out = append(out, map[string]string{"code": s.Text})
		case SpanLink:
			out = append(out, map[string]map[string]string{"link": {"url": s.URL, "label": s.Text}})
		case SpanMention:
			out = append(out, map[string]string{"mention": s.ID})
		case SpanTime:
			out = append(out, map[string]string{"time": s.At.UTC().Format(time.RFC3339)})
		case SpanPre:
			out = append(out, map[string]string{"pre": s.Text})
		}
	}
	return marshalText(out)
}

// marshalText is json.Marshal without HTML escaping: <, > and & read as
// they are in goldens (an encoder that escapes escapes them again).
func marshalText(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// Sentence is text written as error sentences are (Readable.UserText, Go
// error strings meant for people): its `backticked` parts are code, the
// rest plain. An unpaired backtick stays plain text.
func Sentence(s string) Text {
	var out Text
	for {
		i := strings.IndexByte(s, '`')
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i+1:], '`')
		if j < 0 {
			break
		}
		out = out.Append(Plain(s[:i])...).Append(Code(s[i+1 : i+1+j])...)
		s = s[i+2+j:]
	}
	return out.Append(Plain(s)...)
}

// Enclose puts an adapter's formatting marker around s, outside the
// spaces at its ends: markdown and mrkdwn format "*x* " but not "*x *".
func Enclose(marker, s string) string {
	inner := strings.TrimSpace(s)
	if inner == "" {
		return s
	}
	i := strings.Index(s, inner)
	return s[:i] + marker + inner + marker + s[i+len(inner):]
}
