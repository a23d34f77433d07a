package agent

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
	"unicode/utf8"
)

// An approval statement is the bot's signed word that a mutating request
// was approved: which request, on which host, which operation and argv,
// who asked, who approved, until when it may start. The agent runs a
// mutating operation only with a valid one that matches the request, so a
// stolen bot client certificate alone cannot run migrate: the signing key
// is a second secret, kept only by the bot.

// Approval key files, written by GenerateApprovalKeys (and GenerateCerts).
const (
	// ApprovalKeyFile is the bot's ed25519 signing key (PKCS#8 PEM, mode
	// 0600): the bot's approval_key.
	ApprovalKeyFile = "approval-key.pem"
	// ApprovalPublicKeyFile is its public key (PKIX PEM): the agent's
	// approval_public_key.
	ApprovalPublicKeyFile = "approval-pub.pem"
)

// ApprovalStatementVersion is the version of the signed encoding; see
// ApprovalStatement.SignedBytes.
const ApprovalStatementVersion = 1

// DefaultApprovalTTL is how long a statement the bot signs may be used to
// start its job. The bot signs right before it submits the run.
const DefaultApprovalTTL = 5 * time.Minute

// Bounds the agent enforces on the statement's times: a statement valid
// for longer than MaxApprovalTTL is refused, and one issued further than
// maxApprovalSkew in the agent's future too (a clock that far off is a
// fault to fix, not to accept).
const (
	MaxApprovalTTL  = time.Hour
	maxApprovalSkew = 2 * time.Minute
)

// approvalDomain starts the signed bytes, so that a signature over them
// can never be taken for a signature over anything else.
const approvalDomain = "gitlab-chatops approval statement\x00"

// ApprovalStatement is the approval evidence of a RunRequest. Every field
// but Signature is signed, in the encoding SignedBytes defines.
type ApprovalStatement struct {
	Version   int      `json:"version"`
	RequestID string   `json:"request_id"`
	Host      string   `json:"host"` // the agent's configured name (the bot's hosts[].name)
	Operation string   `json:"operation"`
	Argv      []string `json:"argv"`
	Requester string   `json:"requester"`
	Approvers []string `json:"approvers"`
	// IssuedAt and ExpiresAt are Unix seconds: a number has one encoding,
	// a formatted time several.
	IssuedAt  int64 `json:"issued_at"`
	ExpiresAt int64 `json:"expires_at"`
	// Signature is ed25519 over SignedBytes (base64 in JSON).
	Signature []byte `json:"signature"`
}

// SignedBytes is the canonical encoding of st that Signature covers,
// version 1:
//
//	"gitlab-chatops approval statement\x00"
//	uint32 version
//	str request_id, str host, str operation
//	list argv
//	str requester
//	list approvers
//	int64 issued_at, int64 expires_at
//
// where str is a uint32 byte length followed by the UTF-8 bytes, list a
// uint32 count followed by that many str, and every integer big-endian.
// Lengths make it unambiguous: no choice of field values can make two
// different statements encode alike. Strings must be valid UTF-8, since
// JSON would otherwise change them on the way.
func (st ApprovalStatement) SignedBytes() ([]byte, error) {
	if st.Version != ApprovalStatementVersion {
		return nil, fmt.Errorf("approval statement version %d: this agent knows version %d", st.Version, ApprovalStatementVersion)
	}
	var b bytes.Buffer
	b.WriteString(approvalDomain)
	b.Write(binary.BigEndian.AppendUint32(nil, uint32(st.Version)))
	var bad error
	str := func(field, s string) {
		if bad == nil && !utf8.ValidString(s) {
			bad = fmt.Errorf("approval statement: %s is not valid UTF-8", field)
		}
		b.Write(binary.BigEndian.AppendUint32(nil, uint32(len(s))))
		b.WriteString(s)
	}
	list := func(field string, l []string) {
		b.Write(binary.BigEndian.AppendUint32(nil, uint32(len(l))))
		for _, s := range l {
			str(field, s)
		}
	}
	str("request_id", st.RequestID)
	str("host", st.Host)
	str("operation", st.Operation)
	list("argv", st.Argv)
	str("requester", st.Requester)
	list("approvers", st.Approvers)
	b.Write(binary.BigEndian.AppendUint64(nil, uint64(st.IssuedAt)))
	b.Write(binary.BigEndian.AppendUint64(nil, uint64(st.ExpiresAt)))
	if bad != nil {
		return nil, bad
	}
	return b.Bytes(), nil
}

// ApprovalSigner is the bot's side: it signs the statement of each
// approved request right before the run is submitted.
type ApprovalSigner struct {
	key ed25519.PrivateKey
	ttl time.Duration
	now func() time.Time
}

// NewApprovalSigner signs with key; statements are valid for
// DefaultApprovalTTL from the moment of signing.
func NewApprovalSigner(key ed25519.PrivateKey) *ApprovalSigner {
	return &ApprovalSigner{key: key, ttl: DefaultApprovalTTL, now: time.Now}
}

// LoadApprovalSigner reads the bot's signing key (approval-key.pem).
func LoadApprovalSigner(path string) (*ApprovalSigner, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("approval key: %w", err)
	}
	blk, _ := pem.Decode(data)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("approval key %s: not a PEM \"PRIVATE KEY\" (create one with: gitlab-chatops-agent certs --out DIR --approval-keys)", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("approval key %s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("approval key %s: a %T, not an ed25519 key", path, k)
	}
	return NewApprovalSigner(priv), nil
}

