package etcd

// CheckTLS reports whether c's TLS files form a usable client
// configuration, by the rule Dial applies (the CA holds a PEM
// certificate; cert and key go together and form a pair), without
// connecting: `config check` reports it with the other problems.
func (c Config) CheckTLS() error {
	_, err := clientTLS(c)
	return err
}
