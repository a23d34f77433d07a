package storage

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
)

func sampleRequest(id string, created time.Time, s approvals.State) *approvals.Request {
	return &approvals.Request{
		ID: id, Platform: "slack", Channel: "C1", Thread: "1700000000.0001",
		Host: "gitlab-1", Operation: "finalize",
		Params:    map[string]string{"job_class": "CopyColumn", "table": "events"},
		Argv:      []string{"gitlab-rake", "gitlab:background_migrations:finalize[CopyColumn,events,id,'[[\"id\"]]']"},
		Requester: approvals.User{ID: "U1", Name: "alice"}, Reason: "upgrade",
		Fingerprint: "abc", FingerprintInfo: "1 down", Required: 1,
		ApproverIDs: []string{"U2"}, CreatedAt: created.UTC(), ExpiresAt: created.Add(15 * time.Minute).UTC(),
		State: s, Version: 1,
		Decisions: []approvals.Decision{{User: approvals.User{ID: "U2"}, Verdict: approvals.VerdictApprove, At: created.UTC()}},
	}
}

func TestRequestsCRUD(t *testing.T) {
	ctx := context.Background()
	db, path := openTest(t)
	t0 := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	r := sampleRequest("aaaaaaaa", t0, approvals.StatePending)
	if err := db.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := db.Create(ctx, r); !errors.Is(err, approvals.ErrExists) {
		t.Fatalf("second CreateRequest = %v, want ErrExists", err)
	}
	if err := db.Create(ctx, &approvals.Request{}); !errors.Is(err, approvals.ErrInvalid) {
		t.Fatalf("CreateRequest(no ID) = %v", err)
	}
	got, err := db.Request(ctx, "aaaaaaaa")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, r)
	}
	if _, err := db.Request(ctx, "zzzzzzzz"); !errors.Is(err, approvals.ErrNotFound) {
		t.Fatalf("Request(missing) = %v", err)
	}
	if _, err := db.Apply(ctx, "zzzzzzzz", func(*approvals.Request) ([]approvals.AuditEntry, error) { t.Error("fn called"); return nil, nil }); !errors.Is(err, approvals.ErrNotFound) {
		t.Fatalf("Apply(missing) = %v", err)
	}

	up, err := db.Apply(ctx, "aaaaaaaa", func(r *approvals.Request) ([]approvals.AuditEntry, error) {
		r.State = approvals.StateApproved
		return nil, nil
	})
	if err != nil || up.State != approvals.StateApproved || up.Version != 2 {
		t.Fatalf("Apply = %+v, %v", up, err)
	}

	// Persisted across a reopen.
	_ = db.Close()
	db2, err := Open(path, Options{AuditKey: approvalstest.Key})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if got, _ := db2.Request(ctx, "aaaaaaaa"); got.State != approvals.StateApproved || got.Version != 2 {
		t.Fatalf("after reopen: %+v", got)
	}
}

func TestApplyErrorWritesNothing(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	r := sampleRequest("bbbbbbbb", time.Now(), approvals.StatePending)
	if err := db.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	before, _ := db.Request(ctx, r.ID)
	refusal := errors.New("refused")
	_, err := db.Apply(ctx, r.ID, func(r *approvals.Request) ([]approvals.AuditEntry, error) {
		r.State = approvals.StateDenied
		r.Reason = "scribbled"
		r.Decisions = nil
		return []approvals.AuditEntry{{Action: "scribbled"}}, refusal
	})
	if err != refusal {
		t.Fatalf("Apply returned %v, want fn's error unchanged", err)
	}
	after, _ := db.Request(ctx, r.ID)
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("a failed update wrote:\nbefore %+v\nafter  %+v", before, after)
	}
	// fn may not change the ID.
	if _, err := db.Apply(ctx, r.ID, func(r *approvals.Request) ([]approvals.AuditEntry, error) { r.ID = "cccccccc"; return nil, nil }); !errors.Is(err, approvals.ErrInvalid) {
		t.Fatalf("ID change = %v", err)
	}
	if _, err := db.Request(ctx, "cccccccc"); !errors.Is(err, approvals.ErrNotFound) {
		t.Fatalf("ID change wrote a request: %v", err)
	}
}

func TestRequestsFilter(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	t0 := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	states := []approvals.State{approvals.StatePending, approvals.StateRunning, approvals.StatePending, approvals.StateFailed}
	for i, s := range states {
		id := string(rune('a'+i)) + "2222222"
		if err := db.Create(ctx, sampleRequest(id, t0.Add(time.Duration(i)*time.Minute), s)); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(rs []*approvals.Request) (out []string) {
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	all, err := db.Requests(ctx, approvals.RequestFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(all); !reflect.DeepEqual(got, []string{"d2222222", "c2222222", "b2222222", "a2222222"}) {
		t.Fatalf("all, newest first = %v", got)
	}
	pending, _ := db.Requests(ctx, approvals.RequestFilter{States: []approvals.State{approvals.StatePending}})
	if got := ids(pending); !reflect.DeepEqual(got, []string{"c2222222", "a2222222"}) {
		t.Fatalf("pending = %v", got)
	}
	some, _ := db.Requests(ctx, approvals.RequestFilter{States: []approvals.State{approvals.StatePending, approvals.StateRunning}, Limit: 2})
	if got := ids(some); !reflect.DeepEqual(got, []string{"c2222222", "b2222222"}) {
		t.Fatalf("limited = %v", got)
	}
}
