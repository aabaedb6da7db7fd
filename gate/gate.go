// Package gate answers, for a patch series on a base kernel, whether the
// series brings a crash, a hang or lost data that the base does not have:
// it applies the series in the persistent build tree, builds the patched
// kernel, chooses the scenario cases the touched files can affect, runs them
// on both kernels with the same seeds, and compares per case and signature
// with Fisher's exact test (stats).
package gate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"faultline/campaign"
	"faultline/kernels"
	"faultline/results"
	"faultline/series"
	"faultline/stats"
)

// ErrInput is wrapped by errors in the request.
var ErrInput = errors.New("bad gate request")

// Gate statuses.
const (
	StatusPass        = "pass"         // no case regressed; the base ran clean
	StatusRegression  = "regression"   // some case has a NEW signature
	StatusApplyFailed = "apply failed" // a patch does not apply: nothing built
	StatusBuildFailed = "build failed" // the patched kernel does not build
	StatusCannotJudge = "cannot judge" // the base fails the cases, or harness trouble
	StatusNotCovered  = "not covered"  // no scenario case exercises the touched files
)

// DefaultRuns is the runs per case and kernel when none are given: enough
// to see, at 95%, a crash that reproduces in 30% of runs.
var DefaultRuns = stats.RunsToSee(0.3, 0.95)

// Config is a gate request.
type Config struct {
	// Engine runs the campaigns (its Progress is replaced).
	Engine campaign.Config
	// Builder builds the kernels (a *kernels.Builder).
	Builder KernelBuilder
	// Base is the base build spec (shipped name or file); Series the
	// series argument (LoadSeries).
	Base, Series string
	// Scenarios are files or directories; Explicit says the user named them
	// (every case is then chosen).
	Scenarios []string
	Explicit  bool
	// Only, if set, keeps only the chosen cases whose name matches.
	Only *regexp.Regexp
	// Runs per case and kernel (default DefaultRuns); Seed of both
	// campaigns (default 1: the same seeds for a base result to be reused).
	Runs int
	Seed int64
	// Out is the gate's directory; BaseCache keeps base campaigns for
	// reuse across gates ("" = none).
	Out, BaseCache string
	// Argv is the gate's command line.
	Argv []string
	// Progress receives progress lines.
	Progress func(string)
}

// KernelBuilder builds a kernel from a build spec, or finds it in the
// cache; *kernels.Builder is one, tests hand in a fake.
type KernelBuilder interface {
	Build(ctx context.Context, spec *kernels.BuildSpec) (*kernels.BuildResult, error)
}

// KernelInfo describes one side of the comparison.
type KernelInfo struct {
	Spec    string `json:"spec"`
	Name    string `json:"name"`
	Release string `json:"release,omitempty"`
	Key     string `json:"key,omitempty"`
	// Built is false for a kernel taken from the cache; BuildTime when built.
	Built     bool    `json:"built"`
	BuildTime float64 `json:"build_s,omitempty"`
	Compiled  int     `json:"compiled,omitempty"`
	// Dir is its campaign's directory; Reused says the base campaign came
	// from an earlier gate.
	Dir    string `json:"dir,omitempty"`
	Reused bool   `json:"reused,omitempty"`
}

// Result is a gate's answer.
type Result struct {
	Status  string         `json:"status"`
	Series  *series.Series `json:"series"`
	Base    KernelInfo     `json:"base"`
	Patched KernelInfo     `json:"patched"`
	// Apply is the patch that did not apply; BuildLog the failed build's
	// log tail.
	Apply    *ApplyFailure `json:"apply_failure,omitempty"`
	BuildLog string        `json:"build_log_tail,omitempty"`
	Choices  []Choice      `json:"choices"`
	Cases    []CaseResult  `json:"cases"`
	// Runs, VMSeconds and Wall: the effort.
	Runs      int     `json:"runs"`
	VMSeconds float64 `json:"vm_s"`
	Wall      float64 `json:"wall_s"`
	Builds    int     `json:"builds"`
	// Repro is the command that reruns the patched side.
	Repro string `json:"repro,omitempty"`
	Out   string `json:"out"`
	// Seed of both campaigns.
	Seed int64 `json:"seed"`
}

