//go:build !faultline_agent

package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"faultline/bisect"
	"faultline/campaign"
	"faultline/gate"
	"faultline/harness"
	"faultline/kernels"
	"faultline/oops"
	"faultline/remote"
	"faultline/results"
	"faultline/series"
	"faultline/verdict"
)

func init() {
	for name, cmd := range map[string]func(context.Context, []string) int{
		"kernels": cmdKernels, "vm": cmdVM, "run": cmdRun, "report": cmdReport, "bench": cmdBench, "classify": cmdClassify, "worker": cmdWorker, "bisect": cmdBisect, "gate": cmdGate, "nightly": cmdNightly, "repro": cmdRepro,
	} {
		commands[name] = cmd
	}
}

func unknownCommand(cmd string) int {
	fmt.Fprintf(os.Stderr, "faultline: unknown command %q\n\n%s", cmd, usage)
	return verdict.ExitUsage
}

// hostExitCode maps errors to exit codes: a VM's fault through the one
// table (verdict.Rules), bad input to 2.
func hostExitCode(err error) (int, bool) {
	var he *harness.Error
	switch {
	case errors.As(err, &he):
		return verdict.ExitCode(he.Fault), true
	case errors.Is(err, campaign.ErrInput), errors.Is(err, campaign.ErrBadScenario), errors.Is(err, results.ErrNoCampaign), errors.Is(err, harness.ErrBadFlag), errors.Is(err, remote.ErrBadLabels), errors.Is(err, bisect.ErrInput), errors.Is(err, kernels.ErrBadSpec), errors.Is(err, gate.ErrInput), errors.Is(err, series.ErrInput):
		return verdict.ExitUsage, true
	case errors.Is(err, context.Canceled):
		return verdict.ExitInterrupted, true
	}
	return 0, false
}

// progress prints a progress line on stderr.
func progress(s string) { fmt.Fprintln(os.Stderr, "faultline: "+s) }

// usageError prints msg and returns the usage exit code.
func usageError(msg string) int {
	fmt.Fprintln(os.Stderr, msg)
	return verdict.ExitUsage
}

// localEngine is the campaign engine the jobs (bisect, gate, nightly,
// repro) run on: fresh QEMU VMs on this machine, one at a time, judged
// with the built-in signatures.
func localEngine() (campaign.Config, error) {
	sigs, err := oops.LoadSignatures()
	if err != nil {
		return campaign.Config{}, err
	}
	agent, err := harness.AgentBinary()
	if err != nil {
		return campaign.Config{}, err
	}
	return campaign.Config{Executor: &campaign.Local{Pool: harness.QEMU{}, Agent: agent}, Signatures: sigs, Parallel: 1}, nil
}
