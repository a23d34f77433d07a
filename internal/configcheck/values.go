package configcheck

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Duration parses s, the value at path, as a positive duration and records
// why not. example (e.g. "15m") shows the form; a bare number is told to
// take example's unit.
func (p *Problems) Duration(path, s, example string) (time.Duration, bool) {
	t := strings.TrimSpace(s)
	d, err := time.ParseDuration(t)
	switch {
	case err == nil && d > 0:
		return d, true
	case err == nil:
		p.Addf(path, "%q must be positive, e.g. %s", s, example)
	case isNumber(t):
		unit := strings.TrimLeft(example, "0123456789.")
		p.Addf(path, "%q needs a unit, e.g. %s%s", s, t, unit)
	default:
		p.Addf(path, "%q is not a duration; write it like %s (units s, m, h)", s, example)
	}
	return 0, false
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// File records why path, the value at key, names no file: empty (missing
// is the message, saying what to give), not there, or not reachable. It
// reports whether the file is there.
func (p *Problems) File(key, path, missing string) bool {
	if path == "" {
		p.Addf(key, "%s", missing)
		return false
	}
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			p.Addf(key, "%s does not exist", path)
		} else {
			p.Addf(key, "%v", err)
		}
		return false
	}
	return true
}

// ListenAddress records why s, the value at path, is not an address to
// listen on (host:port or :port, the port a number up to 65535). example
// (e.g. ":8080") shows the form.
func (p *Problems) ListenAddress(path, s, example string) bool {
	host, port, err := net.SplitHostPort(s)
	if err == nil {
		n, perr := strconv.ParseUint(port, 10, 16)
		if perr == nil && (n > 0 || host != "") {
			return true
		}
		err = errors.New("the port is not a number from 1 to 65535")
	}
	p.Addf(path, "%q is not an address to listen on (%v); write host:port or :port, e.g. %s", s, unquoteAddrErr(err), example)
	return false
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

// HTTPSURL parses s, the value at path, as an https URL, or plain http
// on a loopback host (see ParseHTTPSURL), and records why not. example
// shows the form.
func (p *Problems) HTTPSURL(path, s, example string) (*url.URL, bool) {
	u, err := ParseHTTPSURL(s, example)
	if err != nil {
		p.Addf(path, "%s", err)
		return nil, false
	}
	return u, true
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
