//go:build faultline_agent

package main

import (
	"context"
	"fmt"
	"os"
)

// The agent build (-tags faultline_agent) is the binary that goes into the
// guest's initramfs: PID 1, the SSH server, "workload", "inject" and
// "features". It leaves out the host's commands (kernels, vm, run, report,
// bench, classify) and what only they use (the harness, the kernel store,
// the classifier, SQLite): the initramfs is smaller, and the kernel
// unpacks it before it runs /init.

func cmdRun(context.Context, []string) int { return agentOnly("run") }

func cmdReport(context.Context, []string) int { return agentOnly("report") }

func cmdKernels(context.Context, []string) int { return agentOnly("kernels") }

func cmdVM(context.Context, []string) int { return agentOnly("vm") }

func cmdBench(context.Context, []string) int { return agentOnly("bench") }

func cmdClassify(context.Context, []string) int { return agentOnly("classify") }

// hostExitCode: the agent build has none of the harness's errors.
func hostExitCode(error) (int, bool) { return 0, false }

func agentOnly(cmd string) int {
	fmt.Fprintf(os.Stderr, "faultline %s: not in the guest agent build (bin/faultline-agent); use bin/faultline\n", cmd)
	return exitUsage
}
