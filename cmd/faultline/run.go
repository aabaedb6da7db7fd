//go:build !faultline_agent

package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"regexp"

	"faultline/campaign"
	"faultline/harness"
	"faultline/oops"
	"faultline/remote"
	"faultline/results"
	"faultline/termline"
	"faultline/verdict"
)

const runUsage = `Usage: faultline run [flags] SCENARIO...
       faultline run --resume DIR [flags]

Runs a campaign: every case of every scenario (a scenario and its
variants), each run in a fresh VM, at most --parallel at once. Each run gets
a verdict: clean, crash (title and signature, or "new"), integrity (data lost
or corrupted), hang, boot-failure, infra-error (harness trouble, never a
kernel bug) or expectation-failed (a positive control missed its signature).
Runs are recorded as they finish in DIR/faultline.db (SQLite), with each
run's console, stdout and stderr under DIR/runs/; DIR/report.html is written
at the end (faultline report DIR rewrites it). An interrupted campaign
(Ctrl-C, a crash of faultline, a full disk) keeps every finished run;
--resume DIR runs the rest.

SCENARIO is a scenario file or a directory of them (*.yaml). Scenario fields:
  name, description, kernel, vm {cpus, memory, numa, disk, append, cpu, net},
  fs {type, mkfs, mount}, cgroup {FILE: VALUE}, workload {name, params} or
  workload {command}, inject [SPEC...], duration, runs, timeout,
  hang_timeout, expect (clean or a signature id), variants [{name, kernel,
  inject, duration, runs, timeout, expect}]. See scenarios/ for examples.

Examples:
  faultline run scenarios/
  faultline run --parallel 2 --runs 5 --out /tmp/c1 --junit c1.xml scenarios/compressed-writeback-btrfs.yaml
  faultline run --resume /tmp/c1
  faultline run --json scenarios/seeds/seed-d.yaml > result.json
  faultline run --skip /no-inject scenarios/seeds/       # leave out the 10-minute controls

Exit status: 0 every run met its expectation; 1 some run did not (a crash,
lost data or a hang where clean was expected, or a missed positive control);
125 harness trouble only (infra-error, boot-failure, store or setup error);
130 interrupted (resume with --resume DIR); 2 bad usage or scenario.

Flags:
`

