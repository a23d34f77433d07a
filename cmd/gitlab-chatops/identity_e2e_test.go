package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/storage"
)

// TestServeGroupsAnswerForTheirOwnPlatform: with Slack and Mattermost both
// configured and approvers named by group on each (slack:S…,
// mattermost:<channel>), a user in none of their own platform's groups is
// told plainly that they are not an approver (never "could not check… try
// again"), and no platform is asked about another's users: a Slack user is
// never looked up in a Mattermost channel, nor a Mattermost user in a Slack
// user group. Members of each platform's group approve, and the decisions
// are stored under their qualified IDs.
func TestServeGroupsAnswerForTheirOwnPlatform(t *testing.T) {
	dir := t.TempDir()
	fs := newFakeSlackAPI(t, shutSlackUser)
	fm := newFakeMattermostAPI(t)
	mmChannel, mmAlice, mmBob, mmEve := model.NewId(), model.NewId(), model.NewId(), model.NewId()
	fm.outsiders = []string{mmEve}
	slackPort, mmPort, agentPort := freePort(t), freePort(t), freePort(t)
	startAgent(t, filepath.Join(dir, "agent"), agentPort)
	cfg, _ := shutdownConfig(t, dir, fmt.Sprintf("http://127.0.0.1:%d", agentPort), fs.apiURL(), fm.srv.URL, mmChannel, slackPort, mmPort)
	logs := &lockedBuffer{}
	stop := startServe(t, cfg, logs)
	waitListening(t, slackPort)
	waitListening(t, mmPort)

	form := url.Values{"token": {shutMMToken}, "user_id": {mmAlice}, "user_name": {"alice"}, "channel_id": {mmChannel},
		"text": {"restart puma -- identity test"}}
	if a := send(mustRequest(t, http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/mattermost/command", mmPort), "application/x-www-form-urlencoded", form.Encode())); a.err != nil || a.status != http.StatusOK {
		t.Fatalf("slash command: %+v", a)
	}
	post, actx := fm.approveContext(t)
	id, _ := actx["request_id"].(string)
	click := func(user string) answer {
		b, _ := json.Marshal(model.PostActionIntegrationRequest{UserId: user, UserName: "someone", ChannelId: mmChannel, PostId: post.Id, Context: actx})
		return send(mustRequest(t, http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/mattermost/actions", mmPort), "application/json", string(b)))
	}
	asked := func(calls []string, what string) []string {
		var out []string
		for _, c := range calls {
			if strings.Contains(c, what) {
				out = append(out, c)
			}
		}
		return out
	}
	const slackGroupCall, mmMemberCall = "usergroups.users.list", "/members/"

	recorded := 0 // approvals recorded so far
	for _, c := range []struct {
		name      string
		decide    func() answer
		want      string // in the answer; "" = not refused
		otherCall string // the other platform's group call, which must not happen
		other     *apiCalls
	}{
		// Mattermost users first: the Slack adapter caches a group's
		// members, so a Slack lookup made for them would show here only
		// before any Slack user filled that cache.
		{"mattermost user in no approver channel", func() answer { return click(mmEve) }, "not an approver", slackGroupCall, &fs.apiCalls},
		{"the requester", func() answer { return click(mmAlice) }, "yourself", slackGroupCall, &fs.apiCalls},
		{"mattermost member", func() answer { return click(mmBob) }, "", slackGroupCall, &fs.apiCalls},
		{"slack user in no slack group", func() answer { return send(signedSlackCommand(t, slackPort, "U0SLACKEVE", "approve "+id)) }, "not an approver", mmMemberCall, &fm.apiCalls},
		{"slack member", func() answer { return send(signedSlackCommand(t, slackPort, shutSlackUser, "approve "+id)) }, "", mmMemberCall, &fm.apiCalls},
	} {
		t.Run(c.name, func(t *testing.T) {
			since := time.Now()
			a := c.decide()
			if a.err != nil || a.status != http.StatusOK {
				t.Fatalf("answer: %+v", a)
			}
			switch {
			case c.want != "" && !strings.Contains(a.body, c.want):
				t.Errorf("answer %s, want it to say %q", a.body, c.want)
			case c.want == "" && refusal.MatchString(a.body):
				t.Errorf("refused: %s", a.body)
			case c.want == "":
				// The approval is recorded in the background (asking the
				// user's platform again); wait for it, so that every
				// call to the other platform until then would be this
				// user's.
				recorded++
				deadline := time.Now().Add(30 * time.Second)
				for strings.Count(logs.String(), `"msg":"approval recorded"`) < recorded {
					if time.Now().After(deadline) {
						t.Fatalf("approval %d never recorded\n%s", recorded, logs.String())
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
			for _, bad := range []string{"try again", "could not check"} {
				if strings.Contains(strings.ToLower(a.body), bad) {
					t.Errorf("answer says %q: %s", bad, a.body)
				}
			}
			if got := asked(c.other.since(since), c.otherCall); len(got) > 0 {
				t.Errorf("the other platform was asked about this user: %v", got)
			}
		})
	}

	// Both approvals are stored under qualified IDs (read once serve has
	// let go of the store).
	stop()
	db, err := storage.Open(cfg.Store, storage.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	req, err := db.Request(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range req.Approvals() {
		got = append(got, d.User.ID)
	}
	want := []string{"mattermost:" + mmBob, "slack:" + shutSlackUser}
	if !slices.Equal(got, want) || req.Requester.ID != "mattermost:"+mmAlice || req.State != approvals.StatePending {
		t.Errorf("request %s: requester %s, approvals %v, state %s; want mattermost:%s, %v, pending (3 required)", id, req.Requester.ID, got, req.State, mmAlice, want)
	}
}
