// Package configcheck collects every problem of a configuration file, each
// with its key path (hosts[1].agent) and, where the file says, its line, so
// that an operator fixes them all in one round instead of one per start.
//
// It imports only bot (stdlib only), whose ConfigProblems interface
// *Problems satisfies: the chat adapters report through that interface,
// the bot and the agent through Problems. The value rules adapters share
// (bot.ParseHTTPSURL, bot.CheckListenAddress) live in bot for that reason. Invariant: a message never quotes the value of a
// secret; callers word secret problems without the value, and Decode never
// quotes any value.
package configcheck

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// Problem is one thing wrong with a configuration.
type Problem struct {
	// Path is the key path, e.g. "hosts[1].agent"; "" for the file as a
	// whole.
	Path string
	// Line is the line of the key (or of the nearest enclosing key that
	// is present), 0 when unknown.
	Line int
	// Msg says what is wrong and what to do, without the path.
	Msg string
}

// String renders "PATH: MSG".
func (p Problem) String() string {
	if p.Path == "" {
		return p.Msg
	}
	return p.Path + ": " + p.Msg
}

// Problems collects the problems of one file. The zero value is usable
// (no file name, no line numbers); New and Decode add both.
type Problems struct {
	file     string
	lines    map[string]int  // key path → line of that key in the file
	badShape map[string]bool // key paths whose shape Decode found wrong
	list     []Problem
}

// The chat adapters' Config.Check reports into a *Problems through this.
var _ bot.ConfigProblems = (*Problems)(nil)

// New returns a collector for the file named file ("" when the
// configuration does not come from a file).
func New(file string) *Problems {
	return &Problems{file: file, lines: map[string]int{}}
}

// Addf records a problem at path. A key whose shape Decode found wrong
// (a list where a single value belongs, say) gets no further problems: its
// value is the zero value, and what follows from that would only be noise.
func (p *Problems) Addf(path, format string, args ...any) {
	if p.underBadShape(path) {
		return
	}
	p.list = append(p.list, Problem{Path: path, Line: p.lineOf(path), Msg: fmt.Sprintf(format, args...)})
}

// shapeProblem records a problem found by Decode and marks path so that
// Addf adds nothing more at or under it.
func (p *Problems) shapeProblem(path string, line int, format string, args ...any) {
	if p.badShape == nil {
		p.badShape = map[string]bool{}
	}
	if line == 0 {
		line = p.lineOf(path)
	}
	p.list = append(p.list, Problem{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
	if path != "" {
		p.badShape[path] = true
	}
}

func (p *Problems) underBadShape(path string) bool {
	for path != "" {
		if p.badShape[path] {
			return true
		}
		path = parentPath(path)
	}
	return false
}

// parentPath returns the key path enclosing path ("" at the top level):
// "hosts" for "hosts[1]", "hosts[1]" for "hosts[1].agent".
func parentPath(path string) string {
	cut := max(strings.LastIndexByte(path, '.'), strings.LastIndexByte(path, '['))
	if cut < 0 {
		return ""
	}
	return path[:cut]
}

// Join returns the key path of key under parent ("" is the top level).
func Join(parent, key string) string { return bot.ConfigKey(parent, key) }

// Index returns the key path of the i-th item of the list at parent.
func Index(parent string, i int) string { return bot.ConfigIndex(parent, i) }

// lineOf finds the line of path, or of its nearest enclosing key.
func (p *Problems) lineOf(path string) int {
	for path != "" {
		if l, ok := p.lines[path]; ok {
			return l
		}
		path = parentPath(path)
	}
	return 0
}

// Len is the number of problems recorded.
func (p *Problems) Len() int { return len(p.list) }

// List returns the problems in the order they were found.
func (p *Problems) List() []Problem { return slices.Clone(p.list) }

// Err returns nil when nothing is wrong, otherwise an *Error listing every
// problem in file order.
func (p *Problems) Err() error {
	if len(p.list) == 0 {
		return nil
	}
	list := slices.Clone(p.list)
	// Problems without a line (the file as a whole, or a configuration
	// built in code) keep their place at the end, in the order found.
	order := func(q Problem) int {
		if q.Line == 0 {
			return math.MaxInt
		}
		return q.Line
	}
	slices.SortStableFunc(list, func(a, b Problem) int { return cmp.Compare(order(a), order(b)) })
	return &Error{File: p.file, Problems: list}
}

// Error is a configuration with problems. Its message has one line per
// problem, "FILE:LINE: PATH: MSG" (compilers' form, so editors jump to
// it), under a first line that counts them.
type Error struct {
	File     string
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	name := e.File
	if name == "" {
		name = "the configuration"
	}
	n := len(e.Problems)
	fmt.Fprintf(&b, "%s has %d problem%s:", name, n, map[bool]string{true: "", false: "s"}[n == 1])
	for _, q := range e.Problems {
		b.WriteString("\n")
		switch {
		case e.File != "" && q.Line > 0:
			fmt.Fprintf(&b, "%s:%d: ", e.File, q.Line)
		case e.File != "":
			fmt.Fprintf(&b, "%s: ", e.File)
		}
		b.WriteString(q.String())
	}
	return b.String()
}