// ApplyFailure is a patch of the series that does not apply.
type ApplyFailure struct {
	Patch   string                `json:"patch"`
	N       int                   `json:"n"`
	Subject string                `json:"subject"`
	Failed  []kernels.HunkFailure `json:"failed"`
}

// ExitCode is the gate's exit status: 0 pass (and not covered), 1 a
// regression, an apply or a build failure, 125 cannot judge.
func (r *Result) ExitCode() int {
	switch r.Status {
	case StatusPass, StatusNotCovered:
		return 0
	case StatusRegression, StatusApplyFailed, StatusBuildFailed:
		return 1
	}
	return 125
}

// Run gates the series. Errors are for requests it cannot run (bad input,
// a broken store, an interrupt); what the series does is in the Result.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	start := time.Now()
	say := func(format string, a ...any) {
		if cfg.Progress != nil {
			cfg.Progress(fmt.Sprintf(format, a...))
		}
	}
	if cfg.Runs <= 0 {
		cfg.Runs = DefaultRuns
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.Out == "" {
		return nil, fmt.Errorf("%w: no output directory", ErrInput)
	}
	out, err := filepath.Abs(cfg.Out)
	if err != nil {
		return nil, err
	}
	ser, err := series.Load(cfg.Series)
	if err != nil {
		return nil, err
	}
	if !kernels.IsBuildSpec(cfg.Base) {
		return nil, fmt.Errorf("%w: --base %q is not a build spec: the gate applies the series in a build tree (give a shipped spec such as 6.1-harness or a spec file)", ErrInput, cfg.Base)
	}
	base, err := kernels.LoadBuildSpec(cfg.Base)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInput, err)
	}
	res := &Result{Series: ser, Out: out, Seed: cfg.Seed, Base: KernelInfo{Spec: cfg.Base, Name: base.Name}}
	say("series %s: %d patches (%s), base %s", ser.Hash, len(ser.Patches), strings.Join(ser.Files(), " "), base.Name)

	// The patched kernel's spec: the base plus the series, kept in OUT.
	sdir := filepath.Join(out, "series")
	if err := os.MkdirAll(sdir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for _, p := range ser.Patches {
		path := filepath.Join(sdir, p.Name)
		if err := os.WriteFile(path, p.Content, 0o644); err != nil {
			return nil, err
		}
		paths = append(paths, path)
	}
	pname := base.Name + "+series-" + ser.Hash[:8]
	text, err := base.Derive(pname, fmt.Sprintf("%s with the series from %s (%d patches)", base.Name, ser.Source, len(ser.Patches)), paths)
	if err != nil {
		return nil, err
	}
	pspec := filepath.Join(out, "patched.yaml")
	if err := os.WriteFile(pspec, text, 0o644); err != nil {
		return nil, err
	}
	res.Patched = KernelInfo{Spec: pspec, Name: pname}

	// Build the patched kernel first: a series that does not apply stops
	// the gate before anything is compiled.
	ps, err := kernels.LoadBuildSpec(pspec)
	if err != nil {
		return nil, err
	}
	if err := build(ctx, cfg.Builder, ps, &res.Patched, res, say); err != nil {
		var pe *kernels.PatchError
		var be *kernels.BuildError
		switch {
		case errors.As(err, &pe):
			res.Status = StatusApplyFailed
			res.Apply = &ApplyFailure{Patch: pe.Patch, N: pe.N - len(base.Patches), Failed: pe.Failed}
			if i := res.Apply.N - 1; i >= 0 && i < len(ser.Patches) {
				res.Apply.Subject = ser.Patches[i].Subject
			}
			return finish(res, start), nil
		case errors.As(err, &be):
			res.Status = StatusBuildFailed
			res.BuildLog = be.Tail(40)
			return finish(res, start), nil
		}
		return nil, err
	}
	if err := build(ctx, cfg.Builder, base, &res.Base, res, say); err != nil {
		return nil, fmt.Errorf("base %s: %w", base.Name, err)
	}

	// The cases.
	scens, err := loadScenarios(cfg.Scenarios, cfg.Engine)
	if err != nil {
		return nil, err
	}
	if cfg.Explicit {
		for _, s := range scens {
			for _, c := range s.Cases(0) {
				res.Choices = append(res.Choices, Choice{Case: c.Name, Reason: "named with --scenarios"})
			}
		}
	} else {
		res.Choices = Select(scens, ser.Files())
	}
	if cfg.Only != nil {
		var kept []Choice
		for _, c := range res.Choices {
			if cfg.Only.MatchString(c.Case) {
				kept = append(kept, c)
			}
		}
		res.Choices = kept
	}
	if len(res.Choices) == 0 {
		res.Status = StatusNotCovered
		say("no scenario case exercises %s: nothing to run", strings.Join(ser.Files(), " "))
		return finish(res, start), nil
	}
	var names []string
	for _, c := range res.Choices {
		names = append(names, regexp.QuoteMeta(c.Case))
		say("case %s: %s", c.Case, c.Reason)
	}
	only := regexp.MustCompile("^(" + strings.Join(names, "|") + ")$")

	// The base campaign, reused from an earlier gate when the base kernel,
	// the cases, the runs and the seed are the same.
	res.Base.Dir = filepath.Join(out, "base")
	if cfg.BaseCache != "" {
		res.Base.Dir = filepath.Join(cfg.BaseCache, baseKey(res.Base.Key, scens, res.Choices, cfg.Runs, cfg.Seed))
	}
	files := scenarioPaths(scens)
	plan := func(dir, kernel string) campaign.Plan {
		return campaign.Plan{Scenarios: files, Out: dir, Seed: cfg.Seed, Runs: cfg.Runs, Only: only, Kernel: kernel, Argv: cfg.Argv}
	}
	baseRuns, reused, err := runCampaign(ctx, cfg.Engine, plan(res.Base.Dir, cfg.Base), "base", say)
	if err != nil {
		return nil, err
	}
	res.Base.Reused = reused
	res.Patched.Dir = filepath.Join(out, "patched")
	patchedRuns, _, err := runCampaign(ctx, cfg.Engine, plan(res.Patched.Dir, pspec), "patched", say)
	if err != nil {
		return nil, err
	}
	for _, r := range patchedRuns {
		res.Runs++
		res.VMSeconds += r.Wall
	}
	if !reused {
		for _, r := range baseRuns {
			res.Runs++
			res.VMSeconds += r.Wall
		}
	}

	// The comparison.
	byCase := func(runs []*results.Run) map[string][]*results.Run {
		m := map[string][]*results.Run{}
		for _, r := range runs {
			m[r.Case] = append(m[r.Case], r)
		}
		return m
	}
	bc, pc := byCase(baseRuns), byCase(patchedRuns)
	res.Status = StatusPass
	for _, c := range res.Choices {
		cr := Compare(c.Case, c.Reason, bc[c.Case], pc[c.Case])
		res.Cases = append(res.Cases, cr)
		switch cr.Status {
		case Regression:
			res.Status = StatusRegression
		case BaseFails, Infra:
			if res.Status == StatusPass {
				res.Status = StatusCannotJudge
			}
		}
	}
	res.Repro = fmt.Sprintf("faultline run --out DIR --seed %d --runs %d --only '%s' --kernel %s %s", cfg.Seed, cfg.Runs, only.String(), pspec, strings.Join(files, " "))
	return finish(res, start), nil
}

