package bot

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// ConfigProblems is where an adapter's Config.Check reports what is wrong
// with its section, each problem at its key path ("slack.bot_token"), so
// that an operator fixes them all in one round. serve passes its checker
// of the whole file (internal/configcheck, which adds each key's line);
// an adapter's own New checks with ConfigErrors. Invariant: no message
// quotes the value of a secret.
type ConfigProblems interface {
	// Addf records a problem at path.
	Addf(path, format string, args ...any)
	// HTTPSURL parses s, the value at path, as a URL the bot calls
	// (ParseHTTPSURL) and records why not; example shows the form.
	HTTPSURL(path, s, example string) (*url.URL, bool)
	// ListenAddress records why s, the value at path, is not an address
	// to listen on (CheckListenAddress); example shows the form.
	ListenAddress(path, s, example string) bool
}

// ConfigKey returns the key path of key under parent ("" is the top
// level): ConfigKey("slack", "mode") is "slack.mode".
func ConfigKey(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// ConfigIndex returns the key path of the i-th item of the list at parent.
func ConfigIndex(parent string, i int) string {
	return fmt.Sprintf("%s[%d]", parent, i)
}

// ParseHTTPSURL is the one rule for a URL the bot calls (Slack's api_url,
// an agent): https, or plain http only on a loopback host (127.0.0.1,
// ::1, localhost: a test, a local proxy or a development agent); a host,
// and no user, query or fragment. Its error is a sentence that quotes s;
// example shows the form.
func ParseHTTPSURL(s, example string) (*url.URL, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "":
	case u.Scheme == "https":
		return u, nil
	case u.Scheme == "http" && IsLoopbackHost(u.Hostname()):
		return u, nil
	case u.Scheme == "http":
		return nil, fmt.Errorf("%q is plain http; use https (plain http only on a loopback host: 127.0.0.1, ::1, localhost)", s)
	}
	return nil, fmt.Errorf("%q is not an https URL, e.g. %s", s, example)
}

// IsLoopbackHost accepts only literal loopback addresses and "localhost":
// a name that merely resolves to loopback today could resolve elsewhere
// tomorrow.
func IsLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckListenAddress says why s is not an address to listen on (host:port
// or :port, the port a number up to 65535), as a sentence that quotes s;
// example (e.g. ":8080") shows the form.
func CheckListenAddress(s, example string) error {
	host, port, err := net.SplitHostPort(s)
	if err == nil {
		n, perr := strconv.ParseUint(port, 10, 16)
		if perr == nil && (n > 0 || host != "") {
			return nil
		}
		err = errors.New("the port is not a number from 1 to 65535")
	}
	return fmt.Errorf("%q is not an address to listen on (%v); write host:port or :port, e.g. %s", s, unquoteAddrErr(err), example)
}

// unquoteAddrErr drops the address that net.AddrError repeats (the message
// quotes it already).
func unquoteAddrErr(err error) string {
	var ae *net.AddrError
	if errors.As(err, &ae) {
		return ae.Err
	}
	return err.Error()
}

// ConfigErrors is the ConfigProblems of a configuration built in code (an
// adapter's New, a test): it knows no file and no lines. The zero value is
// ready.
type ConfigErrors struct{ list []string }

var _ ConfigProblems = (*ConfigErrors)(nil)

// Addf implements ConfigProblems.
func (e *ConfigErrors) Addf(path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + ": " + msg
	}
	e.list = append(e.list, msg)
}

// HTTPSURL implements ConfigProblems.
func (e *ConfigErrors) HTTPSURL(path, s, example string) (*url.URL, bool) {
	u, err := ParseHTTPSURL(s, example)
	if err != nil {
		e.Addf(path, "%s", err)
		return nil, false
	}
	return u, true
}

// ListenAddress implements ConfigProblems.
func (e *ConfigErrors) ListenAddress(path, s, example string) bool {
	if err := CheckListenAddress(s, example); err != nil {
		e.Addf(path, "%s", err)
		return false
	}
	return true
}

// Err is nil when nothing was recorded, otherwise one error that lists
// every problem, one a line, in the order found (as configcheck words a
// configuration that comes from no file).
func (e *ConfigErrors) Err() error {
	n := len(e.list)
	if n == 0 {
		return nil
	}
	plural := "s"
	if n == 1 {
		plural = ""
	}
	return fmt.Errorf("the configuration has %d problem%s:\n%s", n, plural, strings.Join(e.list, "\n"))
}
