//go:build !faultline_agent

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"faultline/harness"
	"faultline/kernels"
	"faultline/results"
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
  name, description, kernel, vm {cpus, memory, numa, disk, append},
  fs {type, mkfs, mount}, cgroup {FILE: VALUE}, workload {name, params} or
  workload {command}, inject [SPEC...], duration, runs, timeout,
  hang_timeout, expect (clean or a signature id), variants [{name, kernel,
  inject, duration, runs, timeout, expect}]. See scenarios/ for examples.

Examples:
  faultline run scenarios/
  faultline run --parallel 2 --runs 5 --out /tmp/c1 --junit c1.xml scenarios/cwb-btrfs.yaml
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
	var sigDirs multiFlag
	fs.Var(&sigDirs, "signatures", "directory of extra signature files (repeatable)")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	only := fs.String("only", "", "run only the cases whose name matches this regexp (e.g. 'seed-a$|/harness')")
	skip := fs.String("skip", "", "leave out the cases whose name matches this regexp (e.g. '/no-inject')")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if (*resume == "") == (fs.NArg() == 0) {
		fmt.Fprintln(os.Stderr, "faultline run: give SCENARIO files or --resume DIR (one or the other)")
		return exitUsage
	}
	if *resume != "" && (*seed != 0 || *runs != 0 || *out != "") {
		fmt.Fprintln(os.Stderr, "faultline run: --resume keeps the campaign's seed, runs and directory; drop --seed, --runs and --out")
		return exitUsage
	}
	sigs, err := results.LoadSignatures(sigDirs...)
	if err != nil {
		return fail(fmt.Errorf("%w: %w", errUsage, err))
	}
	var ids []string
	for _, s := range sigs.List {
		ids = append(ids, s.ID)
	}
	c := &campaignRun{sigs: sigs, accel: *accel, quiet: *quiet, parallel: *parallel}
	if *only != "" || *skip != "" {
		if *resume != "" {
			fmt.Fprintln(os.Stderr, "faultline run: --resume runs the campaign's plan; --only and --skip apply to new campaigns")
			return exitUsage
		}
		if c.only, err = compileOptional(*only); err != nil {
			return fail(fmt.Errorf("%w: --only: %w", errUsage, err))
		}
		if c.skip, err = compileOptional(*skip); err != nil {
			return fail(fmt.Errorf("%w: --skip: %w", errUsage, err))
		}
	}
	if *resume != "" {
		err = c.resume(*resume, ids)
	} else {
		err = c.create(fs.Args(), ids, *out, *seed, *runs, args)
	}
	if err != nil {
		return fail(err)
	}
	defer c.store.Close()
	code := c.execute(ctx)
	summary, runsList, err := c.summary()
	if err != nil {
		return fail(err)
	}
	if *junit != "" {
		if err := writeJUnit(*junit, c.store.Dir, runsList); err != nil {
			fmt.Fprintln(os.Stderr, "faultline: junit: "+err.Error())
			code = max(code, exitError)
		}
	}
	report, rerr := writeReport(c.store, summary, runsList)
	if *jsonOut {
		b, _ := json.MarshalIndent(map[string]any{"dir": c.store.Dir, "summary": summary, "runs": runsList}, "", "  ")
		fmt.Println(string(b))
	} else {
		summary.WriteTable(os.Stdout)
	}
	if rerr != nil {
		fmt.Fprintln(os.Stderr, "faultline: report: "+rerr.Error())
	} else {
		fmt.Fprintln(os.Stderr, "faultline: report: "+report)
	}
	if code == exitInterrupted {
		fmt.Fprintf(os.Stderr, "faultline: interrupted; finished runs are kept; go on with: faultline run --resume %s\n", c.store.Dir)
	}
	return code
}

// exitInterrupted is faultline run's status after SIGINT/SIGTERM.
const exitInterrupted = 130

type campaignRun struct {
	sigs     *results.Signatures
	accel    string
	quiet    bool
	parallel int
	only     *regexp.Regexp
	skip     *regexp.Regexp

	store    *results.Store
	camp     *results.Campaign
	plan     []results.PlannedRun
	cases    map[string]*harness.Case
	kernels  map[string]*kernels.Kernel
	pending  []results.PlannedRun
	finished int
}

// scenarioFiles expands directories into their *.yaml files.
func scenarioFiles(args []string) ([]string, error) {
	var files []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("%w: scenario %s: %w", errUsage, a, err)
		}
		if !st.IsDir() {
			files = append(files, a)
			continue
		}
		m, _ := filepath.Glob(filepath.Join(a, "*.yaml"))
		if len(m) == 0 {
			return nil, fmt.Errorf("%w: no *.yaml scenario in %s", errUsage, a)
		}
		files = append(files, m...)
	}
	return files, nil
}

