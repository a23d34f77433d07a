package storage

import (
	"context"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
)

// BenchmarkReauthenticate: what checking one approver's code costs on a
// real bbolt file: read the request, open the sealed secret, compute the
// three candidate codes, and commit the record with its audit entry (one
// fsync). Each iteration moves the clock one TOTP step, so every code is
// fresh and accepted.
func BenchmarkReauthenticate(b *testing.B) {
	db, _ := openTest(b)
	ctx := context.Background()
	clock := approvalstest.NewClock(time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC))
	svc, err := approvals.NewService(db, approvals.Policy{Reauth: map[string]string{"migrate": approvals.ReauthTOTP}, TTL: 1000 * time.Hour},
		approvals.WithClock(clock.Now), approvals.WithReauth(db, approvalstest.ReauthKey, nil))
	if err != nil {
		b.Fatal(err)
	}
	bob := approvals.User{ID: "console:bob", Name: "bob"}
	key, err := svc.Enroll(ctx, bob, "")
	if err != nil {
		b.Fatal(err)
	}
	r, err := svc.Open(ctx, approvals.NewRequest{Platform: "console", Channel: "ops", Host: "gitlab-1", Operation: "migrate",
		Argv: []string{"gitlab-rake", "db:migrate"}, Requester: approvals.User{ID: "console:alice"}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		clock.Advance(30 * time.Second)
		code, err := totp.GenerateCode(key.Secret(), clock.Now())
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := svc.Reauthenticate(ctx, r.ID, bob, code); err != nil {
			b.Fatal(err)
		}
	}
}
