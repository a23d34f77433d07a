package main

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/schedule"
)

// TestConfigSchedules: schedules: as serve reads it: with one platform
// configured, a schedule's platform may be left out; every problem is
// reported at its key path, and the file is refused like any other.
func TestConfigSchedules(t *testing.T) {
	clearChatEnv(t)
	dir := t.TempDir()
	base := "store: " + filepath.Join(dir, "bot.db") + "\napproval_key: " + testApprovalKey(t, dir) +
		"\nhosts: [{name: gitlab-1, agent: \"http://127.0.0.1:1\"}]\nslack: {bot_token: xoxb-1, signing_secret: s}\npolicy: {anyone_may_approve: true}\n"
	load := func(t *testing.T, schedules string) (config, error) {
		t.Helper()
		p := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "-")+".yaml")
		if err := os.WriteFile(p, []byte(base+"schedules:\n"+schedules), 0o600); err != nil {
			t.Fatal(err)
		}
		return loadConfig(p, use{serve: true}, os.Getenv)
	}
	t.Run("accepted", func(t *testing.T) {
		cfg, err := load(t, "  - {id: daily-status, spec: \"0 8 * * 1-5\", tz: Europe/Berlin, channel: C0123ABCD, what: status, when: changed, catch_up: true}\n"+
			"  - {id: services-watch, spec: \"@every 30m\", platform: slack, channel: C0123ABCD, host: all, what: services, when: problems}\n")
		if err != nil {
			t.Fatal(err)
		}
		want := []schedule.Schedule{
			{ID: "daily-status", Spec: "0 8 * * 1-5", TZ: "Europe/Berlin", Platform: "slack", Channel: "C0123ABCD", What: "status", When: "changed", CatchUp: true, Source: schedule.SourceConfig},
			{ID: "services-watch", Spec: "@every 30m", Platform: "slack", Channel: "C0123ABCD", Host: "all", What: "services", When: "problems", Source: schedule.SourceConfig},
		}
		if !reflect.DeepEqual(cfg.schedules, want) {
			t.Fatalf("schedules:\n%+v\nwant\n%+v", cfg.schedules, want)
		}
	})
	for _, c := range []struct{ name, yaml, want string }{
		{"channel name on slack", "  - {id: a, spec: \"@daily\", channel: \"#ops\", what: status}\n",
			`schedules[0].channel: "#ops" is not a Slack channel ID (C… or G…)`},
		{"platform not connected", "  - {id: a, spec: \"@daily\", platform: mattermost, channel: C0123ABCD, what: status}\n",
			`schedules[0].platform: "mattermost" is not a platform serve connects to: use slack (or configure mattermost:)`},
		{"destructive what", "  - {id: a, spec: \"@daily\", channel: C0123ABCD, what: restart}\n",
			`schedules[0].what: a schedule can never run restart: it needs a second person's approval`},
		{"no id", "  - {spec: \"@daily\", channel: C0123ABCD, what: bbm}\n",
			`schedules[0].id: a schedule in the configuration needs an id`},
		{"unknown key", "  - {id: a, spec: \"@daily\", channel: C0123ABCD, what: bbm, catchup: true}\n",
			`schedules[0].catchup: unknown key`},
		{"second schedule's host", "  - {id: a, spec: \"@daily\", channel: C0123ABCD, what: bbm}\n  - {id: b, spec: \"@daily\", channel: C0123ABCD, what: bbm, host: gitlab-2}\n",
			`schedules[1].host: unknown host "gitlab-2": use one of the configured hosts (gitlab-1) or all`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := load(t, c.yaml)
			var ee exitError
			if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("loadConfig = %v; want exit 2 saying %q", err, c.want)
			}
		})
	}
}
