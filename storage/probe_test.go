package storage

import (
	"context"
	"testing"
)

// TestProbe: the write probe succeeds on an open database, and fails on a
// read-only one and once the database is closed, as a readiness check
// must see them.
func TestProbe(t *testing.T) {
	ctx := context.Background()
	db, path := openTest(t)
	if err := db.Probe(ctx); err != nil {
		t.Fatalf("probe of an open database: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Probe(ctx); err == nil {
		t.Error("probe of a closed database succeeded")
	}
	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if err := ro.Probe(ctx); err == nil {
		t.Error("probe of a read-only database succeeded")
	}
}
