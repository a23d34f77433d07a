package gitlab

import (
	"strings"
	"testing"
)

func TestParseCtlRestartFixtures(t *testing.T) {
	t.Run("restart all", func(t *testing.T) {
		r, err := ParseCtlRestart(readFixture(t, "ctl-restart.txt"))
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Services) != 15 || len(r.Failed()) != 0 {
			t.Fatalf("services=%d failed=%d", len(r.Services), len(r.Failed()))
		}
		for _, l := range r.Services {
			if l.Outcome != "ok" || l.State != "run" || l.PID == 0 || l.Log != nil {
				t.Errorf("%+v", l)
			}
		}
	})
	t.Run("restart one", func(t *testing.T) {
		r, err := ParseCtlRestart(readFixture(t, "ctl-restart-single.txt"))
		if err != nil || len(r.Services) != 1 {
			t.Fatal(err, r)
		}
		if l := r.Services[0]; l.Outcome != "ok" || l.Name != "sidekiq" || l.PID != 2233911 || !l.Up() {
			t.Errorf("%+v", l)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		r, err := ParseCtlRestart(readFixture(t, "ctl-restart-timeout.txt"))
		if err != nil {
			t.Fatal(err)
		}
		f := r.Failed()
		if len(f) != 1 || f[0].Outcome != "timeout" || f[0].Name != "puma" || f[0].Seconds != 37 || !f[0].GotTERM || f[0].State != "run" {
			t.Errorf("failed = %+v", f)
		}
	})
	t.Run("stop", func(t *testing.T) {
		r, err := ParseCtlRestart(readFixture(t, "ctl-stop-single.txt"))
		if err != nil {
			t.Fatal(err)
		}
		if l := r.Services[0]; l.Outcome != "ok" || l.State != "down" || !l.NormallyUp || l.Up() {
			t.Errorf("%+v", l)
		}
	})
}

func TestParseCtlRestartLines(t *testing.T) {
	out := "ok: run: gitaly: (pid 1) 0s\n" +
		"timeout: down: sidekiq: 31s, normally up, want up\n" +
		"fail: redis: runsv not running\n" +
		"warning: nginx: unable to open supervise/ok: file does not exist\n" +
		"kill: run: puma: (pid 9) 31s, got TERM\n"
	r, err := ParseCtlRestart([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range r.Failed() {
		got = append(got, l.Outcome+":"+l.Name+":"+l.State+":"+l.Message)
	}
	want := "timeout:sidekiq:down:|fail:redis:fail:runsv not running|warning:nginx:warning:unable to open supervise/ok: file does not exist|kill:puma:run:"
	if strings.Join(got, "|") != want {
		t.Errorf("failed = %q\nwant     %q", strings.Join(got, "|"), want)
	}
	if r, err := ParseCtlRestart(nil); err != nil || len(r.Services) != 0 {
		t.Errorf("empty output: %v %+v", err, r)
	}
	for _, bad := range []string{"ok: fail: redis: runsv not running", "ok: puma", "run: puma: (pid 1) 1s", "timeout: run: puma: (pid 1) 1s, tired"} {
		if _, err := ParseCtlRestart([]byte("ok: run: gitaly: (pid 1) 0s\n" + bad)); err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%q: error %v, want one naming line 2", bad, err)
		}
	}
}
