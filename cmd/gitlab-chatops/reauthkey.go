package main

import (
	"bytes"
	"errors"
	"io/fs"
	"maps"
	"slices"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/internal/configcheck"
)

// envReauthKey holds the re-authentication key when reauth.key_file is
// not configured.
const envReauthKey = "GITLAB_CHATOPS_REAUTH_KEY"

// reauthConfig is the `reauth:` section: the key the approvers' TOTP
// secrets are sealed with in the store (policy.reauth says which
// operations need a code).
type reauthConfig struct {
	KeyFile string `yaml:"key_file"`
}

// reauthKey returns the re-authentication key: the contents of keyFile
// (surrounding whitespace trimmed) if one is given, else the environment
// variable; nil, without error, when neither is set (enrolment then is
// off; a policy asking for TOTP is refused by the configuration check).
func reauthKey(keyFile string, getenv func(string) string) (approvals.ReauthKey, error) {
	var k approvals.ReauthKey
	if keyFile != "" {
		b, err := readSecretFile(keyFile, "re-authentication key", "reauth.key_file", "make every approver's codes")
		if err != nil {
			return nil, err
		}
		k = approvals.ReauthKey(bytes.TrimSpace(b))
	} else if getenv != nil {
		k = approvals.ReauthKey(bytes.TrimSpace([]byte(getenv(envReauthKey))))
	}
	if len(k) == 0 {
		return nil, nil
	}
	if err := k.Check(); err != nil {
		return nil, err
	}
	return k, nil
}

// checkReauth records the problems of the re-authentication key: one
// that is set must be usable, and a policy.reauth asking for TOTP needs
// one.
func checkReauth(p *configcheck.Problems, fc fileConfig, getenv func(string) string) {
	k, err := reauthKey(fc.Reauth.KeyFile, getenv)
	var pe *fs.PathError
	switch {
	case errors.As(err, &pe) && errors.Is(err, fs.ErrNotExist):
		p.Addf("reauth.key_file", "%s does not exist (create it with `openssl rand -hex 32 > %s && chmod 600 %s`)", pe.Path, pe.Path, pe.Path)
		return
	case errors.As(err, &pe):
		p.Addf("reauth.key_file", "%s cannot be read: %v", pe.Path, pe.Err)
		return
	case err != nil:
		p.Addf("reauth.key_file", "%v", err)
		return
	}
	if k != nil {
		return
	}
	for _, op := range slices.Sorted(maps.Keys(fc.Policy.Reauth)) {
		if fc.Policy.Reauth[op] == approvals.ReauthTOTP {
			p.Addf("reauth.key_file", "missing (set it or %s): policy.reauth.%s asks for TOTP, whose secrets are stored encrypted under this key (at least %d bytes, e.g. `openssl rand -hex 32 > reauth.key && chmod 600 reauth.key`)", envReauthKey, op, approvals.MinReauthKeyLen)
			return
		}
	}
}
