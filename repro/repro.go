// Package repro reproduces a bug report on demand: it reads the report
// (crashes, stacks, the functions its prose names), runs a shipped scenario
// when the crash has a known signature that one reproduces, and otherwise
// derives plans from the report itself: workloads and file systems whose
// reach covers the report's functions (a calibration run with count probes
// on every named function), then delays on the reached functions and, where
// the report says a trylock lost, trylock failures, searched by successive
// halving under a time budget. It stops when the target shows 3 times (at
// least 15% of a plan's runs, as syz-repro asks) and writes the winning
// plan as a scenario that faultline run reruns.
package repro

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"faultline/campaign"
	"faultline/kernels"
	"faultline/oops"
	"faultline/probes"
	"faultline/results"
	"faultline/verdict"
	"faultline/workloads"
)

// ErrNoCrash is returned for a text with no crash in it and no data
// corruption described: nothing says what to reproduce.
var ErrNoCrash = errors.New("the report holds no crash and describes no data corruption")

// ErrInput is wrapped by errors in the request.
var ErrInput = errors.New("bad repro request")

// Config is a repro request.
type Config struct {
	// Report is the report read.
	Report *Report
	// Kernel is the kernel spec to reproduce on.
	Kernel string
	// NoKnown skips the shipped scenarios even when one reproduces the
	// report's signature.
	NoKnown bool
	// Known are scenario files a known signature may be reproduced by.
	Known []string
	// Budget bounds the whole search (default 30 minutes).
	Budget time.Duration
	// Out is the directory of every run, the plans and the answer.
	Out string
	// Engine runs the campaigns.
	Engine   campaign.Config
	Seed     int64
	Progress func(string)
	// Calibrate is each calibration run's length (default 20 s), Trial
	// each plan run's (default 30 s).
	Calibrate, Trial time.Duration
	// Text is the kernel's code, for delays inside functions; nil: read
	// from the kernel's bzImage and System.map.
	Text *kernels.Text
}

// Plan is one way to run: a workload on a file system, with injections.
type Plan struct {
	Name     string   `json:"name"`
	FS       string   `json:"fs"`
	Mount    []string `json:"mount,omitempty"`
	Workload string   `json:"workload"`
	// Params are the workload's flags (a named setting of it), if any.
	Params map[string]string `json:"params,omitempty"`
	Inject []string          `json:"inject,omitempty"`
	// Why says which window the injections widen.
	Why string `json:"why"`
	// Runs, Hits (the target) and Reach (report functions hit) so far.
	Runs  int `json:"runs"`
	Hits  int `json:"hits"`
	Reach int `json:"reach"`
	// Words are the words of its workload's description the report uses
	// ("readahead", "reclaim"): a workload the report describes is tried
	// first.
	Words []string `json:"words,omitempty"`
	// Duration is the plan's run length (0: the search's trial length).
	Duration time.Duration `json:"duration_ns,omitempty"`
	// FirstCrash is the seconds to the first target crash in a run.
	FirstCrash []float64 `json:"first_crash_s,omitempty"`
	// Failed says why the plan could not run (a probe that does not
	// attach, a hook the kernel lacks).
	Failed string `json:"failed,omitempty"`
	// shorter is the same plan with shorter runs, for a plan that went on
	// with longer ones.
	shorter *Plan
}

// Result is the answer.
type Result struct {
	Target string `json:"target"`
	// Known is the shipped scenario run, when the known path was taken.
	Known string `json:"known,omitempty"`
	// Reproduced says the target showed at least 3 times in one plan's
	// runs, at a rate of at least 15%.
	Reproduced bool `json:"reproduced"`
	// Best is the plan that reproduced it, or the most promising one.
	Best *Plan `json:"best,omitempty"`
	// Scenario is the scenario file written for Best.
	Scenario string `json:"scenario,omitempty"`
	// Reach is each report function's hits per run in calibration (the
	// best workload's).
	Reach map[string]float64 `json:"reach,omitempty"`
	// Tried is every plan, in the order tried.
	Tried   []*Plan       `json:"tried"`
	Runs    int           `json:"runs"`
	Elapsed time.Duration `json:"elapsed_ns"`
	// Stopped says why there is no reproducer, if there is none.
	Stopped string `json:"stopped,omitempty"`
	// Notes say what the search could not try, and why.
	Notes []string `json:"notes,omitempty"`
}

// Rate is the best plan's reproduction rate.
func (r *Result) Rate() float64 {
	if r.Best == nil || r.Best.Runs == 0 {
		return 0
	}
	return float64(r.Best.Hits) / float64(r.Best.Runs)
}

// target decides whether a run shows the report's crash.
type target struct {
	sig   string
	title *regexp.Regexp
	text  string
	// corruption: the report describes corrupted or lost data, no crash.
	corruption bool
}

// corruptTitleRE are the titles of a file system's own reports of bad
// data (btrfs's and ext4's checksum failures), as the classifier names
// them.
var corruptTitleRE = regexp.MustCompile(`(?i)csum failed|checksum|\bcrc\b|corrupt`)

