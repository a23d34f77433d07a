package main

import (
	"fmt"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/commands"
)

// agentHosts builds one agent client per configured host.
func agentHosts(cfg fileConfig) ([]commands.Host, error) {
	var hosts []commands.Host
	for _, hc := range cfg.Hosts {
		c, err := agent.NewClient(agent.ClientConfig{URL: hc.Agent, CAFile: hc.CA, CertFile: hc.Cert, KeyFile: hc.Key})
		if err != nil {
			return nil, fmt.Errorf("host %s: %w", hc.Name, err)
		}
		hosts = append(hosts, commands.Host{Name: hc.Name, Agent: c})
	}
	return hosts, nil
}
