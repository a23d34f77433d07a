package configcheck

import (
	"errors"
	"io/fs"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
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
// listen on (bot.CheckListenAddress: host:port or :port, the port a number
// up to 65535). example (e.g. ":8080") shows the form.
func (p *Problems) ListenAddress(path, s, example string) bool {
	if err := bot.CheckListenAddress(s, example); err != nil {
		p.Addf(path, "%s", err)
		return false
	}
	return true
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
// an agent); it lives in bot (bot.ParseHTTPSURL) so that the chat
// adapters, which import nothing else of ours, apply it too.
func ParseHTTPSURL(s, example string) (*url.URL, error) { return bot.ParseHTTPSURL(s, example) }

// IsLoopbackHost accepts only literal loopback addresses and "localhost"
// (bot.IsLoopbackHost).
func IsLoopbackHost(host string) bool { return bot.IsLoopbackHost(host) }
