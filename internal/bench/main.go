package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: 0 when every goal is met, 1 when one
// is missed, 2 on bad usage or when the run cannot start.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("bench", flag.ContinueOnError)
	fl.SetOutput(stderr)
	rounds := fl.Int("rounds", 3, "rounds per figure, 1 to 5 (the published table uses 3 to 5)")
	only := fl.String("only", ".", "run only the figures whose \"ID name\" matches this regular expression (e.g. 'P2|P3')")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(stderr, "bench: unexpected argument %q (flags only: -rounds N, -only REGEXP)\n", fl.Arg(0))
		return 2
	}
	if *rounds < 1 || *rounds > 5 {
		fmt.Fprintf(stderr, "bench: -rounds %d: want 1 to 5\n", *rounds)
		return 2
	}
	re, err := regexp.Compile(*only)
	if err != nil {
		fmt.Fprintf(stderr, "bench: -only %q is not a regular expression: %v\n", *only, err)
		return 2
	}
	figs := selectFigures(figures(), re)
	if len(figs) == 0 {
		fmt.Fprintf(stderr, "bench: -only %q matches no figure\n", *only)
		return 2
	}
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	dir, err := os.MkdirTemp("", "chatops-bench-")
	if err != nil {
		fmt.Fprintln(stderr, "bench: scratch directory:", err)
		return 2
	}
	defer os.RemoveAll(dir)
	env := newEnv(root, dir)

	start := time.Now()
	fmt.Fprintf(stdout, "%s\n\n", machine(ctx, root))
	var results []Result
	for _, f := range figs {
		results = append(results, measure(ctx, env, f, *rounds, func(s string) {
			fmt.Fprintf(stderr, "bench: %s (%s)\n", s, time.Since(start).Round(time.Second))
		})...)
		if ctx.Err() != nil {
			break
		}
	}
	fmt.Fprintf(stdout, "%d rounds per figure; table in %s; load average after: %s\n\n", *rounds,
		time.Since(start).Round(time.Second), loadavg())
	if err := writeTable(stdout, results); err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	for _, r := range results {
		if !r.Met() {
			return 1
		}
	}
	return 0
}

// moduleRoot is the nearest directory above the working one holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("looking for go.mod: %w", err)
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("no go.mod above the working directory: run scripts/bench from the repository")
		}
		dir = up
	}
}
