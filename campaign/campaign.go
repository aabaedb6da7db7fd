// Package campaign is the engine under every faultline job: scenario files
// and their cases, the plan (cases x runs, a seed per run), the scheduler
// (at most N runs at once, retries of harness trouble, resume after an
// interrupt), judging each outcome into a verdict and writing the store.
// Runs go through an Executor: Local boots VMs from a harness.Pool on this
// machine; tests hand it fake instances; a distributed executor plugs in
// beside it. It prints nothing: progress goes to a callback, the result
// comes back as a value.
package campaign

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"faultline/kernels"
	"faultline/oops"
	"faultline/results"
	"faultline/verdict"
)

// ErrInput is wrapped by every error that is the user's input's fault (a
// scenario, a directory, a filter): faultline exits 2 for it.
var ErrInput = errors.New("bad input")

// Config is what a campaign runs with, new or resumed.
type Config struct {
	// Executor runs the runs.
	Executor Executor
	// Signatures are the known signatures (nil: the built-in ones).
	Signatures *oops.Signatures
	// Kernels resolves a kernel spec, fetching what it must (nil: the
	// kernel store, which downloads Debian packages).
	Kernels func(spec string, progress func(string)) (*kernels.Kernel, error)
	// Parallel is the number of runs at once (0: one per host core per
	// vCPU, within memory; on resume, the campaign's own).
	Parallel int
	// Retries is how often a run judged infra-error is run again (each
	// attempt is recorded; the last one counts).
	Retries int
	// Progress receives progress events (nil: none).
	Progress func(Event)
}

// Plan says what a new campaign runs.
type Plan struct {
	// Scenarios are scenario files or directories of *.yaml files.
	Scenarios []string
	// Out is the campaign's directory (default faultline-out/DATE-TIME).
	Out string
	// Seed is the campaign seed; run i gets Seed+i (0: random).
	Seed int64
	// Runs, if > 0, overrides every case's runs.
	Runs int
	// Only and Skip filter the cases by name (nil: no filter).
	Only, Skip *regexp.Regexp
	// Kernel, if set, replaces every case's kernel (a bisection step).
	Kernel string
	// Duration, if > 0, replaces every timed case's duration (its timeout
	// follows: twice the duration plus 3 minutes).
	Duration time.Duration
	// Argv is the command line, recorded with the campaign.
	Argv []string
}

// Event is a progress report.
type Event struct {
	// Line is what happened, in a line.
	Line string
	// Run is the run that just finished (nil for other events).
	Run *RunResult
	// Status is the campaign's state after it.
	Status Status
}

// RunResult is one finished attempt of a planned run.
type RunResult struct {
	Planned results.PlannedRun
	Attempt int
	Outcome *verdict.Outcome
	Verdict *verdict.Verdict
	// Retry says the attempt is not final: it will be run again.
	Retry bool
}

// Status is a campaign's progress.
type Status struct {
	Finished, Planned, Running int
	// Verdicts counts the final verdicts so far.
	Verdicts map[string]int
	Elapsed  time.Duration
}

// String is a status line: "[3/8] clean 2, crash 1 | running 1 | 40s".
func (s Status) String() string {
	var parts []string
	for _, v := range verdict.All {
		if s.Verdicts[v] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", v, s.Verdicts[v]))
		}
	}
	return fmt.Sprintf("[%d/%d] %s | running %d | %s", s.Finished, s.Planned, strings.Join(parts, ", "), s.Running, s.Elapsed.Round(time.Second))
}

// Campaign is a campaign ready to run: its store, its plan and what is
// left of it.
type Campaign struct {
	cfg Config
	// Store is the campaign's store; Close closes it.
	Store *results.Store
	// Info is the campaign's record.
	Info    *results.Campaign
	plan    []results.PlannedRun
	cases   map[string]*Case
	kernels map[string]*kernels.Kernel
	pending []results.PlannedRun

	mu     sync.Mutex
	status Status
	start  time.Time
}

// Result is what a campaign run ends with.
type Result struct {
	Dir string
	// Status is done, interrupted or failed (the store could not be
	// written).
	Status  string
	Summary *results.Summary
	Runs    []*results.Run
	// Findings: some run did not meet its expectation. Trouble: some run
	// ended in harness trouble (infra-error, boot-failure).
	Findings, Trouble bool
	// StoreErr is why the campaign failed, if it did.
	StoreErr error
}

