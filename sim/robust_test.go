package sim

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// Two db:migrate runs at once: the advisory lock lets one migrate while the
// other fails with ConcurrentMigrationError (or, if it comes later, finds
// nothing to do). Every migration runs exactly once and the state stays
// valid.
func TestConcurrentMigrate(t *testing.T) {
	for _, speed := range []string{"0", "0.02"} {
		for _, scenario := range []string{"default", "decomposed"} {
			t.Run(scenario+"/speed="+speed, func(t *testing.T) {
				h := newHost(t, scenario)
				env := map[string]string{"GITLAB_SIM_SPEED": speed, "GITLAB_SIM_STATE": h.state, "GITLAB_SIM_NOW": testNow}
				type result struct {
					out, err string
					code     int
				}
				results := make([]result, 3)
				var wg sync.WaitGroup
				for i := range results {
					wg.Add(1)
					go func() {
						defer wg.Done()
						var out, errb bytes.Buffer
						code := Main([]string{"rake", "db:migrate"}, &out, &errb, func(k string) string { return env[k] })
						results[i] = result{out.String(), errb.String(), code}
					}()
				}
				// Readers and service changes hammer the state meanwhile.
				for i := 0; i < 3; i++ {
					wg.Add(2)
					go func() {
						defer wg.Done()
						var out bytes.Buffer
						if code := Main([]string{"rake", "db:migrate:status", "gitlab:background_migrations:status"}, &out, nil, func(k string) string { return env[k] }); code != 0 {
							t.Errorf("status during migrate: exit %d", code)
						}
					}()
					go func() {
						defer wg.Done()
						var out bytes.Buffer
						if code := Main([]string{"ctl", "restart", "sidekiq"}, &out, nil, func(k string) string { return env[k] }); code != 0 {
							t.Errorf("restart during migrate: exit %d", code)
						}
					}()
				}
				wg.Wait()

				migrated := map[string]int{}
				for _, r := range results {
					res := gitlab.ParseMigrate([]byte(r.out + r.err))
					switch {
					case r.code == 0 && res.OK():
					case r.code == 1 && res.Failure != nil && res.Failure.Kind == gitlab.FailureConcurrentMigration:
						if len(res.Migrated) != 0 {
							t.Fatalf("a refused run migrated something: %s", r.out)
						}
					default:
						t.Fatalf("unexpected run: exit %d\n%s%s", r.code, r.out, r.err)
					}
					for _, m := range res.Migrated {
						migrated[m.Database+" "+m.Version]++
					}
				}
				want := 6
				if scenario == "decomposed" {
					want = 8
				}
				if len(migrated) != want {
					t.Fatalf("%d migrations ran, want %d: %v", len(migrated), want, migrated)
				}
				for k, n := range migrated {
					if n != 1 {
						t.Fatalf("%s ran %d times", k, n)
					}
				}
				st := parseStatus(t, mustOut(h.mustRake(0, "db:migrate:status")))
				if !st.AllUp() {
					t.Fatalf("%d down after concurrent runs", st.Down())
				}
				h.load()
				if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(h.state), ".state.json.tmp-*")); len(leftovers) != 0 {
					t.Fatalf("temporary files left: %v", leftovers)
				}
			})
		}
	}
}

