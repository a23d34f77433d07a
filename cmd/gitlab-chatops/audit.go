package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
	"github.com/gitlab-chatops/gitlab-chatops/storage/etcd"
)

// runAudit implements `gitlab-chatops audit verify|export|tail`. On a
// bbolt file it opens the database read-only; while a bot holds the
// file's lock, it reads through that bot's admin socket instead
// (openAudit), with the same output and exit codes. When --config keeps
// the trail in etcd, it reads etcd directly (openEtcd): replicas
// hold no lock, and every read is of one revision.
func runAudit(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return exitError{2, fmt.Errorf("audit needs verify, export or tail")}
	}
	verb := args[0]
	fs := flag.NewFlagSet("audit "+verb, flag.ContinueOnError)
	configPath := fs.String("config", "", "the bot's configuration `FILE`: its store and audit.key_file")
	dbPath := fs.String("db", "", "the bot's database `FILE` (store: in the configuration)")
	keyFile := fs.String("key-file", "", "verify: the audit key `FILE` (audit.key_file; default $"+envAuditKey+")")
	anchor := fs.String("anchor", "", "verify: a head posted to the audit channel, `SEQ:HASH`: the entry numbered SEQ must have exactly HASH and the chain after it verify (a bare HASH: any entry with it)")
	since := fs.String("since", "", "export: only entries at or after this time (RFC 3339, e.g. 2026-11-01T00:00:00Z, or a duration like 24h)")
	n := fs.Int("n", 20, "tail: how many entries")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	socket := ""
	var etcdCfg *etcd.Config
	if *configPath != "" {
		cfg, err := loadConfig(*configPath, use{}, os.Getenv)
		if err != nil {
			return err
		}
		if etcdCfg = cfg.etcd; etcdCfg != nil && *dbPath != "" {
			return exitError{2, fmt.Errorf("audit %s: --db names a bbolt file, but %s keeps the trail in etcd (storage.backend: etcd); leave --db out to read etcd", verb, *configPath)}
		}
		if *dbPath == "" {
			*dbPath = cfg.Store
		}
		if *keyFile == "" {
			*keyFile = cfg.Audit.KeyFile
		}
		if *dbPath == cfg.Store {
			socket = cfg.AdminSocket
		}
	}
	if *dbPath == "" && etcdCfg == nil {
		return exitError{2, fmt.Errorf("audit %s needs --db FILE (or --config FILE)", verb)}
	}
	var db auditSource
	if etcdCfg != nil {
		key, err := auditKey(*keyFile, os.Getenv)
		if err != nil {
			return exitError{2, err}
		}
		if db, err = openEtcd(ctx, *etcdCfg, key, true); err != nil {
			return err
		}
	} else {
		var err error
		if db, err = openAudit(ctx, *dbPath, adminSocketPath(socket, *dbPath)); err != nil {
			return err
		}
	}
	defer db.Close()
	switch verb {
	case "verify":
		key, err := auditKey(*keyFile, os.Getenv)
		if err != nil {
			return exitError{2, err}
		}
		var want *auditchain.Head
		if *anchor != "" {
			a, err := auditchain.ParseAnchor(*anchor)
			if err != nil {
				return exitError{2, err}
			}
			want = &a
		}
		rep, err := auditchain.Verify(ctx, db, key, want)
		if rep.Break != nil {
			if rep.Break.Kind == auditchain.BreakAnchor {
				return exitError{3, fmt.Errorf("audit trail does NOT match the anchor: %v", err)}
			}
			return exitError{3, fmt.Errorf("audit trail BROKEN at entry %d: %v (or it was written with another key)", rep.Break.Seq, err)}
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "audit trail intact: %d entries, head %s\n", rep.Entries, rep.Head)
		if want != nil {
			fmt.Fprintf(stdout, "anchor found at entry %d; the %d entries after it verify\n", rep.AnchorSeq, rep.Head.Seq-rep.AnchorSeq)
		}
		return nil
	case "export":
		var t time.Time
		if *since != "" {
			if d, derr := time.ParseDuration(*since); derr == nil {
				t = time.Now().Add(-d)
			} else if t, derr = time.Parse(time.RFC3339, *since); derr != nil {
				return exitError{2, fmt.Errorf("--since %q is neither RFC 3339 time nor a duration", *since)}
			}
		}
		return db.ExportAudit(ctx, stdout, t)
	case "tail":
		enc := json.NewEncoder(stdout)
		err := db.AuditPage(ctx, 0, *n, func(seq uint64, stored []byte) error {
			e, err := auditchain.Decode(stored)
			if err != nil {
				return fmt.Errorf("entry %d: %w", seq, err)
			}
			return enc.Encode(e)
		})
		if err != nil {
			return fmt.Errorf("tail audit log: %w", err)
		}
		return nil
	}
	return exitError{2, fmt.Errorf("unknown audit subcommand %q: use verify, export or tail", verb)}
}
