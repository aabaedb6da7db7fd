//go:build !faultline_agent

package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"

	"faultline/harness"
	"faultline/kernels"
)

const benchUsage = `Usage: faultline bench boot [flags]
       faultline bench build SPEC [flags]

bench build times kernel builds in fresh directories (your build trees,
compiler cache and kernel cache are not touched): a full build of SPEC in a
fresh tree through an empty ccache, a switch to a spec one patch away
(--switch; default: a shipped spec with one patch more) and back, a full
build in another fresh tree with the warm ccache, and with --vs-base a full
build on another base config (defconfig: the recipe defconfig + kvm_guest +
harness + trim). A fresh tree needs about 5 GiB; each is removed after.

bench boot:

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
  faultline bench build 6.1-harness
  faultline bench build 6.1-harness --vs-base defconfig --json
  faultline bench boot --kernel debian:6.1-cloud -n 5
  faultline bench boot --kernel debian:6.1-cloud --fs none --json

Flags:
`

func cmdBench(ctx context.Context, args []string) int {
	if len(args) > 0 && args[0] == "build" {
		return cmdBenchBuild(ctx, args[1:])
	}
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

func cmdBenchBuild(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("bench build", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, benchUsage); fs.PrintDefaults() }
	other := fs.String("switch", "", "spec one patch away from SPEC for the switch (default: a shipped one)")
	vsBase := fs.String("vs-base", "", "also build SPEC on this base config in a fresh tree: defconfig or tinyconfig")
	dir := fs.String("dir", "", "directory for the fresh trees and caches (default: a new one in the faultline cache, removed after)")
	jobs := fs.Int("j", runtime.NumCPU(), "make -j")
	asJSON := fs.Bool("json", false, "machine-readable output")
	if code, ok := parseFlags(fs, reorder(fs, args)); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return fail(fmt.Errorf("%w: bench build takes one build spec (see faultline kernels list)", errUsage))
	}
	spec, err := kernels.LoadBuildSpec(fs.Arg(0))
	if err != nil {
		return fail(err)
	}
	var sw *kernels.BuildSpec
	if *other != "" {
		sw, err = kernels.LoadBuildSpec(*other)
	} else {
		sw, err = kernels.SwitchPartner(spec)
	}
	if err != nil {
		return fail(err)
	}
	store, err := kernels.NewStore()
	if err != nil {
		return fail(err)
	}
	b, clearStatus, err := newBuilder(store, *jobs)
	if err != nil {
		return fail(err)
	}
	d := *dir
	if d == "" {
		if d, err = os.MkdirTemp(b.Cache, "bench-build-"); err != nil {
			return fail(err)
		}
		defer os.RemoveAll(d)
	}
	r, err := b.BenchBuild(ctx, spec, sw, *vsBase, d)
	clearStatus()
	if err != nil {
		return fail(err)
	}
	if *asJSON {
		return printJSON(r)
	}
	r.WriteText(os.Stdout)
	return exitOK
}
