package mattermost

import (
	"slices"
	"testing"
)

// TestFromEnv: empty secrets come from the environment (command tokens
// comma-separated, blanks dropped); what the YAML sets wins.
func TestFromEnv(t *testing.T) {
	env := map[string]string{EnvBotToken: "envbot", EnvCommandTokens: " t1, ,t2 ", EnvActionSecret: "envsecret"}
	getenv := func(k string) string { return env[k] }
	got := Config{URL: "https://mm"}.FromEnv(getenv)
	if got.BotToken != "envbot" || got.ActionSecret != "envsecret" || !slices.Equal(got.CommandTokens, []string{"t1", "t2"}) || got.URL != "https://mm" {
		t.Errorf("from the environment: %+v", got)
	}
	set := Config{BotToken: "yaml", CommandTokens: []string{"c"}, ActionSecret: "s"}.FromEnv(getenv)
	if set.BotToken != "yaml" || set.ActionSecret != "s" || !slices.Equal(set.CommandTokens, []string{"c"}) {
		t.Errorf("the YAML did not win: %+v", set)
	}
}