func newTarget(r *Report) (*target, error) {
	if len(r.Crashes) == 0 {
		if r.Corruption {
			return &target{corruption: true, text: "integrity"}, nil
		}
		return nil, ErrNoCrash
	}
	if r.Signature != "" {
		return &target{sig: r.Signature, text: "signature:" + r.Signature}, nil
	}
	// Without a signature: the title's kind and frame, any kernel.
	return &target{title: regexp.MustCompile("^" + regexp.QuoteMeta(r.Title) + "$"), text: "title:" + r.Title}, nil
}

func (t *target) hit(r *results.Run) bool {
	if t.corruption {
		// The workload's own data check failed, or the file system
		// reported bad data.
		return r.Verdict == verdict.Integrity || (r.Title != "" && corruptTitleRE.MatchString(r.Title))
	}
	if t.sig != "" {
		return r.Signature == t.sig
	}
	return r.Title != "" && t.title.MatchString(r.Title)
}

type searcher struct {
	cfg      Config
	tgt      *target
	res      *Result
	deadline time.Time
	store    *results.Store
	id       int64
	// campaigns counts the campaigns run (their directories' numbers).
	campaigns int
	// hooks: the kernel has faultline's trylock hooks (or it is not
	// known that it has not).
	hooks bool
	// text is the kernel's code, for delays inside functions (nil when it
	// cannot be read: no System.map, as in Debian's packages).
	text *kernels.Text
}

// KernelError says the kernel lacks a config option the plans need.
type KernelError struct {
	Kernel, Option, Why string
}

func (e *KernelError) Error() string {
	return fmt.Sprintf("kernel %s has no %s: %s; use a kernel with it (Debian's cloud kernels and 6.1-harness have it)", e.Kernel, e.Option, e.Why)
}

// Unwrap makes a KernelError a bad request.
func (e *KernelError) Unwrap() error { return ErrInput }

// checkKernel refuses a kernel whose config lacks what every plan needs
// (count probes and delays are BPF programs on kprobes), and notes when
// it lacks faultline's trylock hooks (no trylock plans then). A kernel
// whose config or symbols are not known is let through: its runs say.
func (s *searcher) checkKernel() error {
	resolve := s.cfg.Engine.Kernels
	if resolve == nil { // the campaign engine's default
		resolve = func(spec string, progress func(string)) (*kernels.Kernel, error) {
			store, err := kernels.NewStore()
			if err != nil {
				return nil, err
			}
			return store.Resolve(spec, true, progress)
		}
	}
	k, err := resolve(s.cfg.Kernel, s.cfg.Progress)
	if err != nil {
		return fmt.Errorf("kernel %s: %w", s.cfg.Kernel, err)
	}
	opts, err := k.ConfigOptions()
	if err != nil {
		return err
	}
	if len(opts) > 0 {
		for _, o := range []struct{ opt, why string }{
			{"CONFIG_KPROBES", "repro counts and delays calls with kprobes"},
			{"CONFIG_BPF_SYSCALL", "its probes are BPF programs"},
			{"CONFIG_BPF_EVENTS", "its probes are BPF programs attached to kprobes"},
		} {
			if opts[o.opt] != "y" {
				return &KernelError{Kernel: s.cfg.Kernel, Option: o.opt, Why: o.why}
			}
		}
	}
	if k.SystemMap == "" {
		return nil
	}
	b, err := os.ReadFile(k.SystemMap)
	if err != nil {
		return nil
	}
	syms := kernels.ParseSystemMap(b)
	s.matchSymbols(syms)
	if s.text == nil {
		if t, err := kernels.ReadText(k, syms); err == nil {
			s.text = t
		} else {
			s.say("no delays inside functions: %v", err)
		}
	}
	if s.cfg.Report.Trylock && (!syms.Has(probes.TrylockHook) || opts["CONFIG_BPF_KPROBE_OVERRIDE"] != "y") {
		s.hooks = false
		note := fmt.Sprintf("the report says a trylock lost, but %s has no faultline trylock hooks (%s and CONFIG_BPF_KPROBE_OVERRIDE: kernels built with kernels/patches/faultline-hooks.patch, such as 6.1-harness and its mutants): no trylock plans", s.cfg.Kernel, probes.TrylockHook)
		s.res.Notes = append(s.res.Notes, note)
		s.say("%s", note)
	}
	return nil
}

func (s *searcher) say(format string, a ...any) {
	if s.cfg.Progress != nil {
		s.cfg.Progress(fmt.Sprintf(format, a...))
	}
}

// Run reproduces the report.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	tgt, err := newTarget(cfg.Report)
	if err != nil {
		return nil, err
	}
	if cfg.Kernel == "" {
		return nil, fmt.Errorf("%w: no --kernel, and the report names no kernel release faultline knows", ErrInput)
	}
	if cfg.Budget == 0 {
		cfg.Budget = 30 * time.Minute
	}
	if cfg.Calibrate == 0 {
		cfg.Calibrate = 20 * time.Second
	}
	if cfg.Trial == 0 {
		cfg.Trial = 30 * time.Second
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, err
	}
	start := time.Now()
	s := &searcher{cfg: cfg, tgt: tgt, res: &Result{Target: tgt.text}, deadline: start.Add(cfg.Budget), hooks: true, text: cfg.Text}
	if err := s.checkKernel(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithDeadline(ctx, s.deadline)
	defer cancel()
	store, err := results.OpenStore(cfg.Out)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	s.store = store
	if s.id, err = store.CreateRepro(map[string]any{"title": cfg.Report.Title, "signature": cfg.Report.Signature, "target": tgt.text,
		"kernel": cfg.Kernel, "no_known": cfg.NoKnown, "budget": cfg.Budget.String(), "seed": cfg.Seed}); err != nil {
		return nil, err
	}
	res, err := s.search(ctx)
	s.res.Elapsed = time.Since(start)
	s.record(err)
	return res, err
}

