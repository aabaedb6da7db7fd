// Package bisect finds the kernel that introduced (or fixed) a crash in an
// ordered list of kernels, with a stated confidence: a noisy binary search
// (stats.Bisection) whose every step is a small campaign of one scenario
// case on one kernel. Runs that say nothing about the target (boot
// failures, harness trouble, another crash) are recorded and shown, never
// counted as good.
//
// What it bisects is an ordered list of kernel specs: kernels that need no
// build (Debian releases, cached builds), or build specs that are built
// when their step runs: a patch series on a base (SeriesKernels) or the
// commits of a git history (GitKernels).
package bisect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"faultline/campaign"
	"faultline/kernels"
	"faultline/oops"
	"faultline/results"
	"faultline/stats"
	"faultline/verdict"
	"faultline/workloads"
)

// ErrInput is wrapped by errors in the request.
var ErrInput = errors.New("bad bisection request")

// Config is a bisection request.
type Config struct {
	// Engine runs each step's campaign (its Progress is replaced).
	Engine campaign.Config
	// Scenario is the scenario file; Case the case's name (default: the
	// scenario's own case, not a variant).
	Scenario, Case string
	// Kernels are the kernel specs, oldest first.
	Kernels []string
	// Fix looks for the first kernel without the target instead of the
	// first with it.
	Fix bool
	// BadIf is the target: "signature:ID", "title:RE", "integrity" or
	// "hang"; "" takes the first crash seen at the end that has it.
	BadIf string
	// Confidence to stop at (0.95), Budget the most runs in all (80),
	// FalseRate the chance a run without the culprit shows the target.
	Confidence float64
	Budget     int
	FalseRate  float64
	// Out is the directory of the steps' campaigns and the answer.
	Out  string
	Seed int64
	// Progress receives a line per step.
	Progress func(string)
	// Build, if set, builds a point's kernel before its step runs (build
	// specs are not built by the campaign engine). A kernel that does not
	// build (an error wrapping kernels.ErrBuildFailed or kernels.ErrPatch)
	// makes its point untestable: recorded, said, never counted as good.
	Build func(ctx context.Context, spec string) error
	// TextHash, if set, returns the hash of a built kernel's code: a
	// culprit that runs the same code as the kernel before it is flagged.
	TextHash func(ctx context.Context, spec string) (string, error)
	// Duration, if > 0, replaces the case's run duration.
	Duration time.Duration
	// KeepDuration keeps every run at that duration. Otherwise, once the
	// end with the target has shown it at least 3 times and every time
	// within a known time, the runs after it last 1.5 times the slowest
	// of those first crashes (counted from the start of the workload's
	// timed phase, or from the kernel's start when the console does not
	// say when that was), when that is shorter: runs that miss cost the
	// whole duration, and most runs of a bisection miss.
	KeepDuration bool
	// Labels names kernels in the table and the answer (a commit's id and
	// subject for its spec file); kernels without one go by their spec.
	Labels map[string]string
	// Classical bisects by the classical rule instead of the model: binary
	// search, up to 10 runs a step, one run with the target means bad (the
	// step stops there), no end checks; for comparisons.
	Classical bool
}

// Step is one visit: runs of the case on one kernel.
type Step struct {
	N      int    `json:"step"`
	Point  int    `json:"point"`
	Kernel string `json:"kernel"`
	// Runs that answered, Hits among them; Silent runs said nothing about
	// the target (boot failure, infra, another crash).
	Runs, Hits, Silent int
	// Leader and its posterior after the step.
	Leader    string  `json:"leader"`
	Posterior float64 `json:"posterior"`
	Dir       string  `json:"dir"`
	// Note says why a step has no runs (its kernel did not build).
	Note string `json:"note,omitempty"`
}

