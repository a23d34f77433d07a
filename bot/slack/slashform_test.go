package slack

import (
	"net/http"
	"strings"
	"testing"

	slackgo "github.com/slack-go/slack"
)

// slackGoParse is what parseSlashCommand replaces: slack-go's parser over
// the same body.
func slackGoParse(body string) (slackgo.SlashCommand, error) {
	r, err := http.NewRequest(http.MethodPost, "http://bot"+PathCommands, strings.NewReader(body))
	if err != nil {
		return slackgo.SlashCommand{}, err
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return slackgo.SlashCommandParse(r)
}

// slashBodies are forms as Slack sends them and as it never does.
var slashBodies = []string{
	"token=t&team_id=T1&team_domain=acme&channel_id=C1&channel_name=ops&user_id=U1&user_name=ann&command=%2Fgitlab-migrations&text=status&api_app_id=A1&is_enterprise_install=false&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1%2F1%2Fx&trigger_id=1.2.3",
	"command=%2Fgitlab-migrations&text=migrate+--db+main+%26lt%3Bx%26gt%3B&user_id=U1&channel_id=C1",
	"text=first&text=second&user_id=U1&user_id=U2", // first value wins
	"is_enterprise_install=true&enterprise_id=E1&enterprise_name=Big+Co",
	"is_enterprise_install=TRUE", // only "true" is true
	"is_enterprise_install=true&is_enterprise_install=false",
	"text=%E2%9C%85+done&unknown=1&=empty&&user_id=U%31", // escapes, unknown and empty keys
	"text=a;b", // semicolon: refused
	"user_id=U1;text=x",
	"text=%zz",       // bad escape: refused
	"te%zzxt=status", // bad escape in a key
	"text",           // a key without =
	"text=&user_id=",
	"",
	"&&&",
	"text=%",
	"t%65xt=escaped+key",
}

func TestParseSlashCommandIsSlackGos(t *testing.T) {
	for _, body := range slashBodies {
		checkSlashParse(t, body)
	}
}

func FuzzParseSlashCommand(f *testing.F) {
	for _, body := range slashBodies {
		f.Add(body)
	}
	f.Fuzz(checkSlashParse)
}

func checkSlashParse(t *testing.T, body string) {
	want, wantErr := slackGoParse(body)
	got, err := parseSlashCommand([]byte(body))
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%q: error %v, slack-go's %v", body, err, wantErr)
	}
	if err == nil && got != want {
		t.Fatalf("%q:\n got %+v\nwant %+v", body, got, want)
	}
}