func (c *campaignRun) create(args, sigIDs []string, out string, seed int64, runs int, argv []string) error {
	files, err := scenarioFiles(args)
	if err != nil {
		return err
	}
	var texts []results.ScenarioText
	var cases []*harness.Case
	c.cases = map[string]*harness.Case{}
	for _, f := range files {
		s, err := harness.LoadScenario(f, sigIDs)
		if err != nil {
			return fmt.Errorf("%w: %w", errUsage, err)
		}
		for _, t := range texts {
			if t.Name == s.Name {
				return fmt.Errorf("%w: scenario name %q used by %s and %s", errUsage, s.Name, t.Path, f)
			}
		}
		abs, _ := filepath.Abs(f)
		texts = append(texts, results.ScenarioText{Name: s.Name, Path: abs, Hash: s.Hash, Source: s.Source})
		for _, k := range s.Cases(runs) {
			if (c.only != nil && !c.only.MatchString(k.Name)) || (c.skip != nil && c.skip.MatchString(k.Name)) {
				continue
			}
			cases = append(cases, k)
			c.cases[k.Name] = k
		}
	}
	if len(cases) == 0 {
		return fmt.Errorf("%w: no case to run: --only / --skip leave none of the scenarios' cases", errUsage)
	}
	if seed == 0 {
		seed = rand.Int64N(1<<31) + 1
	}
	for _, k := range cases {
		for r := 0; r < k.Runs; r++ {
			i := len(c.plan)
			c.plan = append(c.plan, results.PlannedRun{Index: i, Case: k.Name, Scenario: k.Scenario.Name, Kernel: k.Kernel,
				RunNo: r, Seed: seed + int64(i), Expect: k.Expect})
		}
	}
	if err := c.resolveKernels(c.plan); err != nil {
		return err
	}
	if out == "" {
		out = filepath.Join("faultline-out", time.Now().Format("20060102-150405"))
	}
	if out, err = filepath.Abs(out); err != nil {
		return err
	}
	if c.store, err = results.OpenStore(out); err != nil {
		return err
	}
	c.camp = &results.Campaign{Seed: seed, Parallel: c.parallelFor(cases), Argv: append([]string{"faultline", "run"}, argv...)}
	if err := c.store.Create(c.camp, texts, c.plan); err != nil {
		c.store.Close()
		return err
	}
	c.pending = c.plan
	c.progress(fmt.Sprintf("campaign in %s: %d runs of %d cases, seed %d, %d at once", out, len(c.plan), len(cases), seed, c.camp.Parallel))
	return nil
}

func (c *campaignRun) resume(dir string, sigIDs []string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(abs, results.StoreFile)); err != nil {
		return fmt.Errorf("%w: %s holds no campaign (no %s)", errUsage, abs, results.StoreFile)
	}
	if c.store, err = results.OpenStore(abs); err != nil {
		return err
	}
	var texts []results.ScenarioText
	c.camp, texts, c.plan, err = c.store.Load()
	if err != nil {
		c.store.Close()
		return err
	}
	c.cases = map[string]*harness.Case{}
	runsOf := map[string]int{}
	for _, p := range c.plan {
		runsOf[p.Case]++
	}
	for _, t := range texts {
		s, err := harness.ParseScenario(t.Path, t.Source, sigIDs)
		if err != nil {
			c.store.Close()
			return fmt.Errorf("stored scenario %s no longer valid: %w", t.Name, err)
		}
		for _, k := range s.Cases(0) {
			k.Runs = runsOf[k.Name]
			c.cases[k.Name] = k
		}
	}
	done, err := c.store.Finished(c.camp.ID)
	if err != nil {
		c.store.Close()
		return err
	}
	for _, p := range c.plan {
		if !done[p.Index] {
			c.pending = append(c.pending, p)
		}
	}
	c.finished = len(done)
	if err := c.resolveKernels(c.pending); err != nil {
		c.store.Close()
		return err
	}
	if c.parallel > 0 {
		c.camp.Parallel = c.parallel
	}
	c.progress(fmt.Sprintf("resuming campaign in %s: %d of %d runs left, seed %d", abs, len(c.pending), len(c.plan), c.camp.Seed))
	return nil
}

