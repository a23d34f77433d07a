package agent

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// requestLog is state_dir/requests.log: one JSON line per HTTP request, so
// that the host keeps its own account of who asked for what, independent of
// the bot. It is opened in append mode; rotate it with copytruncate.
type requestLog struct {
	mu     sync.Mutex
	f      *os.File
	closed bool
}

// requestEntry is one line of requests.log.
type requestEntry struct {
	Time       time.Time `json:"time"`
	Remote     string    `json:"remote"`
	Client     string    `json:"client,omitempty"` // the client certificate's name
	Method     string    `json:"method"`
	Path       string    `json:"path"`
	Status     int       `json:"status"`
	Operation  string    `json:"operation,omitempty"`
	JobID      string    `json:"job_id,omitempty"`
	RequestID  string    `json:"request_id,omitempty"`
	Requester  string    `json:"requester,omitempty"`
	DurationMS int64     `json:"duration_ms"`
	Error      string    `json:"error,omitempty"`
}

func openRequestLog(path string) (*requestLog, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open request log: %w", err)
	}
	return &requestLog{f: f}, nil
}

// write appends e as one write(2), so concurrent entries never interleave.
func (l *requestLog) write(e requestEntry, log *slog.Logger) {
	data, err := json.Marshal(e)
	if err != nil {
		log.Error("encode request log entry", "err", err)
		return
	}
	data = append(data, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	if _, err := l.f.Write(data); err != nil {
		log.Error("write request log", "err", err)
	}
}

func (l *requestLog) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		l.f.Close()
	}
}
