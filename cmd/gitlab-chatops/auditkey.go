package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
)

// envAuditKey holds the audit key when audit.key_file is not configured.
const envAuditKey = "GITLAB_CHATOPS_AUDIT_KEY"

// auditConfig is the `audit:` section of the configuration.
type auditConfig struct {
	// KeyFile holds the secret that keys the audit chain (HMAC-SHA256);
	// without it, GITLAB_CHATOPS_AUDIT_KEY.
	KeyFile string `yaml:"key_file"`
	// Channel is where the chain's head is anchored: posted daily and on
	// `/gitlab-migrations audit anchor`.
	Channel string `yaml:"channel"`
}

// auditKey returns the audit key: the contents of keyFile (surrounding
// whitespace trimmed) if one is given, else the environment variable.
func auditKey(keyFile string, getenv func(string) string) (auditchain.Key, error) {
	var k auditchain.Key
	if keyFile != "" {
		b, err := readKeyFile(keyFile)
		if err != nil {
			return nil, err
		}
		k = auditchain.Key(bytes.TrimSpace(b))
	} else {
		k = auditchain.Key(bytes.TrimSpace([]byte(getenv(envAuditKey))))
	}
	if err := k.Check(); err != nil {
		return nil, err
	}
	return k, nil
}

// readKeyFile reads the audit key file, refusing one that every user may
// read: whoever reads the key can rewrite the trail consistently.
func readKeyFile(keyFile string) ([]byte, error) {
	return readSecretFile(keyFile, "audit key", "audit.key_file", "rewrite the audit trail")
}

// readSecretFile reads a key file (what it holds, at configuration key
// key), refusing one that every user may read, since whoever reads it can
// do risk. The mode is that of the file read (one open), not of whatever
// the path names a moment later.
func readSecretFile(keyFile, what, key, risk string) ([]byte, error) {
	f, err := os.Open(keyFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (%s)", what, err, key)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().Perm()&0o007 != 0 {
		return nil, fmt.Errorf("%s file %s can be read by every user (mode %04o): whoever reads it can %s; chmod 600 it", what, keyFile, fi.Mode().Perm(), risk)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (%s)", what, err, key)
	}
	return b, nil
}

// devAuditKey returns the key in dir/audit.key, creating a random one
// (mode 0600) the first time: console --simulate needs no setup, and a
// state directory reused across runs keeps verifying.
func devAuditKey(dir string) (auditchain.Key, string, error) {
	path := filepath.Join(dir, "audit.key")
	k, err := auditKey(path, nil)
	if err == nil {
		return k, path, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, "", err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, "", fmt.Errorf("generating a development audit key: %w", err)
	}
	hexKey := []byte(hex.EncodeToString(raw) + "\n")
	if err := os.WriteFile(path, hexKey, 0o600); err != nil {
		return nil, "", fmt.Errorf("writing the development audit key: %w", err)
	}
	return auditchain.Key(bytes.TrimSpace(hexKey)), path, nil
}
