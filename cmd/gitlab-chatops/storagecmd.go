package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
	"github.com/gitlab-chatops/gitlab-chatops/storage"
	"github.com/gitlab-chatops/gitlab-chatops/storage/etcd"
)

// storeSpecForm is the accepted form of --from and --to, for errors.
const storeSpecForm = "bolt:PATH or etcd:ENDPOINT[,ENDPOINT…] (e.g. bolt:/var/lib/gitlab-chatops/chatops.db, etcd:https://10.0.0.1:2379,https://10.0.0.2:2379)"

// storeSpec is a parsed --from or --to.
type storeSpec struct {
	kind      string // "bolt" or "etcd"
	path      string
	endpoints []string
	prefix    string // etcd: the key prefix, once known
}

func (s storeSpec) String() string {
	if s.kind == "bolt" {
		return "bolt:" + s.path
	}
	out := "etcd:" + strings.Join(s.endpoints, ",")
	if s.prefix != "" {
		out += " (prefix " + s.prefix + ")"
	}
	return out
}

// parseStoreSpec reads bolt:PATH or etcd:ENDPOINT[,ENDPOINT…]; an
// endpoint is http(s)://host:port or host:port.
func parseStoreSpec(flagName, v string) (storeSpec, error) {
	kind, rest, ok := strings.Cut(v, ":")
	bad := func(why string) error {
		return fmt.Errorf("%s %q: %s; use %s", flagName, v, why, storeSpecForm)
	}
	switch {
	case v == "":
		return storeSpec{}, bad("missing")
	case !ok || (kind != "bolt" && kind != "etcd"):
		return storeSpec{}, bad("the store must start with bolt: or etcd:")
	case rest == "" && kind == "etcd":
		// The endpoints of the configuration's storage section (--config).
		return storeSpec{kind: kind}, nil
	case rest == "":
		return storeSpec{}, bad("nothing after " + kind + ":")
	case kind == "bolt":
		return storeSpec{kind: kind, path: rest}, nil
	}
	var eps []string
	for _, ep := range strings.Split(rest, ",") {
		hostPort := ep
		if strings.Contains(ep, "://") {
			u, err := url.Parse(ep)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.User != nil || u.RawQuery != "" {
				return storeSpec{}, bad(fmt.Sprintf("endpoint %q is not http(s)://HOST:PORT", ep))
			}
			hostPort = u.Host
		}
		if host, port, err := net.SplitHostPort(hostPort); err != nil || host == "" || port == "" {
			return storeSpec{}, bad(fmt.Sprintf("endpoint %q has no HOST:PORT", ep))
		}
		eps = append(eps, ep)
	}
	return storeSpec{kind: kind, endpoints: eps}, nil
}

