package harness

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
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
	dir, cleanup, err := benchDir(dir)
	if err != nil {
		return nil, err
	}
	defer cleanup()
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

// UserView is the boot benchmark's second measurement: the whole faultline
// command a user types (a process start to its exit, kernel spec
// resolution and all) against the barest boot of the same kernel (QEMU with
// no devices, an /init that powers off at once, the console to a file),
// alternating.
type UserView struct {
	// Command is the measured command line.
	Command []string `json:"command"`
	// Barest and Whole are each round's wall times.
	Barest, Whole []time.Duration
}

// Ratio is the median whole command over the median barest boot.
func (u *UserView) Ratio() float64 { return float64(Median(u.Whole)) / float64(Median(u.Barest)) }

// BenchUserView runs the user's-view rounds: a warm-up of each, then n
// alternating rounds of the barest boot of opts' kernel (same accelerator,
// CPUs and memory) and of argv, which must exit 0.
func BenchUserView(ctx context.Context, opts Options, argv []string, n int, dir string, progress func(string)) (*UserView, error) {
	qemu, err := ToolQEMU.Find()
	if err != nil {
		return nil, err
	}
	accel := opts.Accel
	if accel == "auto" || accel == "" {
		if accel, err = ResolveAccel(ctx, qemu, "auto", opts.Kernel, progress); err != nil {
			return nil, err
		}
	}
	initrd, err := minimalInitramfs()
	if err != nil {
		return nil, err
	}
	dir, cleanup, err := benchDir(dir)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	opts.defaults()
	qc := &QEMUConfig{Kernel: opts.Kernel.Vmlinuz, Initrd: initrd, Accel: accel, CPUModel: opts.CPUModel, CPUs: opts.CPUs, MemoryMB: opts.MemoryMB,
		Cmdline: []string{"console=ttyS0", "panic=-1", "printk.time=1"}}
	barest := func(log string) (time.Duration, error) {
		args := append(append(append(qc.baseArgs(), qc.machineArgs()...), qc.bootArgs()...), "-serial", "file:"+log)
		start := time.Now()
		cmd := exec.CommandContext(ctx, qemu, args...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return 0, fmt.Errorf("barest boot: %w: %s", err, out)
		}
		d := time.Since(start)
		if b, _ := os.ReadFile(log); !bytes.Contains(b, []byte("reboot: Power down")) {
			return 0, fmt.Errorf("barest boot did not power down (console %s)", log)
		}
		return d, nil
	}
	whole := func() (time.Duration, error) {
		start := time.Now()
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return 0, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, out.String())
		}
		return time.Since(start), nil
	}
	if _, err := barest(filepath.Join(dir, "barest-warm.log")); err != nil {
		return nil, err
	}
	if _, err := whole(); err != nil {
		return nil, err
	}
	u := &UserView{Command: argv}
	for i := 0; i < n; i++ {
		a, err := barest(filepath.Join(dir, fmt.Sprintf("barest-%d.log", i)))
		if err != nil {
			return nil, err
		}
		b, err := whole()
		if err != nil {
			return nil, err
		}
		u.Barest, u.Whole = append(u.Barest, a), append(u.Whole, b)
		if progress != nil {
			progress(fmt.Sprintf("user view %d/%d: barest boot %v, %s %v", i+1, n, a.Round(time.Millisecond),
				strings.Join(argv[1:], " "), b.Round(time.Millisecond)))
		}
	}
	return u, nil
}

// WriteText writes the user view's medians and ratio.
func (u *UserView) WriteText(w io.Writer) {
	fmt.Fprintf(w, "barest QEMU boot (no devices):    median %v\n", Median(u.Barest).Round(time.Millisecond))
	fmt.Fprintf(w, "whole command (%s): median %v\n", strings.Join(append([]string{"faultline"}, u.Command[1:]...), " "), Median(u.Whole).Round(time.Millisecond))
	fmt.Fprintf(w, "ratio whole/barest: %.2f\n", u.Ratio())
}

// benchDir returns dir, created, or a temporary directory removed by
// cleanup when dir is "".
func benchDir(dir string) (string, func(), error) {
	if dir != "" {
		return dir, func() {}, os.MkdirAll(dir, 0o755)
	}
	tmp, err := os.MkdirTemp("", "faultline-bench-")
	if err != nil {
		return "", nil, err
	}
	return tmp, func() { os.RemoveAll(tmp) }, nil
}
