package commands

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// capsChat is a chat of a platform with the given capabilities that
// records every call it gets, as the platform would show it.
type capsChat struct {
	caps bot.Capabilities

	mu    sync.Mutex
	n     int
	calls []string // "root m1 …", "reply m2 under m1 …", "edit m1 …", "upload …", "note U …"
}

func (c *capsChat) Platform() string               { return "caps" }
func (c *capsChat) Capabilities() bot.Capabilities { return c.caps }

func (c *capsChat) log(format string, args ...any) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	id := fmt.Sprintf("m%d", c.n)
	c.calls = append(c.calls, fmt.Sprintf(format, append([]any{id}, args...)...))
	return id
}

func shown(m bot.Message) string {
	var parts []string
	for _, p := range []string{m.Title.String(), m.Text.String(), m.Code, m.Context.String()} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	s := strings.Join(parts, " ")
	for _, b := range m.Buttons {
		s += " [" + b.ActionID + " " + b.Value + "]"
	}
	return s
}

func (c *capsChat) PostRoot(_ context.Context, ch string, m bot.Message) (bot.Ref, error) {
	return bot.Ref{Channel: ch, ID: c.log("root %s: %s", shown(m))}, nil
}

func (c *capsChat) Reply(_ context.Context, root bot.Ref, m bot.Message) (bot.Ref, error) {
	if !c.caps.Threads {
		return bot.Ref{}, fmt.Errorf("this platform has no threads")
	}
	return bot.Ref{Channel: root.Channel, ID: c.log("reply %s under "+root.ID+": %s", shown(m))}, nil
}

func (c *capsChat) Update(_ context.Context, ref bot.Ref, m bot.Message) error {
	if !c.caps.Edits {
		return fmt.Errorf("this platform cannot edit")
	}
	c.log("edit %s of "+ref.ID+": %s", shown(m))
	return nil
}

func (c *capsChat) Upload(_ context.Context, root bot.Ref, f bot.File, comment string) error {
	if !c.caps.Uploads {
		return fmt.Errorf("this platform takes no files")
	}
	c.log("upload %s under " + root.ID + ": " + f.Name)
	return nil
}

func (c *capsChat) Notify(_ context.Context, _ string, u bot.User, m bot.Message) error {
	if !c.caps.Ephemeral {
		return fmt.Errorf("this platform has no ephemeral messages")
	}
	c.log("note %s for "+u.ID+": %s", shown(m))
	return nil
}

func (c *capsChat) got() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.calls...)
}

func without(f func(*bot.Capabilities)) bot.Capabilities {
	c := bot.AllCapabilities
	f(&c)
	return c
}