// Result is a bisection's answer.
type Result struct {
	Target string `json:"target"`
	// Answer is the first kernel with the target (or, with Fix, without
	// it); "" when the bisection is inconclusive or stopped early.
	Answer     string   `json:"answer"`
	Confidence float64  `json:"confidence"`
	Credible   []string `json:"credible_set"`
	// Stopped says why there is no answer, if there is none.
	Stopped string   `json:"stopped,omitempty"`
	Rate    float64  `json:"rate"`
	Steps   []Step   `json:"steps"`
	Runs    int      `json:"runs"`
	Kernels []string `json:"kernels"`
	// Posterior is P(culprit = kernel i) for the model's points.
	Posterior []float64 `json:"posterior"`
	// Untestable lists the kernels that did not build.
	Untestable []string `json:"untestable,omitempty"`
	// Warnings say what weakens the answer (a culprit whose code is the
	// same as its parent's).
	Warnings []string `json:"warnings,omitempty"`
	// Rule is "model" or "classical".
	Rule string `json:"rule"`
	// Labels name the kernels (Config.Labels).
	Labels map[string]string `json:"labels,omitempty"`
	// Builds made (cache hits not counted) and their time; VMTime is the
	// runs' wall time, boots included.
	Builds    int           `json:"builds"`
	BuildTime time.Duration `json:"build_ns"`
	VMTime    time.Duration `json:"vm_ns"`
	// RunDuration is the duration of the runs after the end with the
	// target when it was shortened (Config.KeepDuration), and Slowest the
	// slowest first crash there it was derived from.
	RunDuration time.Duration `json:"run_duration_ns,omitempty"`
	Slowest     time.Duration `json:"slowest_first_crash_ns,omitempty"`
}

// label is how the table names kernel k.
func (r *Result) label(k string) string {
	if l, ok := r.Labels[k]; ok {
		return l
	}
	return k
}

// buildFailure is a point whose kernel does not build.
type buildFailure struct{ err error }

func (e *buildFailure) Error() string { return e.err.Error() }
func (e *buildFailure) Unwrap() error { return e.err }

// target decides whether a run showed what is bisected for, and whether
// it said anything at all.
type target struct {
	kind string // signature, title, integrity, hang
	sig  string
	re   *regexp.Regexp
	text string
}

func parseTarget(s string) (*target, error) {
	kind, arg, _ := strings.Cut(s, ":")
	switch kind {
	case "signature":
		return &target{kind: kind, sig: arg, text: s}, nil
	case "title":
		re, err := regexp.Compile(arg)
		if err != nil {
			return nil, fmt.Errorf("%w: --bad-if %s: %w", ErrInput, s, err)
		}
		return &target{kind: kind, re: re, text: s}, nil
	case "integrity", "hang":
		return &target{kind: kind, text: s}, nil
	}
	return nil, fmt.Errorf("%w: --bad-if %q: want signature:ID, title:RE, integrity or hang", ErrInput, s)
}

// judge returns (hit, answered) for a final run.
func (t *target) judge(r *results.Run) (bool, bool) {
	switch r.Verdict {
	case verdict.Infra, verdict.Boot:
		return false, false
	}
	var hit bool
	switch t.kind {
	case "signature":
		hit = r.Signature == t.sig && t.sig != ""
	case "title":
		hit = r.Title != "" && t.re.MatchString(r.Title)
	case "integrity":
		hit = r.Verdict == verdict.Integrity
	case "hang":
		hit = r.Verdict == verdict.Hang
	}
	if !hit && r.Verdict == verdict.Crash {
		return false, false // another crash says nothing about the target
	}
	return hit, true
}

// fromRun makes the default target from the first crash at the bad end.
func fromRun(r *results.Run) *target {
	switch {
	case r.Signature != "":
		return &target{kind: "signature", sig: r.Signature, text: "signature:" + r.Signature}
	case r.Title != "":
		return &target{kind: "title", re: regexp.MustCompile("^" + regexp.QuoteMeta(r.Title) + "$"), text: "title:" + r.Title}
	case r.Verdict == verdict.Integrity:
		return &target{kind: "integrity", text: "integrity"}
	case r.Verdict == verdict.Hang:
		return &target{kind: "hang", text: "hang"}
	}
	return nil
}

// bisector runs steps.
type bisector struct {
	cfg   Config
	store *results.Store
	id    int64
	pts   []string // the model's points: 0 = without the target .. N = with it
	step  int
	runs  int
	seed  int64
	steps []Step
	// builds and runs so far and their time, for the cost of a visit.
	builds, timedRuns  int
	buildTime, runTime time.Duration
}