// search takes the known path or derives plans.
func (s *searcher) search(ctx context.Context) (*Result, error) {
	if !s.cfg.NoKnown && s.tgt.sig != "" {
		if file, name := s.knownScenario(); file != "" {
			return s.runKnown(ctx, file, name)
		}
		s.say("no shipped scenario reproduces %s: deriving plans from the report", s.tgt.sig)
	}
	return s.derive(ctx)
}

// record stores the search's end (or the error that ended it: the trials
// so far stay) and writes OUT/repro.json and OUT/report.html.
func (s *searcher) record(runErr error) {
	status := "not reproduced"
	switch {
	case strings.HasPrefix(s.res.Stopped, "interrupted"):
		status = "interrupted"
	case runErr != nil:
		status = "failed: " + firstLine(runErr.Error())
		if s.res.Stopped == "" {
			s.res.Stopped = status
		}
	case s.res.Reproduced:
		status = "reproduced"
	}
	_ = s.store.FinishRepro(s.id, status, s.res)
	if b, err := json.MarshalIndent(s.res, "", "  "); err == nil {
		_ = os.WriteFile(filepath.Join(s.cfg.Out, "repro.json"), append(b, '\n'), 0o644)
	}
	all, err := s.store.Repros()
	if err != nil || len(all) == 0 {
		return
	}
	answer := "Not reproduced: " + s.res.Stopped + "."
	if s.res.Reproduced {
		answer = fmt.Sprintf("Reproduced %s with plan %s: %d of %d runs.", s.res.Target, s.res.Best.Name, s.res.Best.Hits, s.res.Best.Runs)
	}
	if s.res.Scenario != "" {
		answer += " Scenario: " + s.res.Scenario + "."
	}
	f, err := os.Create(filepath.Join(s.cfg.Out, "report.html"))
	if err != nil {
		return
	}
	defer f.Close()
	_ = results.WriteReproHTML(f, "faultline repro: "+s.res.Target+" on "+s.cfg.Kernel, answer, all[len(all)-1])
}

// knownScenario returns a shipped scenario and its case that expect the
// target signature: a case written for the kernel asked for if there is
// one (a mutant's plan is not a stock kernel's), else the first.
func (s *searcher) knownScenario() (file, name string) {
	for _, f := range s.cfg.Known {
		sc, err := campaign.LoadScenario(f, s.cfg.Engine.Signatures.IDs())
		if err != nil {
			continue
		}
		for _, k := range sc.Cases(0) {
			if k.Expect != s.tgt.sig {
				continue
			}
			if k.Kernel == s.cfg.Kernel {
				return f, k.Name
			}
			if file == "" {
				file, name = f, k.Name
			}
		}
	}
	return file, name
}

// runKnown runs the shipped case on the kernel until 3 hits or 10 runs.
func (s *searcher) runKnown(ctx context.Context, file, name string) (*Result, error) {
	s.res.Known = file
	s.say("%s is a known bug: running case %s of the shipped scenario %s on %s", s.tgt.sig, name, file, s.cfg.Kernel)
	p := &Plan{Name: name, Why: "the shipped scenario for " + s.tgt.sig}
	s.res.Tried = append(s.res.Tried, p)
	for p.Runs < 10 && p.Hits < 3 && ctx.Err() == nil {
		if err := s.runFile(ctx, p, file, min(3, 10-p.Runs), "^"+regexp.QuoteMeta(name)+"$", nil); err != nil {
			return nil, err
		}
	}
	if !s.done(p) {
		s.res.Stopped = fmt.Sprintf("the shipped case showed the target in %d of %d runs before the budget (%s) or 10 runs ran out", p.Hits, p.Runs, s.cfg.Budget)
	}
	return s.finish(p, file), nil
}

