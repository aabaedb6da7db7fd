//go:build !faultline_agent

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"

	"faultline/repro"
)

const reproUsage = `Usage: faultline repro [flags] REPORT

Reproduces a bug report: a console log, an oops pasted into an email or a
patch discussion, a syzbot report (a file, or - for stdin). It reads the
report's crashes, stacks and the functions its prose names (a text with no
crash that says data was corrupted or lost targets that: a failed data
check, or the file system's checksum errors); if the crash has
a known signature that a shipped scenario reproduces, it runs that scenario
(--no-known skips this); otherwise it derives plans from the report: every
workload that fits the report's file system runs once with count probes on
the report's functions (which of them it reaches, and how often), then the
workload alone and with delays at the reached functions (and trylock
failures where the report says a trylock lost) are searched by successive
halving until one plan shows the target 3 times in at least 15% of its
runs, or --budget is spent. OUT/repro.yaml is the winning plan as a
scenario (faultline run OUT/repro.yaml reruns it); OUT/repro.json the whole
search; OUT/runs/ every campaign.

Examples:
  faultline repro --kernel debian:6.1-cloud ../shared/seeds/004_c9d6592637f31ecf.txt
  faultline repro --kernel debian:6.1-cloud --no-known --budget 10m ../shared/seeds/004_c9d6592637f31ecf.txt
  faultline repro --kernel 6.1-mutant-seed-b --no-known console.log

Exit status: 0 reproduced, 1 not reproduced within the budget (the best plan
and what was tried are printed and kept), 2 bad usage, a report with no
crash and no corruption in it, or a kernel without what plans need (kprobes,
BPF), 125 harness trouble.

Flags:
`

func cmdRepro(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("repro", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, reproUsage); fs.PrintDefaults() }
	var cfg repro.Config
	fs.StringVar(&cfg.Kernel, "kernel", "", "kernel to reproduce on (default: the release the report names, if any)")
	fs.BoolVar(&cfg.NoKnown, "no-known", false, "derive plans from the report even when a shipped scenario reproduces its signature")
	fs.DurationVar(&cfg.Budget, "budget", 30*time.Minute, "wall time for the whole search")
	fs.StringVar(&cfg.Out, "out", "", "directory for the runs, the plans and the answer (default faultline-out/repro-DATE-TIME)")
	fs.Int64Var(&cfg.Seed, "seed", 1, "seed of the first run")
	scen := fs.String("scenarios", "scenarios", "directory of the shipped scenarios (and its seeds/)")
	jsonOut := fs.Bool("json", false, "print the result as JSON")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return usageError("faultline repro: give one REPORT file (- for stdin)")
	}
	var text []byte
	var err error
	if fs.Arg(0) == "-" {
		text, err = io.ReadAll(os.Stdin)
	} else {
		text, err = os.ReadFile(fs.Arg(0))
	}
	if err != nil {
		return usageError("faultline repro: " + err.Error())
	}
	if cfg.Engine, err = localEngine(); err != nil {
		return fail(err)
	}
	cfg.Report = repro.Read(text, cfg.Engine.Signatures)
	if len(cfg.Report.Crashes) == 0 && !cfg.Report.Corruption {
		fmt.Fprintf(os.Stderr, "faultline repro: %s holds no crash report (no oops, BUG, WARNING or panic) and describes no data corruption: nothing says what to reproduce\n", fs.Arg(0))
		return exitUsage
	}
	if cfg.Kernel == "" && cfg.Report.Release != "" {
		cfg.Kernel = "linux-image-" + cfg.Report.Release + "-unsigned"
	}
	if cfg.Kernel == "" {
		return usageError("faultline repro: the report names no kernel release faultline can fetch: give --kernel (debian:6.1-cloud, 6.1-harness, ...)")
	}
	for _, pat := range []string{"*.yaml", "seeds/*.yaml"} {
		m, _ := filepath.Glob(filepath.Join(*scen, pat))
		cfg.Known = append(cfg.Known, m...)
	}
	if cfg.Out == "" {
		cfg.Out = "faultline-out/repro-" + time.Now().Format("20060102-150405")
	}
	cfg.Progress = progress
	r := cfg.Report
	what := fmt.Sprintf("%s (signature %s)", r.Title, orNone(r.Signature))
	if len(r.Crashes) == 0 {
		what = "no crash; the text describes corrupted or lost data (target: a failed data check or the file system's checksum errors)"
	}
	progress(fmt.Sprintf("report: %s, %d functions named, file system %q, trylock %v, CPU columns %v",
		what, len(r.Functions), r.FS, r.Trylock, r.Columns))
	res, err := repro.Run(ctx, cfg)
	if errors.Is(err, repro.ErrNoCrash) || errors.Is(err, repro.ErrInput) {
		fmt.Fprintln(os.Stderr, "faultline repro: "+err.Error())
		return exitUsage
	}
	if err != nil {
		return fail(err)
	}
	if *jsonOut {
		printJSON(res)
	} else {
		printRepro(res)
	}
	if !res.Reproduced {
		return 1
	}
	return exitOK
}

func orNone(s string) string {
	if s == "" {
		return "none known"
	}
	return s
}

func printRepro(res *repro.Result) {
	b := res.Best
	if res.Reproduced {
		fmt.Printf("reproduced %s: %d of %d runs (%.0f%%)", res.Target, b.Hits, b.Runs, 100*res.Rate())
		if t := res.MedianFirstCrash(); !math.IsNaN(t) {
			fmt.Printf(", median %.1f s to the crash", t)
		}
		fmt.Printf("; %d runs in all, %s\n", res.Runs, res.Elapsed.Round(time.Second))
	} else {
		fmt.Printf("not reproduced: %s; %d runs, %s\n", res.Stopped, res.Runs, res.Elapsed.Round(time.Second))
	}
	if res.Known != "" {
		fmt.Printf("plan: the shipped scenario %s\n", res.Known)
	} else if b != nil {
		fmt.Printf("plan: %s on %s", b.Workload, b.FS)
		for _, in := range b.Inject {
			fmt.Printf(", %s", in)
		}
		fmt.Printf("\nwhy: %s\n", b.Why)
	}
	if res.Scenario != "" {
		fmt.Printf("scenario: %s (faultline run %s)\n", res.Scenario, res.Scenario)
	}
	if len(res.Reach) > 0 {
		var fns []string
		for fn := range res.Reach {
			fns = append(fns, fn)
		}
		sort.Slice(fns, func(i, j int) bool { return res.Reach[fns[i]] > res.Reach[fns[j]] })
		fmt.Println("reach in calibration (hits a run):")
		for _, fn := range fns {
			fmt.Printf("  %-40s %.0f\n", fn, res.Reach[fn])
		}
	}
	for _, n := range res.Notes {
		fmt.Printf("note: %s\n", n)
	}
	fmt.Println("tried:")
	for _, p := range res.Tried {
		state := fmt.Sprintf("%d of %d runs, reach %d", p.Hits, p.Runs, p.Reach)
		if p.Failed != "" {
			state = "could not run: " + p.Failed
		}
		fmt.Printf("  %-50s %s\n", p.Name, state)
	}
}
