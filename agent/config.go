package agent

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
	"github.com/gitlab-chatops/gitlab-chatops/internal/configcheck"
)

// Defaults of the agent configuration.
const (
	DefaultRakePath       = "/opt/gitlab/bin/gitlab-rake"
	DefaultCtlPath        = "/opt/gitlab/bin/gitlab-ctl"
	DefaultInsecureListen = "127.0.0.1:8765"
	// DefaultMetricsListen is where a configuration file without
	// metrics_listen serves /metrics and /healthz: loopback only.
	DefaultMetricsListen     = "127.0.0.1:9101"
	DefaultMaxReadOnlyJobs   = 4
	DefaultMaxLogBytes       = 256 << 20
	DefaultKillGrace         = 10 * time.Second
	DefaultKeepJobs          = 500
	DefaultShutdownGrace     = 30 * time.Second
	DefaultHeartbeatInterval = 5 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
	DefaultPersistInterval   = 5 * time.Second
)

// Program is how the agent starts one GitLab program: Path followed by the
// prefix Args, then the command's own arguments. Prefix args exist for the
// simulator, which points gitlab-rake at the agent's own executable with
// "gitlab-sim rake".
type Program struct {
	Path string
	Args []string
}

// TLSFiles are the PEM files of the agent's mutual TLS.
type TLSFiles struct {
	Cert     string // the agent's certificate (chain)
	Key      string // its private key
	ClientCA string // CA(s) that sign the bot's client certificates
	// AllowedClients, when not empty, restricts access to client
	// certificates whose CN or a DNS SAN is one of these names.
	AllowedClients []string
}

// Config is the agent's validated configuration. LoadConfig builds it from
// YAML; the simulator and tests build it in code and call Validate.
type Config struct {
	// Name is this host's name as the bot's configuration gives it
	// (hosts[].name): an approval statement must name it.
	Name     string
	Listen   string
	TLS      TLSFiles
	Insecure bool // plain HTTP on a loopback address, for development only
	// ApprovalPublicKey is the PEM file of the bot's approval public
	// key(s): a mutating run needs an approval statement signed by one.
	ApprovalPublicKey string
	Rake              Program
	Ctl               Program
	// Sudo, when set, is the path of sudo: commands then run as
	// sudo -n -- PROGRAM ARGS... (never interactive).
	Sudo string
	// Env are extra KEY=VALUE entries added to the minimal environment of
	// every job. Not settable from YAML: the simulator uses it.
	Env      []string
	StateDir string
	// Timeouts override gitlab.Operation.Timeout per operation name.
	Timeouts          map[string]time.Duration
	MaxReadOnlyJobs   int
	MaxLogBytes       int64
	KillGrace         time.Duration
	KeepJobs          int
	ShutdownGrace     time.Duration
	HeartbeatInterval time.Duration
	// WriteTimeout bounds one write to a streaming client: a client that
	// takes no data for this long is dropped, so it cannot stall a job.
	WriteTimeout    time.Duration
	PersistInterval time.Duration
	// Version is reported by /v1/version and /v1/health.
	Version string
	// MetricsListen is the separate, unauthenticated listener of /metrics
	// and /healthz (never the mTLS port); empty: none. LoadConfig makes
	// it DefaultMetricsListen when the file does not set metrics_listen;
	// DefaultConfig leaves it empty. The serve command starts it.
	MetricsListen string
}

// DefaultConfig returns a Config with every default filled in and nothing
// that must be chosen (listen, TLS files, state_dir).
func DefaultConfig() Config {
	return Config{
		Rake:              Program{Path: DefaultRakePath},
		Ctl:               Program{Path: DefaultCtlPath},
		Timeouts:          map[string]time.Duration{},
		MaxReadOnlyJobs:   DefaultMaxReadOnlyJobs,
		MaxLogBytes:       DefaultMaxLogBytes,
		KillGrace:         DefaultKillGrace,
		KeepJobs:          DefaultKeepJobs,
		ShutdownGrace:     DefaultShutdownGrace,
		HeartbeatInterval: DefaultHeartbeatInterval,
		WriteTimeout:      DefaultWriteTimeout,
		PersistInterval:   DefaultPersistInterval,
		Version:           "dev",
	}
}

// Timeout returns the time limit of op: the configured one or the
// catalogue's default.
func (c Config) Timeout(op gitlab.Operation) time.Duration {
	if d, ok := c.Timeouts[op.Name]; ok {
		return d
	}
	return op.Timeout
}