// derive searches plans built from the report.
func (s *searcher) derive(ctx context.Context) (*Result, error) {
	rep := s.cfg.Report
	fns := rep.Functions
	if len(fns) > 24 {
		fns = fns[:24]
	}
	// Calibration: every workload that fits the report's file system, no
	// injection, count probes on every named function.
	var cands []*Plan
	for _, name := range workloadNames() {
		info := workloads.Known[name]
		if !info.Timed {
			continue // a workload that ends on its own does not race
		}
		for _, fs := range []string{"ext4", "btrfs"} {
			if (info.FS != "" && info.FS != fs) || (rep.FS != "" && rep.FS != fs) {
				continue
			}
			// The workload as it comes, then each named setting of it.
			settings := append([]workloads.Setting{{}}, info.Settings...)
			for _, st := range settings {
				c := &Plan{Name: fmt.Sprintf("%s-%s", name, fs), FS: fs, Workload: name, Params: st.Params, Words: rep.Says(info.Words),
					Why: "no injection: the workload alone, to see what it reaches"}
				if st.Name != "" {
					c.Name = fmt.Sprintf("%s-%s-%s", name, st.Name, fs)
					c.Why = fmt.Sprintf("no injection: the workload alone in its %s setting (%s), to see what it reaches", st.Name, st.Doc)
				}
				if info.MountExample != "" {
					c.Mount = []string{info.MountExample}
				}
				cands = append(cands, c)
			}
		}
	}
	if len(cands) == 0 {
		return nil, fmt.Errorf("%w: no workload runs on %s", ErrInput, rep.FS)
	}
	s.say("calibrating %d workloads with count probes on %d functions of the report", len(cands), len(fns))
	reach := map[*Plan]map[string]float64{}
	for _, c := range cands {
		if ctx.Err() != nil {
			break
		}
		r, err := s.trial(ctx, c, counts(fns), 1, s.cfg.Calibrate)
		if err != nil {
			return nil, err
		}
		reach[c] = r
		s.say("  %s: reaches %d of %d functions, %d of %d runs show the target%s", c.Name, c.Reach, len(fns), c.Hits, c.Runs, saysWords(c.Words))
		if s.done(c) {
			return s.finish(c, ""), nil
		}
	}
	sort.SliceStable(cands, func(i, j int) bool { return score(cands[i]) > score(cands[j]) })
	best := cands[0]
	s.res.Reach = reach[best]
	if best.Reach == 0 && best.Hits == 0 {
		s.res.Stopped = "no workload reaches any function the report names"
		return s.finish(best, ""), nil
	}
	// Plans on the two best workloads: the workload alone, then a delay at
	// each reached function (the most reached first), then trylock
	// failures if the report says a trylock lost.
	var plans []*Plan
	var perWorkload [][]*Plan
	for _, c := range cands[:min(2, len(cands))] {
		if c.Reach == 0 && c.Hits == 0 {
			continue
		}
		// In the order they run in the first round: the workload alone,
		// what the report describes all at once, the trylock, the
		// atomic sites, entry delays, both sides, trylocks anywhere.
		var entry, sided, sites, global []*Plan
		for _, fn := range byReach(reach[c], 6) {
			for _, d := range []string{"1ms-3ms", "5ms-10ms"} {
				entry = append(entry, c.with(fmt.Sprintf("delay-%s-%s", fn, d),
					fmt.Sprintf("a %s delay at the entry of %s (reached %.0f times a run in calibration) holds the task that gets there in the window before it runs, so that another task's step can land inside it", d, fn, reach[c][fn]),
					fmt.Sprintf("delay:%s:%s@0.5,budget=900ms", fn, d)))
			}
		}
		// Both sides: hold the crashing task's most reached function
		// only while another task is inside the other side's, and the
		// other way round.
		mine, theirs := sides(rep, reach[c])
		if mine != "" && theirs != "" {
			for _, pr := range [][2]string{{mine, theirs}, {theirs, mine}} {
				sided = append(sided, c.with(fmt.Sprintf("delay-%s-while-%s", pr[0], pr[1]),
					fmt.Sprintf("a 5ms-10ms delay at the entry of %s only while another task is inside %s: the window needs both sides at once (%s is on the crashing task's side, %s on the other's), and the delay holds one side while the other is there", pr[0], pr[1], mine, theirs),
					fmt.Sprintf("delay:%s:5ms-10ms,while=%s,budget=900ms", pr[0], pr[1])))
			}
			sided = append(sided, c.with(fmt.Sprintf("hold-%s-until-in-%s", mine, theirs),
				fmt.Sprintf("the crashing task's side held at the entry of %s, half the time, until another task is inside %s (at most 10 ms): the other side gets there first, the order the crash needs if it must come late", mine, theirs),
				fmt.Sprintf("delay:%s:10ms@0.5,until-in=%s,budget=900ms", mine, theirs)))
		}
		atomic := s.atomicPlans(c, reach[c], rep)
		var combos []*Plan
		if rep.Trylock && s.hooks {
			// A hook site inside a function the report names and the
			// workload reaches: that trylock, half the time.
			names := make([]string, 0, len(probes.TrylockSiteFunctions))
			for site := range probes.TrylockSiteFunctions {
				names = append(names, site)
			}
			sort.Strings(names)
			for _, site := range names {
				fn := probes.TrylockSiteFunctions[site]
				if reach[c][fn] == 0 {
					continue
				}
				sites = append(sites, c.with(fmt.Sprintf("fail-trylock-%s", site),
					fmt.Sprintf("the page trylock in %s (named by the report, reached %.0f times a run) fails half the time, as the report says a trylock lost: that task gives up its attempt while another's is in flight", fn, reach[c][fn]),
					fmt.Sprintf("fail-trylock:%s@0.5", site)))
				// All the report describes at once: that trylock lost,
				// the other side held before its atomic act, and a
				// task held on its way to the trylock, so that it gets
				// there after the other side acted.
				for _, a := range atomic {
					combos = append(combos, c.with(fmt.Sprintf("fail-trylock-%s+%s+delay-%s", site, strings.TrimPrefix(a.Name, c.Name+"+"), fn),
						fmt.Sprintf("the report's race at once: the page trylock in %s fails half the time (the report says one lost); %s; and a 5ms-10ms delay at the entry of %s, half the time, so that a task on its way to that trylock gets there after the other side acted",
							fn, a.Why, fn),
						fmt.Sprintf("fail-trylock:%s@0.5", site), a.Inject[0], fmt.Sprintf("delay:%s:5ms-10ms@0.5,budget=900ms", fn)))
				}
			}
			global = append(global, c.with("fail-trylock",
				"page trylocks fail a fifth of the time, as the report says one lost: the loser takes its slow path while the winner's work is in flight",
				"fail-trylock:global@0.2"))
		}
		own := []*Plan{c}
		for _, l := range [][]*Plan{combos, sites, atomic, entry, sided, global} {
			own = append(own, l...)
		}
		perWorkload = append(perWorkload, own)
	}
	// The workloads take turns, so that a budget spent early has tried
	// the best plans of each.
	for k := 0; ; k++ {
		added := false
		for _, l := range perWorkload {
			if k < len(l) {
				plans = append(plans, l[k])
				added = true
			}
		}
		if !added {
			break
		}
	}
	// Successive halving: every plan once, then the better half twice as
	// often, and so on; a plan with the target 3 times ends it.
	runs := 1
	for round := 1; len(plans) > 0 && ctx.Err() == nil; round++ {
		s.say("round %d: %d plans, %d runs each", round, len(plans), runs)
		var longer []*Plan
		for _, p := range plans {
			if ctx.Err() != nil {
				break
			}
			if p.Failed != "" {
				continue
			}
			if _, err := s.trial(ctx, p, counts(fns), runs, s.dur(p)); err != nil {
				return nil, err
			}
			// A plan that shows the target is run again at once, until
			// it has 3 or stops showing it: a hit is worth more than
			// the rest of the round. One that shows it in fewer than 30%
			// of its runs goes on with runs twice as long (up to 4 x the
			// trial): a race that needs time shows more often in longer
			// runs, and 3 shows in 10 runs need about that rate.
			for q := p; q != nil && ctx.Err() == nil; {
				// (a longer variant gets 3 runs before a miss ends it)
				for (q.Hits > 0 || (q != p && q.Runs < 3)) && !s.done(q) && q.Runs < 10 && (q.Hits == 0 || float64(q.Hits) >= 0.3*float64(q.Runs+1)) && ctx.Err() == nil {
					if _, err := s.trial(ctx, q, counts(fns), 1, s.dur(q)); err != nil {
						return nil, err
					}
				}
				if s.done(q) {
					return s.finish(q, ""), nil
				}
				if q.Hits == 0 || s.dur(q) >= 4*s.cfg.Trial {
					break
				}
				d := 2 * s.dur(q)
				next := p.with(d.String(), fmt.Sprintf("%s; in runs of %s, twice as long: it showed the target in %d of %d runs of %s, too rarely for 3 in 10", p.Why, d, q.Hits, q.Runs, s.dur(q)), q.Inject...)
				next.Duration, next.shorter = d, q
				s.say("    %s showed it in %d of %d runs of %s: again with runs of %s", q.Name, q.Hits, q.Runs, s.dur(q), d)
				if _, err := s.trial(ctx, next, counts(fns), 1, d); err != nil {
					return nil, err
				}
				longer = append(longer, next)
				q = next
			}
		}
		plans = append(plans, longer...)
		var alive []*Plan
		for _, p := range plans {
			if p.Failed == "" {
				alive = append(alive, p)
			}
		}
		sort.SliceStable(alive, func(i, j int) bool { return score(alive[i]) > score(alive[j]) })
		plans = alive[:max(1, len(alive)/2)]
		if len(alive) == 1 && alive[0].Runs >= 10 {
			break
		}
		runs *= 2
	}
	if s.res.Stopped == "" {
		switch {
		case errors.Is(ctx.Err(), context.Canceled):
			s.res.Stopped = "interrupted before 3 shows of the target in one plan"
		case ctx.Err() != nil:
			s.res.Stopped = fmt.Sprintf("budget spent (%s) without 3 shows of the target in one plan", s.cfg.Budget)
		default:
			s.res.Stopped = "every plan dropped out before the budget was spent: the last one left ran 10 times without 3 shows of the target"
		}
	}
	sort.SliceStable(s.res.Tried, func(i, j int) bool { return score(s.res.Tried[i]) > score(s.res.Tried[j]) })
	return s.finish(s.res.Tried[0], ""), nil
}

