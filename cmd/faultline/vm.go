//go:build !faultline_agent

package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"golang.org/x/term"

	"faultline/agentctl"
	"faultline/harness"
	"faultline/probes"
)

const vmUsage = `Usage: faultline vm [flags] [-- COMMAND [ARG...]]

Boots a kernel in QEMU with the faultline agent as PID 1, makes a scratch
filesystem mounted at /mnt/scratch (the command's working directory), runs
COMMAND there over SSH, streams its output and exits with its status. With
no COMMAND: an interactive shell. The guest is powered off afterwards.

Examples:
  faultline vm --kernel debian:6.1-cloud --fs btrfs --mount-opt compress-force=zstd -- sh -c 'uname -r; cat /proc/mounts'
  faultline vm --kernel debian:6.12-cloud --fs ext4 -- dmesg
  faultline vm --kernel file:arch/x86/boot/bzImage --fs none -- cat /proc/version
  faultline vm --kernel debian:6.1-cloud
  faultline vm --cpu max,erms=off,fsrm=off --fs btrfs -- workload mmap-dio --duration 20s
  faultline vm --kernel debian:6.1-cloud --fs ext4 --inject 'delay:ext4_sync_file:2ms' --inject count:ext4_sync_file -- workload ...
  faultline vm --kernel 6.1-harness --inject 'fail-return:should_failslab:ENOMEM@0.5,comm=dd' -- dd if=/dev/zero of=f bs=4k count=100

Injections (--inject, repeatable) are attached in the guest around COMMAND
and detached after it; a table of what each did goes to stderr and, with
--report, into the JSON run record:
` + probes.Syntax + `

Flags:
`

func cmdVM(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("vm", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, vmUsage); fs.PrintDefaults() }
	var vf harness.VMFlags
	vf.Register(fs)
	timeout := fs.Duration("timeout", 0, "kill the guest command after this long (0: no limit)")
	hang := fs.Duration("hang-timeout", 2*time.Minute, "declare the guest hung when the console is silent this long and the agent does not answer (0: off)")
	var injects multiFlag
	fs.Var(&injects, "inject", "injection spec, attached around COMMAND (repeatable; see above)")
	report := fs.String("report", "", "write a JSON run record (kernel, status, injections) to this file")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	argv := fs.Args()
	if len(injects) > 0 {
		if len(argv) == 0 {
			fmt.Fprintln(os.Stderr, "faultline vm: --inject needs a COMMAND to run under the injections")
			return exitUsage
		}
		if _, err := probes.ParseAll(injects); err != nil {
			return fail(fmt.Errorf("%w: %w", errUsage, err))
		}
		argv = agentctl.Wrap(injects, argv)
	}
	opts, err := vf.Options(progress)
	if err != nil {
		return fail(err)
	}
	vm, err := harness.QEMU{}.Create(opts)
	if err != nil {
		return fail(fmt.Errorf("%w: %w", errUsage, err))
	}
	rec := &runRecord{Kernel: opts.Kernel.Name, Release: opts.Kernel.Release, Command: fs.Args()}
	code := runVM(ctx, vm, argv, *timeout, *hang, rec, len(injects) > 0)
	if err := vm.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "faultline: "+err.Error())
	}
	if vm.Kept() && vm.Console() != "" {
		fmt.Fprintln(os.Stderr, "faultline: console kept at "+vm.Console())
		rec.Console = vm.Console()
	}
	rec.ExitCode = code
	if *report != "" {
		if err := writeJSON(*report, rec); err != nil {
			fmt.Fprintln(os.Stderr, "faultline: "+err.Error())
		}
	}
	return code
}

// runRecord is what faultline vm --report writes.
type runRecord struct {
	Kernel     string          `json:"kernel"`
	Release    string          `json:"release"`
	Command    []string        `json:"command"`
	ExitCode   int             `json:"exit_code"`
	Error      string          `json:"error,omitempty"`
	Injections []probes.Report `json:"injections,omitempty"`
	Console    string          `json:"console,omitempty"`
}

func runVM(ctx context.Context, vm harness.Instance, argv []string, timeout, hang time.Duration, rec *runRecord, injected bool) int {
	if err := vm.Boot(ctx); err != nil {
		rec.Error = err.Error()
		return fail(err)
	}
	cmd := &harness.Command{Shell: harness.ShellQuote(argv), Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Timeout: timeout, HangAfter: hang}
	if len(argv) == 0 && term.IsTerminal(int(os.Stdin.Fd())) {
		restore, err := harness.Interactive(cmd, os.Stdin)
		if err != nil {
			return fail(err)
		}
		defer restore()
	}
	code, err := vm.Run(ctx, cmd)
	if err != nil {
		rec.Error = err.Error()
		return fail(err)
	}
	if injected {
		if rec.Injections, err = agentctl.Injections(ctx, vm); err != nil {
			fmt.Fprintln(os.Stderr, "faultline: "+err.Error())
		}
	}
	return code
}
