package mattermost

import (
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
)

// callbackFor is the body Mattermost would send for a click by u on p
// with the given context.
func callbackFor(p *model.Post, u mmUser, ctx map[string]any) *model.PostActionIntegrationRequest {
	return &model.PostActionIntegrationRequest{
		UserId: u.ID, UserName: u.Name, ChannelId: p.ChannelId, TeamId: teamID,
		PostId: p.Id, Type: model.PostActionTypeButton, Context: ctx,
	}
}

// TestForgedCallbacksAreRefusedAndNothingRuns posts callbacks that did not
// come from a click on the bot's own button: each is refused before the
// router, and no request moves.
func TestForgedCallbacksAreRefusedAndNothingRuns(t *testing.T) {
	e := newEnv(t, envOpts{})
	rootA := e.openMigrate(alice, "migrate")
	rootB := e.openMigrate(carol, "migrate -- a second one")
	reqB := e.request(rootB.Id)
	ctxA := rootA.GetAction("approve").Integration.Context
	patches := len(e.mm.patchesOf(rootA.Id)) + len(e.mm.patchesOf(rootB.Id))
	posts := len(e.mm.allPostIDs())

	with := func(k string, v any) map[string]any {
		c := maps.Clone(ctxA)
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	otherChannel := rootA.Clone()
	otherChannel.ChannelId = fixedID("elsewhere")
	cases := []struct {
		name string
		body *model.PostActionIntegrationRequest
	}{
		{"no HMAC", callbackFor(rootA, bob, with(ctxSig, nil))},
		{"empty context", callbackFor(rootA, bob, nil)},
		{"HMAC of another post", callbackFor(rootB, bob, ctxA)},
		{"replayed onto another request", callbackFor(rootA, bob, with(ctxRequest, reqB.ID))},
		{"another channel", callbackFor(otherChannel, bob, ctxA)},
		{"approve turned into deny", callbackFor(rootA, bob, with(ctxAction, "deny"))},
		{"garbage HMAC", callbackFor(rootA, bob, with(ctxSig, "v1.AAAA"))},
		{"unversioned HMAC", callbackFor(rootA, bob, with(ctxSig, strings.TrimPrefix(ctxA[ctxSig].(string), sigVersion)))},
		{"no user", callbackFor(rootA, mmUser{}, ctxA)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := len(e.refusals.List())
			status, resp := e.mm.callback(t, e.actionsURL(), c.body)
			if status != http.StatusOK || !strings.Contains(resp.EphemeralText, "could not verify") {
				t.Errorf("want a refusal, got %d %q", status, resp.EphemeralText)
			}
			if len(e.refusals.List()) != before+1 {
				t.Errorf("OnRefused was not called")
			}
		})
	}
	e.settle()
	if n := e.h.Actions.Load(); n != 0 {
		t.Errorf("%d forged callbacks reached the router", n)
	}
	// A callback signed for a request that does not exist passes the HMAC
	// (only the bot can make one) and the router refuses it.
	unknown := e.a.signer.sign("zzzzzzzz", "approve", rootA.Id, rootA.ChannelId)
	status, resp := e.mm.callback(t, e.actionsURL(), callbackFor(rootA, bob, map[string]any{ctxRequest: "zzzzzzzz", ctxAction: "approve", ctxSig: unknown}))
	if status != http.StatusOK || !strings.Contains(resp.EphemeralText, "no request zzzzzzzz") {
		t.Errorf("a click for an unknown request should be refused: %d %q", status, resp.EphemeralText)
	}
	e.settle()

	for _, root := range []*model.Post{rootA, rootB} {
		if st := e.request(root.Id).State; st != approvals.StatePending {
			t.Errorf("request of post %s is %s after forged callbacks, want pending", root.Id, st)
		}
		if !hasActions(e.mm.post(root.Id)) {
			t.Errorf("post %s lost its buttons", root.Id)
		}
	}
	if n := len(e.mm.patchesOf(rootA.Id)) + len(e.mm.patchesOf(rootB.Id)); n != patches {
		t.Errorf("forged callbacks edited the approval posts (%d patches, was %d)", n, patches)
	}
	if n := len(e.mm.allPostIDs()); n != posts {
		t.Errorf("forged callbacks made %d new posts", n-posts)
	}
}

func TestUnreadableCallbackIsRefused(t *testing.T) {
	e := newEnv(t, envOpts{})
	req, err := http.NewRequest(http.MethodPost, e.actionsURL(), strings.NewReader(`{"post_id": 7`))
	if err != nil {
		t.Fatal(err)
	}
	status, _ := do(t, req)
	if status != http.StatusBadRequest {
		t.Errorf("status %d, want 400", status)
	}
	if len(e.refusals.List()) != 1 || e.h.Actions.Load() != 0 {
		t.Errorf("an unreadable callback must be refused before the router: refusals %v", e.refusals.List())
	}
}

func TestSlashCommandTokens(t *testing.T) {
	e := newEnv(t, envOpts{})
	form := func(token string) url.Values {
		return url.Values{"token": {token}, "channel_id": {channelID}, "user_id": {alice.ID}, "user_name": {"alice"}, "text": {"status"}}
	}
	post := func(body url.Values, header string) int {
		req, err := http.NewRequest(http.MethodPost, e.commandURL(), strings.NewReader(body.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		status, _ := do(t, req)
		return status
	}

	for name, status := range map[string]int{
		"wrong token in header and form": post(form("wrong"), "Token wrong"),
		"right form token, wrong header": post(form(e.tokens[0]), "Token wrong"),
		"no token at all":                post(form(""), ""),
		"token of another command typo":  post(form(e.tokens[0]+"x"), ""),
	} {
		if status != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", name, status)
		}
	}
	e.settle()
	if n := e.h.Commands.Load(); n != 0 {
		t.Fatalf("%d commands with a wrong token reached the router", n)
	}
	if n := len(e.mm.allPostIDs()); n != 0 {
		t.Fatalf("commands with a wrong token made %d posts", n)
	}
	if n := len(e.refusals.List()); n != 4 {
		t.Errorf("OnRefused saw %d refusals, want 4: %v", n, e.refusals.List())
	}

	// Each configured command's token works, in the header or in the form.
	if s := post(form(""), "Token "+e.tokens[1]); s != http.StatusOK {
		t.Errorf("the second command's token was refused: %d", s)
	}
	if s := post(form(e.tokens[0]), ""); s != http.StatusOK {
		t.Errorf("a token in the form alone was refused: %d", s)
	}
	bad := form(e.tokens[0])
	bad.Set("user_id", "not-an-id")
	if s := post(bad, ""); s != http.StatusBadRequest {
		t.Errorf("a command without a valid user_id: status %d, want 400", s)
	}
	e.settle()
	if n := e.h.Commands.Load(); n != 2 {
		t.Errorf("the router saw %d commands, want 2", n)
	}
}