// visitCost is what visiting a new point costs beyond its runs, in runs:
// a boot is part of a run, so 1 without builds; with builds, also the
// mean build over the mean run.
func (b *bisector) visitCost() float64 {
	if b.builds == 0 || b.timedRuns == 0 || b.runTime == 0 {
		return 1
	}
	perBuild := b.buildTime.Seconds() / float64(b.builds)
	perRun := b.runTime.Seconds() / float64(b.timedRuns)
	return 1 + perBuild/perRun
}

// run makes m runs of the case on point i's kernel and returns its final
// runs.
func (b *bisector) run(ctx context.Context, i, m int) ([]*results.Run, string, error) {
	b.step++
	name := b.pts[i]
	if strings.HasSuffix(name, ".yaml") { // a build spec file: its name says enough
		name = strings.TrimSuffix(filepath.Base(name), ".yaml")
	}
	dir := filepath.Join(b.cfg.Out, "steps", fmt.Sprintf("%02d-%s", b.step, sanitize(name)))
	if b.cfg.Build != nil {
		start := time.Now()
		err := b.cfg.Build(ctx, b.pts[i])
		if d := time.Since(start); d > 5*time.Second { // a real build, not a cache hit
			b.buildTime += d
			b.builds++
		}
		if err != nil {
			if errors.Is(err, kernels.ErrBuildFailed) || errors.Is(err, kernels.ErrPatch) {
				return nil, dir, &buildFailure{err}
			}
			return nil, dir, fmt.Errorf("build %s: %w", b.pts[i], err)
		}
	}
	eng := b.cfg.Engine
	eng.Progress = nil
	only := regexp.MustCompile("^" + regexp.QuoteMeta(b.cfg.Case) + "$")
	c, err := campaign.Create(eng, campaign.Plan{Scenarios: []string{b.cfg.Scenario}, Out: dir, Seed: b.seed, Runs: m,
		Only: only, Kernel: b.pts[i], Duration: b.cfg.Duration, Argv: []string{"faultline", "bisect", "step", b.pts[i]}})
	if err != nil {
		return nil, dir, err
	}
	defer c.Close()
	b.seed += int64(m)
	res := c.Run(ctx)
	b.runs += m
	for _, r := range res.Runs {
		b.runTime += time.Duration(r.Wall * float64(time.Second))
		b.timedRuns++
	}
	if res.StoreErr != nil {
		return nil, dir, res.StoreErr
	}
	if res.Status == "interrupted" {
		return nil, dir, ctx.Err()
	}
	var final []*results.Run
	for _, r := range res.Runs {
		if r.Final {
			final = append(final, r)
		}
	}
	return final, dir, nil
}

func sanitize(s string) string {
	return strings.NewReplacer("/", "_", ":", "_", "+", "_").Replace(s)
}

