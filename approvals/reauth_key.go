package approvals

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// ReauthKey is the secret the approvers' TOTP secrets are sealed with in
// the store (from reauth.key_file or GITLAB_CHATOPS_REAUTH_KEY). Whoever
// holds the store alone cannot read the secrets; whoever holds both can
// make codes, so it is kept like the audit key and never logged.
type ReauthKey []byte

// MinReauthKeyLen is the shortest key accepted (e.g. `openssl rand -hex
// 32` gives 64 characters).
const MinReauthKeyLen = 32

// ErrNoReauthKey: re-authentication is configured without a usable key.
var ErrNoReauthKey = errors.New("no re-authentication key")

// Check reports whether k can seal secrets; the error says how to set one.
func (k ReauthKey) Check() error {
	switch {
	case len(k) == 0:
		return fmt.Errorf("policy.reauth asks for TOTP, whose secrets are stored encrypted: set reauth.key_file in the configuration or GITLAB_CHATOPS_REAUTH_KEY (e.g. `openssl rand -hex 32`): %w", ErrNoReauthKey)
	case len(k) < MinReauthKeyLen:
		return fmt.Errorf("the re-authentication key is %d bytes; use at least %d (e.g. `openssl rand -hex 32`): %w", len(k), MinReauthKeyLen, ErrNoReauthKey)
	}
	return nil
}

// sealVersion is the first byte of a sealed secret: the format below.
const sealVersion = 1

// aead derives the AES-256-GCM cipher from k (HKDF-SHA256, so any
// length of key material gives a full-strength key).
func (k ReauthKey) aead() (cipher.AEAD, error) {
	if err := k.Check(); err != nil {
		return nil, err
	}
	dk, err := hkdf.Key(sha256.New, k, nil, "gitlab-chatops reauth secret v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive the re-authentication cipher key: %w", err)
	}
	block, err := aes.NewCipher(dk)
	if err != nil {
		return nil, fmt.Errorf("re-authentication cipher: %w", err)
	}
	return cipher.NewGCM(block)
}

// SealSecret encrypts secret for userID: version byte, random nonce, then
// AES-GCM ciphertext with userID as additional data, so a sealed secret
// copied onto another user's record does not open.
func (k ReauthKey) SealSecret(userID, secret string) ([]byte, error) {
	a, err := k.aead()
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+a.NonceSize(), 1+a.NonceSize()+len(secret)+a.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("seal the TOTP secret: %w", err)
	}
	return a.Seal(out, out[1:], []byte(secret), []byte(userID)), nil
}

// OpenSecret decrypts what SealSecret sealed for userID. It fails when
// the key is not the one it was sealed with, or the record was altered or
// moved to another user.
func (k ReauthKey) OpenSecret(userID string, sealed []byte) (string, error) {
	a, err := k.aead()
	if err != nil {
		return "", err
	}
	if len(sealed) < 1+a.NonceSize()+a.Overhead() || sealed[0] != sealVersion {
		return "", fmt.Errorf("the stored TOTP secret of %s is not in a format this program reads; the user should enrol again", userID)
	}
	n := 1 + a.NonceSize()
	plain, err := a.Open(nil, sealed[1:n], sealed[n:], []byte(userID))
	if err != nil {
		return "", fmt.Errorf("the stored TOTP secret of %s does not open with the configured re-authentication key (was the key changed, or the record altered?); restore the key, or have the user enrol again: %w", userID, err)
	}
	return string(plain), nil
}