// TestDegrade: what the router writes for a platform that can show
// everything reaches a platform lacking one capability in the form it
// can show, one capability at a time.
func TestDegrade(t *testing.T) {
	ctx := context.Background()
	card := bot.Message{Title: bot.Plain("migrate on gitlab-1, request r7k2qxa9"), Text: bot.Plain("alice asks"), Buttons: []bot.Button{{ActionID: bot.ActionApprove, Value: "r7k2qxa9"}, {ActionID: bot.ActionDeny, Value: "r7k2qxa9"}}}
	var lines []string
	for i := range 100 {
		lines = append(lines, fmt.Sprintf("line %d", i))
	}
	output := bot.BytesFile("migrate.log", "Output", []byte(strings.Join(lines, "\n")+"\n"))
	for _, tc := range []struct {
		name string
		caps bot.Capabilities
		want []string
	}{
		{"everything", bot.AllCapabilities, []string{
			"root m1: migrate on gitlab-1, request r7k2qxa9 alice asks [approve r7k2qxa9] [deny r7k2qxa9]",
			"reply m2 under m1: progress 1",
			"edit m3 of m2: progress 2",
			"edit m4 of m1: migrate on gitlab-1, request r7k2qxa9 approved",
			"upload m5 under m1: migrate.log",
			"note m6 for U1: only you",
		}},
		{"no edits: a new reply in the edited message's thread", without(func(c *bot.Capabilities) { c.Edits = false }), []string{
			"root m1: migrate on gitlab-1, request r7k2qxa9 alice asks [approve r7k2qxa9] [deny r7k2qxa9]",
			"reply m2 under m1: progress 1",
			"reply m3 under m1: progress 2",
			"reply m4 under m1: migrate on gitlab-1, request r7k2qxa9 approved",
			"upload m5 under m1: migrate.log",
			"note m6 for U1: only you",
		}},
		{"no uploads: an excerpt, saying it was cut", without(func(c *bot.Capabilities) { c.Uploads = false }), []string{
			"root m1: migrate on gitlab-1, request r7k2qxa9 alice asks [approve r7k2qxa9] [deny r7k2qxa9]",
			"reply m2 under m1: progress 1",
			"edit m3 of m2: progress 2",
			"edit m4 of m1: migrate on gitlab-1, request r7k2qxa9 approved",
			"reply m5 under m1: full output: migrate.log (790 bytes). This chat takes no files, so only its first lines (at most 40) follow; the rest was cut. line 0\n" + strings.Join(lines[1:40], "\n"),
			"note m6 for U1: only you",
		}},
		{"no buttons: the commands to type", without(func(c *bot.Capabilities) { c.Buttons = false }), []string{
			"root m1: migrate on gitlab-1, request r7k2qxa9 alice asks\nType `/gitlab-migrations approve r7k2qxa9` or `/gitlab-migrations deny r7k2qxa9`.",
			"reply m2 under m1: progress 1",
			"edit m3 of m2: progress 2",
			"edit m4 of m1: migrate on gitlab-1, request r7k2qxa9 approved",
			"upload m5 under m1: migrate.log",
			"note m6 for U1: only you",
		}},
		{"no threads: root posts naming the request", without(func(c *bot.Capabilities) { c.Threads = false }), []string{
			"root m1: migrate on gitlab-1, request r7k2qxa9 alice asks [approve r7k2qxa9] [deny r7k2qxa9]",
			"root m2: progress 1 Re: migrate on gitlab-1, request r7k2qxa9",
			"edit m3 of m2: progress 2",
			"edit m4 of m1: migrate on gitlab-1, request r7k2qxa9 approved",
			"upload m5 under m1: migrate.log",
			"note m6 for U1: only you",
		}},
		{"no ephemeral: addressed in the channel", without(func(c *bot.Capabilities) { c.Ephemeral = false }), []string{
			"root m1: migrate on gitlab-1, request r7k2qxa9 alice asks [approve r7k2qxa9] [deny r7k2qxa9]",
			"reply m2 under m1: progress 1",
			"edit m3 of m2: progress 2",
			"edit m4 of m1: migrate on gitlab-1, request r7k2qxa9 approved",
			"upload m5 under m1: migrate.log",
			"root m6: only you For alice (this chat cannot show a message to one person)",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := &capsChat{caps: tc.caps}
			chat := degrade(raw)
			root, err := chat.PostRoot(ctx, "C1", card)
			if err != nil {
				t.Fatal(err)
			}
			progress, err := chat.Reply(ctx, root, bot.Message{Text: bot.Plain("progress 1")})
			if err != nil {
				t.Fatal(err)
			}
			steps := []error{
				chat.Update(ctx, progress, bot.Message{Text: bot.Plain("progress 2")}),
				chat.Update(ctx, root, bot.Message{Title: bot.Plain("migrate on gitlab-1, request r7k2qxa9"), Text: bot.Plain("approved")}),
				chat.Upload(ctx, root, output, "full output"),
				chat.Notify(ctx, "C1", bot.User{ID: "U1", Name: "alice"}, bot.Message{Text: bot.Plain("only you")}),
			}
			for i, err := range steps {
				if err != nil {
					t.Errorf("step %d: %v", i, err)
				}
			}
			got := raw.got()
			if strings.Join(got, "\n---\n") != strings.Join(tc.want, "\n---\n") {
				t.Errorf("the platform showed\n%s\nwant\n%s", strings.Join(got, "\n---\n"), strings.Join(tc.want, "\n---\n"))
			}
		})
	}
}

// TestProgressSparseWithoutEdits: where every progress value is a new
// post, the router posts one at most every sparseProgressEvery.
func TestProgressSparseWithoutEdits(t *testing.T) {
	for _, tc := range []struct {
		caps bot.Capabilities
		want time.Duration
	}{
		{bot.AllCapabilities, 10 * time.Millisecond},
		{without(func(c *bot.Capabilities) { c.Edits = false }), sparseProgressEvery},
	} {
		chat := &capsChat{caps: tc.caps}
		r := &Router{opt: Options{ProgressEvery: 10 * time.Millisecond, Clock: time.Now}}
		if got := r.progressEvery(chat); got != tc.want {
			t.Errorf("edits %v: progress every %s, want %s", tc.caps.Edits, got, tc.want)
		}
	}
}
