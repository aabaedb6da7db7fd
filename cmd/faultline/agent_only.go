//go:build faultline_agent

package main

import (
	"fmt"
	"os"
	"slices"
)

// The agent build (-tags faultline_agent) is the binary that goes into the
// guest's initramfs: PID 1, the SSH server, "workload", "inject" and
// "features". It leaves out the host's commands and what only they use
// (the harness, the kernel store, the classifier, SQLite): the initramfs
// is smaller, and the kernel unpacks it before it runs /init.

// hostExitCode: the agent build has none of the harness's errors.
func hostExitCode(error) (int, bool) { return 0, false }

func unknownCommand(cmd string) int {
	if slices.Contains([]string{"kernels", "vm", "run", "report", "bench", "classify", "worker", "bisect", "gate"}, cmd) {
		fmt.Fprintf(os.Stderr, "faultline %s: not in the guest agent build (bin/faultline-agent); use bin/faultline\n", cmd)
	} else {
		fmt.Fprintf(os.Stderr, "faultline: unknown command %q\n\n%s", cmd, usage)
	}
	return exitUsage
}