// Program returns how to start p.
func (c Config) Program(p gitlab.Program) (Program, error) {
	switch p {
	case gitlab.Rake:
		return c.Rake, nil
	case gitlab.Ctl:
		return c.Ctl, nil
	}
	return Program{}, fmt.Errorf("no program configured for %q", p)
}

// fileConfig mirrors the YAML file. Optional numbers are pointers so that an
// explicit 0 is told apart from absence; durations and sizes are parsed
// after decoding so that errors can name their key.
type fileConfig struct {
	Name              string            `yaml:"name"`
	ApprovalPublicKey string            `yaml:"approval_public_key"`
	Listen            string            `yaml:"listen"`
	TLS               *fileTLS          `yaml:"tls"`
	Insecure          bool              `yaml:"insecure"`
	GitLabRake        string            `yaml:"gitlab_rake"`
	GitLabCtl         string            `yaml:"gitlab_ctl"`
	Sudo              string            `yaml:"sudo"`
	StateDir          string            `yaml:"state_dir"`
	Timeouts          map[string]string `yaml:"timeouts"`
	MaxReadOnlyJobs   *int              `yaml:"max_read_only_jobs"`
	MaxLogBytes       scalar            `yaml:"max_log_bytes"`
	KillGrace         string            `yaml:"kill_grace"`
	KeepJobs          *int              `yaml:"keep_jobs"`
	ShutdownGrace     string            `yaml:"shutdown_grace"`
	MetricsListen     *string           `yaml:"metrics_listen"`
}

// scalar keeps a YAML scalar as text, for keys that take a number or a
// string with a unit.
type scalar struct {
	set   bool
	value string
}

func (s *scalar) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New("expected a single value")
	}
	s.set, s.value = true, n.Value
	return nil
}

type fileTLS struct {
	Cert           string   `yaml:"cert"`
	Key            string   `yaml:"key"`
	ClientCA       string   `yaml:"client_ca"`
	AllowedClients []string `yaml:"allowed_clients"`
}

// LoadConfig reads, parses and validates the YAML configuration at path.
// A bad file gives a *configcheck.Error listing every problem with its
// line and key path.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	return parseConfig(path, data)
}

// ParseConfig parses and validates a YAML configuration. Unknown keys are
// errors: a misspelt key would otherwise silently leave a default in force.
func ParseConfig(data []byte) (Config, error) {
	return parseConfig("", data)
}