// ExitCode is faultline run's exit status for the result.
func (r *Result) ExitCode() int {
	switch {
	case r.StoreErr != nil:
		return verdict.ExitError
	case r.Status == "interrupted":
		return verdict.ExitInterrupted
	case r.Findings:
		return verdict.ExitFinding
	case r.Trouble:
		return verdict.ExitError
	}
	return verdict.ExitOK
}

func (cfg *Config) defaults() error {
	if cfg.Executor == nil {
		return errors.New("campaign: no executor")
	}
	if cfg.Signatures == nil {
		s, err := oops.LoadSignatures()
		if err != nil {
			return err
		}
		cfg.Signatures = s
	}
	if cfg.Kernels == nil {
		cfg.Kernels = func(spec string, progress func(string)) (*kernels.Kernel, error) {
			store, err := kernels.NewStore()
			if err != nil {
				return nil, err
			}
			return store.Resolve(spec, true, progress)
		}
	}
	return nil
}

// scenarioFiles expands directories into their *.yaml files.
func scenarioFiles(args []string) ([]string, error) {
	var files []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("%w: scenario %s: %w", ErrInput, a, err)
		}
		if !st.IsDir() {
			files = append(files, a)
			continue
		}
		m, _ := filepath.Glob(filepath.Join(a, "*.yaml"))
		if len(m) == 0 {
			return nil, fmt.Errorf("%w: no *.yaml scenario in %s", ErrInput, a)
		}
		files = append(files, m...)
	}
	return files, nil
}

// Create plans a new campaign and records it in a new store; nothing runs
// until Run. Every kernel is resolved first: an unknown or unbuilt kernel
// is an error now, not a failed run later.
func Create(cfg Config, p Plan) (*Campaign, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	files, err := scenarioFiles(p.Scenarios)
	if err != nil {
		return nil, err
	}
	c := &Campaign{cfg: cfg, cases: map[string]*Case{}}
	var texts []results.ScenarioText
	var cases []*Case
	for _, f := range files {
		s, err := LoadScenario(f, cfg.Signatures.IDs())
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInput, err)
		}
		for _, t := range texts {
			if t.Name == s.Name {
				return nil, fmt.Errorf("%w: scenario name %q used by %s and %s", ErrInput, s.Name, t.Path, f)
			}
		}
		abs, _ := filepath.Abs(f)
		texts = append(texts, results.ScenarioText{Name: s.Name, Path: abs, Hash: s.Hash, Source: s.Source})
		for _, k := range s.Cases(p.Runs) {
			if (p.Only != nil && !p.Only.MatchString(k.Name)) || (p.Skip != nil && p.Skip.MatchString(k.Name)) {
				continue
			}
			if p.Kernel != "" {
				k.Kernel = p.Kernel
			}
			if p.Duration > 0 && k.Duration > 0 {
				k.Duration, k.Timeout = p.Duration, 2*p.Duration+3*time.Minute
			}
			cases = append(cases, k)
			c.cases[k.Name] = k
		}
	}
	if len(cases) == 0 {
		return nil, fmt.Errorf("%w: no case to run: --only / --skip leave none of the scenarios' cases", ErrInput)
	}
	seed := p.Seed
	if seed == 0 {
		seed = rand.Int64N(1<<31) + 1
	}
	for _, k := range cases {
		var dur time.Duration // recorded only where the plan replaced it
		if p.Duration > 0 {
			dur = k.Duration
		}
		for r := 0; r < k.Runs; r++ {
			i := len(c.plan)
			c.plan = append(c.plan, results.PlannedRun{Index: i, Case: k.Name, Scenario: k.Scenario.Name, Kernel: k.Kernel,
				RunNo: r, Seed: seed + int64(i), Expect: k.Expect, Duration: dur})
		}
	}
	if err := c.resolveKernels(c.plan); err != nil {
		return nil, err
	}
	out := p.Out
	if out == "" {
		out = filepath.Join("faultline-out", time.Now().Format("20060102-150405"))
	}
	if out, err = filepath.Abs(out); err != nil {
		return nil, err
	}
	if c.Store, err = results.OpenStore(out); err != nil {
		return nil, err
	}
	parallel := cfg.Parallel
	if parallel <= 0 {
		parallel = parallelFor(cases)
	}
	c.Info = &results.Campaign{Seed: seed, Parallel: parallel, Argv: p.Argv}
	if err := c.Store.Create(c.Info, texts, c.plan); err != nil {
		c.Store.Close()
		return nil, err
	}
	c.pending = c.plan
	c.status = Status{Planned: len(c.plan), Verdicts: map[string]int{}}
	c.emit(fmt.Sprintf("campaign in %s: %d runs of %d cases, seed %d, %d at once", out, len(c.plan), len(cases), seed, parallel), nil)
	return c, nil
}

