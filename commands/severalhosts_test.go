package commands_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/commands"
	"github.com/gitlab-chatops/gitlab-chatops/internal/golden"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
)

// downHost is a host whose agent is a closed port on 127.0.0.1: nothing
// listens there, so every call is refused at once.
func downHost(t *testing.T, name string) commands.Host {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return commands.Host{Name: name, Agent: clientAt(t, addr)}
}

// clientAt is an agent client (with certificates of its own) for addr.
func clientAt(t *testing.T, addr string) *agent.Client {
	t.Helper()
	certs := filepath.Join(t.TempDir(), "certs")
	if err := agent.GenerateCerts(certs, []string{"localhost"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	c, err := agent.NewClient(agent.ClientConfig{URL: "https://" + addr,
		CAFile: filepath.Join(certs, "ca.pem"), CertFile: filepath.Join(certs, "bot.pem"), KeyFile: filepath.Join(certs, "bot-key.pem")})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// severalHosts is three real agents over simulators in different
// scenarios, and a fourth host whose agent is down.
func severalHosts(t *testing.T, opt simtest.Options) (*simtest.Stack, *recorder) {
	t.Helper()
	opt.More = append([]simtest.MoreHost{
		{Name: "gitlab-2", Scenario: "decomposed-bbm-unfinished"},
		{Name: "gitlab-3", Scenario: "services-down"},
	}, opt.More...)
	opt.Router.Hosts = append(opt.Router.Hosts, downHost(t, "gitlab-down"))
	opt.Router.RetryMax = 10 * time.Millisecond // the down host's retries
	return setup(t, opt)
}

// TestHostAllCombinedSummary: status, bbm and services with --host all
// answer with one combined summary, a line per host in configuration
// order (the down host's line says why it could not be asked, and the
// others are not held back by it), and each host's details follow in the
// thread. Every host's run is audited.
func TestHostAllCombinedSummary(t *testing.T) {
	s, rec := severalHosts(t, simtest.Options{})
	for _, sub := range []string{"status", "bbm", "services", "upgrade-check"} {
		t.Run(sub, func(t *testing.T) {
			before := len(rec.roots())
			if err := command(t, s, rec, alice, sub+" --host all"); err != nil {
				t.Fatal(err)
			}
			roots := rec.roots()
			if len(roots) != before+1 {
				t.Fatalf("want one root post, got %d", len(roots)-before)
			}
			root := roots[len(roots)-1]
			var b strings.Builder
			m := rec.message(root)
			fmt.Fprintf(&b, "%s\n%s\n%s\n[%s]\n--- thread\n", m.Title, m.Text, m.Context, m.Tone)
			for _, r := range rec.replies(root) {
				fmt.Fprintf(&b, "%s [%s]\n", r.Title, r.Tone)
			}
			golden.Check(t, "host-all-"+sub, []byte(b.String()))
		})
	}
	entries, err := s.DB.TailAudit(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	runs := map[string]int{}
	for _, e := range entries {
		if e.Action == approvals.ActionReadOnlyRun {
			runs[e.Host]++
		}
	}
	for _, h := range []string{simtest.HostName, "gitlab-2", "gitlab-3", "gitlab-down"} {
		if runs[h] != 7 {
			t.Errorf("%s: %d read-only runs audited, want 7 (one each of status, bbm, services; upgrade-check audits its three runs and its verdict) (%v)", h, runs[h], runs)
		}
	}
}

// TestSeveralHostsChoosing: with several hosts, a destructive subcommand
// needs one named host (even with a default), --host all is refused for
// it, and nothing is opened; read-only subcommands without --host go to
// the default host, or are refused naming the hosts when none is marked.
func TestSeveralHostsChoosing(t *testing.T) {
	pending := func(t *testing.T, s *simtest.Stack) []*approvals.Request {
		t.Helper()
		reqs, err := s.DB.Requests(context.Background(), approvals.RequestFilter{})
		if err != nil {
			t.Fatal(err)
		}
		return reqs
	}
	for _, withDefault := range []bool{false, true} {
		t.Run(fmt.Sprintf("default=%v", withDefault), func(t *testing.T) {
			s, rec := setup(t, simtest.Options{More: []simtest.MoreHost{{Name: "gitlab-2", Scenario: "up-to-date", Default: withDefault}}})
			list := "gitlab-sim, gitlab-2"
			if withDefault {
				list = "gitlab-sim, gitlab-2 (default)"
			}
			for _, tc := range []struct{ text, want string }{
				{"migrate -- upgrade", "migrate changes GitLab and several hosts are configured (" + list + "): name the one it is for with --host NAME, even the default one"},
				{"restart puma -- stuck", "restart changes GitLab and several hosts are configured (" + list + ")"},
				{"finalize CopyColumnUsingBackgroundMigrationJob ci_stages id '[[\"id\"]]' -- x", "finalize changes GitLab and several hosts are configured"},
				{"migrate --host all -- upgrade", "migrate changes GitLab, so it runs on one host at a time: --host all is only for the read-only subcommands (status, bbm, services, upgrade-check). Name the host with --host NAME, one of " + list},
				{"finalize --from r1234567 --host all -- x", "finalize changes GitLab, so it runs on one host at a time"},
				{"migrate --host gitlab-9 -- x", `unknown host "gitlab-9": known hosts are ` + list},
			} {
				got := refusal(t, command(t, s, rec, alice, tc.text))
				if !strings.Contains(got, tc.want) {
					t.Errorf("%s: refusal %q lacks %q", tc.text, got, tc.want)
				}
			}
			if reqs := pending(t, s); len(reqs) != 0 {
				t.Fatalf("a refused command opened %d requests", len(reqs))
			}
			err := command(t, s, rec, alice, "status")
			if !withDefault {
				got := refusal(t, err)
				if want := "several hosts are configured (gitlab-sim, gitlab-2) and none is the default: choose one with --host NAME, or --host all"; !strings.Contains(got, want) {
					t.Errorf("status without --host: %q lacks %q", got, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			roots := rec.roots()
			contains(t, rec.thread(roots[len(roots)-1]), "Migration status on gitlab-2")
			// The default one still has to be named for a change.
			if err := command(t, s, rec, alice, "migrate --host gitlab-sim -- upgrade"); err != nil {
				t.Fatal(err)
			}
			if reqs := pending(t, s); len(reqs) != 1 || reqs[0].Host != simtest.HostName {
				t.Fatalf("want one request on gitlab-sim, got %+v", reqs)
			}
		})
	}
}

// TestSeveralHostsFinalizeFrom: finalize --from takes its host from the
// failed migrate request it names, so the offer works as printed with
// several hosts; a --host naming another host is refused. Approving needs
// no host.
func TestSeveralHostsFinalizeFrom(t *testing.T) {
	s, rec := setup(t, simtest.Options{Scenario: "bbm-unfinished", More: []simtest.MoreHost{{Name: "gitlab-2"}}})
	if err := command(t, s, rec, alice, "migrate --host gitlab-sim -- upgrade"); err != nil {
		t.Fatal(err)
	}
	reqs, _ := s.DB.Requests(context.Background(), approvals.RequestFilter{States: []approvals.State{approvals.StatePending}})
	if len(reqs) != 1 {
		t.Fatalf("want one pending migrate, got %d", len(reqs))
	}
	id := reqs[0].ID
	if err := command(t, s, rec, bob, "approve "+id); err != nil {
		t.Fatal(err)
	}
	contains(t, rec.thread(reqs[0].Thread), "finalize --from "+id)
	got := refusal(t, command(t, s, rec, alice, "finalize --from "+id+" --host gitlab-2 -- as asked"))
	if want := "request " + id + " ran on gitlab-sim, not gitlab-2: use --host gitlab-sim, or leave --host out"; got != want {
		t.Errorf("refusal %q, want %q", got, want)
	}
	if err := command(t, s, rec, alice, "finalize --from "+id+" -- as asked"); err != nil {
		t.Fatal(err)
	}
	reqs, _ = s.DB.Requests(context.Background(), approvals.RequestFilter{States: []approvals.State{approvals.StatePending}})
	if len(reqs) != 1 || reqs[0].Operation != "finalize" || reqs[0].Host != simtest.HostName || reqs[0].FromRequest != id {
		t.Fatalf("want one pending finalize on gitlab-sim from %s, got %+v", id, reqs)
	}
	if err := command(t, s, rec, bob, "approve "+reqs[0].ID); err != nil {
		t.Fatal(err)
	}
	contains(t, rec.thread(reqs[0].Thread), "Finalized")
}

// TestHostsListsReachability: `hosts` checks every agent at once and lists
// each with its version and round-trip latency, the default marked; the
// host whose agent is down (a closed port) is listed as not reachable
// with why, and the others are listed all the same.
func TestHostsListsReachability(t *testing.T) {
	s, rec := severalHosts(t, simtest.Options{More: []simtest.MoreHost{{Name: "gitlab-4", Default: true}}})
	if err := command(t, s, rec, alice, "hosts"); err != nil {
		t.Fatal(err)
	}
	notes := rec.notesFor(alice.ID)
	if len(notes) != 1 {
		t.Fatalf("want one answer, got %d", len(notes))
	}
	// Latencies and the time vary from run to run.
	got := regexp.MustCompile(`(\d+|under 1) ms round trip`).ReplaceAllString(notes[0], "N ms round trip")
	got = regexp.MustCompile(`checked at \d\d:\d\d:\d\d UTC`).ReplaceAllString(got, "checked at HH:MM:SS UTC")
	golden.Check(t, "hosts-one-down", []byte(got))
}

// TestHostsHangingAgent: an agent that accepts the connection and never
// answers is reported as not answering in time (the check's timeout),
// while the others are listed.
func TestHostsHangingAgent(t *testing.T) {
	hang := commands.Host{Name: "gitlab-hang", Agent: clientAt(t, hangingAgent(t))}
	s, rec := setup(t, simtest.Options{Router: commands.Options{Hosts: []commands.Host{hang}}})
	if err := command(t, s, rec, alice, "hosts"); err != nil {
		t.Fatal(err)
	}
	notes := rec.notesFor(alice.ID)
	contains(t, notes, "• *gitlab-sim*: reachable, agent dev")
	contains(t, notes, "• *gitlab-hang*: NOT reachable: gitlab-hang's agent did not answer in time")
	contains(t, notes, "No host is the default")
}

// BenchmarkHostAll measures `status --host all` on four hosts whose
// GitLab boots Rails for 0.8 s (GITLAB_SIM_SPEED=1) next to `status` on
// one of them: with the hosts asked in parallel, all-ms/op stays near
// one-ms/op, not four times it (ns/op is the two together). Each run waits out the shared answer's
// reuse window first, so that it runs anew.
//
//	go test -run '^$' -bench HostAll -benchtime 3x ./commands
func BenchmarkHostAll(b *testing.B) {
	speed := func(cfg *agent.Config) { simtest.SimSpeed(cfg, "1") }
	s := simtest.Start(b, simtest.Options{Agent: speed, More: []simtest.MoreHost{
		{Name: "gitlab-2", Scenario: "decomposed"}, {Name: "gitlab-3", Scenario: "services-down"}, {Name: "gitlab-4", Scenario: "up-to-date"}}})
	rec := newRecorder()
	s.Router.Register(rec)
	s.Run(b)
	run := func(text string) time.Duration {
		b.StopTimer()
		time.Sleep(3100 * time.Millisecond) // readOnlyReuse
		b.StartTimer()
		start := time.Now()
		if err := handle(context.Background(), s.Router, rec, bot.Command{Platform: rec.Platform(), User: alice, Channel: "C1", Text: text}); err != nil {
			b.Fatal(err)
		}
		s.Router.Wait()
		return time.Since(start)
	}
	var one, all time.Duration
	for b.Loop() {
		one += run("status --host gitlab-2")
		all += run("status --host all")
	}
	b.ReportMetric(float64(one.Milliseconds())/float64(b.N), "one-ms/op")
	b.ReportMetric(float64(all.Milliseconds())/float64(b.N), "all-ms/op")
}

// TestHostAllHangingAgent: an agent that takes the request and never
// answers (no event, not even a heartbeat) is a line of the combined
// summary saying it did not answer in time, not "something went wrong";
// the other host answers as usual.
func TestHostAllHangingAgent(t *testing.T) {
	c, err := agent.NewClientHTTP(agent.ClientConfig{URL: "http://" + hangingAgent(t), StreamIdleTimeout: 300 * time.Millisecond}, &http.Client{})
	if err != nil {
		t.Fatal(err)
	}
	hang := commands.Host{Name: "gitlab-hang", Agent: c}
	s, rec := setup(t, simtest.Options{Router: commands.Options{Hosts: []commands.Host{hang}}})
	if err := command(t, s, rec, alice, "status --host all"); err != nil {
		t.Fatal(err)
	}
	roots := rec.roots()
	m := rec.message(roots[len(roots)-1])
	contains(t, []string{m.Text.String()}, "• *gitlab-hang*: could not run: gitlab-hang's agent did not answer in time")
	contains(t, []string{m.Text.String()}, "• *"+simtest.HostName+"*: main: ")
}

// hangingAgent is the address of an agent that accepts connections and
// never answers on them.
func hangingAgent(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() }) // held open, never answered
		}
	}()
	return ln.Addr().String()
}