// Run bisects. It returns an answer, an inconclusive result with the
// credible set, or a stop (the bad end does not reproduce; the good end
// does) with the figures; errors are for requests it cannot run.
func Run(ctx context.Context, cfg Config) (_ *Result, err error) {
	if len(cfg.Kernels) < 2 {
		return nil, fmt.Errorf("%w: give at least two kernels (oldest first)", ErrInput)
	}
	if cfg.Confidence == 0 {
		cfg.Confidence = 0.95
	}
	if cfg.Budget == 0 {
		cfg.Budget = 80
	}
	if cfg.FalseRate == 0 {
		cfg.FalseRate = 0.01
	}
	if cfg.Engine.Signatures == nil {
		sigs, err := oops.LoadSignatures()
		if err != nil {
			return nil, err
		}
		cfg.Engine.Signatures = sigs
	}
	sc, err := campaign.LoadScenario(cfg.Scenario, cfg.Engine.Signatures.IDs())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInput, err)
	}
	if cfg.Case == "" {
		cfg.Case = sc.Name
	}
	var names []string
	for _, k := range sc.Cases(0) {
		names = append(names, k.Name)
	}
	if !slices.Contains(names, cfg.Case) {
		return nil, fmt.Errorf("%w: %s has no case %q; its cases are %s", ErrInput, cfg.Scenario, cfg.Case, strings.Join(names, ", "))
	}
	var tgt *target
	if cfg.BadIf != "" {
		var err error
		if tgt, err = parseTarget(cfg.BadIf); err != nil {
			return nil, err
		}
	}
	// The model's points run from "without the target" (0) to "with it"
	// (N): oldest first for a regression, newest first for a fix.
	pts := append([]string(nil), cfg.Kernels...)
	if cfg.Fix {
		for i, j := 0, len(pts)-1; i < j; i, j = i+1, j-1 {
			pts[i], pts[j] = pts[j], pts[i]
		}
	}
	b := &bisector{cfg: cfg, pts: pts, seed: cfg.Seed}
	if b.seed == 0 {
		b.seed = 1
	}
	store, err := results.OpenStore(cfg.Out)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	b.store = store
	if b.id, err = store.CreateBisection(map[string]any{"scenario": cfg.Scenario, "case": cfg.Case, "kernels": cfg.Kernels, "fix": cfg.Fix,
		"bad_if": cfg.BadIf, "duration": cfg.Duration.String(), "rule": map[bool]string{false: "model", true: "classical"}[cfg.Classical], "confidence": cfg.Confidence, "budget": cfg.Budget, "seed": cfg.Seed}); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil { // an interrupt or harness trouble: the steps so far stay recorded
			_ = store.FinishBisection(b.id, "failed: "+err.Error(), "", 0, b.steps)
		}
	}()
	res := &Result{Kernels: cfg.Kernels, Labels: cfg.Labels}
	say := func(format string, a ...any) {
		if cfg.Progress != nil {
			cfg.Progress(fmt.Sprintf(format, a...))
		}
	}
	n := len(pts) - 1
	counts := make([]stats.Counts, n+1)
	// observe runs m at point i and adds what they say.
	untestable := map[int]bool{}
	firstCrash := map[int][]float64{} // the hits' first crashes, seconds into their runs (intoRun)
	observe := func(i, m int, bs *stats.Bisection) (stats.Counts, error) {
		runs, dir, err := b.run(ctx, i, m)
		var bf *buildFailure
		if errors.As(err, &bf) {
			untestable[i] = true
			res.Untestable = append(res.Untestable, pts[i])
			if bs != nil {
				bs.Skip(i)
			}
			st := Step{N: b.step, Point: i, Kernel: pts[i], Dir: dir, Note: "does not build: " + firstLine(bf.Error())}
			if bs != nil {
				l, p := bs.Leader()
				st.Leader, st.Posterior = b.answerFor(l), p
			}
			b.steps = append(b.steps, st)
			rec := results.BisectionStep{Step: st.N, Kernel: st.Kernel, Leader: st.Leader, Confidence: st.Posterior, Dir: relDir(cfg.Out, dir), Note: st.Note}
			if err := b.store.AddBisectionStep(b.id, rec); err != nil {
				return stats.Counts{}, err
			}
			say("step %d: %s %s: skipped, no observation", st.N, res.label(pts[i]), st.Note)
			return stats.Counts{}, errUntestable
		}
		if err != nil {
			return stats.Counts{}, err
		}
		var c stats.Counts
		silent := 0
		for _, r := range runs {
			if tgt == nil {
				tgt = fromRun(r)
			}
			if tgt == nil {
				c.Runs++ // clean, before any target is known
				continue
			}
			hit, answered := tgt.judge(r)
			if !answered {
				silent++
				continue
			}
			c.Runs++
			if hit {
				c.Hits++
				firstCrash[i] = append(firstCrash[i], intoRun(r))
			}
		}
		st := Step{N: b.step, Point: i, Kernel: pts[i], Runs: c.Runs, Hits: c.Hits, Silent: silent, Dir: dir}
		if bs != nil {
			bs.Add(i, c)
			l, p := bs.Leader()
			st.Leader, st.Posterior = b.answerFor(l), p
		}
		counts[i].Runs += c.Runs
		counts[i].Hits += c.Hits
		b.steps = append(b.steps, st)
		rec := results.BisectionStep{Step: st.N, Kernel: st.Kernel, Runs: st.Runs, Hits: st.Hits, Silent: st.Silent,
			Leader: st.Leader, Confidence: st.Posterior, Dir: relDir(cfg.Out, dir)}
		if bs != nil {
			rec.Posterior = bs.Posterior()[1:]
		}
		if err := b.store.AddBisectionStep(b.id, rec); err != nil {
			return c, err
		}
		lead := ""
		if st.Leader != "" {
			lead = fmt.Sprintf("; leader %s at %.2f", res.label(st.Leader), st.Posterior)
		}
		say("step %d: %s: %d of %d runs show it (%d silent), %d runs so far%s", st.N, res.label(pts[i]), c.Hits, c.Runs, silent, b.runs, lead)
		return c, nil
	}
	finish := func(bs *stats.Bisection, stopped string) *Result {
		defer b.record(res)
		res.Steps, res.Runs, res.Stopped = b.steps, b.runs, stopped
		res.Builds, res.BuildTime, res.VMTime = b.builds, b.buildTime, b.runTime
		if tgt != nil {
			res.Target = tgt.text
		}
		if bs != nil {
			res.Posterior = bs.Posterior()
			res.Rate = bs.Rate()
			for _, c := range bs.CredibleSet(cfg.Confidence) {
				res.Credible = append(res.Credible, b.answerFor(c))
			}
		}
		return res
	}
	res.Rule = "model"
	if cfg.Classical {
		res.Rule = "classical"
		return b.classical(observe, finish, res)
	}
	// The end with the target first: until 5 hits or 10 runs.
	var bad stats.Counts
	for tried := 0; bad.Hits < 5 && bad.Runs < 10 && tried < 20 && b.runs < cfg.Budget; {
		m := min(10-bad.Runs, 5)
		c, err := observe(n, m, nil)
		if errors.Is(err, errUntestable) {
			return finish(nil, fmt.Sprintf("%s, the end that should show the target, does not build: nothing to bisect", pts[n])), nil
		}
		if err != nil {
			return nil, err
		}
		tried += m
		bad.Runs += c.Runs
		bad.Hits += c.Hits
	}
	if bad.Hits == 0 {
		return finish(nil, fmt.Sprintf("%s does not show the target in %d runs: nothing to bisect", pts[n], bad.Runs)), nil
	}
	if !cfg.KeepDuration {
		full := cfg.Duration
		if full == 0 {
			full = caseDuration(sc, cfg.Case)
		}
		if d, slowest := shorterRuns(firstCrash[n], full); d > 0 {
			b.cfg.Duration, res.RunDuration, res.Slowest = d, d, slowest
			say("runs from here last %s instead of %s: 1.5 x the slowest of %d first crashes at %s (%.1f s into its run); --keep-duration keeps %s",
				d, full, len(firstCrash[n]), res.label(pts[n]), slowest.Seconds(), full)
		}
	}
	// The other end must not show it (a few runs).
	good, err := observe(0, 3, nil)
	if errors.Is(err, errUntestable) {
		return finish(nil, fmt.Sprintf("%s, the end that should not show the target, does not build", pts[0])), nil
	}
	if err != nil {
		return nil, err
	}
	if good.Hits > 0 {
		return finish(nil, fmt.Sprintf("%s shows the target too (%d of %d runs): the range does not hold the change", pts[0], good.Hits, good.Runs)), nil
	}
	bs := stats.NewBisection(n, bad, cfg.FalseRate)
	bs.Add(0, good)
	for b.runs < cfg.Budget {
		lead, p := bs.Leader()
		if p >= cfg.Confidence && !untestable[lead] {
			// Verify: the culprit shows the target at least 3 times.
			if counts[lead].Hits >= 3 {
				res.Answer, res.Confidence = b.answerFor(lead), p
				b.checkCode(ctx, lead, res)
				return finish(bs, ""), nil
			}
			if _, err := observe(lead, 3-counts[lead].Hits, bs); err != nil && !errors.Is(err, errUntestable) {
				return nil, err
			}
			continue
		}
		point, m := bs.Next(b.visitCost(), 8)
		if point < 0 {
			break
		}
		if _, err := observe(point, min(m, cfg.Budget-b.runs), bs); err != nil && !errors.Is(err, errUntestable) {
			return nil, err
		}
	}
	_, p := bs.Leader()
	res.Confidence = p
	why := fmt.Sprintf("after %d runs (budget)", b.runs)
	if b.runs < cfg.Budget {
		why = fmt.Sprintf("after %d runs: the kernels that would decide do not build (%s)", b.runs, strings.Join(res.Untestable, ", "))
	}
	return finish(bs, fmt.Sprintf("inconclusive %s: the %.0f%% credible set holds %d kernels", why, 100*cfg.Confidence, len(bs.CredibleSet(cfg.Confidence)))), nil
}

