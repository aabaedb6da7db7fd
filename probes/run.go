package probes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"
)

// RunOptions say how Run reports while the command runs.
type RunOptions struct {
	// KmsgEvery is how often all counters go to /dev/kmsg (the first time
	// after 300 ms), so that they survive a crash (0: never).
	KmsgEvery time.Duration
	// KmsgChanges is how often, between those, the lines of delay and
	// fail injections whose fired, met or budget-skip counts changed are
	// written (0: never).
	KmsgChanges time.Duration
}

// Run runs argv under the attached set: signals to this process go to the
// command, the counters go to the kernel log while it runs (o), and the
// set is detached when it ends. It returns the command's exit status
// (128+N for a death by signal N) and the reports.
func (s *Set) Run(ctx context.Context, argv []string, o RunOptions) (int, []Report, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return -1, nil, fmt.Errorf("run %s: %w", argv[0], err)
	}
	go func() {
		for sig := range sigs {
			_ = cmd.Process.Signal(sig)
		}
	}()
	stop := make(chan struct{})
	if o.KmsgEvery > 0 {
		go s.kmsgCounters(o.KmsgEvery, o.KmsgChanges, stop)
	}
	err := cmd.Wait()
	close(stop)
	code := 0
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
		if code < 0 {
			code = 128 + int(ee.Sys().(syscall.WaitStatus).Signal())
		}
		err = nil
	default:
		code = -1
	}
	if derr := s.Detach(); derr != nil {
		err = errors.Join(err, fmt.Errorf("detach: %w", derr))
	}
	return code, s.Reports(), err
}

// kmsgCounters writes the set's' counters to the kernel log every d
// and, every c in between (if c > 0), the lines of the delay and fail
// injections that fired since their last line, until stop closes.
func (s *Set) kmsgCounters(d, c time.Duration, stop <-chan struct{}) {
	f, err := os.OpenFile("/dev/kmsg", os.O_WRONLY, 0)
	if err != nil {
		return
	}
	defer f.Close()
	// The first snapshot comes early: some races crash within a second.
	t := time.NewTimer(min(d, 300*time.Millisecond))
	defer t.Stop()
	var check <-chan time.Time
	if c > 0 && c < d && anyInjecting(s.Reports()) {
		tc := time.NewTicker(c)
		defer tc.Stop()
		check = tc.C
	}
	last := map[int]Report{}
	write := func(all bool) {
		for _, line := range kmsgLines(last, s.Reports(), all) {
			// One write is one log record; <6> is KERN_INFO.
			_, _ = f.WriteString("<6>" + line + "\n")
		}
	}
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			t.Reset(d)
			write(true)
		case <-check:
			write(false)
		}
	}
}

// anyInjecting says whether reps has a delay or fail injection: a set of
// counts alone (a control run) has nothing for the checks between snapshots,
// which would only read its maps.
func anyInjecting(reps []Report) bool {
	for _, r := range reps {
		if r.Kind != Count {
			return true
		}
	}
	return false
}

// kmsgLines returns the kernel-log lines for reps: all of them if all is
// set, else those of the delay and fail injections whose fired, met or
// budget-skip counts differ from the last line written for them (count
// injections change with every hit and wait for the full snapshot). last
// holds the reports as last written and is updated.
func kmsgLines(last map[int]Report, reps []Report, all bool) []string {
	var lines []string
	for i, r := range reps {
		p := last[i] // zero until written: an injection that never fired waits for the snapshot
		changed := r.Fired != p.Fired || r.UntilMet != p.UntilMet || r.BudgetSkips != p.BudgetSkips
		if !all && (r.Kind == Count || !changed) {
			continue
		}
		last[i] = r
		lines = append(lines, KmsgLine(i, r))
	}
	return lines
}

// WriteTable writes the per-injection table: attached, hits, filtered,
// fired, total delay, budget skips, ended early, hits per second.
func WriteTable(w io.Writer, reps []Report) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "injection\tattached\thits\tfiltered\tfired\tdelay\tbudget-skips\tended-early\thits/s\t")
	for _, r := range reps {
		att := "yes"
		if !r.Attached {
			att = "no: " + r.Reason
		}
		rate := 0.0
		if r.Seconds > 0 {
			rate = float64(r.Hits) / r.Seconds
		}
		flag := ""
		if r.NeverFired {
			flag = "  NEVER FIRED"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%d\t%d\t%.1f\t%s\n", r.Spec, att, r.Hits, r.Filtered, r.Fired,
			r.Delay.Round(time.Microsecond), r.BudgetSkips, r.UntilMet, rate, flag)
	}
	tw.Flush()
}

// ParseAll parses injection specs; the error names the first bad one.
func ParseAll(specs []string) ([]Injection, error) {
	var injs []Injection
	for _, s := range specs {
		inj, err := Parse(s)
		if err != nil {
			return nil, err
		}
		injs = append(injs, inj)
	}
	return injs, nil
}

// WriteReportFile writes the reports as the JSON the host reads back
// ({"injections": [...]}).
func WriteReportFile(path string, reps []Report) error {
	b, err := json.MarshalIndent(map[string]any{"injections": reps}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