func parseConfig(name string, data []byte) (Config, error) {
	p := configcheck.New(name)
	var fc fileConfig
	if !p.Decode(data, &fc) {
		return Config{}, p.Err()
	}
	cfg := fc.resolve(p)
	cfg.check(p)
	if err := p.Err(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// resolve applies the file over the defaults, recording the values that
// do not parse (they keep their defaults, so that check reports nothing
// more about them).
func (fc fileConfig) resolve(p *configcheck.Problems) Config {
	cfg := DefaultConfig()
	cfg.Name = fc.Name
	cfg.ApprovalPublicKey = fc.ApprovalPublicKey
	cfg.Listen = fc.Listen
	cfg.Insecure = fc.Insecure
	if fc.TLS != nil {
		cfg.TLS = TLSFiles{Cert: fc.TLS.Cert, Key: fc.TLS.Key, ClientCA: fc.TLS.ClientCA, AllowedClients: fc.TLS.AllowedClients}
	}
	if fc.GitLabRake != "" {
		cfg.Rake = Program{Path: fc.GitLabRake}
	}
	if fc.GitLabCtl != "" {
		cfg.Ctl = Program{Path: fc.GitLabCtl}
	}
	cfg.Sudo = fc.Sudo
	cfg.StateDir = fc.StateDir
	if cfg.Insecure && cfg.Listen == "" {
		cfg.Listen = DefaultInsecureListen
	}
	cfg.MetricsListen = DefaultMetricsListen
	if fc.MetricsListen != nil {
		cfg.MetricsListen = strings.TrimSpace(*fc.MetricsListen)
	}

	for _, name := range slices.Sorted(maps.Keys(fc.Timeouts)) {
		key := "timeouts." + name
		if _, err := gitlab.Lookup(name); err != nil {
			p.Addf(key, "%v", err)
			continue
		}
		if d, ok := p.Duration(key, fc.Timeouts[name], "90s"); ok {
			cfg.Timeouts[name] = d
		}
	}
	if fc.MaxReadOnlyJobs != nil {
		cfg.MaxReadOnlyJobs = *fc.MaxReadOnlyJobs
	}
	if fc.KeepJobs != nil {
		cfg.KeepJobs = *fc.KeepJobs
	}
	if fc.MaxLogBytes.set {
		if n, err := parseByteSize(fc.MaxLogBytes.value); err != nil {
			p.Addf("max_log_bytes", "%v", err)
		} else {
			cfg.MaxLogBytes = n
		}
	}
	for _, d := range []struct {
		key string
		val string
		dst *time.Duration
	}{
		{"kill_grace", fc.KillGrace, &cfg.KillGrace},
		{"shutdown_grace", fc.ShutdownGrace, &cfg.ShutdownGrace},
	} {
		if d.val == "" {
			continue
		}
		if v, ok := p.Duration(d.key, d.val, "90s"); ok {
			*d.dst = v
		}
	}
	return cfg
}

var byteSizeRE = regexp.MustCompile(`^\s*(\d+)\s*([KMGT]i?B?|B)?\s*$`)

// parseByteSize accepts a plain number of bytes or one with a unit: KiB,
// MiB, GiB, TiB (powers of 1024; K, M, G, T and KB, MB, … are read the
// same way, as a log bound has no use for decimal units).
func parseByteSize(s string) (int64, error) {
	m := byteSizeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q is not a size: write bytes (268435456) or with a unit (256MiB, 1GiB)", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is too large", s)
	}
	shift := 0
	switch strings.ToUpper(m[2][:min(1, len(m[2]))]) {
	case "K":
		shift = 10
	case "M":
		shift = 20
	case "G":
		shift = 30
	case "T":
		shift = 40
	}
	if n > (1<<62)>>shift {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n << shift, nil
}

// Validate checks every value and that the TLS files load, so that a bad
// configuration fails at start (or in check-config), not at the first
// request. It does not create or touch state_dir. The error lists every
// problem.
func (c *Config) Validate() error {
	p := configcheck.New("")
	c.check(p)
	return p.Err()
}

// check records every problem of c in p, under the YAML key paths.
func (c *Config) check(p *configcheck.Problems) {
	c.checkListen(p)
	c.checkMetricsListen(p)
	if !c.Insecure {
		c.checkTLS(p)
	}
	checkExecutable(p, "gitlab_rake", c.Rake.Path)
	checkExecutable(p, "gitlab_ctl", c.Ctl.Path)
	if c.Sudo != "" {
		checkExecutable(p, "sudo", c.Sudo)
	}
	for i, kv := range c.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			p.Addf(configcheck.Index("env", i), "%q is not KEY=VALUE", kv)
		}
	}
	switch {
	case c.StateDir == "":
		p.Addf("state_dir", "missing: a directory the agent owns for job records and logs, e.g. /var/lib/gitlab-chatops-agent")
	case !filepath.IsAbs(c.StateDir):
		p.Addf("state_dir", "%q must be an absolute path", c.StateDir)
	}
	for _, name := range slices.Sorted(maps.Keys(c.Timeouts)) {
		if _, err := gitlab.Lookup(name); err != nil {
			p.Addf("timeouts."+name, "%v", err)
		} else if c.Timeouts[name] <= 0 {
			p.Addf("timeouts."+name, "must be positive")
		}
	}
	if c.MaxReadOnlyJobs < 1 {
		p.Addf("max_read_only_jobs", "%d: must be at least 1", c.MaxReadOnlyJobs)
	}
	if c.MaxLogBytes < 4096 {
		p.Addf("max_log_bytes", "%d: must be at least 4096 bytes (default 256MiB)", c.MaxLogBytes)
	}
	if c.KeepJobs < 1 {
		p.Addf("keep_jobs", "%d: must be at least 1", c.KeepJobs)
	}
	for _, d := range []struct {
		key string
		val time.Duration
	}{
		{"kill_grace", c.KillGrace}, {"shutdown_grace", c.ShutdownGrace},
		{"heartbeat interval", c.HeartbeatInterval}, {"write timeout", c.WriteTimeout},
		{"persist interval", c.PersistInterval},
	} {
		if d.val <= 0 {
			p.Addf(d.key, "must be positive")
		}
	}
	c.checkApproval(p)
}

// checkApproval checks name and approval_public_key, which every agent
// needs: without them no mutating operation could ever be approved.
func (c *Config) checkApproval(p *configcheck.Problems) {
	if strings.TrimSpace(c.Name) == "" {
		p.Addf("name", "missing: this host's name exactly as the bot's configuration gives it (hosts[].name), e.g. gitlab-1; the bot's approval statements name it")
	} else if err := checkMeta("name", c.Name); err != nil {
		p.Addf("name", "%q: longer than %d bytes or with control characters", c.Name, maxMetaLen)
	}
	if c.ApprovalPublicKey == "" {
		p.Addf("approval_public_key", "missing: the bot's approval public key (approval-pub.pem), without which no mutating operation can be approved; create the pair with: gitlab-chatops-agent certs --out DIR --approval-keys")
	} else if _, err := loadApprovalVerifier(c.ApprovalPublicKey); err != nil {
		p.Addf("approval_public_key", "%v", err)
	}
}

