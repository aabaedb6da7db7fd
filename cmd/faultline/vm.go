//go:build !faultline_agent

package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"faultline/agentctl"
	"faultline/harness"
	"faultline/kernels"
	"faultline/probes"
	"faultline/workloads"
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

// vmFlags are the flags shared by commands that boot a VM; most bind to
// the harness options directly.
type vmFlags struct {
	o                               harness.Options
	kernel, fs, diskSize, console   string
	mkfsOpts, mountOpts, appendArgs multiFlag
	echo, quiet                     bool
}

func (f *vmFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.kernel, "kernel", "debian:6.1-cloud", "kernel spec (see faultline kernels list)")
	fs.StringVar(&f.fs, "fs", "btrfs", "scratch filesystem: btrfs, ext4 or none")
	fs.Var(&f.mkfsOpts, "mkfs-opt", "extra mkfs argument (repeatable)")
	fs.Var(&f.mountOpts, "mount-opt", "scratch mount option, e.g. compress-force=zstd (repeatable)")
	fs.IntVar(&f.o.CPUs, "cpus", 2, "guest CPUs")
	fs.IntVar(&f.o.MemoryMB, "memory", 1024, "guest memory in MiB")
	fs.IntVar(&f.o.NUMANodes, "numa", 1, "NUMA nodes (2 splits CPUs and memory)")
	fs.StringVar(&f.diskSize, "disk-size", "4G", "scratch disk size (sparse), e.g. 512M, 4G")
	fs.StringVar(&f.o.Accel, "accel", "auto", "accelerator: auto (KVM if it really boots this kernel, else TCG), tcg, kvm")
	fs.StringVar(&f.o.CPUModel, "cpu", "max", "QEMU CPU model under TCG, with feature switches (e.g. max,erms=off,fsrm=off)")
	fs.DurationVar(&f.o.BootTimeout, "boot-timeout", 60*time.Second, "time allowed from QEMU start to the agent's answer")
	fs.Var(&f.appendArgs, "append", "extra kernel command line argument (repeatable)")
	fs.StringVar(&f.console, "console", "", "write the guest console to this file and keep it (refused if it exists and is not empty)")
	fs.BoolVar(&f.echo, "echo-console", false, "copy the guest console to stderr as it arrives")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress lines")
}

// options turns flags into harness options, resolving (and fetching) the
// kernel.
func (f *vmFlags) options() (harness.Options, error) {
	var o harness.Options
	prog := progress
	if f.quiet {
		prog = func(string) {}
	}
	store, err := kernels.NewStore()
	if err != nil {
		return o, err
	}
	k, err := store.Resolve(f.kernel, true, prog)
	if err != nil {
		return o, err
	}
	size, err := workloads.ParseSize(f.diskSize)
	if err == nil && size == 0 {
		err = fmt.Errorf("bad size %q: must be positive", f.diskSize)
	}
	if err != nil {
		return o, fmt.Errorf("%w: --disk-size: %w", errUsage, err)
	}
	fsType := f.fs
	if fsType == "none" {
		fsType = ""
	}
	agent, err := harness.AgentBinary()
	if err != nil {
		return o, err
	}
	o = f.o
	o.Kernel, o.FS, o.MkfsOpts, o.MountOpts, o.DiskSize = k, fsType, f.mkfsOpts, strings.Join(f.mountOpts, ","), size
	o.Cmdline, o.Agent, o.Progress = f.appendArgs, agent, prog
	if f.console != "" {
		if o.ConsolePath, err = filepath.Abs(f.console); err != nil {
			return o, err
		}
	}
	if f.echo {
		o.Echo = os.Stderr
	}
	return o, nil
}

func cmdVM(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("vm", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, vmUsage); fs.PrintDefaults() }
	var vf vmFlags
	vf.register(fs)
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
	opts, err := vf.options()
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
