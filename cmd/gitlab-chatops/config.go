package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
	"github.com/gitlab-chatops/gitlab-chatops/bot/mattermost"
	"github.com/gitlab-chatops/gitlab-chatops/bot/slack"
	"github.com/gitlab-chatops/gitlab-chatops/internal/configcheck"
	"github.com/gitlab-chatops/gitlab-chatops/schedule"
	"github.com/gitlab-chatops/gitlab-chatops/storage/etcd"
)

// fileConfig is the bot's YAML configuration.
type fileConfig struct {
	// Store is the bbolt file holding requests, audit and schedules: the
	// short form of Storage {backend: bolt, path: …}; one of the two is
	// given (config_storage.go).
	Store string `yaml:"store"`
	// Storage is where the bot keeps its state: a bbolt file, or etcd
	// for several replicas (config_storage.go).
	Storage *storageConfig `yaml:"storage"`
	// AdminSocket is where serve answers `audit verify|export|tail`
	// while it holds the bbolt store (default: the store's path with
	// .sock).
	AdminSocket string       `yaml:"admin_socket"`
	Hosts       []hostConfig `yaml:"hosts"`
	// ApprovalKey is the ed25519 key (approval-key.pem) that signs the
	// approval statement of every mutating run, for hosts without their
	// own approval_key.
	ApprovalKey string       `yaml:"approval_key"`
	Policy      policyConfig `yaml:"policy"`
	// Channel is the console's channel name.
	Channel string `yaml:"channel"`
	// Slack and Mattermost configure the chat platforms `serve` connects
	// to; at least one is needed there. Each has its row in platforms.go.
	Slack      *slack.Config      `yaml:"slack"`
	Mattermost *mattermost.Config `yaml:"mattermost"`
	// Audit keys and anchors the audit trail.
	Audit auditConfig `yaml:"audit"`
	// Reauth holds the key approvers' TOTP secrets are sealed with
	// (policy.reauth says which operations need a code).
	Reauth reauthConfig `yaml:"reauth"`
	// Listen is serve's one HTTP listener (default DefaultListen): the
	// Slack endpoints, Mattermost's unless mattermost.listen gives them
	// their own, /healthz, /readyz and whatever else serve mounts.
	Listen string `yaml:"listen"`
	// ShutdownGrace bounds serve's whole shutdown (default
	// DefaultShutdownGrace), e.g. "30s".
	ShutdownGrace string `yaml:"shutdown_grace"`
	// Schedules are scheduled posts, read-only from chat (admins add
	// others with `schedules add`).
	Schedules []scheduleConfig `yaml:"schedules"`
}

// Defaults of serve's listener and shutdown.
const (
	DefaultListen        = ":8080"
	DefaultShutdownGrace = 30 * time.Second
)

type hostConfig struct {
	Name  string `yaml:"name"`
	Agent string `yaml:"agent"` // https://host:8443
	CA    string `yaml:"ca"`
	Cert  string `yaml:"cert"`
	Key   string `yaml:"key"`
	// ApprovalKey overrides the top-level approval_key for this host.
	ApprovalKey string `yaml:"approval_key"`
	// Default makes this the host read-only subcommands without --host
	// run on; at most one host may be it (a single host is it anyway).
	Default bool `yaml:"default"`
}

type policyConfig struct {
	Requesters     map[string][]string `yaml:"requesters"`
	Approvers      []string            `yaml:"approvers"`
	ApproverGroups []string            `yaml:"approver_groups"`
	// AnyoneMayApprove must be set for serve to run without approvers:
	// letting any second person approve is a choice, never a default.
	AnyoneMayApprove  bool     `yaml:"anyone_may_approve"`
	Channels          []string `yaml:"channels"`
	ApprovalsRequired int      `yaml:"approvals_required"`
	RequestTTL        string   `yaml:"request_ttl"`
	RequireReason     bool     `yaml:"require_reason"`
	// Admins may add and remove schedules from chat, and acknowledge the
	// post-incident review of an emergency request.
	Admins []string `yaml:"admins"`
	// EmergencyApprovers are groups whose members may approve an
	// emergency (break-glass) request alone.
	EmergencyApprovers []string `yaml:"emergency_approvers"`
	// Windows are the change windows and freezes (config_changewindows.go).
	Windows windowsConfig `yaml:"windows"`
	// Reauth maps a destructive subcommand to the re-authentication its
	// approvers give: totp or none (the default).
	Reauth map[string]string `yaml:"reauth"`
}

// use says what a configuration is checked for.
type use struct {
	// serve: a chat platform is required, its section is checked (with
	// secrets from the environment), policy IDs must have its ID shapes,
	// and a policy without approvers is refused unless anyone_may_approve.
	serve bool
	// simulate: console --simulate brings its own store.
	simulate bool
	// console: the console runs on a bbolt file only.
	console bool
}

// config is a checked configuration, ready to wire.
type config struct {
	fileConfig
	// approval is the policy built from fileConfig.Policy, with defaults.
	approval approvals.Policy
	// grace is ShutdownGrace parsed, with its default.
	grace time.Duration
	// schedules are fileConfig.Schedules, checked.
	schedules []schedule.Schedule
	// chats are the names of the chat platforms serve connects to.
	chats []string
	// etcd is how to reach the etcd store when storage.backend is etcd;
	// nil for the bbolt file, whose path is then fileConfig.Store.
	etcd *etcd.Config
}

