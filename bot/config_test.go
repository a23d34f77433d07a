package bot_test

import (
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// TestConfigErrors: a configuration built in code lists every problem at
// its key path, the value rules included, and nothing when all is well.
func TestConfigErrors(t *testing.T) {
	var ok bot.ConfigErrors
	ok.HTTPSURL("x.api_url", "https://chat.example.com/api/", "https://e/")
	ok.HTTPSURL("x.api_url", "http://127.0.0.1:8080/api/", "https://e/")
	ok.ListenAddress("x.listen", ":8443", ":8443")
	if err := ok.Err(); err != nil {
		t.Fatalf("good values refused: %v", err)
	}

	var p bot.ConfigErrors
	p.Addf(bot.ConfigKey("x", "token"), "missing (set it or %s)", "X_TOKEN")
	p.Addf(bot.ConfigIndex(bot.ConfigKey("x", "tokens"), 1), "is empty")
	p.HTTPSURL(bot.ConfigKey("x", "api_url"), "http://chat.example.com/api/", "https://e/")
	p.ListenAddress(bot.ConfigKey("x", "listen"), "8443", ":8443")
	p.Addf("", "no platform")
	want := `the configuration has 5 problems:
x.token: missing (set it or X_TOKEN)
x.tokens[1]: is empty
x.api_url: "http://chat.example.com/api/" is plain http; use https (plain http only on a loopback host: 127.0.0.1, ::1, localhost)
x.listen: "8443" is not an address to listen on (missing port in address); write host:port or :port, e.g. :8443
no platform`
	if err := p.Err(); err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
	if bot.ConfigKey("", "listen") != "listen" {
		t.Errorf("ConfigKey at the top level = %q", bot.ConfigKey("", "listen"))
	}
}
