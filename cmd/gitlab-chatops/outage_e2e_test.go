package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// outageProxy forwards TCP connections from the bot to the agent until
// blackhole is called: then it drops every connection it carries and
// refuses new ones (its port is closed), as a network outage between bot
// and agent does, while the agent and its job go on. restore opens the
// same port again.
type outageProxy struct {
	addr, target string
	mu           sync.Mutex
	ln           net.Listener
	conns        map[net.Conn]struct{}
	wg           sync.WaitGroup
}

func startOutageProxy(t *testing.T, target string) *outageProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &outageProxy{addr: ln.Addr().String(), target: target, ln: ln, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve(ln)
	t.Cleanup(func() { p.blackhole(); p.wg.Wait() })
	return p
}

func (p *outageProxy) serve(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() { defer p.wg.Done(); p.relay(c) }()
	}
}

// track adds c to the connections a blackhole drops; false if the proxy
// is down already.
func (p *outageProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *outageProxy) relay(client net.Conn) {
	defer client.Close()
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer up.Close()
	if !p.track(client) || !p.track(up) {
		return
	}
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, client); done <- struct{}{} }()
	go func() { _, _ = io.Copy(client, up); done <- struct{}{} }()
	<-done
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, up)
	p.mu.Unlock()
}

// blackhole drops every connection (a reset) and closes the port.
func (p *outageProxy) blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		c.Close()
		delete(p.conns, c)
	}
}

// restore lets traffic through again, on the same port.
func (p *outageProxy) restore(t *testing.T) {
	t.Helper()
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("reopening the proxy's port %s: %v", p.addr, err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go p.serve(ln)
}

// TestAgentUnreachableDuringRun: the network between bot and agent goes
// down for 20 s while the migrate runs (connections dropped, new ones
// refused); the agent and its job go on. Meanwhile the thread says the
// outcome is unknown; once traffic passes again the bot re-attaches from
// the last line it had, and the thread ends SUCCEEDED with the full output
// (every line, digest verified, else the request would fail). migrate ran
// exactly once. TestR4AgentKilledMidMigrate is the crash case.
func TestAgentUnreachableDuringRun(t *testing.T) {
	t.Parallel() // real processes, own state and ports; mostly waiting (TTLs, timeouts), so it overlaps another
	if testing.Short() {
		t.Skip("takes over 20 s")
	}
	dir := t.TempDir()
	port := freePort(t)
	agentDir := filepath.Join(dir, "agent")
	// At speed 5 the migrate takes about 38 s: it outlasts the outage.
	startAgentSpeed(t, agentDir, port, "5")
	proxy := startOutageProxy(t, fmt.Sprintf("127.0.0.1:%d", port))
	config, store := botConfig(t, dir, agentDir, "http://"+proxy.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	b := startConsoleBot(t, ctx, config)
	b.approveMigrate(t)
	b.out.wait(t, regexp.MustCompile(`agent job \S+`))
	proxy.blackhole()
	down := time.Now()
	b.out.wait(t, regexp.MustCompile(`OUTCOME UNKNOWN: AGENT UNREACHABLE`))
	mustContain(t, b.out.String(), "systemctl status gitlab-chatops-agent")
	time.Sleep(20*time.Second - time.Since(down))
	if got := b.out.String(); strings.Contains(got, "DONE: MIGRATE") || strings.Contains(got, "answers again") {
		t.Fatalf("the request ended, or the agent answered, while it was unreachable:\n%s", got)
	}
	proxy.restore(t)
	got := b.finish(t)

	if state := migrateRecord(t, agentDir); state != "succeeded" {
		t.Fatalf("the agent's migrate %s, want succeeded (the outage must not touch the job)", state)
	}
	mustContain(t, got,
		"answers again",
		"DB:MIGRATE ON GITLAB-SIM SUCCEEDED",
		"ALL UP ON GITLAB-SIM",
		"DONE: MIGRATE ON GITLAB-SIM SUCCEEDED",
		"📎", // the full output, attached
	)
	for _, bad := range []string{"INTERRUPTED", "incomplete", "digest"} {
		if strings.Contains(got, bad) {
			t.Errorf("the thread says %q:\n%s", bad, got)
		}
	}
	mustContain(t, auditVerifyFile(t, store), "audit trail intact")
	mustContain(t, strings.Join(notes(t, store), "\n"), "outcome unknown: agent unreachable since", "note cleared")
}