func finish(r *Result, start time.Time) *Result {
	r.Wall = time.Since(start).Seconds()
	return r
}

// build builds (or finds in the cache) one side's kernel.
func build(ctx context.Context, b KernelBuilder, spec *kernels.BuildSpec, info *KernelInfo, res *Result, say func(string, ...any)) error {
	say("kernel %s: building (or found in the cache)", spec.Name)
	r, err := b.Build(ctx, spec)
	if err != nil {
		return err
	}
	info.Release, info.Key, info.Built = r.Kernel.Release, r.Kernel.Key, !r.Cached
	if !r.Cached {
		res.Builds++
		info.BuildTime, info.Compiled = r.Duration.Seconds(), r.Compiled
		say("kernel %s: built in %s (%d objects)", spec.Name, r.Duration.Round(time.Second), r.Compiled)
	}
	return nil
}

// runCampaign runs (or resumes, or reuses when finished) the campaign in
// plan.Out and returns its final runs and whether it was already complete.
func runCampaign(ctx context.Context, eng campaign.Config, plan campaign.Plan, side string, say func(string, ...any)) ([]*results.Run, bool, error) {
	eng.Progress = func(e campaign.Event) { say("%s: %s", side, e.Line) }
	var c *campaign.Campaign
	var err error
	if _, statErr := os.Stat(filepath.Join(plan.Out, results.StoreFile)); statErr == nil {
		c, err = campaign.Resume(eng, plan.Out)
	} else {
		c, err = campaign.Create(eng, plan)
	}
	if err != nil {
		return nil, false, err
	}
	defer c.Close()
	complete := c.Status().Finished == c.Status().Planned
	if complete {
		say("%s: reusing the finished campaign in %s", side, plan.Out)
	}
	r := c.Run(ctx)
	if r.StoreErr != nil {
		return nil, false, r.StoreErr
	}
	if r.Status == "interrupted" {
		return nil, false, fmt.Errorf("%s campaign in %s interrupted (rerun the same gate command, or add --resume, to go on): %w", side, plan.Out, ctx.Err())
	}
	var final []*results.Run
	for _, run := range r.Runs {
		if run.Final {
			final = append(final, run)
		}
	}
	return final, complete, nil
}

