package commands

import (
	"context"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// dropProxy forwards TCP connections to target and cuts the first one
// that has carried more than after bytes of answer: a stream dropped in
// the middle of a job, as the agent does to a reader past its write
// timeout.
type dropProxy struct {
	ln     net.Listener
	target string
	after  int64
	cut    atomic.Bool
	wg     sync.WaitGroup
}

func startDropProxy(t *testing.T, target string, after int64) *dropProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dropProxy{ln: ln, target: target, after: after}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() { defer p.wg.Done(); p.relay(c) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *dropProxy) relay(client net.Conn) {
	defer client.Close()
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer up.Close()
	go func() { _, _ = io.Copy(up, client); up.Close() }()
	buf := make([]byte, 32<<10)
	var sent int64
	for {
		n, err := up.Read(buf)
		if n > 0 {
			if sent > p.after && p.cut.CompareAndSwap(false, true) {
				return // drop it mid-stream
			}
			if _, werr := client.Write(buf[:n]); werr != nil {
				return
			}
			sent += int64(n)
		}
		if err != nil {
			return
		}
	}
}

// TestDroppedStreamIsReattached: the job's stream is cut in the middle;
// the bot notices at once, re-attaches from the line after the last one it
// has, gets every line exactly once and verifies the digest.
func TestDroppedStreamIsReattached(t *testing.T) {
	const lines = 20_000
	url, certs := stallAgent(t, envPrintLines+"="+strconv.Itoa(lines))
	proxy := startDropProxy(t, url[len("https://"):], 256<<10)
	c, err := stallClient("https://"+proxy.ln.Addr().String(), certs)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res := followStall(ctx, c, 0, "drop-1")
	if !proxy.cut.Load() {
		t.Fatal("the proxy never cut the stream; the test proves nothing")
	}
	if res.Err != "" || res.Lines != lines {
		t.Fatalf("after the cut: %d of %d lines, %s", res.Lines, lines, res.Err)
	}
	if res.Reattaches != 1 {
		t.Errorf("re-attached %d times, want once", res.Reattaches)
	}
}