// intoRun is how far into its run r's first crash came: seconds after the
// workload's timed phase began when the console says when that was (0 for
// a crash before it), else seconds after the kernel started (a longer
// time: the boot and the setup are in it); -1 when the crash has no time.
func intoRun(r *results.Run) float64 {
	switch {
	case r.FirstCrash < 0:
		return -1
	case r.TimedStart >= 0:
		return max(r.FirstCrash-r.TimedStart, 0)
	}
	return r.FirstCrash
}

// caseDuration is the run duration of the scenario's case, 0 for a case
// that is not timed (a command, or a workload that runs to its end).
func caseDuration(sc *campaign.Scenario, name string) time.Duration {
	for _, k := range sc.Cases(0) {
		if k.Name == name && k.Command == "" && workloads.Known[k.Workload].Timed {
			return k.Duration
		}
	}
	return 0
}

// shorterRuns returns the duration for the runs after the end with the
// target, from its hits' first crashes (seconds into their runs, intoRun):
// 1.5 x the slowest, in whole seconds and at least 10 s, when there are at
// least 3, all known, and that is shorter than full; else 0.
func shorterRuns(first []float64, full time.Duration) (d, slowest time.Duration) {
	if len(first) < 3 || full <= 0 {
		return 0, 0
	}
	worst := 0.0
	for _, t := range first {
		if t < 0 { // a crash without a timestamp: no bound
			return 0, 0
		}
		worst = max(worst, t)
	}
	slowest = time.Duration(worst * float64(time.Second))
	d = max(time.Duration(math.Ceil(1.5*worst))*time.Second, 10*time.Second)
	if d >= full {
		return 0, 0
	}
	return d, slowest
}

