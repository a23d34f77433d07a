package main

import (
	"strings"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/internal/configcheck"
	"github.com/gitlab-chatops/gitlab-chatops/storage/etcd"
)

// The storage backends a configuration may name.
const (
	backendBolt = "bolt"
	backendEtcd = "etcd"
)

// etcdEndpointExample shows an endpoint's form in messages.
const etcdEndpointExample = "https://etcd-1.example.com:2379"

// storageConfig is the storage: section: where the bot keeps requests,
// the audit trail and schedules. backend bolt (the default) is one bbolt
// file on this machine (path; the top-level store: PATH is its short
// form); backend etcd is an etcd cluster that several replicas share.
type storageConfig struct {
	Backend   string        `yaml:"backend"`
	Path      string        `yaml:"path"`
	Endpoints []string      `yaml:"endpoints"`
	TLS       etcdTLSConfig `yaml:"tls"`
	Prefix    string        `yaml:"prefix"`
	LeaseTTL  string        `yaml:"lease_ttl"`
}

// etcdTLSConfig is storage.tls: the CA that signed etcd's server
// certificates and this replica's client certificate and key.
type etcdTLSConfig struct {
	CA   string `yaml:"ca"`
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

func (t etcdTLSConfig) set() bool { return t.CA != "" || t.Cert != "" || t.Key != "" }

// checkStorage records the problems of store: and storage: in p and
// resolves them: for bolt, fc.Store is set to the file (so everything that
// reads the bbolt path reads one field, whichever form was written); for
// etcd, the returned Config is how serve and the audit commands reach it
// (nil for bolt, or when the section has problems).
func checkStorage(p *configcheck.Problems, fc *fileConfig, u use) *etcd.Config {
	sc := fc.Storage
	if sc == nil {
		if strings.TrimSpace(fc.Store) == "" && !u.simulate {
			p.Addf("store", "missing: the bbolt file for requests and audit, e.g. /var/lib/gitlab-chatops/chatops.db (or a storage: section: backend bolt with its path, or backend etcd for several replicas)")
		}
		return nil
	}
	if fc.Store != "" {
		p.Addf("store", "given together with storage:; keep one (store: PATH is the short form of storage: {backend: bolt, path: PATH})")
	}
	switch sc.Backend {
	case "", backendBolt:
		for _, k := range []struct {
			key string
			set bool
		}{{"endpoints", len(sc.Endpoints) > 0}, {"tls", sc.TLS.set()}, {"prefix", sc.Prefix != ""}, {"lease_ttl", sc.LeaseTTL != ""}} {
			if k.set {
				p.Addf("storage."+k.key, "only for backend: etcd; remove it, or set storage.backend: etcd")
			}
		}
		if strings.TrimSpace(sc.Path) == "" && !u.simulate {
			p.Addf("storage.path", "missing: the bbolt file for requests and audit, e.g. /var/lib/gitlab-chatops/chatops.db")
		}
		if fc.Store == "" {
			fc.Store = sc.Path
		}
		return nil
	case backendEtcd:
	default:
		p.Addf("storage.backend", "%q is not a backend: use bolt (one bbolt file on this machine, the default) or etcd (several replicas)", sc.Backend)
		return nil
	}
	before := p.Len()
	if sc.Path != "" {
		p.Addf("storage.path", "only for backend: bolt; etcd keeps everything under storage.prefix")
	}
	if fc.AdminSocket != "" {
		p.Addf("admin_socket", "only for the bolt store (the socket answers while serve holds the file's lock); with etcd, audit verify|export|tail read etcd directly with --config: remove it")
	}
	if u.console {
		p.Addf("storage.backend", "the console runs on a bbolt file only (store: PATH); etcd is for serve's replicas")
	}
	cfg := &etcd.Config{Endpoints: sc.Endpoints, Prefix: sc.Prefix, CA: sc.TLS.CA, Cert: sc.TLS.Cert, Key: sc.TLS.Key}
	checkEtcdEndpoints(p, sc)
	checkEtcdTLS(p, sc.TLS, cfg)
	if sc.Prefix != "" {
		switch {
		case !strings.HasPrefix(sc.Prefix, "/") || !strings.HasSuffix(sc.Prefix, "/"):
			p.Addf("storage.prefix", "%q must start and end with /, e.g. %s", sc.Prefix, etcd.DefaultPrefix)
		case sc.Prefix == "/":
			p.Addf("storage.prefix", `"/" is the whole keyspace; give the bot a prefix of its own, e.g. %s`, etcd.DefaultPrefix)
		case strings.ContainsFunc(sc.Prefix, func(r rune) bool { return r <= ' ' || r == 0x7f }):
			p.Addf("storage.prefix", "%q has a space or control character; use letters, digits, -, _ and /, e.g. %s", sc.Prefix, etcd.DefaultPrefix)
		}
	}
	if sc.LeaseTTL != "" {
		if d, ok := p.Duration("storage.lease_ttl", sc.LeaseTTL, "10s"); ok {
			switch {
			case d < 2*time.Second:
				p.Addf("storage.lease_ttl", "%q is below 2s: a replica's lease would expire between two renewals; the default is %s", sc.LeaseTTL, etcd.DefaultLeaseTTL)
			case d%time.Second != 0:
				p.Addf("storage.lease_ttl", "%q is not a whole number of seconds (etcd's leases count seconds), e.g. 10s", sc.LeaseTTL)
			default:
				cfg.LeaseTTL = d
			}
		}
	}
	if p.Len() > before {
		return nil
	}
	return cfg
}

// checkEtcdEndpoints records the problems of storage.endpoints: at least
// one; each an http(s) URL with a host and port and nothing else; https,
// or plain http to a loopback address (a development etcd); and one scheme
// for all of them (TLS is the client's, not an endpoint's).
func checkEtcdEndpoints(p *configcheck.Problems, sc *storageConfig) {
	if len(sc.Endpoints) == 0 {
		p.Addf("storage.endpoints", "missing: etcd's client URLs, e.g. [%s, https://etcd-2.example.com:2379, https://etcd-3.example.com:2379]", etcdEndpointExample)
		return
	}
	seen := map[string]int{}
	scheme := ""
	for i, e := range sc.Endpoints {
		key := configcheck.Index("storage.endpoints", i)
		if first, dup := seen[e]; dup {
			p.Addf(key, "%q appears twice (storage.endpoints[%d] is the same); list each member once", e, first)
			continue
		}
		seen[e] = i
		u, err := bot.ParseHTTPSURL(e, etcdEndpointExample)
		if err != nil {
			p.Addf(key, "%s", err)
			continue
		}
		if u.Port() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			p.Addf(key, "%q: an etcd endpoint is scheme://host:port and nothing more, e.g. %s", e, etcdEndpointExample)
			continue
		}
		if scheme != "" && u.Scheme != scheme {
			p.Addf(key, "%q is %s while the endpoints before it are %s: use one scheme for all (https with storage.tls)", e, u.Scheme, scheme)
			continue
		}
		scheme = u.Scheme
	}
	// https needs etcd's CA; plain http (loopback only, ParseHTTPSURL's
	// rule) must not have TLS files, which it would not use.
	switch {
	case scheme == "https" && sc.TLS.CA == "":
		p.Addf("storage.tls.ca", "missing: the CA that signed etcd's server certificates (the endpoints are https)")
	case scheme == "http" && sc.TLS.set():
		p.Addf("storage.tls", "set, but the endpoints are plain http (a development etcd on loopback): use https:// endpoints, or remove storage.tls")
	}
}

// checkEtcdTLS records the problems of storage.tls: files that are not
// there, a cert without its key (or the reverse), and files that do not
// form a usable client configuration (etcd.Config.CheckTLS, the rule Dial
// applies).
func checkEtcdTLS(p *configcheck.Problems, t etcdTLSConfig, cfg *etcd.Config) {
	if !t.set() {
		return
	}
	files := true
	if t.CA != "" && !p.File("storage.tls.ca", t.CA, "") {
		files = false
	}
	if (t.Cert == "") != (t.Key == "") {
		missing, other := "storage.tls.key", "cert"
		if t.Cert == "" {
			missing, other = "storage.tls.cert", "key"
		}
		p.Addf(missing, "missing: storage.tls.%s is set, and a client certificate and its key go together", other)
		files = false
	}
	for _, f := range []struct{ key, path string }{{"storage.tls.cert", t.Cert}, {"storage.tls.key", t.Key}} {
		if f.path != "" && !p.File(f.key, f.path, "") {
			files = false
		}
	}
	if files {
		if err := cfg.CheckTLS(); err != nil {
			p.Addf("storage.tls", "%s", strings.TrimPrefix(err.Error(), "etcd "))
		}
	}
}
