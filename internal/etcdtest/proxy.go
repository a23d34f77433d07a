package etcdtest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy is a loopback TCP proxy in front of a Server: a replica that
// reaches etcd through it is partitioned (Cut: its connections drop, new
// ones are refused) while etcd and the other replicas go on. Cutting it
// and then closing the replica's client is how tests play a SIGKILL: not
// one more request of the replica (a resign, a revoke) reaches etcd.
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	conns []net.Conn
	cut   bool
	muted bool // etcd's answers are dropped (Mute)
}

// NewProxy starts a proxy to s; it is cut when the test ends.
func NewProxy(t testing.TB, s *Server) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("etcd proxy: %v", err)
	}
	p := &Proxy{ln: ln, target: s.Addr()}
	go p.serve()
	t.Cleanup(p.Cut)
	return p
}

// Endpoints are the client URLs that go through the proxy.
func (p *Proxy) Endpoints() []string { return []string{"http://" + p.ln.Addr().String()} }

func (p *Proxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			in.Close()
			out.Close()
			return
		}
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(out, in); out.Close() }()
		go func() { p.answer(in, out); in.Close() }()
	}
}

// answer copies etcd's answers from out to in, dropping them while muted.
func (p *Proxy) answer(in, out net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := out.Read(buf)
		p.mu.Lock()
		muted := p.muted
		p.mu.Unlock()
		if n > 0 && !muted {
			if _, werr := in.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Mute drops etcd's answers while requests still reach it: a write made
// while muted is committed, but the replica never learns it (the
// ambiguous failure of a Txn whose answer was lost). Unmute ends it.
func (p *Proxy) Mute() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.muted = true
}

// Unmute passes answers again; the connections that lost answers are
// closed (their streams are broken), so the replica dials afresh.
func (p *Proxy) Unmute() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.muted = false
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// Cut partitions: the listener and every connection through it close.
// Cutting twice does nothing more.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}