// resolveKernels finds (fetching Debian packages if needed) every kernel the
// runs need, before any run starts: an unknown or unbuilt kernel is an error
// now, not a failed run later.
func (c *campaignRun) resolveKernels(plan []results.PlannedRun) error {
	store, err := kernels.NewStore()
	if err != nil {
		return err
	}
	c.kernels = map[string]*kernels.Kernel{}
	for _, p := range plan {
		if c.kernels[p.Kernel] != nil {
			continue
		}
		k, err := store.Resolve(p.Kernel, true, c.progress)
		if err != nil {
			return fmt.Errorf("case %s: kernel %s: %w", p.Case, p.Kernel, err)
		}
		c.kernels[p.Kernel] = k
	}
	return nil
}

// parallelFor picks the number of VMs at once: every vCPU gets a host core
// of its own (TCG runs one thread per vCPU; a race needs its CPUs to run at
// the same time, and oversubscribed cores hide it: seed D on stock 6.1
// reproduced in 3 of 3 runs one VM at a time, 0 of 8 two at a time on 2
// cores), within what memory allows.
func (c *campaignRun) parallelFor(cases []*harness.Case) int {
	if c.parallel > 0 {
		return c.parallel
	}
	maxMem, maxCPUs := 512, 1
	for _, k := range cases {
		maxMem = max(maxMem, k.MemoryMB)
		maxCPUs = max(maxCPUs, k.CPUs)
	}
	n := runtime.NumCPU() / maxCPUs
	if avail := memAvailableMB(); avail > 0 {
		n = min(n, (avail-512)/(maxMem+384))
	}
	return max(n, 1)
}

func memAvailableMB() int {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return kb / 1024
		}
	}
	return 0
}

func (c *campaignRun) progress(s string) {
	if !c.quiet {
		progress(s)
	}
}

// execute runs the pending runs and returns faultline run's exit status.
func (c *campaignRun) execute(ctx context.Context) int {
	start := time.Now()
	agent, err := agentPath()
	if err != nil {
		return fail(err)
	}
	accel := c.accel
	if accel == "auto" && len(c.pending) > 0 {
		// Probe once, not in every VM at the same time.
		accel = "tcg"
		if _, err := os.Stat("/dev/kvm"); err == nil {
			if qemu, err := harness.ToolQEMU.Find(); err == nil {
				if ok, _ := harness.KVMUsable(ctx, qemu, c.kernels[c.pending[0].Kernel], c.progress); ok {
					accel = "kvm"
				}
			}
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		next     int
		running  int
		counts   = map[string]int{}
		findings bool
		trouble  bool
		storeErr error
	)
	tty := !c.quiet && term.IsTerminal(int(os.Stderr.Fd()))
	status := func() string {
		var parts []string
		for _, v := range results.Verdicts {
			if counts[v] > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", v, counts[v]))
			}
		}
		return fmt.Sprintf("[%d/%d] %s | running %d | %s", c.finished, len(c.plan), strings.Join(parts, ", "), running, time.Since(start).Round(time.Second))
	}
	say := func(s string) {
		if c.quiet {
			return
		}
		if tty {
			fmt.Fprintf(os.Stderr, "\r\033[Kfaultline: %s\n", s)
			fmt.Fprintf(os.Stderr, "faultline: %s", status())
		} else {
			fmt.Fprintln(os.Stderr, "faultline: "+s)
		}
	}
	if tty {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		go func() {
			for {
				select {
				case <-tick.C:
					mu.Lock()
					fmt.Fprintf(os.Stderr, "\r\033[Kfaultline: %s", status())
					mu.Unlock()
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	worker := func() {
		for {
			mu.Lock()
			if next >= len(c.pending) || ctx.Err() != nil {
				mu.Unlock()
				return
			}
			p := c.pending[next]
			next++
			running++
			attempt, err := c.store.NextAttempt(c.camp.ID, p.Index)
			mu.Unlock()
			if err != nil {
				attempt = 1
			}
			k := c.cases[p.Case]
			dir := filepath.Join(c.store.Dir, results.RunDir(p, attempt))
			o := harness.Execute(ctx, k, c.kernels[p.Kernel], p.Seed, harness.ExecOptions{Dir: dir, Agent: agent, Accel: accel})
			console, _ := os.ReadFile(o.Console)
			v := results.Judge(o, console, c.sigs, p.Expect)
			mu.Lock()
			running--
			if o.StorageError != "" && storeErr == nil {
				storeErr = fmt.Errorf("run files not saved in %s: %s", dir, o.StorageError)
			}
			if _, rerr := c.store.Record(c.camp.ID, p, attempt, o, v); rerr != nil && storeErr == nil {
				storeErr = rerr
			}
			if storeErr != nil {
				cancel()
			}
			if o.Fault != harness.FaultInterrupted && o.StorageError == "" {
				c.finished++
				counts[v.Verdict]++
				switch {
				case v.Verdict == results.VerdictInfra || v.Verdict == results.VerdictBoot:
					trouble = true
				case !v.Pass:
					findings = true
				}
			}
			line := fmt.Sprintf("[%d/%d, %s] %s run %d seed %d: %s", c.finished, len(c.plan), time.Since(start).Round(time.Second), p.Case, p.RunNo+1, p.Seed, v.Verdict)
			if v.Title != "" {
				sig := v.Signature
				if sig == "" {
					sig = "new"
				}
				line += fmt.Sprintf(": %s [%s]", v.Title, sig)
			}
			if v.Verdict != results.VerdictClean {
				line += " (" + v.Detail + ")"
			}
			say(fmt.Sprintf("%s, %.0f s", line, o.Wall.Seconds()))
			mu.Unlock()
		}
	}
	n := max(1, min(c.camp.Parallel, len(c.pending)))
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() { defer wg.Done(); worker() }()
	}
	wg.Wait()
	if tty {
		fmt.Fprint(os.Stderr, "\r\033[K")
	}
	interrupted := ctx.Err() != nil && storeErr == nil
	st := "done"
	switch {
	case storeErr != nil:
		st = "failed"
	case interrupted:
		st = "interrupted"
	}
	if err := c.store.SetStatus(c.camp.ID, st, time.Since(start)); err != nil && storeErr == nil {
		storeErr = err
	}
	c.camp.Status = st
	switch {
	case storeErr != nil:
		fmt.Fprintf(os.Stderr, "faultline: campaign stopped: %v\nfaultline: runs recorded before this are intact; free space, then: faultline run --resume %s\n", storeErr, c.store.Dir)
		return exitError
	case interrupted:
		return exitInterrupted
	case findings:
		return 1
	case trouble:
		return exitError
	}
	return exitOK
}

func (c *campaignRun) summary() (*results.Summary, []*results.Run, error) {
	camp, _, plan, err := c.store.Load()
	if err != nil {
		return nil, nil, err
	}
	runs, err := c.store.Runs(camp.ID)
	if err != nil {
		return nil, nil, err
	}
	return results.Summarize(camp, plan, runs), runs, nil
}

func writeJUnit(path, name string, runs []*results.Run) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := results.WriteJUnit(f, name, runs); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeReport writes DIR/report.html and returns its path.
func writeReport(store *results.Store, s *results.Summary, runs []*results.Run) (string, error) {
	crashes, err := store.Crashes()
	if err != nil {
		return "", err
	}
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].Index < runs[j].Index })
	path := filepath.Join(store.Dir, "report.html")
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return "", err
	}
	if err := results.WriteHTML(f, s, runs, crashes); err != nil {
		f.Close()
		os.Remove(tmp)
		return "", err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return "", err
	}
	return path, os.Rename(tmp, path)
}