// atomicPlans are delays placed just before the locked read-modify-write
// instructions (atomicSites) of the other side's functions the workload
// reaches (not on the crash's stack), the most reached first: at most
// maxAtomicSites plans. Each is
// pinned to its instruction's bytes (insn=), so it cannot probe the wrong
// place of another build.
func (s *searcher) atomicPlans(c *Plan, reach map[string]float64, rep *Report) []*Plan {
	if s.text == nil {
		return nil
	}
	var out []*Plan
	for _, fn := range byReach(reach, len(reach)) {
		if len(out) >= maxAtomicSites {
			break
		}
		if slices.Contains(rep.Stack, fn) || syscallLayerRE.MatchString(fn) || reach[fn] == 0 {
			continue // the crashing task's own side, or every task's
		}
		addr, code, err := s.text.Func(fn)
		if err != nil {
			continue
		}
		sites := atomicSites(code, addr)
		for _, a := range sites[:min(2, len(sites), maxAtomicSites-len(out))] {
			out = append(out, c.with(fmt.Sprintf("delay-%s-%s", strings.ReplaceAll(a.at(fn), "+", "-"), "3ms-5ms"),
				fmt.Sprintf("a 3ms-5ms delay in %s (the other side's, reached %.0f times a run) just before `%s`, half the time: between what that task checked and its atomic act on it, the window a check-then-act race needs another task to land in", fn, reach[fn], a.Asm),
				fmt.Sprintf("delay:%s:3ms-5ms@0.5,budget=900ms,insn=%s", a.at(fn), a.Insn)))
		}
	}
	return out
}