// ownListen is a platform's listener of its own, which must not take the
// port of serve's listen:.
type ownListen struct {
	ids  idRules
	addr string
}

// loadConfig reads and checks the configuration at path for u. Every
// problem of the file is reported at once, with its key path and line; the
// error then carries exit code 2. Secrets left empty in the file are taken
// from the environment (getenv) for serve, as the adapters document.
func loadConfig(path string, u use, getenv func(string) string) (config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return config{}, exitError{2, fmt.Errorf("reading the configuration: %w", err)}
	}
	p := configcheck.New(path)
	var fc fileConfig
	if !p.Decode(data, &fc) {
		return config{}, exitError{2, p.Err()}
	}
	c := fc.check(p, u, getenv)
	if err := p.Err(); err != nil {
		return config{}, exitError{2, err}
	}
	return c, nil
}

// check records every problem of fc for u in p and returns the
// configuration as it will be used.
func (fc fileConfig) check(p *configcheck.Problems, u use, getenv func(string) string) config {
	etcdCfg := checkStorage(p, &fc, u)
	if len(fc.Hosts) == 0 && !u.simulate {
		p.Addf("hosts", "missing: at least one GitLab host with its agent (name, agent URL, ca, cert, key)")
	}
	checkHosts(p, fc.Hosts, fc.ApprovalKey)
	// console --simulate makes a development key when none is configured.
	if !u.simulate || fc.Audit.KeyFile != "" {
		if _, err := auditKey(fc.Audit.KeyFile, getenv); errors.Is(err, auditchain.ErrNoKey) && fc.Audit.KeyFile == "" && getenv(envAuditKey) == "" {
			p.Addf("audit.key_file", "missing (set it or %s): the secret that keys the audit trail, at least %d bytes, e.g. `openssl rand -hex 32 > audit.key`", envAuditKey, auditchain.MinKeyLen)
		} else if pe := (*fs.PathError)(nil); errors.As(err, &pe) && errors.Is(err, fs.ErrNotExist) {
			p.Addf("audit.key_file", "%s does not exist (create it with `openssl rand -hex 32 > %s && chmod 600 %s`)", pe.Path, pe.Path, pe.Path)
		} else if errors.As(err, &pe) {
			p.Addf("audit.key_file", "%s cannot be read: %v", pe.Path, pe.Err)
		} else if err != nil {
			p.Addf("audit.key_file", "%v", err)
		}
	}
	checkReauth(p, fc, getenv)
	// The chat platforms serve connects to, in platforms.go's order: each
	// configured section, its secrets filled from the environment, checked.
	var (
		chats      []idRules
		chatNames  []string
		ownListens []ownListen
	)
	if u.serve {
		for _, pf := range platforms {
			listen, ok := pf.load(&fc, p, getenv)
			if !ok {
				continue
			}
			chats = append(chats, pf.ids)
			chatNames = append(chatNames, pf.name)
			if listen != "" {
				ownListens = append(ownListens, ownListen{pf.ids, listen})
			}
		}
		if len(chats) == 0 {
			p.Addf("", "%s is configured; serve needs at least one (or use console)", noneOf(platformNames()))
		}
	}
	if sock := adminSocketPath(fc.AdminSocket, fc.Store); strings.TrimSpace(fc.Store) != "" && len(sock) > maxSocketPath {
		key := "admin_socket"
		switch {
		case fc.AdminSocket != "":
		case fc.Storage != nil:
			key = "storage.path"
		default:
			key = "store"
		}
		p.Addf(key, "the admin socket %s is %d bytes long, and a Unix socket path has at most %d: set admin_socket to a shorter path, e.g. /run/gitlab-chatops/admin.sock", sock, len(sock), maxSocketPath)
	}
	checkID(p, "audit.channel", fc.Audit.Channel, chats, channelID)
	grace := DefaultShutdownGrace
	if fc.ShutdownGrace != "" {
		if d, ok := p.Duration("shutdown_grace", fc.ShutdownGrace, "30s"); ok {
			grace = d
		}
	}
	if fc.Listen == "" {
		fc.Listen = DefaultListen
	} else {
		p.ListenAddress("listen", fc.Listen, DefaultListen)
	}
	for _, o := range ownListens {
		if listenersClash(o.addr, fc.Listen) {
			p.Addf(o.ids.name+".listen", "%q takes the port of listen: %q, so serve could not bind both: leave %s.listen out to serve %s's endpoints on listen:, or give it a port of its own", o.addr, fc.Listen, o.ids.name, o.ids.platform)
		}
	}
	schedules := checkSchedules(p, fc.Schedules, scheduleHosts(fc.Hosts, u.simulate), chatNames)
	return config{fileConfig: fc, approval: checkPolicy(p, fc.Policy, u.serve, chats), grace: grace, schedules: schedules, chats: chatNames, etcd: etcdCfg}
}

// listenersClash reports whether listening on a and on b would collide:
// the same port on the same host, or on any host where one of them is
// the wildcard ("", 0.0.0.0, ::). An empty or malformed address never
// clashes (its own check reports it).
func listenersClash(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa != pb || pa == "0" {
		return false
	}
	wildcard := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ha == hb || wildcard(ha) || wildcard(hb)
}
