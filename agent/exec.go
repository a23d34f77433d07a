package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"
)

// How a job's program is run. There is never a shell: argv is built from the
// catalogue (gitlab.Operation.Command) and passed to execve as it is.
//
// Process group: the program starts in a new process group (Setpgid) whose
// ID is its PID; everything it forks stays in that group unless it calls
// setsid/setpgid itself. Timeout, cancel and shutdown signal the whole group:
// SIGTERM, then SIGKILL after kill_grace. When the job ends, whatever is left
// of the group is killed too: the group is the job, and "one mutating job at
// a time" would mean nothing if a background child outlived it.
//
// Dying with the agent: Pdeathsig=SIGKILL makes the kernel kill the program
// when the thread that started it exits. Go may retire threads, so the
// runner goroutine stays locked to its OS thread (runtime.LockOSThread) until
// the program has exited: the thread then lives exactly as long as the agent
// needs it. Pdeathsig reaches only the direct child (grandchildren are
// covered by systemd's KillMode=control-group, see the unit file), and the
// kernel clears it when a set-user-ID program such as sudo starts.
//
// With sudo: the agent's signals reach sudo, which relays SIGTERM to the
// command; SIGKILL cannot be relayed. If the command outlives sudo, its pipes
// are closed after a further grace so that the job still ends, and the
// record says so.

// minimalPath is the PATH of every job; the programs themselves are given
// by absolute path and never looked up.
const minimalPath = "PATH=/usr/sbin:/usr/bin:/sbin:/bin"

// procSpec is a fully built command.
type procSpec struct {
	argv      []string
	env       []string
	killGrace time.Duration
	persist   time.Duration
}

// buildArgv assembles [sudo -n --] program prefix-args command-args.
func buildArgv(sudo string, prog Program, args []string) []string {
	var argv []string
	if sudo != "" {
		argv = append(argv, sudo, "-n", "--")
	}
	argv = append(argv, prog.Path)
	argv = append(argv, prog.Args...)
	return append(argv, args...)
}

// jobEnv is the whole environment of a job: nothing of the agent's own
// environment leaks into it.
func jobEnv(extra []string) []string {
	return append([]string{minimalPath, "LANG=C.UTF-8"}, extra...)
}

// outcome is how a program ended.
type outcome struct {
	exitCode *int
	signal   string     // set when the program died of a signal
	startErr error      // the program could not be started
	cause    *stopCause // set when the agent stopped it
	escaped  string     // set when output pipes had to be closed by force
}

// execute runs spec for j until the program and everything holding its
// output pipes are gone, appending output to j and persisting j's record
// every spec.persist. It returns when the job's output is complete.
func execute(ctx context.Context, j *job, spec procSpec) outcome {
	log := j.log
	// See "Dying with the agent" above.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	// stdout is a terminal (see pty.go), or a pipe where none can be had.
	env := spec.env
	outR, outW, err := openStdoutPTY()
	var clean func([]byte) []byte
	if err == nil {
		env = append(slices.Clone(env), ptyTermEnv)
		clean = stripControl
	} else {
		log.Warn("no pseudo-terminal for the job's stdout; using a pipe, so the program may buffer its output until it exits", "err", err)
		if outR, outW, err = os.Pipe(); err != nil {
			return outcome{startErr: fmt.Errorf("stdout pipe: %w", err)}
		}
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return outcome{startErr: fmt.Errorf("stderr pipe: %w", err)}
	}
	cmd := &exec.Cmd{
		Path:   spec.argv[0],
		Args:   spec.argv,
		Env:    env,
		Dir:    "/",
		Stdin:  nil, // /dev/null: nothing may wait for a person to type
		Stdout: outW,
		Stderr: errW,
		SysProcAttr: &syscall.SysProcAttr{
			Setpgid:   true,
			Pdeathsig: syscall.SIGKILL,
		},
	}
	startErr := cmd.Start()
	// The child has its copies; ours must go so that EOF means "every
	// process holding the pipe is gone".
	outW.Close()
	errW.Close()
	if startErr != nil {
		outR.Close()
		errR.Close()
		return outcome{startErr: startErr}
	}
	pgid := cmd.Process.Pid
	log.Info("job process started", "pid", pgid, "argv", strings.Join(spec.argv, " "))

	var readers sync.WaitGroup
	readers.Add(2)
	go func() { defer readers.Done(); readLines(outR, StreamStdout, clean, j.appendLine, j.flushLog) }()
	go func() { defer readers.Done(); readLines(errR, StreamStderr, nil, j.appendLine, j.flushLog) }()
	readersDone := make(chan struct{})
	go func() { readers.Wait(); close(readersDone) }()
	waitDone := make(chan error, 1)
	go func() { waitDone <- cmd.Wait() }()

	persist := time.NewTicker(spec.persist)
	defer persist.Stop()
	var (
		res          outcome
		ctxDone      = ctx.Done()
		killC        <-chan time.Time // SIGKILL the group
		forceC       <-chan time.Time // close the pipes by force
		leaderExited bool
		outputDone   bool
		sigWarned    bool
	)
	signal := func(sig syscall.Signal) {
		if err := syscall.Kill(-pgid, sig); err != nil && !errors.Is(err, syscall.ESRCH) && !sigWarned {
			sigWarned = true
			log.Warn("cannot signal the job's process group", "pgid", pgid, "signal", sig.String(), "err", err)
		}
	}
	afterLeader := func() {
		// The program exited but something still holds its output pipes:
		// give it kill_grace, then kill the group, then stop waiting.
		if killC == nil {
			killC = time.After(spec.killGrace)
		}
	}
	for !leaderExited || !outputDone {
		select {
		case <-persist.C:
			j.persist()
		case <-ctxDone:
			ctxDone = nil
			var sc *stopCause
			if errors.As(context.Cause(ctx), &sc) {
				res.cause = sc
			} else {
				res.cause = &stopCause{state: StateInterrupted, msg: "stopped: " + context.Cause(ctx).Error()}
			}
			log.Info("stopping job", "pgid", pgid, "reason", res.cause.msg)
			signal(syscall.SIGTERM)
			killC = time.After(spec.killGrace)
		case <-killC:
			killC = nil
			log.Warn("killing job's process group", "pgid", pgid)
			signal(syscall.SIGKILL)
			if forceC == nil {
				forceC = time.After(2 * time.Second)
			}
		case <-forceC:
			forceC = nil
			if !outputDone {
				res.escaped = "a process outside the job's process group kept its output open; the agent stopped reading it"
				log.Warn("closing output pipes held by an escaped process")
				outR.Close()
				errR.Close()
			}
			if !leaderExited {
				// Unkillable by us (e.g. sudo's child as another user):
				// keep waiting, but forceC will not fire again.
				log.Error("job process did not exit after SIGKILL", "pid", pgid)
			}
		case <-waitDone:
			waitDone = nil
			leaderExited = true
			res.exitCode, res.signal = exitStatus(cmd)
			if !outputDone {
				afterLeader()
			}
		case <-readersDone:
			readersDone = nil
			outputDone = true
		}
	}
	// Sweep: the job is over, so is its group.
	signal(syscall.SIGKILL)
	return res
}

