package configcheck_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/internal/configcheck"
)

type host struct {
	Name  string `yaml:"name"`
	Agent string `yaml:"agent"`
}

type file struct {
	Store  string              `yaml:"store"`
	Hosts  []host              `yaml:"hosts"`
	Policy *policy             `yaml:"policy"`
	Tokens []string            `yaml:"tokens"`
	Extra  map[string][]string `yaml:"extra"`
}

type policy struct {
	Count  int    `yaml:"count"`
	Strict bool   `yaml:"strict"`
	Secret string `yaml:"secret"`
}

func TestDecodeReportsEveryShapeProblem(t *testing.T) {
	src := `store: /x.db
hosts:
  - name: a
    agnet: https://a
  - name: [b]
policy:
  count: two
  strict: maybe
  count: 3
  secret: hunter2-secret
tokens: hunter2-token
extra: {migrate: [u1], finalize: u2}
stroe: y
`
	var f file
	p := configcheck.New("bot.yaml")
	if !p.Decode([]byte(src), &f) {
		t.Fatal("Decode gave up on a parseable file")
	}
	err := p.Err()
	var ce *configcheck.Error
	if !errors.As(err, &ce) {
		t.Fatalf("Err() = %v, want *configcheck.Error", err)
	}
	want := `bot.yaml has 8 problems:
bot.yaml:4: hosts[0].agnet: unknown key; the keys here are agent, name
bot.yaml:5: hosts[1].name: expected a single value, found a list
bot.yaml:7: policy.count: expected a whole number
bot.yaml:8: policy.strict: expected true or false
bot.yaml:9: policy.count: given twice (first on line 7); keep one
bot.yaml:11: tokens: expected a list, found a single value
bot.yaml:12: extra.finalize: expected a list, found a single value
bot.yaml:13: stroe: unknown key; the keys here are extra, hosts, policy, store, tokens`
	if err.Error() != want {
		t.Errorf("got\n%s\nwant\n%s", err, want)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("a value was quoted: %s", err)
	}
	// What was right is filled in, so that values can be checked next.
	if f.Store != "/x.db" || f.Hosts[0].Name != "a" || f.Extra["migrate"][0] != "u1" || f.Policy.Secret == "" {
		t.Errorf("decoded %+v", f)
	}
}

func TestDecodeGivesUp(t *testing.T) {
	for name, src := range map[string]string{
		"empty":      "",
		"comments":   "# nothing\n",
		"syntax":     "store: x\n  hosts: [\n",
		"not a map":  "- a\n- b\n",
		"tab indent": "store: x\n\thosts: y\n",
	} {
		var f file
		p := configcheck.New("x.yaml")
		if p.Decode([]byte(src), &f) {
			t.Errorf("%s: Decode went on", name)
		}
		if p.Err() == nil {
			t.Errorf("%s: no problem reported", name)
		}
	}
	p := configcheck.New("x.yaml")
	p.Decode([]byte("store: x\nhosts: [\n"), &file{})
	if got := p.Err().Error(); !strings.HasPrefix(got, "x.yaml has 1 problem:\nx.yaml:2: not valid YAML: ") {
		t.Errorf("syntax error: %q", got)
	}
}

func TestAddfLinesAndOrder(t *testing.T) {
	var f file
	p := configcheck.New("bot.yaml")
	p.Decode([]byte("store: x\nhosts:\n  - name: a\n    agent: b\npolicy:\n  count: 1\ntokens: x\n"), &f)
	p.Addf("", "neither slack nor mattermost")
	p.Addf("policy.secret", "missing")    // absent key: the line of policy
	p.Addf("hosts[0].agent", "not https") // present key: its own line
	p.Addf("hosts[0].agent", "second opinion")
	p.Addf("tokens[1]", "empty") // dropped: tokens is not a list
	want := `bot.yaml has 5 problems:
bot.yaml:4: hosts[0].agent: not https
bot.yaml:4: hosts[0].agent: second opinion
bot.yaml:5: policy.secret: missing
bot.yaml:7: tokens: expected a list, found a single value
bot.yaml: neither slack nor mattermost`
	if got := p.Err().Error(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}

	var zero configcheck.Problems
	if zero.Err() != nil {
		t.Error("empty collector has an error")
	}
	zero.Addf("slack.mode", "unknown")
	if got := zero.Err().Error(); got != "the configuration has 1 problem:\nslack.mode: unknown" {
		t.Errorf("zero collector: %q", got)
	}
}

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want "" = accepted
	}{
		{"15m", ""},
		{" 1h30m ", ""},
		{"15", `ttl: "15" needs a unit, e.g. 15m`},
		{"2.5", `ttl: "2.5" needs a unit, e.g. 2.5m`},
		{"0s", `ttl: "0s" must be positive, e.g. 15m`},
		{"-5m", `ttl: "-5m" must be positive, e.g. 15m`},
		{"soon", `ttl: "soon" is not a duration; write it like 15m (units s, m, h)`},
	} {
		p := configcheck.New("")
		d, ok := p.Duration("ttl", tc.in, "15m")
		if tc.want == "" {
			if !ok || d <= 0 || p.Len() != 0 {
				t.Errorf("%q: %v %v %v", tc.in, d, ok, p.Err())
			}
			continue
		}
		if ok || p.Len() != 1 || p.List()[0].String() != tc.want {
			t.Errorf("%q: ok %v, problems %v; want %q", tc.in, ok, p.List(), tc.want)
		}
	}
}

func TestDecodeMergeKeys(t *testing.T) {
	src := `defaults: &d
  agnet: https://x
hosts:
  - <<: {name: a}
    agent: https://a
  - <<: *d
    name: b
`
	type withDefaults struct {
		Defaults map[string]string `yaml:"defaults"`
		Hosts    []host            `yaml:"hosts"`
	}
	var f withDefaults
	p := configcheck.New("m.yaml")
	p.Decode([]byte(src), &f)
	want := "m.yaml has 1 problem:\nm.yaml:2: hosts[1].agnet: unknown key; the keys here are agent, name"
	if err := p.Err(); err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
	if len(f.Hosts) != 2 || f.Hosts[0].Name != "a" || f.Hosts[1].Name != "b" {
		t.Errorf("decoded %+v", f.Hosts)
	}
}
