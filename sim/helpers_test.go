package sim

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// testNow is the pretend time of most tests (GITLAB_SIM_NOW), so that
// uptimes match the fixtures exactly.
const testNow = "2025-06-15T10:00:00Z"

// host is one simulated GitLab in a temporary directory.
type host struct {
	t     *testing.T
	state string
	env   map[string]string
}

func newHost(t *testing.T, scenario string) *host {
	t.Helper()
	h := &host{t: t, state: filepath.Join(t.TempDir(), "state.json"),
		env: map[string]string{"GITLAB_SIM_SPEED": "0", "GITLAB_SIM_NOW": testNow}}
	h.env["GITLAB_SIM_STATE"] = h.state
	if scenario != "" {
		if _, _, code := h.main("init", "--scenario", scenario); code != 0 {
			t.Fatalf("init %s failed", scenario)
		}
	}
	return h
}

// main runs Main with the host's environment and returns stdout, stderr
// without the banner line (checked), and the exit code.
func (h *host) main(args ...string) (string, string, int) {
	h.t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, &out, &errb, func(k string) string { return h.env[k] })
	stderr := errb.String()
	first, rest, _ := strings.Cut(stderr, "\n")
	if !strings.HasPrefix(first, "gitlab-sim: ") || !strings.Contains(first, "no real GitLab is touched") {
		h.t.Fatalf("%v: stderr does not start with the simulator banner: %q", args, stderr)
	}
	return out.String(), rest, code
}

func (h *host) rake(args ...string) (string, string, int) {
	h.t.Helper()
	return h.main(append([]string{"rake"}, args...)...)
}

func (h *host) ctl(args ...string) (string, string, int) {
	h.t.Helper()
	return h.main(append([]string{"ctl"}, args...)...)
}

// mustRake runs a rake task that must exit with want.
func (h *host) mustRake(want int, args ...string) (string, string) {
	h.t.Helper()
	out, errs, code := h.rake(args...)
	if code != want {
		h.t.Fatalf("rake %v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, code, want, out, errs)
	}
	return out, errs
}

func (h *host) mustCtl(want int, args ...string) string {
	h.t.Helper()
	out, errs, code := h.ctl(args...)
	if code != want {
		h.t.Fatalf("ctl %v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, code, want, out, errs)
	}
	return out
}

func (h *host) load() *State {
	h.t.Helper()
	s, err := store{h.state}.load()
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func (h *host) stateBytes() []byte {
	h.t.Helper()
	b, err := os.ReadFile(h.state)
	if err != nil {
		h.t.Fatal(err)
	}
	return b
}

// fixtureDir finds shared/fixtures/gitlab beside the repository (CI lays a
// copy of shared/ next to the clone).
func fixtureDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		p := filepath.Join(dir, "shared", "fixtures", "gitlab")
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("shared/fixtures/gitlab not found above the working directory")
		}
		dir = parent
	}
}

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sameBytes fails with a line diff when got != want.
func sameBytes(t *testing.T, what, got, want string) {
	t.Helper()
	if got == want {
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(gl) || i < len(wl); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("%s differs from the fixture at line %d:\n got: %q\nwant: %q", what, i+1, g, w)
		}
	}
	t.Fatalf("%s differs from the fixture (line count %d vs %d)", what, len(gl), len(wl))
}

var digits = regexp.MustCompile(`[0-9]+`)

// shape replaces every number by N: the layout without pids and timings.
func shape(s string) string { return digits.ReplaceAllString(s, "N") }

// splitAborted splits a merged fixture at "rake aborted!" into the stdout
// and stderr parts.
func splitAborted(s string) (string, string) {
	i := strings.Index(s, "rake aborted!\n")
	if i < 0 {
		return s, ""
	}
	return s[:i], s[i:]
}
