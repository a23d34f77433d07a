package main

import (
	"fmt"
	"io"

	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

func runVersion(stdout io.Writer) int {
	fmt.Fprintf(stdout, "gitlab-chatops-agent %s\n\noperations:\n", agentVersion())
	for _, op := range gitlab.Catalogue() {
		fmt.Fprintf(stdout, "  %-15s %-12s default timeout %-8s %s\n", op.Name, op.Kind, op.Timeout, op.Summary)
	}
	return 0
}
