package gitlab

import (
	"slices"
	"strings"
	"testing"
)

func serviceNames(svcs []Service) []string {
	var n []string
	for _, s := range svcs {
		n = append(n, s.Name)
	}
	return n
}

func TestParseCtlStatusFixtures(t *testing.T) {
	t.Run("all up", func(t *testing.T) {
		st, err := ParseCtlStatus(readFixture(t, "ctl-status-all-up.txt"))
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Services) != 15 || len(st.Down()) != 0 {
			t.Fatalf("services=%d down=%v", len(st.Services), serviceNames(st.Down()))
		}
		s, ok := st.Lookup("logrotate")
		if !ok || s.PID != 2187764 || s.Seconds != 2914 || s.Log == nil || s.Log.PID != 1016 || s.Log.State != "run" || !s.Up() {
			t.Errorf("logrotate = %+v (log %+v)", s, s.Log)
		}
	})
	t.Run("some down", func(t *testing.T) {
		st, err := ParseCtlStatus(readFixture(t, "ctl-status-some-down.txt"))
		if err != nil {
			t.Fatal(err)
		}
		if got := serviceNames(st.Down()); !slices.Equal(got, []string{"puma", "sidekiq"}) {
			t.Fatalf("down = %v", got)
		}
		sidekiq, _ := st.Lookup("sidekiq")
		if sidekiq.State != "down" || sidekiq.Seconds != 1432 || !sidekiq.NormallyUp || sidekiq.WantUp || sidekiq.PID != 0 ||
			sidekiq.Log == nil || sidekiq.Log.State != "run" || sidekiq.Log.PID != 1043 {
			t.Errorf("sidekiq = %+v", sidekiq)
		}
		puma, _ := st.Lookup("puma")
		if puma.State != "down" || puma.Seconds != 1 || !puma.NormallyUp || !puma.WantUp {
			t.Errorf("puma = %+v", puma)
		}
	})
	t.Run("runsvdir down", func(t *testing.T) {
		st, err := ParseCtlStatus(readFixture(t, "ctl-status-runsvdir-down.txt"))
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Down()) != 15 {
			t.Fatalf("down = %d, want 15", len(st.Down()))
		}
		for _, s := range st.Services {
			if s.State != "fail" || s.Message != "runsv not running" || s.Log != nil {
				t.Errorf("%+v", s)
			}
		}
	})
}

func TestParseCtlStatusLines(t *testing.T) {
	tests := []struct {
		line string
		want Service
	}{
		{"run: puma: (pid 1122) 1209344s, normally down, paused, want down, got TERM",
			Service{Name: "puma", ServiceProcess: ServiceProcess{State: "run", PID: 1122, Seconds: 1209344, NormallyDown: true, Paused: true, WantDown: true, GotTERM: true}}},
		{"finish: sidekiq: (pid 77) 2s; down: log: 5s, normally up",
			Service{Name: "sidekiq", ServiceProcess: ServiceProcess{State: "finish", PID: 77, Seconds: 2},
				Log: &ServiceProcess{State: "down", Seconds: 5, NormallyUp: true}}},
		{"warning: gitaly: unable to open supervise/ok: file does not exist",
			Service{Name: "gitaly", ServiceProcess: ServiceProcess{State: "warning"}, Message: "unable to open supervise/ok: file does not exist"}},
		{"down: redis: 0s",
			Service{Name: "redis", ServiceProcess: ServiceProcess{State: "down"}}},
	}
	for _, tt := range tests {
		st, err := ParseCtlStatus([]byte(tt.line + "\r\n"))
		if err != nil {
			t.Errorf("%q: %v", tt.line, err)
			continue
		}
		got := st.Services[0]
		if got.Name != tt.want.Name || got.ServiceProcess != tt.want.ServiceProcess || got.Message != tt.want.Message ||
			(got.Log == nil) != (tt.want.Log == nil) || (got.Log != nil && *got.Log != *tt.want.Log) {
			t.Errorf("%q:\n got %+v log %+v\nwant %+v log %+v", tt.line, got, got.Log, tt.want, tt.want.Log)
		}
	}
}

func TestParseCtlStatusEmptyAndErrors(t *testing.T) {
	for _, out := range []string{"", "\n", "  \n\n"} {
		st, err := ParseCtlStatus([]byte(out))
		if err != nil || len(st.Services) != 0 {
			t.Errorf("%q: %v %+v, want zero services", out, err, st)
		}
	}
	for _, bad := range []string{
		"garbage",
		"run: puma: (pid x) 5s",
		"run: puma: 5s",
		"down: puma: (pid 1) 5s",
		"run: puma: (pid 1) 5s, sleepy",
		"run: puma: (pid 1) 5",
		"run: puma: (pid 1) 5s; run: notlog: (pid 2) 3s",
		"run: puma: (pid 1) 99999999999999999999s",
		"fail: puma",
		"ok: run: puma: (pid 1) 5s",
		"run: : (pid 1) 5s",
	} {
		out := "run: gitaly: (pid 1048) 1209349s; run: log: (pid 1004) 1209405s\n" + bad + "\n"
		_, err := ParseCtlStatus([]byte(out))
		if err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%q: error %v, want one naming line 2", bad, err)
		}
	}
}