func cmdRun(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, runUsage); fs.PrintDefaults() }
	parallel := fs.Int("parallel", 0, "VMs at once (0: host cores / vCPUs per VM, within memory; more hides races)")
	runs := fs.Int("runs", 0, "runs per case, overriding the scenarios' runs (0: as written)")
	seed := fs.Int64("seed", 0, "campaign seed; run i gets seed+i (0: random, printed and recorded)")
	out := fs.String("out", "", "out directory for the store and run files (default faultline-out/DATE-TIME)")
	resume := fs.String("resume", "", "finish the campaign in this out directory")
	junit := fs.String("junit", "", "write JUnit XML (one testcase per run) to this file")
	jsonOut := fs.Bool("json", false, "print the summary and runs as JSON on stdout")
	accel := fs.String("accel", "auto", "accelerator: auto, tcg or kvm")
	retries := fs.Int("retries", 1, "run a run judged infra-error again up to this many times (every attempt is recorded)")
	var sigDirs multiFlag
	fs.Var(&sigDirs, "signatures", "directory of extra signature files (repeatable)")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	only := fs.String("only", "", "run only the cases whose name matches this regexp (e.g. 'seed-a$|/harness')")
	skip := fs.String("skip", "", "leave out the cases whose name matches this regexp (e.g. '/no-inject')")
	kernel := fs.String("kernel", "", "run every case on this kernel instead of the one its scenario names (a spec, a build spec file)")
	var nats remote.Options
	nats.RegisterFlags(fs)
	labels := fs.String("labels", "", "with --nats: labels every job asks of its worker, comma-separated (e.g. kvm)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if (*resume == "") == (fs.NArg() == 0) {
		return usageError("faultline run: give SCENARIO files or --resume DIR (one or the other)")
	}
	if *resume != "" && (*seed != 0 || *runs != 0 || *out != "" || *only != "" || *skip != "") {
		return usageError("faultline run: --resume keeps the campaign's plan, seed, runs and directory; drop --seed, --runs, --out, --only and --skip")
	}
	sigs, err := oops.LoadSignatures(sigDirs...)
	if err != nil {
		return fail(fmt.Errorf("%w: %w", errUsage, err))
	}
	agent, err := harness.AgentBinary()
	if err != nil {
		return fail(err)
	}
	tl := termline.New(os.Stderr, *quiet)
	cfg := campaign.Config{
		Executor:   &campaign.Local{Pool: harness.QEMU{}, Agent: agent, Accel: *accel, Progress: tl.Line},
		Signatures: sigs, Parallel: *parallel, Retries: *retries, Progress: func(e campaign.Event) { tl.Line(e.Line) },
	}
	if nats.URL != "" {
		co, err := remote.NewCoordinator(nats, *labels, sigs.IDs(), tl.Line)
		if err != nil {
			return fail(err)
		}
		defer co.Close()
		cfg.Executor = co
		if cfg.Parallel == 0 {
			cfg.Parallel = 256 // every run queued: the workers take what they can
		}
	}
	var c *campaign.Campaign
	if *resume != "" {
		c, err = campaign.Resume(cfg, *resume)
	} else {
		plan := campaign.Plan{Scenarios: fs.Args(), Out: *out, Seed: *seed, Runs: *runs, Kernel: *kernel, Argv: append([]string{"faultline", "run"}, args...)}
		if plan.Only, err = compileOptional(*only); err != nil {
			return fail(fmt.Errorf("%w: --only: %w", errUsage, err))
		}
		if plan.Skip, err = compileOptional(*skip); err != nil {
			return fail(fmt.Errorf("%w: --skip: %w", errUsage, err))
		}
		c, err = campaign.Create(cfg, plan)
	}
	if err != nil {
		return fail(err)
	}
	defer c.Close()
	stop := tl.Tick(func() string { return c.Status().String() })
	res := c.Run(ctx)
	stop()
	code := res.ExitCode()
	if res.Summary == nil {
		return fail(res.StoreErr)
	}
	if *junit != "" {
		if err := results.WriteJUnitFile(*junit, res.Dir, res.Runs); err != nil {
			fmt.Fprintln(os.Stderr, "faultline: junit: "+err.Error())
			code = max(code, verdict.ExitError)
		}
	}
	showCampaign(c.Store, res.Summary, res.Runs, *jsonOut)
	switch {
	case res.StoreErr != nil:
		fmt.Fprintf(os.Stderr, "faultline: campaign stopped: %v\nfaultline: runs recorded before this are intact; free space, then: faultline run --resume %s\n", res.StoreErr, res.Dir)
	case res.Status == "interrupted":
		fmt.Fprintf(os.Stderr, "faultline: interrupted; finished runs are kept; go on with: faultline run --resume %s\n", res.Dir)
	}
	return code
}

const reportUsage = `Usage: faultline report [--json] DIR

Writes DIR/report.html for the campaign in DIR (faultline run --out DIR):
runs, crashes grouped by signature with console excerpts, probe and reach
counters, and plots of verdicts over runs and time to first crash, and
prints the summary table (with --json: the summary and runs).

Example:
  faultline report faultline-out/20261121-101500
`

func cmdReport(_ context.Context, args []string) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, reportUsage); fs.PrintDefaults() }
	jsonOut := fs.Bool("json", false, "print the summary and runs as JSON")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return verdict.ExitUsage
	}
	store, err := results.OpenExisting(fs.Arg(0))
	if err != nil {
		return fail(err)
	}
	defer store.Close()
	s, runs, err := store.Summary()
	if err != nil {
		return fail(err)
	}
	if !showCampaign(store, s, runs, *jsonOut) {
		return verdict.ExitError
	}
	return verdict.ExitOK
}

// showCampaign writes the campaign's HTML report and prints its summary
// table (or, with asJSON, the summary and runs); false if the report could
// not be written.
func showCampaign(store *results.Store, s *results.Summary, runs []*results.Run, asJSON bool) bool {
	path, err := store.WriteReport(s, runs)
	if asJSON {
		printJSON(map[string]any{"dir": store.Dir, "summary": s, "runs": runs})
	} else {
		s.WriteTable(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "faultline: report: "+err.Error())
		return false
	}
	fmt.Fprintln(os.Stderr, "faultline: report: "+path)
	return true
}

// compileOptional compiles a regexp flag; empty means none.
func compileOptional(expr string) (*regexp.Regexp, error) {
	if expr == "" {
		return nil, nil
	}
	return regexp.Compile(expr)
}