// Resume opens the campaign in dir and plans the runs it has not finished.
func Resume(cfg Config, dir string) (*Campaign, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	c := &Campaign{cfg: cfg, cases: map[string]*Case{}}
	if c.Store, err = results.OpenExisting(abs); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInput, err)
	}
	fail := func(err error) (*Campaign, error) {
		c.Store.Close()
		return nil, err
	}
	var texts []results.ScenarioText
	c.Info, texts, c.plan, err = c.Store.Load()
	if err != nil {
		return fail(err)
	}
	runsOf := map[string]int{}
	durationOf := map[string]time.Duration{}
	for _, p := range c.plan {
		runsOf[p.Case]++
		durationOf[p.Case] = p.Duration
	}
	for _, t := range texts {
		s, err := ParseScenario(t.Path, t.Source, cfg.Signatures.IDs())
		if err != nil {
			return fail(fmt.Errorf("stored scenario %s no longer valid: %w", t.Name, err))
		}
		for _, k := range s.Cases(0) {
			k.Runs = runsOf[k.Name]
			if d := durationOf[k.Name]; d > 0 && k.Duration > 0 {
				k.Duration, k.Timeout = d, 2*d+3*time.Minute
			}
			c.cases[k.Name] = k
		}
	}
	done, err := c.Store.Finished(c.Info.ID)
	if err != nil {
		return fail(err)
	}
	for _, p := range c.plan {
		if !done[p.Index] {
			c.pending = append(c.pending, p)
		}
	}
	if err := c.resolveKernels(c.pending); err != nil {
		return fail(err)
	}
	if cfg.Parallel > 0 {
		c.Info.Parallel = cfg.Parallel
	}
	c.status = Status{Planned: len(c.plan), Finished: len(done), Verdicts: map[string]int{}}
	c.emit(fmt.Sprintf("resuming campaign in %s: %d of %d runs left, seed %d", abs, len(c.pending), len(c.plan), c.Info.Seed), nil)
	return c, nil
}

// Close closes the campaign's store.
func (c *Campaign) Close() error { return c.Store.Close() }

// Status returns the campaign's progress now.
func (c *Campaign) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.snapshot()
}

func (c *Campaign) snapshot() Status {
	s := c.status
	s.Verdicts = make(map[string]int, len(c.status.Verdicts))
	for k, v := range c.status.Verdicts {
		s.Verdicts[k] = v
	}
	if !c.start.IsZero() {
		s.Elapsed = time.Since(c.start)
	}
	return s
}

// emit sends a progress event; the caller holds c.mu or runs alone.
func (c *Campaign) emit(line string, r *RunResult) {
	if c.cfg.Progress != nil {
		c.cfg.Progress(Event{Line: line, Run: r, Status: c.snapshot()})
	}
}

