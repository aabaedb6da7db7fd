//go:build !faultline_agent

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"time"

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
wall time after that, which is what faultline adds.

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
	keep := fs.String("consoles", "", "keep each round's console logs in this directory (bare-N.log, round-N.log)")
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
	consoles := *keep
	if consoles == "" {
		if consoles, err = os.MkdirTemp("", "faultline-bench-"); err != nil {
			return fail(err)
		}
		defer os.RemoveAll(consoles)
	} else if err := os.MkdirAll(consoles, 0o755); err != nil {
		return fail(err)
	}
	base := opts
	base.Baseline = true
	// Warm the initramfs caches so they are not measured.
	if _, _, _, err := bootOnceTimed(ctx, base, filepath.Join(consoles, "warm-bare.log")); err != nil {
		return fail(fmt.Errorf("baseline boot: %w", err))
	}
	if _, _, _, err := bootOnceTimed(ctx, opts, filepath.Join(consoles, "warm.log")); err != nil {
		return fail(err)
	}
	// Besides the totals, each round records when the guest kernel ran
	// /init (its printk clock): the kernel's own boot varies by hundreds
	// of milliseconds from boot to boot under TCG, the same for both
	// variants, and the time after /init is what faultline adds.
	var a, b, ia, ib, aa, ab []time.Duration
	var phases []harness.Timings
	for i := 0; i < *n; i++ {
		da, _, out, err := bootOnceTimed(ctx, base, filepath.Join(consoles, fmt.Sprintf("bare-%d.log", i)))
		if err != nil {
			return fail(fmt.Errorf("baseline boot: %w", err))
		}
		db, tm, console, err := bootOnceTimed(ctx, opts, filepath.Join(consoles, fmt.Sprintf("round-%d.log", i)))
		if err != nil {
			return fail(err)
		}
		initA, okA := guestInitAt(out)
		initB, okB := guestInitAt(console)
		if !okA || !okB {
			return fail(fmt.Errorf("round %d: no \"Run /init\" line with a printk time on a console (printk.time=1 is in the base command line)", i+1))
		}
		a, b, phases = append(a, da), append(b, db), append(phases, tm)
		ia, ib = append(ia, initA), append(ib, initB)
		aa, ab = append(aa, da-initA), append(ab, db-initB)
		progress(fmt.Sprintf("round %d/%d: bare %v (/init at %v), faultline %v (/init at %v; prepare %v, to listening %v, ssh %v, to ready %v, shutdown %v)",
			i+1, *n, da.Round(time.Millisecond), initA.Round(time.Millisecond), db.Round(time.Millisecond), initB.Round(time.Millisecond),
			tm.Prepare.Round(time.Millisecond), tm.Listening.Round(time.Millisecond), tm.Connected.Round(time.Millisecond),
			tm.Ready.Round(time.Millisecond), tm.Shutdown.Round(time.Millisecond)))
	}
	ma, mb := median(a), median(b)
	ratio := float64(mb) / float64(ma)
	if *asJSON {
		return printJSON(map[string]any{
			"kernel": opts.Kernel.Name, "accel": accel, "fs": vf.fs, "rounds": *n,
			"bare_median_ms": ma.Milliseconds(), "faultline_median_ms": mb.Milliseconds(), "ratio": ratio,
			"bare_ms": ms(a), "faultline_ms": ms(b), "phases": phases,
			"bare_init_ms": ms(ia), "faultline_init_ms": ms(ib),
			"bare_after_init_median_ms": median(aa).Milliseconds(), "faultline_after_init_median_ms": median(ab).Milliseconds(),
		})
	}
	fmt.Printf("kernel %s, accel %s, fs %s, %d rounds\n", opts.Kernel.Name, accel, vf.fs, *n)
	fmt.Printf("bare QEMU + minimal init:         median %v\n", ma.Round(time.Millisecond))
	fmt.Printf("faultline boot+ssh+true+poweroff: median %v\n", mb.Round(time.Millisecond))
	fmt.Printf("ratio faultline/bare: %.2f\n", ratio)
	fmt.Printf("guest kernel to /init:            bare median %v, faultline median %v\n", median(ia).Round(time.Millisecond), median(ib).Round(time.Millisecond))
	fmt.Printf("wall time after /init:            bare median %v, faultline median %v (+%v)\n",
		median(aa).Round(time.Millisecond), median(ab).Round(time.Millisecond), (median(ab) - median(aa)).Round(time.Millisecond))
	return exitOK
}

// runInitRE matches the kernel's line when it starts /init, with its
// printk time.
var runInitRE = regexp.MustCompile(`\[\s*(\d+)\.(\d{6})\] Run /init as init process`)

// guestInitAt returns when, on the guest's printk clock, the kernel ran
// /init.
func guestInitAt(console string) (time.Duration, bool) {
	m := runInitRE.FindStringSubmatch(console)
	if m == nil {
		return 0, false
	}
	sec, _ := strconv.Atoi(m[1])
	usec, _ := strconv.Atoi(m[2])
	return time.Duration(sec)*time.Second + time.Duration(usec)*time.Microsecond, true
}

// bootOnceTimed boots, runs "true", powers off, and returns the total, the
// VM's phases and its console (kept at console). A baseline VM
// (opts.Baseline) powers itself off during Boot: nothing is run.
func bootOnceTimed(ctx context.Context, opts harness.Options, console string) (time.Duration, harness.Timings, string, error) {
	var tm harness.Timings
	opts.ConsolePath = console
	start := time.Now()
	vm, err := harness.New(opts)
	if err != nil {
		return 0, tm, "", err
	}
	defer vm.Close()
	if err := vm.Boot(ctx); err != nil {
		return 0, tm, "", err
	}
	if !opts.Baseline {
		code, err := vm.Run(ctx, &harness.Command{Shell: "true", Stdout: io.Discard, Stderr: io.Discard})
		if err != nil {
			return 0, tm, "", err
		}
		if code != 0 {
			return 0, tm, "", fmt.Errorf("guest 'true' exited %d", code)
		}
	}
	if err := vm.Close(); err != nil {
		return 0, tm, "", err
	}
	total := time.Since(start)
	b, err := os.ReadFile(console)
	if err != nil {
		return 0, tm, "", err
	}
	return total, vm.Timings(), string(b), nil
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
