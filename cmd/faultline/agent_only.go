//go:build faultline_agent

package main

import (
	"context"
	"fmt"
	"os"
)

// The agent build (-tags faultline_agent) is the binary that goes into the
// guest's initramfs: it leaves out the campaign commands and their SQLite
// store, which the guest never runs, to keep the initramfs small.

const exitInterrupted = 130

func cmdRun(context.Context, []string) int { return agentOnly("run") }

func cmdReport(context.Context, []string) int { return agentOnly("report") }

func agentOnly(cmd string) int {
	fmt.Fprintf(os.Stderr, "faultline %s: not in the guest agent build (bin/faultline-agent); use bin/faultline\n", cmd)
	return exitUsage
}