const reportUsage = `Usage: faultline report [--json] DIR

Writes DIR/report.html for the campaign in DIR (faultline run --out DIR):
runs, crashes grouped by signature with console excerpts, probe and reach
counters, and plots of verdicts over runs and time to first crash. With
--json, prints the summary and runs instead. Prints the summary table.

Example:
  faultline report faultline-out/20261121-101500
`

func cmdReport(_ context.Context, args []string) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, reportUsage); fs.PrintDefaults() }
	jsonOut := fs.Bool("json", false, "print the summary and runs as JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	dir := fs.Arg(0)
	if _, err := os.Stat(filepath.Join(dir, results.StoreFile)); err != nil {
		return fail(fmt.Errorf("%w: %s holds no campaign (no %s)", errUsage, dir, results.StoreFile))
	}
	store, err := results.OpenStore(dir)
	if err != nil {
		return fail(err)
	}
	defer store.Close()
	c := &campaignRun{store: store}
	s, runs, err := c.summary()
	if err != nil {
		return fail(err)
	}
	if *jsonOut {
		b, _ := json.MarshalIndent(map[string]any{"dir": dir, "summary": s, "runs": runs}, "", "  ")
		fmt.Println(string(b))
		return exitOK
	}
	path, err := writeReport(store, s, runs)
	if err != nil {
		return fail(err)
	}
	s.WriteTable(os.Stdout)
	fmt.Fprintln(os.Stderr, "faultline: report: "+path)
	return exitOK
}

// compileOptional compiles a regexp flag; empty means none.
func compileOptional(expr string) (*regexp.Regexp, error) {
	if expr == "" {
		return nil, nil
	}
	return regexp.Compile(expr)
}
