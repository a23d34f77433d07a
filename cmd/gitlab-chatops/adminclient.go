package main

import (
	"bufio"
	"context"
	binenc "encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
	"github.com/gitlab-chatops/gitlab-chatops/storage"
)

// auditSource is what the audit commands read: the store file itself
// (*storage.DB) or, while the bot holds its lock, the running bot through
// its admin socket (adminClient). The commands run the same code on
// either, so their output and exit codes are the same.
type auditSource interface {
	auditchain.Reader
	ExportAudit(ctx context.Context, w io.Writer, since time.Time) error
	AuditPage(ctx context.Context, before uint64, n int, fn func(seq uint64, stored []byte) error) error
	Close() error
}

// openAudit opens the store read-only; when a running bot holds it, it
// reads through that bot's admin socket instead.
func openAudit(ctx context.Context, store, socket string) (auditSource, error) {
	// A short wait first: a bot that runs holds the lock for good, and
	// then the socket answers at once.
	db, err := storage.Open(store, storage.Options{ReadOnly: true, Timeout: 200 * time.Millisecond})
	if !errors.Is(err, storage.ErrLocked) {
		return db, err
	}
	c := adminClient{path: socket}
	serr := c.probe(ctx)
	if serr == nil {
		return c, nil
	}
	// No bot answers: the lock may be a passing one (a bot starting or
	// stopping, a console).
	db, err = storage.Open(store, storage.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if errors.Is(err, storage.ErrLocked) {
		return nil, fmt.Errorf("%w, and no bot answered on its admin socket %s (%v); stop the other process, or set admin_socket in the bot's configuration and pass it with --config", err, socket, serr)
	}
	return db, err
}

// adminClient reads the audit trail through the running bot's admin
// socket (adminsock.go), one connection per call.
type adminClient struct{ path string }

func (c adminClient) Close() error { return nil }

// probe checks that a bot listens on the socket.
func (c adminClient) probe(ctx context.Context) error {
	conn, err := (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, "unix", c.path)
	if err != nil {
		return err
	}
	return conn.Close()
}

// do sends req and calls fn with each frame of the answer until the frame
// that ends it, which it returns. The payload is valid only during fn.
func (c adminClient) do(ctx context.Context, req adminRequest, fn func(typ byte, payload []byte) error) (byte, []byte, error) {
	conn, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "unix", c.path)
	if err != nil {
		return 0, nil, fmt.Errorf("the running bot's admin socket: %w", err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	line, _ := json.Marshal(req) // plain fields: cannot fail
	if _, err := conn.Write(append(line, '\n')); err != nil {
		return 0, nil, fmt.Errorf("the running bot's admin socket: %w", err)
	}
	fr := frameReader{r: bufio.NewReaderSize(conn, 64<<10)}
	for {
		typ, payload, err := fr.next()
		if err != nil {
			if ctx.Err() != nil {
				return 0, nil, ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				err = errors.New("the bot closed the connection before the end of its answer (is it stopping? its log says why)")
			}
			return 0, nil, fmt.Errorf("the running bot's admin socket: %w", err)
		}
		switch typ {
		case frameEntry, frameData:
			if err := fn(typ, payload); err != nil {
				return 0, nil, err
			}
		case frameHead, frameBreak, frameError, frameDone:
			return typ, payload, nil
		default:
			return 0, nil, fmt.Errorf("the running bot's admin socket: unknown frame %q; use the gitlab-chatops binary of the bot's version", typ)
		}
	}
}

// entryFrame splits an entry frame into its seq and stored bytes.
func entryFrame(payload []byte) (uint64, []byte, error) {
	if len(payload) < 8 {
		return 0, nil, errors.New("the running bot's admin socket: an entry frame without its sequence number")
	}
	return binenc.BigEndian.Uint64(payload), payload[8:], nil
}

// ReadAudit implements auditchain.Reader over the socket: the bot reads
// every entry and the head from one snapshot, as storage.DB.ReadAudit.
func (c adminClient) ReadAudit(ctx context.Context, fn func(seq uint64, stored []byte) error) (auditchain.Head, error) {
	typ, payload, err := c.do(ctx, adminRequest{Op: adminRead}, func(_ byte, p []byte) error {
		seq, stored, err := entryFrame(p)
		if err != nil {
			return err
		}
		return fn(seq, stored)
	})
	switch {
	case err != nil:
		return auditchain.Head{}, err
	case typ == frameHead:
		return auditchain.DecodeHead(payload)
	case typ == frameBreak:
		var b auditchain.Break
		if err := json.Unmarshal(payload, &b); err != nil {
			return auditchain.Head{}, fmt.Errorf("the running bot's admin socket: %w", err)
		}
		return auditchain.Head{}, &b
	}
	return auditchain.Head{}, answerError(typ, payload)
}

// ExportAudit writes what storage.DB.ExportAudit writes, as the bot reads it.
func (c adminClient) ExportAudit(ctx context.Context, w io.Writer, since time.Time) error {
	typ, payload, err := c.do(ctx, adminRequest{Op: adminExport, Since: since}, func(_ byte, p []byte) error {
		if _, err := w.Write(p); err != nil {
			return fmt.Errorf("export audit log: write: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return answerError(typ, payload)
}

// AuditPage calls fn as storage.DB.AuditPage does, as the bot reads it.
func (c adminClient) AuditPage(ctx context.Context, before uint64, n int, fn func(seq uint64, stored []byte) error) error {
	typ, payload, err := c.do(ctx, adminRequest{Op: adminPage, Before: before, N: n}, func(_ byte, p []byte) error {
		seq, stored, err := entryFrame(p)
		if err != nil {
			return err
		}
		return fn(seq, stored)
	})
	if err != nil {
		return err
	}
	return answerError(typ, payload)
}

// answerError is the error an answer ended with: the store's own, as the
// bot read it (so the CLI prints what it prints on the file), or nil.
func answerError(typ byte, payload []byte) error {
	switch typ {
	case frameDone:
		return nil
	case frameError:
		return errors.New(string(payload))
	}
	return fmt.Errorf("the running bot's admin socket: the answer ended with frame %q, which does not belong there", typ)
}