// with is a plan on c's workload (its file system, mount options and
// flags) named c's name + "+" + name, with injections inject.
func (c *Plan) with(name, why string, inject ...string) *Plan {
	return &Plan{Name: c.Name + "+" + name, FS: c.FS, Mount: c.Mount, Workload: c.Workload, Params: c.Params, Words: c.Words, Inject: inject, Why: why}
}

// dur is plan p's run length.
func (s *searcher) dur(p *Plan) time.Duration {
	if p.Duration > 0 {
		return p.Duration
	}
	return s.cfg.Trial
}

// done says a plan reproduces: the target 3 times, in at least 15% of its
// runs, counting the runs of the same plan with shorter runs (a shorter
// run that shows the target would have shown it in a longer one; one that
// did not counts as a miss, so the rate pooled is not higher than the
// longer runs' own).
func (s *searcher) done(p *Plan) bool {
	h, r := pooled(p)
	return h >= 3 && float64(h) >= 0.15*float64(r)
}

// pooled returns plan p's shows and runs with those of its shorter runs.
func pooled(p *Plan) (hits, runs int) {
	for q := p; q != nil; q = q.shorter {
		hits += q.Hits
		runs += q.Runs
	}
	return hits, runs
}

// score orders plans: the target's rate first, then reach, each word of
// the workload's description the report uses counting as much as three
// functions reached (what the report says the system was doing is worth
// more than a few functions that any workload reaches).
func score(p *Plan) float64 {
	if p.Runs == 0 {
		return 0
	}
	return 1000*float64(p.Hits)/float64(p.Runs) + float64(p.Reach) + 3*float64(len(p.Words))
}

// saysWords is ", the report says W1, W2" for a calibration line.
func saysWords(w []string) string {
	if len(w) == 0 {
		return ""
	}
	return "; the report says " + strings.Join(w, ", ")
}

// sides returns one function for each side of the race, the most
// reached of it: when the report lays the race out in columns, the
// crashing task's column (the one holding most of its stack, else the
// first) and another; else the crash's own stack and the report's other
// functions. "" for a side none of whose functions the workload reaches.
// The system call layer (vfs_*, ksys_*, the sys_ wrappers) is every
// task's: it marks no side.
func sides(rep *Report, reach map[string]float64) (mine, theirs string) {
	ours := func(fn string) bool { return slices.Contains(rep.Stack, fn) }
	onASide := func(string) bool { return true } // which functions belong to a side at all
	if len(rep.Sides) >= 2 {
		col, best := 0, 0
		for k, side := range rep.Sides {
			n := 0
			for _, fn := range side {
				if ours(fn) {
					n++
				}
			}
			if n > best {
				col, best = k, n
			}
		}
		ours = func(fn string) bool { return slices.Contains(rep.Sides[col], fn) }
		inColumns := func(fn string) bool {
			for _, side := range rep.Sides {
				if slices.Contains(side, fn) {
					return true
				}
			}
			return false
		}
		onASide = inColumns
	}
	for _, fn := range byReach(reach, len(reach)) {
		switch {
		case syscallLayerRE.MatchString(fn) || !onASide(fn):
		case ours(fn):
			if mine == "" {
				mine = fn
			}
		case theirs == "":
			theirs = fn
		}
	}
	return mine, theirs
}