// errUntestable is what observe returns for a point whose kernel does not
// build (the step is recorded).
var errUntestable = errors.New("kernel does not build")

// classical bisects by the classical rule: binary search between the ends
// as given (not checked), up to 10 runs a step, the first run that shows
// the target makes the step bad. A step whose kernel does not build moves
// to the next buildable point towards the good end (git bisect skip), or
// gives up. The confidence reported is what the model makes of the same
// runs (with the runs at the bad end it did not make, it has no rate: the
// model is given the culprit's hits as the bad end's).
func (b *bisector) classical(observe func(int, int, *stats.Bisection) (stats.Counts, error),
	finish func(*stats.Bisection, string) *Result, res *Result) (*Result, error) {
	n := len(b.pts) - 1
	lo, hi := 0, n
	seen := make([]stats.Counts, n+1)
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		var c stats.Counts
		var err error
		for mid > lo {
			c = stats.Counts{}
			for tries := 0; c.Runs < 10 && c.Hits == 0 && tries < 20; tries++ {
				var got stats.Counts
				if got, err = observe(mid, 1, nil); err != nil {
					break
				}
				c.Runs += got.Runs
				c.Hits += got.Hits
			}
			if !errors.Is(err, errUntestable) {
				break
			}
			mid--
		}
		if err != nil && !errors.Is(err, errUntestable) {
			return nil, err
		}
		if mid == lo {
			return finish(nil, fmt.Sprintf("the kernels between %s and %s do not build", b.pts[lo], b.pts[hi])), nil
		}
		seen[mid] = c
		if c.Hits > 0 {
			hi = mid
		} else {
			lo = mid
		}
	}
	res.Answer = b.answerFor(hi)
	// What the model makes of the classical rule's runs.
	bs := stats.NewBisection(n, seen[hi], b.cfg.FalseRate)
	for i, c := range seen {
		if i != hi {
			bs.Add(i, c)
		}
	}
	res.Confidence = bs.Posterior()[hi]
	return finish(bs, ""), nil
}

// checkCode flags a culprit whose kernel runs the same code as the kernel
// just before it: the change cannot be what the runs saw.
func (b *bisector) checkCode(ctx context.Context, c int, res *Result) {
	if b.cfg.TextHash == nil {
		return
	}
	h1, err1 := b.cfg.TextHash(ctx, b.pts[c])
	h0, err0 := b.cfg.TextHash(ctx, b.pts[c-1])
	if err := errors.Join(err0, err1); err != nil {
		res.Warnings = append(res.Warnings, "could not compare the culprit's code with the kernel before it: "+firstLine(err.Error()))
		return
	}
	if h0 == h1 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%s and %s run the same code (identical .text): the change between them is not in the built kernel, so the answer is likely wrong (a flaky reproduction or an unlucky run of the kernel before)",
			b.pts[c], b.pts[c-1]))
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// answerFor names the kernel a culprit point stands for: itself for a
// regression; for a fix, the point before it in the model (the next newer
// kernel), the first without the target.
func (b *bisector) answerFor(c int) string {
	if b.cfg.Fix {
		return b.pts[c-1]
	}
	return b.pts[c]
}