func (c *Config) checkListen(p *configcheck.Problems) {
	if c.Listen == "" {
		p.Addf("listen", "missing: the address to serve on, e.g. \"0.0.0.0:8443\" or \"10.0.0.5:8443\"")
		return
	}
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		p.Addf("listen", "%q is not host:port: write e.g. \"0.0.0.0:8443\"", c.Listen)
		return
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		p.Addf("listen", "port %q is not a number from 0 to 65535", port)
	}
	if c.Insecure && !IsLoopbackHost(host) {
		p.Addf("insecure", "plain HTTP is refused on %q: it is allowed only on a loopback address (127.0.0.1, ::1, localhost), for local development; set insecure: false and configure tls", c.Listen)
	}
}

// checkMetricsListen: metrics_listen is host:port and not the mTLS port's
// address (the metrics are unauthenticated). Any host is accepted; a
// non-loopback one is logged as a warning at start (MetricsExposed).
func (c *Config) checkMetricsListen(p *configcheck.Problems) {
	if c.MetricsListen == "" {
		return
	}
	_, port, err := net.SplitHostPort(c.MetricsListen)
	if err != nil {
		p.Addf("metrics_listen", "%q is not host:port: write e.g. %q, or \"\" for no metrics listener", c.MetricsListen, DefaultMetricsListen)
		return
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		p.Addf("metrics_listen", "port %q is not a number from 0 to 65535", port)
		return
	}
	if _, lport, err := net.SplitHostPort(c.Listen); err == nil && lport == port && port != "0" {
		p.Addf("metrics_listen", "%q uses listen's port %s: metrics are served without authentication, never on the mTLS port; choose another port, e.g. %q", c.MetricsListen, port, DefaultMetricsListen)
	}
}

// MetricsExposed reports whether metrics_listen is set to an address other
// than loopback, which the serve command warns about: /metrics and
// /healthz have no authentication.
func (c Config) MetricsExposed() bool {
	if c.MetricsListen == "" {
		return false
	}
	host, _, err := net.SplitHostPort(c.MetricsListen)
	return err == nil && !IsLoopbackHost(host)
}

func (c *Config) checkTLS(p *configcheck.Problems) {
	t := c.TLS
	present := true
	for _, f := range []struct{ key, path string }{
		{"tls.cert", t.Cert}, {"tls.key", t.Key}, {"tls.client_ca", t.ClientCA},
	} {
		if !p.File(f.key, f.path, "missing (or run with insecure: true on a loopback address for development); create files with: gitlab-chatops-agent certs --out DIR --host NAME") {
			present = false
		}
	}
	if present {
		if _, err := tls.LoadX509KeyPair(t.Cert, t.Key); err != nil {
			p.Addf("tls.key", "%s and %s do not form a certificate and matching key: %v", t.Cert, t.Key, err)
		}
		if _, err := loadCertPool(t.ClientCA); err != nil {
			p.Addf("tls.client_ca", "%v", err)
		}
	}
	for i, n := range t.AllowedClients {
		if strings.TrimSpace(n) == "" {
			p.Addf(configcheck.Index("tls.allowed_clients", i), "is an empty name")
		}
	}
}

func checkExecutable(p *configcheck.Problems, key, path string) {
	if path == "" {
		p.Addf(key, "empty path")
		return
	}
	if !filepath.IsAbs(path) {
		p.Addf(key, "%q must be an absolute path (the agent never searches PATH)", path)
		return
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		p.Addf(key, "%s does not exist (is this a GitLab node? set %s to the program's path)", path, key)
	case err != nil:
		p.Addf(key, "%v", err)
	case fi.IsDir() || fi.Mode().Perm()&0o111 == 0:
		p.Addf(key, "%s is not an executable file", path)
	}
}

// IsLoopbackHost accepts only literal loopback addresses and "localhost"
// (configcheck.IsLoopbackHost, which the bot's checks share).
func IsLoopbackHost(host string) bool { return configcheck.IsLoopbackHost(host) }

// loadCertPool reads PEM certificates from path into a new pool.
func loadCertPool(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}
