package main

import (
	"bufio"
	"bytes"
	"context"
	binenc "encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
	"github.com/gitlab-chatops/gitlab-chatops/storage"
)

// adminWriteTimeout bounds each write to an admin client: a client that
// stops reading (a paused pager) cannot hold a read transaction of the
// bot's store, or its shutdown, for longer.
const adminWriteTimeout = 30 * time.Second

// maxSocketPath is the longest path a Unix socket can have on Linux
// (sun_path holds 108 bytes with its terminating NUL).
const maxSocketPath = 107

// adminSocketPath is where the running bot listens for the audit commands:
// admin_socket from the configuration, else the store's path with .sock.
func adminSocketPath(configured, store string) string {
	if configured != "" {
		return configured
	}
	return store + ".sock"
}

// adminServer answers `gitlab-chatops audit verify|export|tail` while the
// bot holds the store's lock: the CLI reads the trail through it with the
// same code it runs on the file (adminclient.go), so the output and exit
// codes are the same. It only reads; the CLI verifies with its own key,
// which never crosses the socket.
//
// Only the bot's own user may connect: the socket is mode 0600 and, on
// Linux, each peer's uid is checked (SO_PEERCRED).
type adminServer struct {
	db  *storage.DB
	log *slog.Logger
	ln  *net.UnixListener
}

// listenAdmin listens on path. The caller holds the store's lock, so no
// other bot of this store can be listening there: a socket nobody answers
// on was left by a bot that died, and is removed. A socket someone answers
// on (another bot's, admin_socket set to the same path) and anything that
// is not a socket are refused.
func listenAdmin(db *storage.DB, log *slog.Logger, path string) (*adminServer, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("admin socket %s: the path exists and is not a socket; remove it, or set admin_socket to another path", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("admin socket %s: another process answers on it (a bot of another store with the same admin_socket?); set admin_socket to another path", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("admin socket %s: removing the one a previous bot left: %w", path, err)
		}
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("admin socket %s: %w (set admin_socket to a shorter or writable path)", path, err)
	}
	// Owner only. Between Listen and Chmod the umask decides; the peer
	// check below refuses other users in that moment too.
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}
	return &adminServer{db: db, log: log, ln: ln}, nil
}

// run serves until ctx ends, then closes the listener (removing the
// socket) and waits for the answers in progress, which ctx's end cuts
// short: they read the store, which closes after run returns.
func (a *adminServer) run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { a.ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := a.ln.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			a.ln.Close()
			return fmt.Errorf("admin socket: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			a.serveConn(ctx, c)
		}()
	}
}

func (a *adminServer) serveConn(ctx context.Context, c *net.UnixConn) {
	if err := samePeer(c); err != nil {
		a.log.Warn("admin socket: refused a connection", "err", err)
		return
	}
	// The end of ctx unblocks any read or write in progress.
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stop()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(io.LimitReader(c, maxAdminRequest)).ReadBytes('\n')
	if err != nil {
		if len(line) > 0 {
			a.log.Warn("admin socket: unreadable request", "err", err)
		}
		return // a probe (the CLI checking that the bot answers) sends nothing
	}
	var req adminRequest
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		a.log.Warn("admin socket: malformed request", "err", err)
		return
	}
	a.log.Info("admin socket: audit request", "op", req.Op)
	w := bufio.NewWriterSize(&deadlineWriter{c: c}, 64<<10)
	if err := a.answer(ctx, w, req); err != nil {
		a.log.Warn("admin socket: answer cut short", "op", req.Op, "err", err)
		return
	}
	if err := w.Flush(); err != nil {
		a.log.Warn("admin socket: answer cut short", "op", req.Op, "err", err)
	}
}

// answer streams the answer to req. It returns an error only when the
// client could not be written to; the store's errors go to the client.
func (a *adminServer) answer(ctx context.Context, w io.Writer, req adminRequest) error {
	var werr error // the first failed write to the client
	entry := func(seq uint64, stored []byte) error {
		if werr = writeFrame(w, frameEntry, binenc.BigEndian.AppendUint64(nil, seq), stored); werr != nil {
			return werr
		}
		return ctx.Err()
	}
	var err error
	switch req.Op {
	case adminRead:
		var head auditchain.Head
		head, err = a.db.ReadAudit(ctx, entry)
		var b *auditchain.Break
		switch {
		case werr != nil:
		case errors.As(err, &b):
			j, _ := json.Marshal(b) // plain fields: cannot fail
			return writeFrame(w, frameBreak, j)
		case err == nil:
			return writeFrame(w, frameHead, head.Encode())
		}
	case adminExport:
		err = a.db.ExportAudit(ctx, writerFunc(func(p []byte) (int, error) {
			if werr = writeFrame(w, frameData, p); werr != nil {
				return 0, werr
			}
			return len(p), nil
		}), req.Since)
	case adminPage:
		err = a.db.AuditPage(ctx, req.Before, req.N, entry)
	default:
		err = fmt.Errorf("the running bot does not know the admin request %q; use the gitlab-chatops binary of the same version", req.Op)
	}
	if werr != nil {
		return werr
	}
	if err != nil && ctx.Err() != nil {
		err = errors.New("the bot is stopping, so it stopped answering; run the command again once it has stopped (it then reads the file) or is back")
	}
	if err != nil {
		return writeFrame(w, frameError, []byte(err.Error()))
	}
	return writeFrame(w, frameDone)
}

// deadlineWriter gives every write to the client adminWriteTimeout.
type deadlineWriter struct{ c net.Conn }

func (d *deadlineWriter) Write(p []byte) (int, error) {
	_ = d.c.SetWriteDeadline(time.Now().Add(adminWriteTimeout))
	return d.c.Write(p)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
