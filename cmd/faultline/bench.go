//go:build !faultline_agent

package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"faultline/harness"
)

const benchUsage = `Usage: faultline bench boot [flags]

Measures, alternating N times in one run:
  (a) bare: the same VM (kernel, QEMU command line with its devices, scratch
      disk, network) booting an initramfs whose /init powers off at once;
  (b) faultline: boot to SSH-ready (agent, modules, scratch disk), run "true",
      power off;
and prints the medians and the ratio b/a, and when each guest kernel ran
/init (its own boot varies by hundreds of milliseconds under TCG) and the
wall time after that, which is what faultline adds. Then the user's view,
alternating N times:
  (c) barest: QEMU with no devices at all, the same kernel, an /init that
      powers off, the console to a file;
  (d) the whole command as a user types it, process start to exit:
      faultline vm --kernel SPEC -- true
and the ratio d/c (--user-view=false skips it).

Examples:
  faultline bench boot --kernel debian:6.1-cloud -n 5
  faultline bench boot --kernel debian:6.1-cloud --fs none --json

Flags:
`

func cmdBench(ctx context.Context, args []string) int {
	if len(args) == 0 || args[0] != "boot" {
		fmt.Fprint(os.Stderr, benchUsage)
		return exitUsage
	}
	fs := flag.NewFlagSet("bench boot", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, benchUsage); fs.PrintDefaults() }
	var vf harness.VMFlags
	vf.Register(fs)
	n := fs.Int("n", 5, "rounds (each boots both variants once)")
	asJSON := fs.Bool("json", false, "machine-readable output")
	keep := fs.String("consoles", "", "keep each round's console logs in this directory (bare-N.log, round-N.log, barest-N.log)")
	userView := fs.Bool("user-view", true, "also time the whole 'faultline vm --kernel SPEC -- true' against the barest boot")
	if code, ok := parseFlags(fs, args[1:]); !ok {
		return code
	}
	if *n < 1 {
		return fail(fmt.Errorf("%w: -n must be >= 1", errUsage))
	}
	vf.Quiet = true
	opts, err := vf.Options(progress)
	if err != nil {
		return fail(err)
	}
	b, err := harness.BenchBoot(ctx, opts, *n, *keep, progress)
	if err != nil {
		return fail(err)
	}
	var u *harness.UserView
	if *userView {
		self, err := os.Executable()
		if err != nil {
			return fail(err)
		}
		argv := []string{self, "vm", "--kernel", vf.Kernel, "--", "true"}
		if u, err = harness.BenchUserView(ctx, opts, argv, *n, *keep, progress); err != nil {
			return fail(err)
		}
	}
	if *asJSON {
		fig := b.Figures(vf.FS)
		if u != nil {
			fig["user_view"] = map[string]any{
				"command": append([]string{"faultline"}, u.Command[1:]...), "barest_ms": harness.Millis(u.Barest), "whole_ms": harness.Millis(u.Whole),
				"barest_median_ms": harness.Median(u.Barest).Milliseconds(), "whole_median_ms": harness.Median(u.Whole).Milliseconds(), "ratio": u.Ratio(),
			}
		}
		return printJSON(fig)
	}
	b.WriteText(os.Stdout, vf.FS)
	if u != nil {
		u.WriteText(os.Stdout)
	}
	return exitOK
}
