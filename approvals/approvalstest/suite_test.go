package approvalstest_test

import (
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
)

// TestMemoryStoreConforms: the in-memory (optimistic) store passes the
// store conformance suite.
func TestMemoryStoreConforms(t *testing.T) {
	approvalstest.RunStoreSuite(t, func(t *testing.T) approvalstest.Harness {
		s := &approvalstest.Store{}
		return approvalstest.Harness{Store: s, Reader: s, Key: approvalstest.Key, Tamper: s.Tamper}
	})
}

// TestMemoryReauthStoreConforms: the in-memory store passes the
// re-authentication store suite.
func TestMemoryReauthStoreConforms(t *testing.T) {
	approvalstest.RunReauthStoreSuite(t, func(t *testing.T) approvalstest.ReauthHarness {
		s := &approvalstest.Store{}
		return approvalstest.ReauthHarness{Store: s, Reader: s, Key: approvalstest.Key}
	})
}
