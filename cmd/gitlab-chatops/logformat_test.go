package main

import (
	"bytes"
	"context"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestConsoleLogsText: the console logs text lines (serve logs JSON, see
// TestServeWarnsAnyoneMayApprove and TestServeLogsNoSecrets), and its
// request lines carry request_id too.
func TestConsoleLogsText(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "console", "--simulate", "--state-dir", t.TempDir(), "--sim-speed", "0", "-v")
	cmd.Stdin = strings.NewReader("alice: /gitlab-migrations migrate -- log format\nbob: /gitlab-migrations approve $LAST\n")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("console: %v\n%s", err, errb.String())
	}
	id := regexp.MustCompile(`request ([a-z0-9]{8})`).FindStringSubmatch(out.String())
	if id == nil {
		t.Fatalf("no request opened:\n%s", out.String())
	}
	text := regexp.MustCompile(`^time=\S+ level=(DEBUG|INFO|WARN|ERROR) msg=`)
	for _, l := range strings.Split(strings.TrimSpace(errb.String()), "\n") {
		if !text.MatchString(l) {
			t.Errorf("not a text log line: %q", l)
		}
	}
	for _, msg := range []string{`msg="request opened"`, `msg="request finished"`} {
		re := regexp.MustCompile(`(?m)^.*` + regexp.QuoteMeta(msg) + `.*$`)
		line := re.FindString(errb.String())
		if !strings.Contains(line, "request_id="+id[1]) {
			t.Errorf("%s line without request_id=%s: %q", msg, id[1], line)
		}
	}
}
