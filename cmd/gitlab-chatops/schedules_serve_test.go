package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
)

// TestServeSchedules: serve with a schedule in its configuration and
// Mattermost as its platform (a real agent over the simulator): `schedules`
// lists it as read-only; `schedules run` posts its result into the
// schedule's channel, which is not the one it was typed in; an admin adds
// one and a non-admin cannot remove it.
func TestServeSchedules(t *testing.T) {
	typed, watched, alice, bob := model.NewId(), model.NewId(), model.NewId(), model.NewId()
	srv := startMMServe(t, bob, fmt.Sprintf(`  admins: [%s]
schedules:
  - {id: services-watch, spec: "@every 15m", channel: %s, what: services, when: problems}
`, alice, watched))
	fm := srv.fm
	slash := func(user, text string) string { t.Helper(); return srv.slash(t, user, typed, text) }
	waitChat := func(want string) { t.Helper(); srv.waitChat(t, want) }

	if list := slash(bob, "schedules"); !strings.Contains(list, "services-watch") || !strings.Contains(list, "read-only here") {
		t.Errorf("schedules: %s", list)
	}
	slash(bob, "schedules run services-watch")
	waitChat("Scheduled services on gitlab-sim (schedule services-watch)")
	posts := fm.postsWith("Scheduled services on gitlab-sim")
	if len(posts) != 1 {
		t.Fatalf("%d scheduled posts, want 1", len(posts))
	}
	for _, p := range posts {
		if p.ChannelId != watched {
			t.Errorf("the scheduled post went to %s, not the schedule's channel %s", p.ChannelId, watched)
		}
	}
	if answer := slash(alice, `schedules add "@hourly" bbm --when changed`); !strings.Contains(answer, "Schedule s1 added") {
		t.Errorf("the admin's add: %s", answer)
	}
	if answer := slash(bob, "schedules remove s1"); !strings.Contains(answer, "Only the bot's admins may add or remove schedules") {
		t.Errorf("a non-admin's remove: %s", answer)
	}
}