// Sign fills in version, issue and expiry times and the signature of st.
func (s *ApprovalSigner) Sign(st ApprovalStatement) (ApprovalStatement, error) {
	now := s.now()
	st.Version = ApprovalStatementVersion
	st.IssuedAt = now.Unix()
	st.ExpiresAt = now.Add(s.ttl).Unix()
	st.Argv = slices.Clone(st.Argv)
	st.Approvers = slices.Clone(st.Approvers)
	msg, err := st.SignedBytes()
	if err != nil {
		return ApprovalStatement{}, err
	}
	st.Signature = ed25519.Sign(s.key, msg)
	return st, nil
}

// approvalVerifier is the agent's side: the bot's public keys (several
// during a key rotation).
type approvalVerifier struct {
	keys []ed25519.PublicKey
}

// loadApprovalVerifier reads one or more PEM "PUBLIC KEY" blocks, each an
// ed25519 key.
func loadApprovalVerifier(path string) (*approvalVerifier, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	v := &approvalVerifier{}
	for {
		var blk *pem.Block
		blk, data = pem.Decode(data)
		if blk == nil {
			break
		}
		if blk.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("%s: a PEM %q block; want \"PUBLIC KEY\" (the bot's %s)", path, blk.Type, ApprovalPublicKeyFile)
		}
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%s: a %T, not an ed25519 public key", path, k)
		}
		v.keys = append(v.keys, pub)
	}
	if len(v.keys) == 0 {
		return nil, fmt.Errorf("%s holds no PEM public key (create one with: gitlab-chatops-agent certs --out DIR --approval-keys)", path)
	}
	return v, nil
}

// errApproval is a refused approval statement; the message says why.
type errApproval struct{ msg string }

func (e *errApproval) Error() string { return e.msg }

// verify checks that st is signed by one of the keys, is within its time
// window at now, and says exactly what req asks, on host. argv is what
// the agent built (already equal to req.Argv).
func (v *approvalVerifier) verify(st *ApprovalStatement, req RunRequest, host string, argv []string, now time.Time) error {
	if st == nil {
		return &errApproval{"no approval statement: a mutating operation runs only with the bot's signed approval of this request (a client certificate alone is not enough)"}
	}
	msg, err := st.SignedBytes()
	if err != nil {
		return &errApproval{err.Error()}
	}
	if !slices.ContainsFunc(v.keys, func(k ed25519.PublicKey) bool { return ed25519.Verify(k, msg, st.Signature) }) {
		return &errApproval{"the approval statement's signature does not verify with approval_public_key: it was not signed by the bot's approval key, or was altered"}
	}
	issued, expires := time.Unix(st.IssuedAt, 0), time.Unix(st.ExpiresAt, 0)
	switch {
	case now.After(expires):
		return &errApproval{fmt.Sprintf("the approval statement expired at %s (now %s): the bot signs it right before the run; check both clocks, then open a new request",
			expires.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))}
	case issued.After(now.Add(maxApprovalSkew)):
		return &errApproval{fmt.Sprintf("the approval statement was issued at %s, in this host's future (now %s): fix the clocks (NTP)",
			issued.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))}
	case expires.Sub(issued) > MaxApprovalTTL:
		return &errApproval{fmt.Sprintf("the approval statement is valid for %s, more than the %s allowed", expires.Sub(issued), MaxApprovalTTL)}
	}
	for _, m := range []struct{ what, got, want string }{
		{"host", st.Host, host},
		{"operation", st.Operation, req.Operation},
		{"request", st.RequestID, req.RequestID},
		{"requester", st.Requester, req.Requester},
	} {
		if m.got != m.want {
			return &errApproval{fmt.Sprintf("the approval statement is for %s %q, not %q: it does not approve this run", m.what, m.got, m.want)}
		}
	}
	if !slices.Equal(st.Argv, argv) {
		return &errApproval{fmt.Sprintf("the approval statement approves %q, not %q: it does not approve this run", st.Argv, argv)}
	}
	if !slices.Equal(st.Approvers, req.Approvers) {
		return &errApproval{fmt.Sprintf("the approval statement names approvers %q, the request %q", st.Approvers, req.Approvers)}
	}
	if st.RequestID == "" || len(st.Approvers) == 0 || slices.Contains(st.Approvers, st.Requester) {
		return &errApproval{"the approval statement lacks a request ID or an approver other than the requester"}
	}
	return nil
}

// GenerateApprovalKeys writes a new ed25519 key pair into dir:
// approval-key.pem (the bot's, mode 0600) and approval-pub.pem (the
// agents'). It refuses to overwrite either file.
func GenerateApprovalKeys(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("approval keys: %w", err)
	}
	files, err := approvalKeyFiles()
	if err != nil {
		return err
	}
	for _, f := range files {
		if _, err := os.Lstat(filepath.Join(dir, f.name)); err == nil {
			return fmt.Errorf("approval keys: %s already exists: refusing to overwrite", filepath.Join(dir, f.name))
		}
	}
	return writeFiles(dir, files)
}

// approvalKeyFiles makes a new key pair as files to write.
func approvalKeyFiles() ([]newFile, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate approval key: %w", err)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("encode approval key: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode approval public key: %w", err)
	}
	return []newFile{
		{ApprovalKeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}), 0o600},
		{ApprovalPublicKeyFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644},
	}, nil
}
