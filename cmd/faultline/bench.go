package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"faultline/harness"
)

const benchUsage = `Usage: faultline bench boot [flags]

Measures, alternating N times in one run:
  (a) bare QEMU booting the kernel with a minimal init that powers off at once;
  (b) faultline: boot to SSH-ready (agent, modules, scratch disk), run "true", power off;
with the same kernel and QEMU flags, and prints the medians and the ratio b/a.

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
	var vf vmFlags
	vf.register(fs)
	n := fs.Int("n", 5, "rounds (each boots both variants once)")
	asJSON := fs.Bool("json", false, "machine-readable output")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if *n < 1 {
		return fail(fmt.Errorf("%w: -n must be >= 1", errUsage))
	}
	vf.quiet = true
	opts, err := vf.options()
	if err != nil {
		return fail(err)
	}
	qemu, err := harness.ToolQEMU.Find()
	if err != nil {
		return fail(err)
	}
	// Resolve the accelerator once, so both variants use the same.
	accel := opts.Accel
	if accel == "auto" {
		accel = "tcg"
		if ok, _ := harness.KVMUsable(ctx, qemu, opts.Kernel, progress); ok {
			accel = "kvm"
		}
	}
	opts.Accel = accel
	// Warm the initramfs caches so they are not measured.
	if _, err := harness.BootMinimal(ctx, qemu, opts.Kernel, accel, time.Minute); err != nil {
		return fail(fmt.Errorf("baseline boot: %w", err))
	}
	if _, _, err := bootOnceTimed(ctx, opts); err != nil {
		return fail(err)
	}
	var a, b []time.Duration
	var phases []harness.Timings
	for i := 0; i < *n; i++ {
		da, err := harness.BootMinimal(ctx, qemu, opts.Kernel, accel, time.Minute)
		if err != nil {
			return fail(fmt.Errorf("baseline boot: %w", err))
		}
		db, tm, err := bootOnceTimed(ctx, opts)
		if err != nil {
			return fail(err)
		}
		a, b, phases = append(a, da), append(b, db), append(phases, tm)
		progress(fmt.Sprintf("round %d/%d: bare %v, faultline %v (prepare %v, to listening %v, ssh %v, to ready %v, shutdown %v)",
			i+1, *n, da.Round(time.Millisecond), db.Round(time.Millisecond), tm.Prepare.Round(time.Millisecond),
			tm.Listening.Round(time.Millisecond), tm.Connected.Round(time.Millisecond), tm.Ready.Round(time.Millisecond),
			tm.Shutdown.Round(time.Millisecond)))
	}
	ma, mb := median(a), median(b)
	ratio := float64(mb) / float64(ma)
	if *asJSON {
		return printJSON(map[string]any{
			"kernel": opts.Kernel.Name, "accel": accel, "fs": vf.fs, "rounds": *n,
			"bare_median_ms": ma.Milliseconds(), "faultline_median_ms": mb.Milliseconds(), "ratio": ratio,
			"bare_ms": ms(a), "faultline_ms": ms(b), "phases": phases,
		})
	}
	fmt.Printf("kernel %s, accel %s, fs %s, %d rounds\n", opts.Kernel.Name, accel, vf.fs, *n)
	fmt.Printf("bare QEMU + minimal init:        median %v\n", ma.Round(time.Millisecond))
	fmt.Printf("faultline boot+ssh+true+poweroff: median %v\n", mb.Round(time.Millisecond))
	fmt.Printf("ratio faultline/bare: %.2f\n", ratio)
	return exitOK
}

// bootOnceTimed boots, runs "true", powers off, and returns the total and
// the VM's phases.
func bootOnceTimed(ctx context.Context, opts harness.Options) (time.Duration, harness.Timings, error) {
	var tm harness.Timings
	start := time.Now()
	vm, err := harness.New(opts)
	if err != nil {
		return 0, tm, err
	}
	defer vm.Close()
	if err := vm.Boot(ctx); err != nil {
		return 0, tm, err
	}
	code, err := vm.Run(ctx, &harness.Command{Shell: "true", Stdout: io.Discard, Stderr: io.Discard})
	if err != nil {
		return 0, tm, err
	}
	if code != 0 {
		return 0, tm, fmt.Errorf("guest 'true' exited %d", code)
	}
	if err := vm.Close(); err != nil {
		return 0, tm, err
	}
	return time.Since(start), vm.Timings(), nil
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func ms(d []time.Duration) []int64 {
	out := make([]int64, len(d))
	for i, x := range d {
		out[i] = x.Milliseconds()
	}
	return out
}
