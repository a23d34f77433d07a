package gitlab_test

import (
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// TestFinalizeDatabase: finalize:<db> exists only on an install with
// several databases; with one, a finalize is the plain task whatever
// database the migration was queued on.
func TestFinalizeDatabase(t *testing.T) {
	for _, tc := range []struct {
		n        int
		db, want string
	}{
		{1, "main", ""}, {1, "", ""}, {2, "main", "main"}, {2, "ci", "ci"}, {3, "ci", "ci"}, {2, "", ""},
	} {
		if got := gitlab.FinalizeDatabase(tc.n, tc.db); got != tc.want {
			t.Errorf("FinalizeDatabase(%d, %q) = %q, want %q", tc.n, tc.db, got, tc.want)
		}
		if got := gitlab.FinalizeVariants(tc.n); got != (tc.n > 1) {
			t.Errorf("FinalizeVariants(%d) = %v", tc.n, got)
		}
	}
}

// TestCtlOperation: of gitlab-ctl's actions, the catalogue offers status
// (services) and restart, nothing else.
func TestCtlOperation(t *testing.T) {
	for action, want := range map[string]string{"status": gitlab.OpServices, "restart": gitlab.OpRestart, "stop": "", "reconfigure": "", "": ""} {
		op, ok := gitlab.CtlOperation(action)
		if ok != (want != "") || op.Name != want {
			t.Errorf("CtlOperation(%q) = %q, %v; want %q", action, op.Name, ok, want)
		}
	}
}

// TestParseStreams: gitlab-ctl's answers and the 18.x bbm list are read
// from stdout alone, rake's other answers with stderr (where rake prints
// its errors).
func TestParseStreams(t *testing.T) {
	for _, op := range gitlab.Catalogue() {
		want := gitlab.StdoutAndStderr
		if op.Program == gitlab.Ctl || op.Name == gitlab.OpBBMList {
			want = gitlab.StdoutOnly
		}
		if op.Parse != want {
			t.Errorf("%s parses %v, want %v", op.Name, op.Parse, want)
		}
	}
}
