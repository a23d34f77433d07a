package agent

import (
	"fmt"
	"os"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// A job's stdout is a pseudo-terminal, its stderr a pipe.
//
// Why: Ruby (and so gitlab-rake) block-buffers stdout into a pipe, so a
// migration's lines would arrive only when the program exits; on a
// terminal it writes each line as it is printed. Only stdout gets one: the
// parsers rely on stdout and stderr staying apart, and a terminal would
// merge them.
//
// The terminal is raw: no echo (the job's stdin is /dev/null anyway, but
// nothing typed or written back is ever shown), no output processing (so
// no "\r\n" for "\n"), no signals from control characters. It is not the
// job's controlling terminal (no setsid), so the job stays in the process
// group the agent signals, and closing it sends no SIGHUP. It is wide, so
// programs that wrap at the terminal width do not. What programs still
// send for terminals (colours, cursor movement) is stripped line by line
// (stripControl); TERM=dumb asks them not to.

// ptyTermEnv is added to a job's environment when stdout is a terminal.
const ptyTermEnv = "TERM=dumb"

// openStdoutPTY returns a raw pseudo-terminal: the agent reads master, the
// job writes to tty.
func openStdoutPTY() (master, tty *os.File, err error) {
	master, tty, err = pty.Open()
	if err != nil {
		return nil, nil, fmt.Errorf("pseudo-terminal: %w", err)
	}
	if err := makeRaw(tty); err != nil {
		master.Close()
		tty.Close()
		return nil, nil, err
	}
	if err := pty.Setsize(master, &pty.Winsize{Rows: 50, Cols: 1000}); err != nil {
		master.Close()
		tty.Close()
		return nil, nil, fmt.Errorf("pseudo-terminal size: %w", err)
	}
	return master, tty, nil
}

// makeRaw sets f's terminal to raw mode, as cfmakeraw(3) does.
func makeRaw(f *os.File) error {
	t, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		return fmt.Errorf("pseudo-terminal: get attributes: %w", err)
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST // no ONLCR: "\n" stays "\n"
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, t); err != nil {
		return fmt.Errorf("pseudo-terminal: set raw mode: %w", err)
	}
	return nil
}

// stripControl removes terminal control sequences from one line: CSI
// (ESC [ … final byte), OSC (ESC ] … BEL or ESC \), other two-byte ESC
// sequences, and the remaining C0 controls and DEL except tab (a carriage
// return from a progress bar included). It returns b's own storage.
func stripControl(b []byte) []byte {
	out := b[:0]
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == 0x1b && i+1 < len(b) && b[i+1] == '[':
			i += 2
			for i < len(b) && (b[i] < 0x40 || b[i] > 0x7e) {
				i++
			}
		case c == 0x1b && i+1 < len(b) && b[i+1] == ']':
			i += 2
			for i < len(b) && b[i] != 0x07 && !(b[i] == 0x1b && i+1 < len(b) && b[i+1] == '\\') {
				i++
			}
			if i < len(b) && b[i] == 0x1b {
				i++
			}
		case c == 0x1b:
			i++ // the byte after ESC
		case c == '\t' || (c >= 0x20 && c != 0x7f):
			out = append(out, c)
		}
	}
	return out
}