// While another process holds the migration lock, db:migrate fails at once
// with Rails' ConcurrentMigrationError and changes nothing.
func TestMigrateWhileLocked(t *testing.T) {
	h := newHost(t, "default")
	lk, err := flock(store{h.state}.migrateLockPath(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock(lk)
	out, errs := h.mustRake(1, "db:migrate")
	res := gitlab.ParseMigrate([]byte(out + errs))
	if res.Failure == nil || res.Failure.Kind != gitlab.FailureConcurrentMigration {
		t.Fatalf("%+v\n%s%s", res, out, errs)
	}
	want := "rake aborted!\nActiveRecord::ConcurrentMigrationError: \n\nCannot run migrations because another migration process is currently running.\n\n"
	if !strings.HasPrefix(errs, want) || !strings.HasSuffix(errs, "Tasks: TOP => db:migrate\n(See full trace by running task with --trace)\n") {
		t.Fatalf("stderr:\n%s", errs)
	}
	if st := parseStatus(t, mustOut(h.mustRake(0, "db:migrate:status"))); st.Down() != 6 {
		t.Fatalf("%d down", st.Down())
	}
}

// No input makes Main panic or exit with a code it should not.
func TestNoPanicsOnOddInput(t *testing.T) {
	h := newHost(t, "decomposed-bbm-unfinished")
	inputs := [][]string{
		nil, {}, {""}, {"--state"}, {"--state="}, {"--state", ""}, {"--help"}, {"help"}, {"scenarios"}, {"bogus"},
		{"rake"}, {"rake", ""}, {"rake", "["}, {"rake", "]"}, {"rake", "[]"}, {"rake", "a[b"}, {"rake", "\x00"},
		{"rake", "db:migrate:status\n"}, {"rake", strings.Repeat("x", 100000)}, {"rake", "-T"}, {"rake", "--trace", "nonsense"},
		{"rake", "A=b"}, {"rake", "=x"}, {"rake", "--help"},
		{"rake", "gitlab:background_migrations:finalize:ci[" + strings.Repeat("[", 5000) + "]"},
		{"rake", "gitlab:background_migrations:finalize:ci[a,b,c,\"\\u00e9\\ud800\"]"},
		{"rake", "gitlab:background_migrations:finalize:ci[a,b,c,\xff\xfe]"},
		{"rake", "gitlab:background_migrations:finalize:ci[a,b,c,{\"k\":[1\\,{\"x\":}]}]"},
		{"rake", "gitlab:background_migrations:finalize:ci[a,b,c,\"unterminated]"},
		{"rake", "gitlab:background_migrations:finalize:ci[a,b,c,[1e999]]"},
		{"rake", "gitlab:background_migrations:finalize:ci[a,b,c,[]   x]"},
		{"ctl"}, {"ctl", ""}, {"ctl", "status", ""}, {"ctl", "status", "../../etc"}, {"ctl", "tail"}, {"ctl", "restart", "puma", "extra"},
		{"init", "--scenario"}, {"init", "--scenario", ""}, {"init", "extra"}, {"init", "--state"}, {"init", "--list"},
	}
	for _, args := range inputs {
		var out, errb bytes.Buffer
		code := Main(args, &out, &errb, func(k string) string {
			if k == "GITLAB_SIM_SPEED" {
				return "0"
			}
			return h.env[k]
		})
		if code == 70 || strings.Contains(errb.String(), "internal error") {
			t.Fatalf("%q: internal error: %s", args, errb.String())
		}
		if code != 0 && errb.Len() == 0 {
			t.Fatalf("%q: exit %d without a message", args, code)
		}
	}
	// Nil writers and a nil getenv are tolerated.
	if code := Main([]string{"scenarios"}, nil, nil, nil); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

func TestStateProblemsAreClearErrors(t *testing.T) {
	dir := t.TempDir()
	run := func(env map[string]string, args ...string) (string, int) {
		var out, errb bytes.Buffer
		code := Main(args, &out, &errb, func(k string) string { return env[k] })
		return errb.String(), code
	}
	if msg, code := run(map[string]string{}, "rake", "db:migrate:status"); code != 2 || !strings.Contains(msg, "GITLAB_SIM_STATE") {
		t.Fatalf("no state: %d %s", code, msg)
	}
	missing := filepath.Join(dir, "missing.json")
	if msg, code := run(map[string]string{"GITLAB_SIM_STATE": missing}, "ctl", "status"); code != 2 || !strings.Contains(msg, "does not exist") || !strings.Contains(msg, "init") {
		t.Fatalf("missing state: %d %s", code, msg)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte("{not json"), 0o644)
	if msg, code := run(map[string]string{"GITLAB_SIM_STATE": bad}, "rake", "db:migrate"); code != 2 || !strings.Contains(msg, "not valid JSON") {
		t.Fatalf("corrupt state: %d %s", code, msg)
	}
	os.WriteFile(bad, []byte(`{"format": 99}`), 0o644)
	if msg, code := run(map[string]string{"GITLAB_SIM_STATE": bad}, "rake", "db:migrate"); code != 2 || !strings.Contains(msg, "format 99") {
		t.Fatalf("wrong format: %d %s", code, msg)
	}
	for _, v := range []string{"fast", "-1", "NaN", "Inf"} {
		if msg, code := run(map[string]string{"GITLAB_SIM_STATE": bad, "GITLAB_SIM_SPEED": v}, "ctl", "status"); code != 2 || !strings.Contains(msg, "GITLAB_SIM_SPEED") {
			t.Fatalf("speed %q: %d %s", v, code, msg)
		}
	}
	if msg, code := run(map[string]string{"GITLAB_SIM_STATE": bad, "GITLAB_SIM_NOW": "yesterday"}, "ctl", "status"); code != 2 || !strings.Contains(msg, "GITLAB_SIM_NOW") {
		t.Fatalf("now: %d %s", code, msg)
	}
	// --state before the mode wins over the environment.
	good := filepath.Join(dir, "good.json")
	if _, code := run(map[string]string{"GITLAB_SIM_STATE": bad, "GITLAB_SIM_SPEED": "0"}, "--state", good, "init", "--scenario", "up-to-date"); code != 0 {
		t.Fatal("init with --state failed")
	}
	if _, code := run(map[string]string{"GITLAB_SIM_STATE": bad, "GITLAB_SIM_SPEED": "0"}, "--state="+good, "rake", "db:migrate:status"); code != 0 {
		t.Fatal("--state= was not used")
	}
}

func TestInit(t *testing.T) {
	dir := t.TempDir()
	err := Init(filepath.Join(dir, "s.json"), "nope")
	if err == nil {
		t.Fatal("unknown scenario accepted")
	}
	for _, sc := range scenarios {
		if !strings.Contains(err.Error(), sc.name) {
			t.Fatalf("error %q does not list %s", err, sc.name)
		}
	}
	if err := Init(filepath.Join(dir, "no", "such", "dir", "s.json"), "default"); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing directory: %v", err)
	}
	if err := Init("", "default"); err == nil {
		t.Fatal("empty path accepted")
	}
	for _, sc := range scenarios {
		p := filepath.Join(dir, sc.name+".json")
		if err := Init(p, sc.name); err != nil {
			t.Fatalf("%s: %v", sc.name, err)
		}
		if _, err := (store{p}).load(); err != nil {
			t.Fatalf("%s: %v", sc.name, err)
		}
	}
	// Init replaces an existing state.
	p := filepath.Join(dir, "default.json")
	os.WriteFile(p, []byte("garbage"), 0o644)
	if err := Init(p, "default"); err != nil {
		t.Fatal(err)
	}
}

// The lock really excludes: a second flock on the state lock blocks until
// the first is released.
func TestStateLockExcludes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.lock")
	a, err := flock(p, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := flock(p, true); err != errLocked {
		t.Fatalf("second lock: %v", err)
	}
	unlock(a)
	b, err := flock(p, true)
	if err != nil {
		t.Fatal(err)
	}
	unlock(b)
}

// FuzzRakeTask: whatever task string arrives, the simulator answers with an
// exit code and a message, never a panic, and the state stays loadable.
func FuzzRakeTask(f *testing.F) {
	for _, s := range []string{
		"db:migrate", "db:migrate:status:ci", "gitlab:background_migrations:finalize[A,b,c,[]]",
		`gitlab:background_migrations:finalize:ci[CopyColumnUsingBackgroundMigrationJob,ci_build_needs,id,[["id"\,"build_id"]\,["id_convert_to_bigint"\,"build_id_convert_to_bigint"]]]`,
		"gitlab:background_migrations:finalize[a,b,c,'[]']", "x[", "[,]", "db:migrate:ci", "A=1", "-x", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, task string) {
		h := newHost(t, "decomposed-bbm-unfinished")
		var out, errb bytes.Buffer
		code := Main([]string{"rake", task}, &out, &errb, func(k string) string { return h.env[k] })
		if code == 70 || (code != 0 && errb.Len() == 0) {
			t.Fatalf("%q: exit %d, stderr %q", task, code, errb.String())
		}
		h.load()
	})
}

func TestPerDatabaseMigrate(t *testing.T) {
	h := newHost(t, "decomposed")
	out, _ := h.mustRake(0, "db:migrate:ci")
	res := gitlab.ParseMigrate([]byte(out))
	if !res.OK() || len(res.Migrated) != 4 || strings.Count(out, "[advisory_lock_connection]") != 2 {
		t.Fatalf("db:migrate:ci: %+v\n%s", res, out)
	}
	for _, m := range res.Migrated {
		if m.Database != "ci" {
			t.Fatalf("%+v ran outside ci", m)
		}
	}
	st := parseStatus(t, mustOut(h.mustRake(0, "db:migrate:status:main", "db:migrate:status:ci")))
	if len(st.Databases) != 2 || st.Databases[0].Down != 4 || st.Databases[1].Down != 0 {
		t.Fatalf("%+v", st)
	}
	if out, _ := h.mustRake(0, "--trace", "db:migrate:main"); gitlab.ParseMigrate([]byte(out)).Migrated[0].Database != "main" {
		t.Fatal(out)
	}
	_, errs := h.mustRake(1, "--trace", "nonsense")
	if strings.Contains(errs, "(See full trace") {
		t.Fatal("--trace still suggests --trace")
	}
}
