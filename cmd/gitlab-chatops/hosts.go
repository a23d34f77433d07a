package main

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/commands"
	"github.com/gitlab-chatops/gitlab-chatops/internal/configcheck"
)

// agentHosts builds one agent client and approval signer per configured
// host (checked by checkHosts first). approvalKey is the top-level
// approval_key, for hosts without their own.
func agentHosts(hosts []hostConfig, approvalKey string) ([]commands.Host, error) {
	var out []commands.Host
	signers := map[string]*agent.ApprovalSigner{} // by key file: one load per file
	for i, hc := range hosts {
		c, err := agent.NewClient(agent.ClientConfig{URL: hc.Agent, CAFile: hc.CA, CertFile: hc.Cert, KeyFile: hc.Key})
		if err != nil {
			return nil, fmt.Errorf("host %s: %w", hc.Name, err)
		}
		keyFile := cmp.Or(hc.ApprovalKey, approvalKey)
		s, ok := signers[keyFile]
		if !ok {
			if s, err = agent.LoadApprovalSigner(keyFile); err != nil {
				return nil, fmt.Errorf("hosts[%d] (%s): approval_key: %w", i, hc.Name, err)
			}
			signers[keyFile] = s
		}
		out = append(out, commands.Host{Name: hc.Name, Agent: c, Signer: s, Default: hc.Default})
	}
	return out, nil
}

// checkHosts records the problems of the hosts section: names present,
// unique and not "all", at most one default host (with several hosts and
// none marked, a read-only subcommand without --host is refused and says
// how to choose; not an error, so adding a host never stops the bot), agent URLs https (plain http only for a development agent on
// loopback), and the TLS files present and forming a usable client
// identity.
func checkHosts(p *configcheck.Problems, hosts []hostConfig, approvalKey string) {
	seen := map[string]int{} // name → index of its first host
	def := -1                // index of the first default host
	checkApprovalKey(p, "approval_key", approvalKey)
	for i, h := range hosts {
		at := func(k string) string { return configcheck.Join(configcheck.Index("hosts", i), k) }
		switch {
		case h.ApprovalKey != "":
			checkApprovalKey(p, at("approval_key"), h.ApprovalKey)
		case approvalKey == "":
			p.Addf(at("approval_key"), "missing (here or as the top-level approval_key): the bot's approval-key.pem, which signs every approved run for the agent's approval_public_key; create the pair with: gitlab-chatops-agent certs --out DIR --approval-keys")
		}
		first, dup := seen[h.Name]
		switch {
		case strings.TrimSpace(h.Name) == "":
			p.Addf(at("name"), "missing: the name people give to --host, e.g. gitlab-1")
		case dup:
			p.Addf(at("name"), "%s appears twice (hosts[%d] is %s too): give each host its own name", h.Name, first, h.Name)
		case strings.EqualFold(h.Name, commands.AllHosts):
			p.Addf(at("name"), "%q is reserved: --host all means every host; choose another name", h.Name)
		default:
			seen[h.Name] = i
		}
		if h.Default {
			if def >= 0 {
				p.Addf(at("default"), "%s is marked default, and so is %s (hosts[%d]): exactly one host may be the default; remove default: true from all but one", h.Name, hosts[def].Name, def)
			} else {
				def = i
			}
		}

		if h.Agent == "" {
			p.Addf(at("agent"), "missing: the agent's URL, e.g. %s", agent.URLExample)
			continue
		}
		// The agent client's own rule (agent.NewClient applies it too).
		if u, ok := p.HTTPSURL(at("agent"), h.Agent, agent.URLExample); ok && u.Scheme == "http" {
			if h.CA != "" || h.Cert != "" || h.Key != "" {
				p.Addf(at("agent"), "%q is plain http (a development agent on loopback) but ca/cert/key are set; use https://", h.Agent)
			}
			continue
		}
		files := true
		for _, f := range []struct{ key, path, what string }{
			{"ca", h.CA, "the CA that signed the agent's certificate (ca.pem from gitlab-chatops-agent certs)"},
			{"cert", h.Cert, "the bot's client certificate (bot.pem from gitlab-chatops-agent certs)"},
			{"key", h.Key, "the bot's private key (bot-key.pem from gitlab-chatops-agent certs)"},
		} {
			if !p.File(at(f.key), f.path, "missing: "+f.what) {
				files = false
			}
		}
		if files {
			if _, err := agent.LoadClientTLS(h.CA, h.Cert, h.Key); err != nil {
				p.Addf(configcheck.Index("hosts", i), "%s", strings.TrimPrefix(err.Error(), "agent client: "))
			}
		}
	}
}

// checkApprovalKey records a problem if path is set and is not an ed25519
// signing key.
func checkApprovalKey(p *configcheck.Problems, key, path string) {
	if path == "" {
		return
	}
	if _, err := agent.LoadApprovalSigner(path); err != nil {
		p.Addf(key, "%s", strings.TrimPrefix(err.Error(), "approval key: "))
	}
}
