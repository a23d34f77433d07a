package agent

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Certificate files written by GenerateCerts, in dir.
const (
	CAFile       = "ca.pem"
	CAKeyFile    = "ca-key.pem"
	AgentFile    = "agent.pem"
	AgentKeyFile = "agent-key.pem"
	BotFile      = "bot.pem"
	BotKeyFile   = "bot-key.pem"
	// BotName is the CN of the bot's client certificate: what
	// tls.allowed_clients lists.
	BotName = "gitlab-chatops-bot"
)

// GenerateCerts creates a private CA and, signed by it, the agent's server
// certificate (for hosts, plus localhost, 127.0.0.1 and ::1) and the bot's
// client certificate (CN gitlab-chatops-bot), all ECDSA P-256, and the
// bot's ed25519 approval key pair, in dir: ca.pem, ca-key.pem, agent.pem,
// agent-key.pem, bot.pem, bot-key.pem, approval-key.pem, approval-pub.pem.
// Keys are mode 0600. It refuses to overwrite any existing file. Keep ca-key.pem
// off the GitLab host once the certificates are issued.
func GenerateCerts(dir string, hosts []string, validity time.Duration) error {
	if validity <= 0 {
		return errors.New("generate certs: validity must be positive")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("generate certs: %w", err)
	}
	names := []string{CAFile, CAKeyFile, AgentFile, AgentKeyFile, BotFile, BotKeyFile, ApprovalKeyFile, ApprovalPublicKeyFile}
	for _, n := range names {
		p := filepath.Join(dir, n)
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("generate certs: %s already exists: refusing to overwrite; move the old files away or choose another --out directory", p)
		}
	}

	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate CA key: %w", err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "gitlab-chatops CA", Organization: []string{"gitlab-chatops"}},
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := signCert(caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("self-sign CA: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return fmt.Errorf("parse CA: %w", err)
	}

	dns, ips := splitHosts(hosts)
	agentCN := "gitlab-chatops-agent"
	if len(hosts) > 0 && strings.TrimSpace(hosts[0]) != "" {
		agentCN = strings.TrimSpace(hosts[0])
	}
	agentDER, agentKey, err := issueLeaf(caCert, caKey, agentCN, dns, ips, x509.ExtKeyUsageServerAuth, now, validity)
	if err != nil {
		return fmt.Errorf("agent certificate: %w", err)
	}
	botDER, botKey, err := issueLeaf(caCert, caKey, BotName, []string{BotName}, nil, x509.ExtKeyUsageClientAuth, now, validity)
	if err != nil {
		return fmt.Errorf("bot certificate: %w", err)
	}

	files := []newFile{
		{CAFile, certPEM(caDER), 0o644},
		{AgentFile, certPEM(agentDER), 0o644},
		{BotFile, certPEM(botDER), 0o644},
	}
	for _, k := range []struct {
		name string
		key  *ecdsa.PrivateKey
	}{{CAKeyFile, caKey}, {AgentKeyFile, agentKey}, {BotKeyFile, botKey}} {
		data, err := keyPEM(k.key)
		if err != nil {
			return err
		}
		files = append(files, newFile{k.name, data, 0o600})
	}
	approval, err := approvalKeyFiles()
	if err != nil {
		return err
	}
	return writeFiles(dir, append(files, approval...))
}

// newFile is a file GenerateCerts or GenerateApprovalKeys writes.
type newFile struct {
	name string
	data []byte
	mode os.FileMode
}

// writeFiles creates each file in dir, none of which may exist.
func writeFiles(dir string, files []newFile) error {
	for _, f := range files {
		if err := writeNewFile(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// GenerateClientCert issues one more client certificate named name (CN and
// DNS SAN) from the CA in caDir (ca.pem, ca-key.pem), written as
// <name>.pem and <name>-key.pem in caDir: for a second bot instance, or a
// person's emergency access. It refuses to overwrite.
func GenerateClientCert(caDir, name string, validity time.Duration) error {
	if name == "" || strings.ContainsAny(name, "/\\") || name == "." || name == ".." {
		return fmt.Errorf("client certificate: %q is not usable as a name and file name", name)
	}
	if validity <= 0 {
		return errors.New("client certificate: validity must be positive")
	}
	caCert, caKey, err := loadCA(caDir)
	if err != nil {
		return err
	}
	certPath, keyPath := filepath.Join(caDir, name+".pem"), filepath.Join(caDir, name+"-key.pem")
	for _, p := range []string{certPath, keyPath} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("client certificate: %s already exists: refusing to overwrite", p)
		}
	}
	der, key, err := issueLeaf(caCert, caKey, name, []string{name}, nil, x509.ExtKeyUsageClientAuth, time.Now(), validity)
	if err != nil {
		return fmt.Errorf("client certificate: %w", err)
	}
	kp, err := keyPEM(key)
	if err != nil {
		return err
	}
	if err := writeNewFile(keyPath, kp, 0o600); err != nil {
		return err
	}
	return writeNewFile(certPath, certPEM(der), 0o644)
}

func loadCA(dir string) (*x509.Certificate, crypto.Signer, error) {
	certData, err := os.ReadFile(filepath.Join(dir, CAFile))
	if err != nil {
		return nil, nil, fmt.Errorf("read CA: %w", err)
	}
	keyData, err := os.ReadFile(filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, nil, fmt.Errorf("read CA key: %w", err)
	}
	cb, _ := pem.Decode(certData)
	kb, _ := pem.Decode(keyData)
	if cb == nil || kb == nil {
		return nil, nil, fmt.Errorf("CA files in %s are not PEM", dir)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("parse CA: %w", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("parse CA key: %w", err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, nil, errors.New("CA key cannot sign")
	}
	return cert, signer, nil
}

func issueLeaf(ca *x509.Certificate, caKey crypto.Signer, cn string, dns []string, ips []net.IP,
	usage x509.ExtKeyUsage, now time.Time, validity time.Duration) ([]byte, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: cn, Organization: []string{"gitlab-chatops"}},
		NotBefore:   now.Add(-5 * time.Minute),
		NotAfter:    now.Add(validity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{usage},
		DNSNames:    dns,
		IPAddresses: ips,
	}
	der, err := signCert(tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	return der, key, nil
}

func signCert(tmpl, parent *x509.Certificate, pub any, signer crypto.Signer) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("serial: %w", err)
	}
	tmpl.SerialNumber = serial
	return x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
}

// splitHosts sorts host names into DNS names and IP addresses and adds the
// loopback names every agent answers to.
func splitHosts(hosts []string) ([]string, []net.IP) {
	var dns []string
	var ips []net.IP
	for _, h := range append(slices.Clone(hosts), "localhost", "127.0.0.1", "::1") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			if !slices.ContainsFunc(ips, ip.Equal) {
				ips = append(ips, ip)
			}
			continue
		}
		if !slices.Contains(dns, h) {
			dns = append(dns, h)
		}
	}
	return dns, ips
}

func certPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func keyPEM(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// writeNewFile creates path with mode, failing if it exists (O_EXCL), so a
// race with another writer cannot overwrite a key either.
func writeNewFile(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	return nil
}
