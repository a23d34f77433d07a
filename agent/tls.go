package agent

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// serverTLSConfig is the agent's TLS: 1.3 only, and a client certificate
// signed by client_ca is required at the handshake, so a client without one
// never reaches HTTP at all.
func serverTLSConfig(t TLSFiles) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
	if err != nil {
		return nil, fmt.Errorf("tls.cert/tls.key: %w", err)
	}
	pool, err := loadCertPool(t.ClientCA)
	if err != nil {
		return nil, fmt.Errorf("tls.client_ca: %w", err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		NextProtos:   []string{"http/1.1"},
	}, nil
}

// certNames are the names a client certificate claims: its CN, then its DNS
// SANs.
func certNames(c *x509.Certificate) []string {
	var names []string
	if c.Subject.CommonName != "" {
		names = append(names, c.Subject.CommonName)
	}
	return append(names, c.DNSNames...)
}

// authorizedName returns the name under which the client is admitted: the
// first of its names in allowed or, with no allow-list, its first name. The
// certificate has already been verified against client_ca.
func authorizedName(c *x509.Certificate, allowed []string) (string, bool) {
	names := certNames(c)
	if len(allowed) == 0 {
		if len(names) == 0 {
			return "serial:" + c.SerialNumber.String(), true
		}
		return names[0], true
	}
	for _, n := range names {
		if slices.Contains(allowed, n) {
			return n, true
		}
	}
	if len(names) == 0 {
		return "serial:" + c.SerialNumber.String(), false
	}
	return names[0], false
}

func quoteNames(names []string) string {
	if len(names) == 0 {
		return "(without a name)"
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, "/")
}
