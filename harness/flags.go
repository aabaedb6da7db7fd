package harness

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"faultline/kernels"
	"faultline/workloads"
)

// ErrBadFlag is wrapped by VMFlags.Options' errors about a flag's value.
var ErrBadFlag = errors.New("bad flag")

// VMFlags are the command-line flags of a command that boots a VM (vm,
// bench, kernels show --probe); most bind to the options directly.
type VMFlags struct {
	O                                 Options
	Kernel, FS, DiskSize, ConsoleFile string
	MkfsOpts, MountOpts, AppendArgs   listFlag
	Echo, Quiet                       bool
}

type listFlag []string

func (m *listFlag) String() string     { return strings.Join(*m, ",") }
func (m *listFlag) Set(v string) error { *m = append(*m, v); return nil }

// Register adds the flags to fs.
func (f *VMFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Kernel, "kernel", "debian:6.1-cloud", "kernel spec (see faultline kernels list)")
	fs.StringVar(&f.FS, "fs", "btrfs", "scratch filesystem: btrfs, ext4 or none")
	fs.Var(&f.MkfsOpts, "mkfs-opt", "extra mkfs argument (repeatable)")
	fs.Var(&f.MountOpts, "mount-opt", "scratch mount option, e.g. compress-force=zstd (repeatable)")
	fs.IntVar(&f.O.CPUs, "cpus", 2, "guest CPUs")
	fs.IntVar(&f.O.MemoryMB, "memory", 1024, "guest memory in MiB")
	fs.IntVar(&f.O.NUMANodes, "numa", 1, "NUMA nodes (2 splits CPUs and memory)")
	fs.BoolVar(&f.O.Net, "net", false, "give the guest a user-mode network (eth0 10.0.2.15, host 10.0.2.2); the agent never needs one")
	fs.StringVar(&f.DiskSize, "disk-size", "4G", "scratch disk size (sparse), e.g. 512M, 4G")
	fs.StringVar(&f.O.Accel, "accel", "auto", "accelerator: auto (KVM if it really boots this kernel, else TCG), tcg, kvm")
	fs.StringVar(&f.O.CPUModel, "cpu", "max", "QEMU CPU model under TCG, with feature switches (e.g. max,erms=off,fsrm=off)")
	fs.DurationVar(&f.O.BootTimeout, "boot-timeout", 60*time.Second, "time allowed from QEMU start to the agent's answer")
	fs.Var(&f.AppendArgs, "append", "extra kernel command line argument (repeatable)")
	fs.StringVar(&f.ConsoleFile, "console", "", "write the guest console to this file and keep it (refused if it exists and is not empty)")
	fs.BoolVar(&f.Echo, "echo-console", false, "copy the guest console to stderr as it arrives")
	fs.BoolVar(&f.Quiet, "quiet", false, "no progress lines")
}

// Options turns the flags into options, resolving (and fetching) the
// kernel; progress gets the lines of both (unless --quiet).
func (f *VMFlags) Options(progress func(string)) (Options, error) {
	var o Options
	prog := progress
	if f.Quiet {
		prog = func(string) {}
	}
	store, err := kernels.NewStore()
	if err != nil {
		return o, err
	}
	k, err := store.Resolve(f.Kernel, true, prog)
	if err != nil {
		return o, err
	}
	size, err := workloads.ParseSize(f.DiskSize)
	if err == nil && size == 0 {
		err = fmt.Errorf("bad size %q: must be positive", f.DiskSize)
	}
	if err != nil {
		return o, fmt.Errorf("%w: --disk-size: %w", ErrBadFlag, err)
	}
	fsType := f.FS
	if fsType == "none" {
		fsType = ""
	}
	agent, err := AgentBinary()
	if err != nil {
		return o, err
	}
	o = f.O
	o.Kernel, o.FS, o.MkfsOpts, o.MountOpts, o.DiskSize = k, fsType, f.MkfsOpts, strings.Join(f.MountOpts, ","), size
	o.Cmdline, o.Agent, o.Progress = f.AppendArgs, agent, prog
	if f.ConsoleFile != "" {
		if o.ConsolePath, err = filepath.Abs(f.ConsoleFile); err != nil {
			return o, err
		}
	}
	if f.Echo {
		o.Echo = os.Stderr
	}
	return o, nil
}
