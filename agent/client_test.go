package agent

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// scriptedAgent is a loopback HTTP server that answers POST /v1/jobs with a
// fixed NDJSON stream (or error), to test the client's handling of what a
// real agent never sends.
func scriptedAgent(t *testing.T, status int, events []any, hang bool) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if status != http.StatusOK {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			json.NewEncoder(w).Encode(events[0])
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		enc := json.NewEncoder(w)
		for _, ev := range events {
			enc.Encode(ev)
		}
		w.(http.Flusher).Flush()
		if hang {
			<-r.Context().Done()
		}
	}))
	t.Cleanup(srv.Close)
	c, err := NewClient(ClientConfig{URL: srv.URL, StreamIdleTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientStreamHandling(t *testing.T) {
	ctx := testCtx(t)
	lines := []Line{{Seq: 1, Stream: StreamStdout, Text: "a"}, {Seq: 2, Stream: StreamStderr, Text: "b"}}
	job := Event{Type: EventJob, Job: &JobSummary{ID: "j1"}}
	lineEv := func(l Line) Event { return Event{Type: EventLine, Line: &l} }
	end := func(digest string) Event {
		return Event{Type: EventEnd, Record: &JobRecord{ID: "j1", State: StateSucceeded, Lines: 2, Digest: digest}}
	}

	t.Run("digest verified", func(t *testing.T) {
		c := scriptedAgent(t, 200, []any{job, lineEv(lines[0]), lineEv(lines[1]), end(DigestLines(lines))}, false)
		if _, err := c.Run(ctx, RunRequest{Operation: "services"}, nil); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("digest mismatch", func(t *testing.T) {
		c := scriptedAgent(t, 200, []any{job, lineEv(lines[0]), lineEv(lines[1]), end("sha256:00")}, false)
		rec, err := c.Run(ctx, RunRequest{Operation: "services"}, nil)
		if !errors.Is(err, ErrDigestMismatch) || rec.ID != "j1" {
			t.Fatalf("want ErrDigestMismatch with the record, got %v %+v", err, rec)
		}
	})
	t.Run("gap: no verification claimed", func(t *testing.T) {
		c := scriptedAgent(t, 200, []any{job, lineEv(lines[1]), end("sha256:00")}, false)
		if _, err := c.Run(ctx, RunRequest{Operation: "services"}, nil); err != nil {
			t.Fatalf("a stream with a gap cannot be verified and must not fail as a mismatch: %v", err)
		}
	})
	t.Run("stream ends without end event", func(t *testing.T) {
		c := scriptedAgent(t, 200, []any{job, lineEv(lines[0])}, false)
		_, err := c.Run(ctx, RunRequest{Operation: "services"}, nil)
		var se *StreamError
		if !errors.As(err, &se) || se.JobID != "j1" || se.LastSeq != 1 || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("want StreamError{j1, 1}, got %v", err)
		}
	})
	t.Run("silent stream", func(t *testing.T) {
		c := scriptedAgent(t, 200, []any{job, lineEv(lines[0])}, true)
		_, err := c.Run(ctx, RunRequest{Operation: "services"}, nil)
		var se *StreamError
		if !errors.As(err, &se) || !errors.Is(err, ErrStreamIdle) {
			t.Fatalf("want StreamError from the idle watchdog, got %v", err)
		}
	})
	t.Run("callback error", func(t *testing.T) {
		c := scriptedAgent(t, 200, []any{job, lineEv(lines[0]), lineEv(lines[1]), end(DigestLines(lines))}, false)
		stop := errors.New("stop")
		_, err := c.Run(ctx, RunRequest{Operation: "services"}, func(ev Event) error {
			if ev.Type == EventLine {
				return stop
			}
			return nil
		})
		var se *StreamError
		if !errors.As(err, &se) || !errors.Is(err, stop) || se.JobID != "j1" {
			t.Fatalf("want StreamError wrapping the callback's error, got %v", err)
		}
	})
	t.Run("busy", func(t *testing.T) {
		c := scriptedAgent(t, 409, []any{ErrorResponse{Error: "busy: migrate job j0", Running: &JobSummary{ID: "j0"}}}, false)
		_, err := c.Run(ctx, RunRequest{Operation: "migrate"}, nil)
		var be *BusyError
		if !errors.As(err, &be) || be.Running.ID != "j0" || !strings.Contains(be.Error(), "busy") {
			t.Fatalf("want BusyError, got %v", err)
		}
	})
	t.Run("bad request", func(t *testing.T) {
		c := scriptedAgent(t, 400, []any{ErrorResponse{Error: "nope", Field: "service"}}, false)
		_, err := c.Run(ctx, RunRequest{Operation: "services"}, nil)
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != 400 || ae.Field != "service" {
			t.Fatalf("want APIError 400 service, got %v", err)
		}
	})
}

func TestClientConfigRefusals(t *testing.T) {
	for _, cfg := range []ClientConfig{
		{URL: "http://gitlab.example.com:8443"},         // plain http off loopback
		{URL: "ftp://127.0.0.1"},                        // scheme
		{URL: "https://127.0.0.1:8443"},                 // no certificate files
		{URL: "http://127.0.0.1:8765", CAFile: "x.pem"}, // files for http
	} {
		if _, err := NewClient(cfg); err == nil {
			t.Errorf("NewClient(%+v) accepted", cfg)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"2", 2 * time.Second},
		{" 1 ", time.Second},
		{"-3", 0},
		{"3600", time.Minute}, // capped
		{now.Add(5 * time.Second).Format(http.TimeFormat), 5 * time.Second},
		{now.Add(-5 * time.Second).Format(http.TimeFormat), 0},
		{"soon", 0},
	} {
		if got := retryAfter(tc.in, now); got != tc.want {
			t.Errorf("retryAfter(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
