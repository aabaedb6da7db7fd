package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"faultline/probes"
)

const injectUsage = `Usage: faultline inject [--report FILE] --inject SPEC... -- COMMAND [ARG...]

Runs in a guest (faultline vm runs it for you when given --inject): attaches
the injections, runs COMMAND, detaches them and writes what each injection
did (attached, hits, fired, total delay, failures forced) as JSON to FILE and
as a table to stderr. Exits with COMMAND's status.

Injection specs:
` + probes.Syntax + `

Examples:
  faultline inject --inject 'delay:btrfs_sync_file:1ms' --inject count:btrfs_sync_file -- workload ...
  faultline inject --inject 'fail-return:should_failslab:ENOMEM@0.01,comm=dd' -- dd if=/dev/zero of=f bs=1M count=10

Flags:
`

func cmdInject(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("inject", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, injectUsage); fs.PrintDefaults() }
	var specs multiFlag
	fs.Var(&specs, "inject", "injection spec (repeatable)")
	report := fs.String("report", "", "write the JSON report here")
	every := fs.Duration("kmsg-every", time.Second, "write the counters to /dev/kmsg this often (the first time after 300ms), so they survive a crash (0: never)")
	changes := fs.Duration("kmsg-changes", 50*time.Millisecond, "between those writes, check this often for delay and fail injections whose fired, met or budget-skip counts changed and write just their lines, so that a race that crashes the kernel at once still shows what fired (0: never)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "faultline inject: no command to run")
		return exitUsage
	}
	var injs []probes.Injection
	for _, s := range specs {
		inj, err := probes.Parse(s)
		if err != nil {
			return fail(fmt.Errorf("%w: %w", errUsage, err))
		}
		injs = append(injs, inj)
	}
	set, err := probes.Attach(injs)
	if err != nil {
		return fail(err)
	}
	defer set.Close()
	cmd := exec.CommandContext(ctx, fs.Arg(0), fs.Args()[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// Signals go to the command; the probes are detached when it ends.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	code := exitError
	if err := cmd.Start(); err != nil {
		return fail(fmt.Errorf("run %s: %w", fs.Arg(0), err))
	}
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	stop := make(chan struct{})
	if *every > 0 {
		go kmsgCounters(set, *every, *changes, stop)
	}
	err = cmd.Wait()
	close(stop)
	var ee *exec.ExitError
	switch {
	case err == nil:
		code = 0
	case errors.As(err, &ee):
		code = ee.ExitCode()
		if code < 0 {
			code = 128 + int(ee.Sys().(syscall.WaitStatus).Signal())
		}
	default:
		fmt.Fprintln(os.Stderr, "faultline inject: "+err.Error())
	}
	if err := set.Detach(); err != nil {
		fmt.Fprintln(os.Stderr, "faultline inject: detach: "+err.Error())
	}
	reps := set.Reports()
	if *report != "" {
		b, _ := json.MarshalIndent(map[string]any{"injections": reps}, "", "  ")
		if err := os.WriteFile(*report, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "faultline inject: "+err.Error())
		}
	}
	printInjectReport(os.Stderr, reps)
	return code
}

// kmsgCounters writes the injections' counters to the kernel log every d
// and, every c in between (if c > 0), the lines of the delay and fail
// injections that fired since their last line, until stop closes.
func kmsgCounters(set *probes.Set, d, c time.Duration, stop <-chan struct{}) {
	f, err := os.OpenFile("/dev/kmsg", os.O_WRONLY, 0)
	if err != nil {
		return
	}
	defer f.Close()
	// The first snapshot comes early: some races crash within a second.
	t := time.NewTimer(min(d, 300*time.Millisecond))
	defer t.Stop()
	var check <-chan time.Time
	if c > 0 && c < d && anyInjecting(set.Reports()) {
		tc := time.NewTicker(c)
		defer tc.Stop()
		check = tc.C
	}
	last := map[int]probes.Report{}
	write := func(all bool) {
		for _, line := range kmsgLines(last, set.Reports(), all) {
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
func anyInjecting(reps []probes.Report) bool {
	for _, r := range reps {
		if r.Kind != probes.Count {
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
func kmsgLines(last map[int]probes.Report, reps []probes.Report, all bool) []string {
	var lines []string
	for i, r := range reps {
		p := last[i] // zero until written: an injection that never fired waits for the snapshot
		changed := r.Fired != p.Fired || r.UntilMet != p.UntilMet || r.BudgetSkips != p.BudgetSkips
		if !all && (r.Kind == probes.Count || !changed) {
			continue
		}
		last[i] = r
		lines = append(lines, probes.KmsgLine(i, r))
	}
	return lines
}

// cmdFeatures (in a guest) prints the running kernel's BPF features as JSON.
func cmdFeatures() int {
	return printJSON(map[string]any{"features": probes.Features()})
}

// printInjectReport writes the per-injection table.
func printInjectReport(w io.Writer, reps []probes.Report) {
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
