package commands_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/commands"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
)

// TestLogLinesNameRequestAndJob: through a migrate that is refused to its
// requester, approved and run, and a second request that is denied, every
// log line about a request carries its request_id, and every line from
// the moment the agent named the job carries job_id too; the IDs never
// hide under other keys.
func TestLogLinesNameRequestAndJob(t *testing.T) {
	var logs simtest.LockedBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, rec := setup(t, simtest.Options{Router: commands.Options{Logger: logger}})
	denied, _ := openMigrate(t, s, rec)
	if err := command(t, s, rec, bob, "deny "+denied+" not now"); err != nil {
		t.Fatal(err)
	}
	ran, _ := openMigrate(t, s, rec)
	if err := command(t, s, rec, alice, "approve "+ran); err == nil {
		t.Fatal("alice approved her own request")
	}
	if err := command(t, s, rec, bob, "approve "+ran); err != nil {
		t.Fatal(err)
	}
	req, err := s.DB.Request(context.Background(), ran)
	if err != nil || req.State != approvals.StateSucceeded || req.JobID == "" {
		t.Fatalf("request %s: %+v, %v", ran, req, err)
	}
	msgs := map[string]map[string]any{} // message → its line, for requests
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var l map[string]any
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		for _, k := range []string{"request", "job"} {
			if _, ok := l[k]; ok {
				t.Errorf("key %q instead of %s_id: %s", k, k, line)
			}
		}
		id, _ := l["request_id"].(string)
		for _, other := range []string{ran, denied} {
			if strings.Contains(line, other) && id != other {
				t.Errorf("a line about %s has request_id %q: %s", other, id, line)
			}
		}
		if strings.Contains(line, req.JobID) && l["job_id"] != req.JobID {
			t.Errorf("a line about job %s has job_id %v: %s", req.JobID, l["job_id"], line)
		}
		if id != "" {
			msgs[id+" "+l["msg"].(string)] = l
		}
	}
	for _, want := range []struct{ request, msg, job string }{
		{ran, "request opened", ""},
		{ran, "approval recorded", ""},
		{ran, "request started", ""},
		{ran, "agent job started", req.JobID},
		{ran, "request finished", req.JobID},
		{denied, "request opened", ""},
		{denied, "request denied", ""},
	} {
		l, ok := msgs[want.request+" "+want.msg]
		if !ok {
			t.Errorf("no %q line with request_id %s", want.msg, want.request)
			continue
		}
		if got, _ := l["job_id"].(string); got != want.job {
			t.Errorf("%q of %s: job_id %q, want %q", want.msg, want.request, got, want.job)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", logs.String())
	}
}