// resolveKernels resolves every kernel the runs need before any starts.
func (c *Campaign) resolveKernels(plan []results.PlannedRun) error {
	c.kernels = map[string]*kernels.Kernel{}
	for _, p := range plan {
		if c.kernels[p.Kernel] != nil {
			continue
		}
		k, err := c.cfg.Kernels(p.Kernel, func(s string) { c.emit(s, nil) })
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
func parallelFor(cases []*Case) int {
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

// Run runs the pending runs, at most Parallel at once, each recorded as it
// finishes, and returns the result. Cancelling ctx stops it: runs under
// way end as interrupted (not final: Resume runs them again) and the
// result's status is interrupted. A store that cannot be written stops it
// too (status failed): every run recorded before is intact.
func (c *Campaign) Run(ctx context.Context) *Result {
	c.mu.Lock()
	c.start = time.Now()
	c.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next              int
		findings, trouble bool
		storeErr          error
	)
	// take hands out the next pending run; an attempt to retry goes first.
	var retries []results.PlannedRun
	take := func() (results.PlannedRun, bool) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if ctx.Err() != nil {
			return results.PlannedRun{}, false
		}
		var p results.PlannedRun
		switch {
		case len(retries) > 0:
			p, retries = retries[0], retries[1:]
		case next < len(c.pending):
			p = c.pending[next]
			next++
		default:
			return p, false
		}
		c.status.Running++
		return p, true
	}
	tries := map[int]int{}
	worker := func() {
		for {
			p, ok := take()
			if !ok {
				return
			}
			c.mu.Lock()
			attempt, err := c.Store.NextAttempt(c.Info.ID, p.Index)
			c.mu.Unlock()
			if err != nil {
				attempt = 1
			}
			dir := filepath.Join(c.Store.Dir, results.RunDir(p, attempt))
			id := fmt.Sprintf("c%d-r%d-a%d", c.Info.Created.UnixNano(), p.Index+1, attempt)
			o := c.cfg.Executor.Execute(ctx, Job{Case: c.cases[p.Case], Kernel: c.kernels[p.Kernel], Seed: p.Seed, Dir: dir, ID: id})
			console, _ := os.ReadFile(o.Console)
			v := verdict.Judge(o, console, c.cfg.Signatures, p.Expect)
			c.mu.Lock()
			c.status.Running--
			final := o.Fault != verdict.FaultInterrupted && o.StorageError == ""
			retry := final && v.Verdict == verdict.Infra && tries[p.Index] < c.cfg.Retries && ctx.Err() == nil
			if retry {
				tries[p.Index]++
				retries = append(retries, p)
			}
			if o.StorageError != "" && storeErr == nil {
				storeErr = fmt.Errorf("run files not saved in %s: %s", dir, o.StorageError)
			}
			if _, rerr := c.Store.Record(c.Info.ID, p, attempt, o, v, retry); rerr != nil && storeErr == nil {
				storeErr = rerr
			}
			if storeErr != nil {
				cancel()
			}
			if final && !retry {
				c.status.Finished++
				c.status.Verdicts[v.Verdict]++
				switch {
				case v.Verdict == verdict.Infra || v.Verdict == verdict.Boot:
					trouble = true
				case !v.Pass:
					findings = true
				}
			}
			c.emit(runLine(c.snapshot(), p, o, v, retry), &RunResult{Planned: p, Attempt: attempt, Outcome: o, Verdict: v, Retry: retry})
			c.mu.Unlock()
		}
	}
	n := max(1, min(c.Info.Parallel, len(c.pending)))
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() { defer wg.Done(); worker() }()
	}
	wg.Wait()
	elapsed := time.Since(c.start)
	res := &Result{Dir: c.Store.Dir, Status: "done", Findings: findings, Trouble: trouble}
	interrupted := ctx.Err() != nil && storeErr == nil
	switch {
	case storeErr != nil:
		res.Status = "failed"
	case interrupted:
		res.Status = "interrupted"
	}
	if err := c.Store.SetStatus(c.Info.ID, res.Status, elapsed); err != nil && storeErr == nil {
		storeErr = err
	}
	c.Info.Status = res.Status
	res.StoreErr = storeErr
	var err error
	if res.Summary, res.Runs, err = c.Store.Summary(); err != nil && res.StoreErr == nil {
		res.StoreErr = err
	}
	return res
}

// runLine is a finished run's progress line: where the campaign stands,
// the case, run and seed, the verdict with title and signature, the time
// to first crash (guest time) and the run's wall time.
func runLine(st Status, p results.PlannedRun, o *verdict.Outcome, v *verdict.Verdict, retry bool) string {
	line := fmt.Sprintf("[%d/%d, %s] run %d (%s #%d) seed %d: %s", st.Finished, st.Planned, st.Elapsed.Round(time.Second), p.Index+1, p.Case, p.RunNo+1, p.Seed, v.Verdict)
	if v.Title != "" {
		sig := v.Signature
		if sig == "" {
			sig = oops.NewSignature
		}
		line += fmt.Sprintf(": %s [%s]", v.Title, sig)
	}
	if v.Verdict != verdict.Clean {
		line += " (" + v.Detail + ")"
	}
	if v.FirstCrash >= 0 {
		line += fmt.Sprintf(", first crash at %.1f s", v.FirstCrash)
	}
	line += fmt.Sprintf(", wall %.0f s", o.Wall.Seconds())
	if retry {
		line += "; harness trouble: running it again"
	}
	return line
}