// WriteTable writes the steps, the target and the answer (or why there is
// none).
func (r *Result) WriteTable(w io.Writer, fix bool) {
	fmt.Fprintf(w, "%-5s %-52s %5s %5s %7s  %s\n", "step", "kernel", "runs", "shown", "silent", "leader after it (confidence)")
	for _, s := range r.Steps {
		k := r.label(s.Kernel)
		if len(k) > 52 {
			k = k[:49] + "..."
		}
		if s.Note != "" {
			fmt.Fprintf(w, "%-5d %-52s %s\n", s.N, k, s.Note)
			continue
		}
		fmt.Fprintf(w, "%-5d %-52s %5d %5d %7d  %s (%.2f)\n", s.N, k, s.Runs, s.Hits, s.Silent, r.label(s.Leader), s.Posterior)
	}
	fmt.Fprintf(w, "target %s, rate %.2f, %d runs (%s rule); VM time %s, %d builds in %s\n", r.Target, r.Rate, r.Runs, r.Rule,
		r.VMTime.Round(time.Second), r.Builds, r.BuildTime.Round(time.Second))
	if r.RunDuration > 0 {
		fmt.Fprintf(w, "runs after the end with the target lasted %s (its slowest first crash: %.1f s)\n", r.RunDuration, r.Slowest.Seconds())
	}
	if len(r.Untestable) > 0 {
		var ls []string
		for _, k := range r.Untestable {
			ls = append(ls, r.label(k))
		}
		fmt.Fprintf(w, "did not build (no observation): %s\n", strings.Join(ls, ", "))
	}
	if r.Answer == "" {
		var ls []string
		for _, k := range r.Credible {
			ls = append(ls, r.label(k))
		}
		fmt.Fprintf(w, "no answer: %s; credible set: %s\n", r.Stopped, strings.Join(ls, ", "))
		return
	}
	what := "first kernel with it"
	if fix {
		what = "first kernel without it"
	}
	fmt.Fprintf(w, "%s: %s (confidence %.3f)\n", what, r.label(r.Answer), r.Confidence)
	for _, x := range r.Warnings {
		fmt.Fprintf(w, "warning: %s\n", x)
	}
}

func relDir(base, dir string) string {
	if r, err := filepath.Rel(base, dir); err == nil {
		return r
	}
	return dir
}

// record stores the result and writes OUT/report.html: the answer and the
// posterior over the candidates step by step.
func (b *bisector) record(res *Result) {
	status := "done"
	switch {
	case res.Answer == "" && strings.HasPrefix(res.Stopped, "inconclusive"):
		status = "inconclusive"
	case res.Answer == "":
		status = "stopped"
	}
	if err := b.store.FinishBisection(b.id, status, res.Answer, res.Confidence, res); err != nil {
		b.say("%v", err)
		return
	}
	all, err := b.store.Bisections()
	if err != nil || len(all) == 0 {
		return
	}
	var names []string
	for c := 1; c < len(b.pts); c++ {
		names = append(names, res.label(b.answerFor(c)))
	}
	what := "first kernel with"
	if b.cfg.Fix {
		what = "first kernel without"
	}
	title := fmt.Sprintf("faultline bisect: %s %s (%s, %s rule)", what, res.Target, b.cfg.Case, res.Rule)
	f, err := os.Create(filepath.Join(b.cfg.Out, "report.html"))
	if err != nil {
		b.say("%v", err)
		return
	}
	defer f.Close()
	if err := results.WriteBisectionHTML(f, title, names, all[len(all)-1]); err != nil {
		b.say("%v", err)
	}
}

func (b *bisector) say(format string, a ...any) {
	if b.cfg.Progress != nil {
		b.cfg.Progress(fmt.Sprintf(format, a...))
	}
}