// matchSymbols matches the report's functions with the kernel's (its
// System.map): a name one letter off a single kernel function is read as
// that function (prose misspells), and a name the kernel does not have
// (renamed or gone since the report's kernel) is left out, both said.
func (s *searcher) matchSymbols(kernelSyms *kernels.Symbols) {
	syms := map[string]bool{}
	byLen := map[int][]string{}
	for _, full := range kernelSyms.Names() {
		name, _, _ := strings.Cut(full, ".") // foo.isra.0, foo.cold
		if !syms[name] {
			syms[name] = true
			byLen[len(name)] = append(byLen[len(name)], name)
		}
	}
	if len(syms) == 0 {
		return
	}
	rep := s.cfg.Report
	fix := map[string]string{}
	var gone, fixed []string
	for _, fn := range rep.Functions {
		if syms[fn] {
			continue
		}
		var near []string
		for l := len(fn) - 1; l <= len(fn)+1; l++ {
			for _, c := range byLen[l] {
				if oneEdit(fn, c) {
					near = append(near, c)
				}
			}
		}
		if len(near) == 1 && !slices.Contains(rep.Functions, near[0]) {
			fix[fn] = near[0]
			fixed = append(fixed, fn+" as "+near[0])
		} else {
			fix[fn] = ""
			gone = append(gone, fn)
		}
	}
	mapNames := func(fns []string) []string {
		var out []string
		for _, fn := range fns {
			if to, ok := fix[fn]; ok {
				fn = to
			}
			if fn != "" {
				out = append(out, fn)
			}
		}
		return out
	}
	rep.Functions, rep.Stack = mapNames(rep.Functions), mapNames(rep.Stack)
	// The prose's other identifiers that are the kernel's functions.
	var named []string
	for _, n := range rep.names {
		if syms[n] && !slices.Contains(rep.Functions, n) && !oops.Generic(n) && !plumbingRE.MatchString(n) {
			rep.Functions = append(rep.Functions, n)
			named = append(named, n)
		}
	}
	if len(named) > 0 {
		s.say("read from the prose as %s's functions: %s", s.cfg.Kernel, strings.Join(named, ", "))
	}
	if len(fixed) > 0 {
		s.say("read %s (one letter off: the kernel has no such function)", strings.Join(fixed, ", "))
	}
	if len(gone) > 0 {
		note := fmt.Sprintf("%s has no function named %s (renamed or gone since the report's kernel): not probed", s.cfg.Kernel, strings.Join(gone, ", "))
		s.res.Notes = append(s.res.Notes, note)
		s.say("%s", note)
	}
}

// oneEdit says a and b differ by one letter changed, added or dropped.
func oneEdit(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	switch len(b) - len(a) {
	case 0:
		d := 0
		for i := range a {
			if a[i] != b[i] {
				if d++; d > 1 {
					return false
				}
			}
		}
		return d == 1
	case 1:
		i := 0
		for i < len(a) && a[i] == b[i] {
			i++
		}
		return a[i:] == b[i+1:]
	}
	return false
}

var syscallLayerRE = regexp.MustCompile(`^(?:vfs_|ksys_|__x64_sys_|__ia32_sys_|__se_sys_|__do_sys_|do_sys_)`)

func counts(fns []string) []string {
	var out []string
	for _, fn := range fns {
		out = append(out, "count:"+fn+",optional")
	}
	return out
}

// byReach returns the n most reached functions.
func byReach(reach map[string]float64, n int) []string {
	var fns []string
	for fn, h := range reach {
		if h > 0 {
			fns = append(fns, fn)
		}
	}
	sort.Slice(fns, func(i, j int) bool {
		if reach[fns[i]] != reach[fns[j]] {
			return reach[fns[i]] > reach[fns[j]]
		}
		return fns[i] < fns[j]
	})
	return fns[:min(n, len(fns))]
}

