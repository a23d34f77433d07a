package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
)

func runCerts(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("certs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "directory for the files (created if missing; existing files are never overwritten)")
	hosts := fs.String("host", "", "the agent's host names and/or IP addresses, comma-separated (localhost, 127.0.0.1 and ::1 are always added)")
	client := fs.String("client", "", "instead: issue one more client certificate with this name from the CA in --out")
	approvalKeys := fs.Bool("approval-keys", false, "instead: write only a new approval key pair (approval-key.pem, approval-pub.pem) into --out, e.g. for certificates made before approval keys existed")
	validity := fs.Duration("validity", 2*365*24*time.Hour, "how long the certificates are valid")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: gitlab-chatops-agent certs --out DIR --host NAME[,NAME...] [--validity 17520h]\n"+
			"       gitlab-chatops-agent certs --out DIR --client NAME\n"+
			"       gitlab-chatops-agent certs --out DIR --approval-keys\n\n"+
			"Creates a private CA (ca.pem, ca-key.pem), the agent's server certificate (agent.pem,\n"+
			"agent-key.pem), the bot's client certificate (bot.pem, bot-key.pem, CN gitlab-chatops-bot)\n"+
			"and the bot's ed25519 approval key pair (approval-key.pem, approval-pub.pem).\n"+
			"Copy ca.pem, agent.pem, agent-key.pem and approval-pub.pem to the GitLab host; ca.pem,\n"+
			"bot.pem, bot-key.pem and approval-key.pem to the bot; keep ca-key.pem offline.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	modes := 0
	for _, set := range []bool{*client != "", *hosts != "", *approvalKeys} {
		if set {
			modes++
		}
	}
	if *out == "" || fs.NArg() > 0 || modes != 1 {
		fs.Usage()
		return 2
	}
	if *approvalKeys {
		if err := agent.GenerateApprovalKeys(*out); err != nil {
			fmt.Fprintln(stderr, "gitlab-chatops-agent:", err)
			return 1
		}
		fmt.Fprintf(stdout, "wrote %s and %s\n"+
			"agent: approval_public_key: approval-pub.pem\n"+
			"bot:   approval_key: approval-key.pem (keep it on the bot only, mode 0600)\n",
			filepath.Join(*out, agent.ApprovalKeyFile), filepath.Join(*out, agent.ApprovalPublicKeyFile))
		return 0
	}
	if *client != "" {
		if err := agent.GenerateClientCert(*out, *client, *validity); err != nil {
			fmt.Fprintln(stderr, "gitlab-chatops-agent:", err)
			return 1
		}
		fmt.Fprintf(stdout, "wrote %s and %s (add %q to the agent's tls.allowed_clients)\n",
			filepath.Join(*out, *client+".pem"), filepath.Join(*out, *client+"-key.pem"), *client)
		return 0
	}
	var list []string
	for _, h := range strings.Split(*hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			list = append(list, h)
		}
	}
	if err := agent.GenerateCerts(*out, list, *validity); err != nil {
		fmt.Fprintln(stderr, "gitlab-chatops-agent:", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s: ca.pem ca-key.pem agent.pem agent-key.pem bot.pem bot-key.pem approval-key.pem approval-pub.pem\n"+
		"agent: tls.cert=agent.pem tls.key=agent-key.pem tls.client_ca=ca.pem, allowed_clients: [%s], approval_public_key=approval-pub.pem\n"+
		"bot:   CA ca.pem, certificate bot.pem, key bot-key.pem, approval_key approval-key.pem\n"+
		"keep ca-key.pem off the GitLab host.\n", *out, agent.BotName)
	return 0
}
