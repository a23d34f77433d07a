package golden

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// Message is m as a golden file shows it: JSON with one line per part,
// each text's spans on that line (bot.Text's JSON: plain text as strings,
// other spans as one-key objects), so that a change of wording reads as
// one changed line.
func Message(m bot.Message) []byte {
	var b bytes.Buffer
	b.WriteString("{\n")
	first := true
	put := func(key string, v any) {
		if !first {
			b.WriteString(",\n")
		}
		first = false
		fmt.Fprintf(&b, "  %q: %s", key, compact(v))
	}
	if len(m.Title) > 0 {
		put("title", m.Title)
	}
	if len(m.Text) > 0 {
		put("text", m.Text)
	}
	if len(m.Fields) > 0 {
		if !first {
			b.WriteString(",\n")
		}
		first = false
		b.WriteString("  \"fields\": [\n")
		for i, f := range m.Fields {
			b.WriteString("    " + compact(f))
			if i < len(m.Fields)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString("  ]")
	}
	if m.Code != "" {
		put("code", m.Code)
	}
	if m.Tone != "" {
		put("tone", m.Tone)
	}
	if len(m.Mentions) > 0 {
		put("mentions", m.Mentions)
	}
	if len(m.Buttons) > 0 {
		put("buttons", m.Buttons)
	}
	if len(m.Context) > 0 {
		put("context", m.Context)
	}
	b.WriteString("\n}\n")
	return b.Bytes()
}

// compact is v as one line of JSON, with <, > and & as they are.
func compact(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprintf("%q", "cannot encode: "+err.Error())
	}
	return string(bytes.TrimRight(b.Bytes(), "\n"))
}