func workloadNames() []string {
	var names []string
	for n := range workloads.Known {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// scenarioYAML is a plan as a scenario file.
type scenarioYAML struct {
	Name        string         `yaml:"name"`
	Description string         `yaml:"description"`
	Kernel      string         `yaml:"kernel"`
	VM          map[string]any `yaml:"vm"`
	FS          map[string]any `yaml:"fs"`
	Workload    map[string]any `yaml:"workload"`
	Inject      []string       `yaml:"inject,omitempty"`
	Duration    string         `yaml:"duration"`
	Runs        int            `yaml:"runs"`
	Expect      string         `yaml:"expect"`
}

// write writes p as a scenario file.
func (s *searcher) write(p *Plan, path string, probes []string, d time.Duration, runs int) error {
	sc := scenarioYAML{Name: sanitize(p.Name), Description: "faultline repro: " + p.Why, Kernel: s.cfg.Kernel,
		VM: map[string]any{"cpus": 2, "memory": "1G", "disk": "4G"}, FS: map[string]any{"type": p.FS},
		Workload: map[string]any{"name": p.Workload}, Inject: append(append([]string{}, p.Inject...), probes...),
		Duration: d.String(), Runs: runs, Expect: campaign.ExpectClean}
	if len(p.Mount) > 0 {
		sc.FS["mount"] = p.Mount
	}
	if len(p.Params) > 0 {
		sc.Workload["params"] = p.Params
	}
	if s.tgt.sig != "" {
		sc.Expect = s.tgt.sig
	}
	b, err := yaml.Marshal(&sc)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// trial runs plan p m times with the probes and returns each probe's hits
// per run.
func (s *searcher) trial(ctx context.Context, p *Plan, probes []string, m int, d time.Duration) (map[string]float64, error) {
	if p.Runs == 0 {
		s.res.Tried = append(s.res.Tried, p)
	}
	// The plan file is numbered as the campaign that runs it.
	file := filepath.Join(s.cfg.Out, "plans", fmt.Sprintf("%03d-%s.yaml", s.campaigns+1, sanitize(p.Name)))
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return nil, err
	}
	if err := s.write(p, file, probes, d, m); err != nil {
		return nil, err
	}
	reach := map[string]float64{}
	err := s.runFile(ctx, p, file, m, "", func(r *results.Run) {
		for _, c := range r.Counters {
			if !strings.HasPrefix(c.Name, "count:") || !c.Attached {
				continue
			}
			fn, _, _ := strings.Cut(strings.TrimPrefix(c.Name, "count:"), ",")
			reach[fn] += float64(c.Hits) / float64(m)
		}
		n := 0
		for _, h := range reach {
			if h > 0 {
				n++
			}
		}
		p.Reach = max(p.Reach, n)
	})
	return reach, err
}

// runFile runs m runs of the scenario file (its cases matching only, all if
// "") and adds what they show to p; each(r) sees every final run.
func (s *searcher) runFile(ctx context.Context, p *Plan, file string, m int, only string, each func(*results.Run)) error {
	var re *regexp.Regexp
	if only != "" {
		re = regexp.MustCompile(only)
	}
	s.campaigns++
	dir := filepath.Join(s.cfg.Out, "runs", fmt.Sprintf("%03d-%s", s.campaigns, sanitize(p.Name)))
	eng := s.cfg.Engine
	eng.Progress = nil
	c, err := campaign.Create(eng, campaign.Plan{Scenarios: []string{file}, Out: dir, Seed: s.cfg.Seed + int64(s.res.Runs),
		Runs: m, Only: re, Kernel: s.cfg.Kernel, Argv: []string{"faultline", "repro", p.Name}})
	if errors.Is(err, campaign.ErrInput) || errors.Is(err, campaign.ErrBadScenario) {
		p.Failed = firstLine(err.Error()) // this plan cannot run; the others can
		s.say("    %s: cannot run: %s", p.Name, p.Failed)
		return nil
	}
	if err != nil {
		return err
	}
	defer c.Close()
	res := c.Run(ctx)
	if res.StoreErr != nil {
		return res.StoreErr
	}
	runs0, hits0 := p.Runs, p.Hits
	defer func() {
		rel, _ := filepath.Rel(s.cfg.Out, dir)
		_ = s.store.AddReproTrial(s.id, results.ReproTrial{N: s.campaigns, Plan: p.Name, Workload: p.Workload, FS: p.FS, Inject: p.Inject,
			Runs: p.Runs - runs0, Hits: p.Hits - hits0, Reach: p.Reach, Dir: rel, Why: p.Why})
	}()
	for _, r := range res.Runs {
		if !r.Final {
			continue
		}
		s.res.Runs++
		if r.Verdict == verdict.Infra || r.Verdict == verdict.Boot {
			if p.Runs == 0 && strings.Contains(r.Detail, "inject") {
				p.Failed = firstLine(r.Detail)
			}
			continue
		}
		p.Runs++
		if s.tgt.hit(r) {
			p.Hits++
			p.FirstCrash = append(p.FirstCrash, r.FirstCrash)
		}
		if each != nil {
			each(r)
		}
	}
	s.say("    %s: %d of %d runs show %s", p.Name, p.Hits, p.Runs, s.tgt.text)
	return nil
}

// finish writes the answer's scenario (the plan with its count probes, 10
// runs) and fills in the result.
func (s *searcher) finish(p *Plan, known string) *Result {
	s.res.Best = p
	s.res.Reproduced = s.done(p)
	if p.shorter != nil {
		var parts []string
		for q := p; q != nil; q = q.shorter {
			parts = append([]string{fmt.Sprintf("%d of %d in runs of %s", q.Hits, q.Runs, s.dur(q))}, parts...)
		}
		h, r := pooled(p)
		s.res.Notes = append(s.res.Notes, fmt.Sprintf("the best plan's shows counted with its shorter runs: %d of %d runs (%s); the scenario uses the longest", h, r, strings.Join(parts, ", ")))
	}
	if known != "" {
		s.res.Scenario = known
		return s.res
	}
	path := filepath.Join(s.cfg.Out, "repro.yaml")
	var probes []string
	for fn := range s.res.Reach {
		probes = append(probes, "count:"+fn+",optional")
	}
	sort.Strings(probes)
	if err := s.write(p, path, probes, s.dur(p), 10); err == nil {
		s.res.Scenario = path
	}
	return s.res
}

// MedianFirstCrash is the median seconds to the target in the best plan's
// runs that showed it, or NaN.
func (r *Result) MedianFirstCrash() float64 {
	if r.Best == nil || len(r.Best.FirstCrash) == 0 {
		return math.NaN()
	}
	xs := append([]float64(nil), r.Best.FirstCrash...)
	sort.Float64s(xs)
	return xs[len(xs)/2]
}

func sanitize(s string) string {
	s = regexp.MustCompile(`[^a-z0-9._-]+`).ReplaceAllString(strings.ToLower(s), "-")
	if len(s) > 60 {
		s = s[:60]
	}
	return strings.Trim(s, "-")
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
