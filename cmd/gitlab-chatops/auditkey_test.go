package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
)

func TestAuditKey(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.key")
	if err := os.WriteFile(good, []byte("  0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(dir, "open.key")
	if err := os.WriteFile(open, []byte("0123456789abcdef0123456789abcdef"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == envAuditKey {
				return v
			}
			return ""
		}
	}
	cases := []struct {
		name, file, env, want string
	}{
		{"file, trimmed", good, "", ""},
		{"environment", "", "0123456789abcdef0123456789abcdef", ""},
		{"file wins over environment", good, "short", ""},
		{"missing", "", "", "no audit key"},
		{"too short", "", "short", "at least 32"},
		{"unreadable", filepath.Join(dir, "nope.key"), "", "no such file"},
		{"readable by everyone", open, "", "chmod 600"},
	}
	for _, c := range cases {
		k, err := auditKey(c.file, env(c.env))
		switch {
		case c.want == "" && (err != nil || string(k) != "0123456789abcdef0123456789abcdef"):
			t.Errorf("%s: key %q, %v", c.name, k, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: err %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := auditKey("", env("")); !errors.Is(err, auditchain.ErrNoKey) {
		t.Errorf("missing key: %v does not wrap ErrNoKey", err)
	}

	// console --simulate: created once with mode 0600, then reused.
	k1, path, err := devAuditKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	k2, _, err := devAuditKey(dir)
	if err != nil || string(k1) != string(k2) || fi.Mode().Perm() != 0o600 || k1.Check() != nil {
		t.Fatalf("dev key: %q then %q (%v), mode %o", k1, k2, err, fi.Mode().Perm())
	}
}