// loadScenarios reads the scenario files (directories: their *.yaml).
func loadScenarios(args []string, eng campaign.Config) ([]*campaign.Scenario, error) {
	var sigs []string
	if eng.Signatures != nil {
		sigs = eng.Signatures.IDs()
	}
	var out []*campaign.Scenario
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("%w: scenarios: %w", ErrInput, err)
		}
		files := []string{a}
		if st.IsDir() {
			files, _ = filepath.Glob(filepath.Join(a, "*.yaml"))
			if len(files) == 0 {
				return nil, fmt.Errorf("%w: scenarios: %s holds no *.yaml", ErrInput, a)
			}
		}
		for _, f := range files {
			s, err := campaign.LoadScenario(f, sigs)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrInput, err)
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// scenarioPaths are the scenarios' files, sorted.
func scenarioPaths(scens []*campaign.Scenario) []string {
	var files []string
	for _, s := range scens {
		files = append(files, s.Path)
	}
	sort.Strings(files)
	return files
}

// baseKey names a base campaign by what makes its results reusable: the
// base kernel's content key, the chosen cases' scenario texts, the runs and
// the seed.
func baseKey(kernelKey string, scens []*campaign.Scenario, choices []Choice, runs int, seed int64) string {
	h := sha256.New()
	fmt.Fprintf(h, "kernel %s\nruns %d\nseed %d\n", kernelKey, runs, seed)
	for _, s := range scens {
		fmt.Fprintf(h, "scenario %s %s\n", s.Name, s.Hash)
	}
	for _, c := range choices {
		fmt.Fprintf(h, "case %s\n", c.Case)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