// runStorage implements `gitlab-chatops storage copy`.
func runStorage(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "copy" {
		return exitError{2, errors.New("storage needs a subcommand: storage copy --from " + storeSpecForm + " --to …")}
	}
	fs := flag.NewFlagSet("storage copy", flag.ContinueOnError)
	from := fs.String("from", "", "the store to copy: `bolt:PATH or etcd:ENDPOINTS` (stop the bot first)")
	to := fs.String("to", "", "the empty store to fill: `bolt:PATH or etcd:ENDPOINTS`")
	configPath := fs.String("config", "", "the bot's configuration `FILE`: its audit.key_file")
	keyFile := fs.String("key-file", "", "the audit key `FILE` (audit.key_file; default $"+envAuditKey+")")
	var ec etcd.Config
	fs.StringVar(&ec.Prefix, "etcd-prefix", etcd.DefaultPrefix, "etcd: the key `PREFIX` of the bot's data (storage.prefix)")
	fs.StringVar(&ec.CA, "etcd-ca", "", "etcd: the CA `FILE` that signed etcd's certificate (storage.tls.ca)")
	fs.StringVar(&ec.Cert, "etcd-cert", "", "etcd: this client's certificate `FILE` (storage.tls.cert)")
	fs.StringVar(&ec.Key, "etcd-key", "", "etcd: this client's private key `FILE` (storage.tls.key)")
	if err := fs.Parse(args[1:]); err != nil {
		return exitError{2, err}
	}
	if fs.NArg() > 0 {
		return exitError{2, fmt.Errorf("storage copy: unexpected %q; give the stores with --from and --to", fs.Arg(0))}
	}
	src, err := parseStoreSpec("--from", *from)
	if err != nil {
		return exitError{2, err}
	}
	dst, err := parseStoreSpec("--to", *to)
	if err != nil {
		return exitError{2, err}
	}
	if *configPath != "" {
		cfg, err := loadConfig(*configPath, use{}, os.Getenv)
		if err != nil {
			return err
		}
		if *keyFile == "" {
			*keyFile = cfg.Audit.KeyFile
		}
		if cfg.etcd != nil {
			ec = configuredEtcd(fs, ec, *cfg.etcd)
		}
	}
	for _, s := range []*storeSpec{&src, &dst} {
		if s.kind == "etcd" && len(s.endpoints) == 0 {
			if len(ec.Endpoints) == 0 {
				return exitError{2, fmt.Errorf("etcd: without endpoints needs --config FILE with a storage: section of backend etcd; or use %s", storeSpecForm)}
			}
			s.endpoints = ec.Endpoints
		}
		if s.kind == "etcd" {
			s.prefix = ec.Prefix
		}
	}
	if src.String() == dst.String() {
		return exitError{2, fmt.Errorf("--from and --to are the same store %s", src)}
	}
	key, err := auditKey(*keyFile, os.Getenv)
	if err != nil {
		return exitError{2, err}
	}

	source, closeSrc, err := openCopyStore(ctx, src, ec, key, true)
	if err != nil {
		return fmt.Errorf("--from %s: %w", src, err)
	}
	defer closeSrc(false)
	// The source first: a target is opened (a new file created, an etcd
	// prefix given its schema version) only for a source that verifies.
	checked, err := storage.CheckSource(ctx, source, key)
	if err != nil {
		return fmt.Errorf("--from %s: %w", src, err)
	}
	target, closeDst, err := openCopyStore(ctx, dst, ec, key, false)
	if err != nil {
		return fmt.Errorf("--to %s: %w", dst, err)
	}
	rep, err := checked.CopyTo(ctx, target)
	closeDst(err != nil)
	if err != nil {
		if errors.Is(err, storage.ErrNotEmpty) {
			return exitError{2, fmt.Errorf("storage copy to %s: %w", dst, err)}
		}
		return fmt.Errorf("storage copy from %s to %s: %w", src, dst, err)
	}
	fmt.Fprintf(stdout, "copied %s to %s: %d requests, %d audit entries (head %s), %d schedules, %d schedule results, %d re-authentication enrolments; the audit chain verifies on both sides\n",
		src, dst, rep.Requests, rep.Entries, rep.Head, rep.Schedules, rep.Results, rep.Enrolments)
	return nil
}

// configuredEtcd is the configuration's etcd settings (storage: section)
// with the --etcd-* flags given on the command line over them.
func configuredEtcd(fs *flag.FlagSet, flags, cfg etcd.Config) etcd.Config {
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "etcd-prefix":
			cfg.Prefix = flags.Prefix
		case "etcd-ca":
			cfg.CA = flags.CA
		case "etcd-cert":
			cfg.Cert = flags.Cert
		case "etcd-key":
			cfg.Key = flags.Key
		}
	})
	return cfg
}

// openCopyStore opens one side of a copy. A bolt source is opened
// read-only (the bot must be stopped: it holds the file's lock); a bolt
// target that did not exist is created, and removed again when the copy
// fails (done(true)), so a failed copy leaves no file behind.
func openCopyStore(ctx context.Context, s storeSpec, ec etcd.Config, key auditchain.Key, source bool) (storage.Importer, func(failed bool), error) {
	if s.kind == "bolt" {
		_, statErr := os.Stat(s.path)
		if source && statErr != nil {
			return nil, nil, fmt.Errorf("read the database: %w", statErr)
		}
		db, err := storage.Open(s.path, storage.Options{ReadOnly: source, AuditKey: key})
		if err != nil {
			return nil, nil, err
		}
		created := errors.Is(statErr, os.ErrNotExist)
		return db, func(failed bool) {
			_ = db.Close()
			if failed && created {
				_ = os.Remove(s.path)
			}
		}, nil
	}
	ec.Endpoints = s.endpoints
	c, err := etcd.Dial(ctx, ec)
	if err != nil {
		return nil, nil, err
	}
	st, err := etcd.OpenStore(ctx, c, etcd.StoreOptions{AuditKey: key})
	if err != nil {
		_ = c.Close()
		return nil, nil, err
	}
	return st, func(bool) {
		_ = st.Close()
		_ = c.Close()
	}, nil
}
