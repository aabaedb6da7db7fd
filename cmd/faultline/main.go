// Command faultline is a fault-injection test harness for real Linux kernels
// in QEMU guests. Run "faultline help" for the commands.
//
// The same static binary is the guest agent: run as PID 1 in the initramfs,
// it prepares the guest and serves SSH.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"faultline/guest/pid1"
)

// The exit codes both builds use; the rest, and the table from a VM's
// fault to its code, are verdict's (the same numbers; TestExitCodes).
const (
	exitOK    = 0
	exitUsage = 2   // bad command line, before anything ran
	exitError = 125 // faultline could not do its job (missing tool, infrastructure)
)

const usage = `faultline: fault-injection test harness for real Linux kernels in QEMU guests.

Usage:
  faultline kernels fetch SPEC...        download and unpack kernels into the cache
  faultline kernels build BUILDSPEC...   build a kernel (source + config + patches)
  faultline kernels list [--json]        cached kernels and the specs faultline knows
  faultline kernels show SPEC [--json]   release and paths of a kernel's files
  faultline vm [flags] [-- COMMAND...]   boot a kernel and run a command (or a shell)
  faultline run [flags] SCENARIO...      run a campaign: scenarios x runs in fresh VMs, verdicts, store
  faultline run --resume DIR             finish an interrupted campaign
  faultline worker --nats URL            run campaign jobs for coordinators elsewhere
  faultline report DIR                   write DIR/report.html for a campaign
  faultline bisect --kernels A..B SCEN   find the kernel that brought (or fixed) a crash
  faultline bisect --tree R --good G --bad B SCEN   the same in a git history
  faultline nightly --store D --kernels S SCEN...   test a series' newest kernel, bisect new crashes
  faultline gate --base SPEC --series S  does a patch series bring a crash its base lacks?
  faultline repro --kernel SPEC REPORT   reproduce a bug report: a scenario that shows its crash
  faultline bench boot [flags]           measure boot overhead against bare QEMU
  faultline bench build SPEC             time full, switch and warm-ccache kernel builds
  faultline classify [--json] FILE...    find and title the crashes in console logs
  faultline inject --inject SPEC -- CMD  (in a guest) attach injections around CMD

Kernel specs: debian:6.1, debian:6.1-cloud, debian:6.12, debian:6.12-cloud,
an exact package name (linux-image-6.1.0-56-cloud-amd64-unsigned),
file:PATH[,modules=DIR][,config=FILE], a built kernel's build spec
(6.1-harness, 6.1-mutant-seed-a..d, FILE.yaml), or a cached kernel's name.

Examples:
  faultline kernels fetch debian:6.1-cloud
  faultline vm --kernel debian:6.1-cloud --fs btrfs --mount-opt compress-force=zstd -- sh -c 'uname -r; cat /proc/mounts'
  faultline vm --kernel debian:6.12-cloud --fs ext4 -- dmesg
  faultline vm --kernel debian:6.1-cloud
  faultline run --out /tmp/campaign --junit junit.xml scenarios/

Exit codes:
  0        success (vm: the guest command's own status, 0-255)
  1        run: some run did not meet its expectation (crash, lost data,
           hang, missed positive control)
  2        bad usage (classify: an input could not be read)
  121      the guest hung: console silent and agent not answering for
           --hang-timeout (console kept)
  122      the guest kernel crashed (console kept, path printed)
  123      the guest did not boot
  124      the guest command timed out
  125      faultline error (missing tool, unknown kernel, infrastructure;
           run: harness trouble only)
  130      run: interrupted (finish with faultline run --resume DIR)

Run "faultline COMMAND --help" for a command's flags.
`

func main() {
	if os.Getpid() == 1 {
		// The agent is the guest's /init.
		pid1.Init()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if filepath.Base(os.Args[0]) == "workload" {
		// In the guest, /bin/workload is a link to the agent binary.
		os.Exit(cmdWorkload(ctx, os.Args[1:]))
	}
	os.Exit(run(ctx, os.Args[1:]))
}

// commands are faultline's subcommands: those of the guest agent here,
// the host's added by host.go in the full build.
var commands = map[string]func(context.Context, []string) int{
	"workload": cmdWorkload, "inject": cmdInject,
	"features": func(context.Context, []string) int { return cmdFeatures() },
}

func run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return exitUsage
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Print(usage)
		return exitOK
	}
	if cmd := commands[args[0]]; cmd != nil {
		return cmd(ctx, args[1:])
	}
	return unknownCommand(args[0])
}

// fail prints err and returns the exit code it deserves.
func fail(err error) int {
	fmt.Fprintln(os.Stderr, "faultline: "+err.Error())
	if errors.Is(err, errUsage) {
		return exitUsage
	}
	if code, ok := hostExitCode(err); ok {
		return code
	}
	return exitError
}
