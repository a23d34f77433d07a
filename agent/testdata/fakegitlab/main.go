// Command fakegitlab stands in for gitlab-rake and gitlab-ctl in the agent's
// tests. It is run through symlinks named like the real programs; what it
// does is read from fake.json in the symlink's directory, keyed by its first
// argument (the rake task or gitlab-ctl verb), "*" as fallback. Every
// invocation is appended to ran.log in that directory, so tests can prove
// that nothing ran.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

type behavior struct {
	Mode     string `json:"mode"`
	Lines    []line `json:"lines"`    // script
	Exit     int    `json:"exit"`     // script, count
	N        int    `json:"n"`        // count
	Interval string `json:"interval"` // count
	Bytes    int64  `json:"bytes"`    // bytes
	LineLen  int    `json:"line_len"` // bytes
	Sleep    string `json:"sleep"`    // sleep (empty: forever)
}

type line struct {
	Stream string `json:"stream"`
	Text   string `json:"text"`
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "__sleep" {
		sleepForever() // the grandchild: sleep until killed
	}
	if filepath.Base(os.Args[0]) == "sudo" {
		fakeSudo()
	}
	dir := filepath.Dir(os.Args[0])
	args := os.Args[1:]
	if f, err := os.OpenFile(filepath.Join(dir, "ran.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
		fmt.Fprintf(f, "%d %s\n", os.Getpid(), strings.Join(args, " "))
		f.Close()
	}
	var behaviors map[string]behavior
	data, err := os.ReadFile(filepath.Join(dir, "fake.json"))
	if err == nil {
		err = json.Unmarshal(data, &behaviors)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakegitlab:", err)
		os.Exit(2)
	}
	key := ""
	if len(args) > 0 {
		key = args[0]
	}
	b, ok := behaviors[key]
	if !ok {
		b = behaviors["*"]
	}
	os.Exit(run(b, args))
}

func run(b behavior, args []string) int {
	switch b.Mode {
	case "", "script":
		for _, l := range b.Lines {
			if l.Stream == "stderr" {
				fmt.Fprintln(os.Stderr, l.Text)
			} else {
				fmt.Fprintln(os.Stdout, l.Text)
			}
		}
		return b.Exit
	case "raw": // the first line's text, written without adding a newline
		if len(b.Lines) > 0 {
			os.Stdout.WriteString(b.Lines[0].Text)
		}
		return b.Exit
	case "args":
		fmt.Println(strings.Join(args, "\x00"))
		return 0
	case "env":
		for _, e := range os.Environ() {
			fmt.Println(e)
		}
		return 0
	case "count":
		iv, _ := time.ParseDuration(b.Interval)
		for i := 1; i <= b.N; i++ {
			if i%5 == 0 {
				fmt.Fprintf(os.Stderr, "err %d\n", i)
			} else {
				fmt.Fprintf(os.Stdout, "line %d\n", i)
			}
			if iv > 0 {
				time.Sleep(iv)
			}
		}
		return b.Exit
	case "sleep":
		fmt.Printf("pid %d\n", os.Getpid())
		if b.Sleep == "" {
			sleepForever()
		}
		d, _ := time.ParseDuration(b.Sleep)
		time.Sleep(d)
		fmt.Println("woke up")
		return b.Exit
	case "ignoreterm":
		signal.Ignore(syscall.SIGTERM)
		fmt.Printf("pid %d\n", os.Getpid())
		sleepForever()
	case "grandchild":
		c := exec.Command(os.Args[0], "__sleep")
		if err := c.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "start grandchild:", err)
			return 3
		}
		fmt.Printf("pid %d\n", os.Getpid())
		fmt.Printf("grandchild %d\n", c.Process.Pid)
		sleepForever()
	case "bytes":
		w := bufio.NewWriterSize(os.Stdout, 256<<10)
		n := max(b.LineLen, 2)
		buf := make([]byte, n)
		for i := range buf {
			buf[i] = 'a' + byte(i%26)
		}
		buf[n-1] = '\n'
		var written int64
		for written < b.Bytes {
			k := min(int64(n), b.Bytes-written)
			chunk := buf[:k]
			if k < int64(n) {
				chunk = append(append([]byte(nil), buf[:k-1]...), '\n')
			}
			if _, err := w.Write(chunk); err != nil {
				return 4
			}
			written += k
		}
		if err := w.Flush(); err != nil {
			return 4
		}
		return 0
	}
	fmt.Fprintln(os.Stderr, "fakegitlab: unknown mode", b.Mode)
	return 2
}

// sleepForever blocks until the process is killed. (An empty select would
// make the runtime abort with "all goroutines are asleep".)
func sleepForever() {
	for {
		time.Sleep(time.Hour)
	}
}

// fakeSudo checks the agent's sudo convention (sudo -n -- PROGRAM ARGS...)
// and executes PROGRAM in its place, as sudo would, saying so on stderr.
func fakeSudo() {
	args := os.Args[1:]
	if len(args) < 3 || args[0] != "-n" || args[1] != "--" {
		fmt.Fprintf(os.Stderr, "fake sudo: want -n -- PROGRAM ..., got %q\n", args)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "fake sudo: running", args[2])
	if err := syscall.Exec(args[2], slices.Clone(args[2:]), os.Environ()); err != nil {
		fmt.Fprintln(os.Stderr, "fake sudo:", err)
		os.Exit(1)
	}
}
