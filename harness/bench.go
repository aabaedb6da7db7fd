package harness

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"time"
)

// BootBench is the boot benchmark's result: n rounds, each booting the
// bare VM (Options.Baseline: the same QEMU command line, an /init that
// powers off at once) and faultline's VM (boot to ready, run "true", power
// off), alternating, with the same accelerator.
type BootBench struct {
	Kernel string `json:"kernel"`
	Accel  string `json:"accel"`
	Rounds int    `json:"rounds"`
	// Bare and Faultline are each round's wall times; BareInit and
	// FaultlineInit when the guest kernel ran /init (printk clock).
	Bare, Faultline, BareInit, FaultlineInit []time.Duration
	// Phases are faultline's VM phases, per round.
	Phases []Timings `json:"phases"`
}

// Ratio is the median faultline boot over the median bare boot.
func (b *BootBench) Ratio() float64 { return float64(Median(b.Faultline)) / float64(Median(b.Bare)) }

// AfterInit returns the wall time after /init, per round: bare, faultline.
func (b *BootBench) AfterInit() (bare, faultline []time.Duration) {
	for i := range b.Bare {
		bare = append(bare, b.Bare[i]-b.BareInit[i])
		faultline = append(faultline, b.Faultline[i]-b.FaultlineInit[i])
	}
	return bare, faultline
}

// Figures are the benchmark's figures for JSON output (fs names the
// scratch filesystem used).
func (b *BootBench) Figures(fs string) map[string]any {
	aa, ab := b.AfterInit()
	return map[string]any{
		"kernel": b.Kernel, "accel": b.Accel, "fs": fs, "rounds": b.Rounds,
		"bare_median_ms": Median(b.Bare).Milliseconds(), "faultline_median_ms": Median(b.Faultline).Milliseconds(), "ratio": b.Ratio(),
		"bare_ms": Millis(b.Bare), "faultline_ms": Millis(b.Faultline), "phases": b.Phases,
		"bare_init_ms": Millis(b.BareInit), "faultline_init_ms": Millis(b.FaultlineInit),
		"bare_after_init_median_ms": Median(aa).Milliseconds(), "faultline_after_init_median_ms": Median(ab).Milliseconds(),
	}
}

// BenchBoot runs the boot benchmark: a warm-up of each variant (initramfs
// caches), then n alternating rounds. Consoles are kept in dir ("": a
// temporary directory, removed after). Besides the
// totals each round records when the guest kernel ran /init: the kernel's
// own boot varies by hundreds of milliseconds under TCG, the same for both
// variants, and the time after /init is what faultline adds.
func BenchBoot(ctx context.Context, opts Options, n int, dir string, progress func(string)) (*BootBench, error) {
	if opts.Accel == "auto" || opts.Accel == "" {
		qemu, err := ToolQEMU.Find()
		if err != nil {
			return nil, err
		}
		// Resolve the accelerator once, so both variants use the same.
		if opts.Accel, err = ResolveAccel(ctx, qemu, "auto", opts.Kernel, progress); err != nil {
			return nil, err
		}
	}
	if dir == "" {
		tmp, err := os.MkdirTemp("", "faultline-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	base := opts
	base.Baseline = true
	if _, _, _, err := bootOnceTimed(ctx, base, filepath.Join(dir, "warm-bare.log")); err != nil {
		return nil, fmt.Errorf("baseline boot: %w", err)
	}
	if _, _, _, err := bootOnceTimed(ctx, opts, filepath.Join(dir, "warm.log")); err != nil {
		return nil, err
	}
	b := &BootBench{Kernel: opts.Kernel.Name, Accel: opts.Accel, Rounds: n}
	for i := 0; i < n; i++ {
		da, _, out, err := bootOnceTimed(ctx, base, filepath.Join(dir, fmt.Sprintf("bare-%d.log", i)))
		if err != nil {
			return nil, fmt.Errorf("baseline boot: %w", err)
		}
		db, tm, console, err := bootOnceTimed(ctx, opts, filepath.Join(dir, fmt.Sprintf("round-%d.log", i)))
		if err != nil {
			return nil, err
		}
		initA, okA := guestInitAt(out)
		initB, okB := guestInitAt(console)
		if !okA || !okB {
			return nil, fmt.Errorf("round %d: no \"Run /init\" line with a printk time on a console (printk.time=1 is in the base command line)", i+1)
		}
		b.Bare, b.Faultline, b.Phases = append(b.Bare, da), append(b.Faultline, db), append(b.Phases, tm)
		b.BareInit, b.FaultlineInit = append(b.BareInit, initA), append(b.FaultlineInit, initB)
		if progress != nil {
			progress(fmt.Sprintf("round %d/%d: bare %v (/init at %v), faultline %v (/init at %v; prepare %v, to listening %v, ssh %v, to ready %v, shutdown %v)",
				i+1, n, da.Round(time.Millisecond), initA.Round(time.Millisecond), db.Round(time.Millisecond), initB.Round(time.Millisecond),
				tm.Prepare.Round(time.Millisecond), tm.Listening.Round(time.Millisecond), tm.Connected.Round(time.Millisecond),
				tm.Ready.Round(time.Millisecond), tm.Shutdown.Round(time.Millisecond)))
		}
	}
	return b, nil
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
func bootOnceTimed(ctx context.Context, opts Options, console string) (time.Duration, Timings, string, error) {
	var tm Timings
	opts.ConsolePath = console
	start := time.Now()
	vm, err := New(opts)
	if err != nil {
		return 0, tm, "", err
	}
	defer vm.Close()
	if err := vm.Boot(ctx); err != nil {
		return 0, tm, "", err
	}
	if !opts.Baseline {
		code, err := vm.Run(ctx, &Command{Shell: "true", Stdout: io.Discard, Stderr: io.Discard})
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

// Median returns the median of d (the upper one for an even count).
func Median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// Millis returns d in whole milliseconds.
func Millis(d []time.Duration) []int64 {
	out := make([]int64, len(d))
	for i, x := range d {
		out[i] = x.Milliseconds()
	}
	return out
}

// WriteText writes the medians, the ratio and the split at /init.
func (b *BootBench) WriteText(w io.Writer, fs string) {
	r := func(d []time.Duration) time.Duration { return Median(d).Round(time.Millisecond) }
	aa, ab := b.AfterInit()
	fmt.Fprintf(w, "kernel %s, accel %s, fs %s, %d rounds\n", b.Kernel, b.Accel, fs, b.Rounds)
	fmt.Fprintf(w, "bare QEMU + minimal init:         median %v\n", r(b.Bare))
	fmt.Fprintf(w, "faultline boot+ssh+true+poweroff: median %v\n", r(b.Faultline))
	fmt.Fprintf(w, "ratio faultline/bare: %.2f\n", b.Ratio())
	fmt.Fprintf(w, "guest kernel to /init:            bare median %v, faultline median %v\n", r(b.BareInit), r(b.FaultlineInit))
	fmt.Fprintf(w, "wall time after /init:            bare median %v, faultline median %v (+%v)\n", r(aa), r(ab), r(ab)-r(aa))
}