// exitStatus reads how the program ended.
func exitStatus(cmd *exec.Cmd) (*int, string) {
	ps := cmd.ProcessState
	if ps == nil {
		return nil, ""
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return nil, ws.Signal().String()
	}
	code := ps.ExitCode()
	if code < 0 {
		return nil, ""
	}
	return &code, ""
}

// readLines splits r into lines and calls emit for each, until EOF or an
// error (a forced close). Lines longer than MaxLineBytes are split at a
// UTF-8 boundary; a final line without newline is emitted as it is. raw
// counts the bytes read for each line, so their sum is the output size.
// batchDone is called after the lines of each read are emitted: the job
// then writes its log buffer out, so a line is on disk (in the page cache)
// about as soon as a client sees it, at one write per read, not per line.
// clean (may be nil) rewrites each line's bytes before it becomes text,
// in place (stripControl for a terminal); raw still counts what was read.
// A terminal's read ends with EIO once every writer is gone: like EOF.
func readLines(r *os.File, stream string, clean func([]byte) []byte, emit func(stream, text string, raw int64), batchDone func()) {
	defer r.Close()
	buf := make([]byte, 32*1024)
	line := make([]byte, 0, MaxLineBytes)
	for {
		n, err := r.Read(buf)
		data := buf[:n]
		for len(data) > 0 {
			if len(line) == MaxLineBytes && data[0] != '\n' {
				cut := utf8Cut(line)
				emit(stream, cleanText(clean, line[:cut]), int64(cut))
				line = line[:copy(line, line[cut:])]
			}
			seg := data
			nl := bytes.IndexByte(data, '\n')
			if nl >= 0 {
				seg = data[:nl]
			}
			take := min(len(seg), MaxLineBytes-len(line))
			line = append(line, seg[:take]...)
			data = data[take:]
			if take == len(seg) && nl >= 0 {
				emit(stream, cleanText(clean, line), int64(len(line))+1)
				line = line[:0]
				data = data[1:]
			}
		}
		if n > 0 {
			batchDone()
		}
		if err != nil {
			if len(line) > 0 {
				emit(stream, cleanText(clean, line), int64(len(line)))
			}
			return
		}
	}
}

// utf8Cut returns where to split a full line so that no rune is cut in
// two: before an incomplete rune at the end, otherwise at the end.
func utf8Cut(b []byte) int {
	i := len(b) - 1
	for i > 0 && i > len(b)-utf8.UTFMax && !utf8.RuneStart(b[i]) {
		i--
	}
	if i > 0 && utf8.RuneStart(b[i]) && !utf8.FullRune(b[i:]) {
		return i
	}
	return len(b)
}

// cleanText is lineText after clean, which works in place: it only ever
// shortens what it is given, so the bytes of line beyond it (the rest of
// a split line) are untouched.
func cleanText(clean func([]byte) []byte, line []byte) string {
	if clean == nil {
		return lineText(line)
	}
	return lineText(clean(line))
}

// lineText turns raw bytes into a line's text: invalid UTF-8 is replaced so
// that the text survives JSON unchanged and the digest is reproducible.
func lineText(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}
