package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Env is what rounds share: the module's root, a scratch directory, and
// the test binaries already compiled.
type Env struct {
	Root string // the module's root directory
	Dir  string // scratch, removed when the run ends
	bins map[string]string
}

func newEnv(root, dir string) *Env { return &Env{Root: root, Dir: dir, bins: map[string]string{}} }

// GoBench runs, once, the benchmarks of pkg ("./gitlab") matching pattern
// with -benchtime benchtime, in the package's test binary (compiled on
// first use) with extra environment env ("K=V"), and returns every metric
// they reported keyed "Name unit": "ParseMigrateStatusLarge ns/op",
// "AckUnderLoad serve-p99-ms". A benchmark that fails is an error carrying
// its output's last lines.
func (e *Env) GoBench(ctx context.Context, pkg, pattern, benchtime string, env ...string) (Values, error) {
	bin, err := e.testBinary(ctx, pkg)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, "-test.run=^$", "-test.bench="+pattern, "-test.benchtime="+benchtime, "-test.benchmem")
	cmd.Dir = filepath.Join(e.Root, pkg) // as go test runs it: testdata and ../ paths resolve
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%s -bench %s: %w: %s", pkg, pattern, err, tail(out, 5))
	}
	v := parseBench(out)
	if len(v) == 0 {
		return nil, fmt.Errorf("%s -bench %s matched no benchmark: %s", pkg, pattern, tail(out, 5))
	}
	return v, nil
}

func (e *Env) testBinary(ctx context.Context, pkg string) (string, error) {
	if bin, ok := e.bins[pkg]; ok {
		return bin, nil
	}
	bin := filepath.Join(e.Dir, strings.NewReplacer("/", "_", ".", "_").Replace(pkg)+".test")
	cmd := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, pkg)
	cmd.Dir = e.Root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go test -c %s: %w: %s", pkg, err, tail(out, 10))
	}
	e.bins[pkg] = bin
	return bin, nil
}

// benchLine is a result line: name (with the GOMAXPROCS suffix), the
// iterations, then value-unit pairs.
var benchLine = regexp.MustCompile(`^Benchmark(\S+?)(-\d+)?\s+\d+\s+(.*)$`)

// parseBench reads `go test -bench` output into Values keyed "Name unit".
// A name run twice (-count) keeps its last value.
func parseBench(out []byte) Values {
	v := Values{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		f := strings.Fields(m[3])
		for i := 0; i+1 < len(f); i += 2 {
			x, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			v[m[1]+" "+f[i+1]] = x
		}
	}
	return v
}

// tail is the last n lines of out, on one line.
func tail(out []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}
