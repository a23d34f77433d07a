package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkConfigCase writes content to a file in dir named after the case and
// runs `config check --for console` on it in process. With want empty the
// check must pass; otherwise it must refuse (exit 2) with want in stderr.
// It returns stderr and whether the check refused, so a caller may assert
// more about a refusal.
func checkConfigCase(t *testing.T, dir, name, content, want string) (stderr string, refused bool) {
	t.Helper()
	p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, errb bytes.Buffer
	code := run(context.Background(), []string{"config", "check", "--for", "console", p}, nil, &stdout, &errb)
	if want == "" {
		if code != 0 {
			t.Fatalf("refused (exit %d):\n%s", code, errb.String())
		}
		return errb.String(), false
	}
	if code != 2 || !strings.Contains(errb.String(), want) {
		t.Fatalf("exit %d, stderr:\n%s\nwant exit 2 and %q", code, errb.String(), want)
	}
	return errb.String(), true
}
