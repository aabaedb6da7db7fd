//go:build !faultline_agent

package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"faultline/bisect"
	"faultline/kernels"
)

const bisectUsage = `Usage: faultline bisect --kernels SPEC,SPEC,...|FROM..TO [flags] SCENARIO
       faultline bisect --base BUILDSPEC --series DIR|FILE.mbox|git:REPO@A..B [flags] SCENARIO
       faultline bisect --tree REPO --good REF --bad REF [--config BUILDSPEC] [flags] SCENARIO

Finds the first kernel of an ordered list that shows a crash (--fix: the
first that no longer does), with a stated confidence: a noisy binary search
that estimates the reproduction rate at the end that has the crash, runs the
scenario's case where it splits the candidates most evenly, as many times
as the expected information is worth, and stops at --confidence (or says
which kernels remain). Runs that boot-fail, hit harness trouble or show
another crash count for nothing. Each step is a campaign under OUT/steps/.
A Debian range walks every release in the apt lists between its ends
(faultline kernels list --available). A patch series on a build spec
walks base, base + patch 1, ..., base + all patches (OUT/series/*.yaml),
each built when its step runs, in the base's persistent build tree. A git
history walks --good and every commit from it to --bad (OUT/commits/*.yaml,
with --config's config recipe, default 6.1-harness's): each step checks its
commit out in one persistent build tree per repository and rebuilds what
changed. A kernel that does not build is a step with no observation, never
good or bad. A culprit that runs the same code as the kernel before it
(identical .text) is flagged. Once the end with the crash has shown it 3
times or more, the runs after it last 1.5 x the slowest of those first
crashes when that is shorter than the duration (--keep-duration keeps it):
most runs of a bisection are runs that miss, and each costs the whole
duration. --classical uses the classical rule instead
(binary search, up to 10 runs a step, one crash means bad) for comparison.

Examples:
  faultline bisect --kernels debian:6.1-cloud..debian:6.12-cloud --fix scenarios/seeds/seed-d-stock.yaml
  faultline bisect --kernels 6.1-harness,6.1-mutant-seed-d --bad-if signature:seed-d-ext4-gup-dio-no-buffers scenarios/seeds/seed-d.yaml
  faultline bisect --base 6.1-harness --series scenarios/gate/extent-buffer-v2.mbox scenarios/seeds/seed-b.yaml
  faultline bisect --tree ~/src/linux --good v6.1 --bad HEAD --duration 45s --bad-if signature:seed-b-btrfs-eb-tree-ref-releasepage scenarios/seeds/seed-b.yaml

Exit status: 0 an answer, 1 inconclusive or stopped (the reason printed),
2 bad usage, 125 harness trouble.

Flags:
`

func cmdBisect(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("bisect", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, bisectUsage); fs.PrintDefaults() }
	list := fs.String("kernels", "", "kernels oldest first: SPEC,SPEC,... or a Debian range debian:FROM..debian:TO")
	base := fs.String("base", "", "with --series: the build spec the series applies to")
	ser := fs.String("series", "", "bisect a patch series on --base: a directory of patches, an mbox, or git:REPO@A..B")
	tree := fs.String("tree", "", "bisect the git history of this repository from --good to --bad")
	good := fs.String("good", "", "with --tree: the commit without the crash (with --fix: with it), the older end")
	bad := fs.String("bad", "", "with --tree: the commit with the crash (with --fix: without it), the newer end")
	recipe := fs.String("config", "6.1-harness", "with --tree: the build spec whose config recipe each commit is built with")
	var cfg bisect.Config
	fs.BoolVar(&cfg.Classical, "classical", false, "use the classical rule (10 runs a step, one crash means bad) instead of the model")
	fs.BoolVar(&cfg.Fix, "fix", false, "find the first kernel without the crash")
	fs.StringVar(&cfg.BadIf, "bad-if", "", "what counts as bad: signature:ID, title:RE, integrity or hang (default: the first crash at the bad end)")
	fs.StringVar(&cfg.Case, "case", "", "the scenario's case (default: the scenario itself, no variant)")
	fs.Float64Var(&cfg.Confidence, "confidence", 0.95, "posterior probability to stop at")
	fs.IntVar(&cfg.Budget, "budget", 80, "runs at most")
	fs.DurationVar(&cfg.Duration, "duration", 0, "each run's duration instead of the scenario's (a bisection needs many runs: shorter runs of a fast race)")
	fs.BoolVar(&cfg.KeepDuration, "keep-duration", false, "keep every run at the duration (do not shorten the runs after the end with the crash)")
	fs.StringVar(&cfg.Out, "out", "", "directory for the steps and bisect.json (default faultline-out/bisect-DATE-TIME)")
	fs.Int64Var(&cfg.Seed, "seed", 1, "seed of the first run")
	jsonOut := fs.Bool("json", false, "print the result as JSON")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	sources := 0
	for _, v := range []string{*list, *ser, *tree} {
		if v != "" {
			sources++
		}
	}
	if fs.NArg() != 1 || sources != 1 || (*ser != "") != (*base != "") || (*tree != "") != (*good != "" && *bad != "") {
		return usageError("faultline bisect: give --kernels, or --base and --series, or --tree with --good and --bad; and one SCENARIO file")
	}
	store, err := kernels.NewStore()
	if err != nil {
		return fail(err)
	}
	if cfg.Out == "" {
		cfg.Out = "faultline-out/bisect-" + time.Now().Format("20060102-150405")
	}
	if *ser != "" || *tree != "" {
		if *ser != "" {
			if cfg.Kernels, _, err = bisect.SeriesKernels(*base, *ser, cfg.Out); err != nil {
				return fail(err)
			}
		} else {
			commits, err := bisect.GitKernels(*tree, *good, *bad, *recipe, cfg.Out)
			if err != nil {
				return fail(err)
			}
			cfg.Labels = map[string]string{}
			for _, c := range commits {
				cfg.Kernels = append(cfg.Kernels, c.Spec)
				cfg.Labels[c.Spec] = c.SHA[:12] + " " + c.Subject
			}
		}
		if cfg.Build, cfg.TextHash, err = builderFuncs(store); err != nil {
			return fail(err)
		}
	} else if from, to, ok := strings.Cut(*list, ".."); ok {
		if cfg.Kernels, err = store.DebianRange(from, to); err != nil {
			return fail(fmt.Errorf("%w: %w", errUsage, err))
		}
		if len(cfg.Kernels) < 2 {
			return usageError(fmt.Sprintf("faultline bisect: the range %s holds one release (%s): nothing to bisect; faultline kernels list --available shows the releases", *list, cfg.Kernels[0]))
		}
	} else {
		cfg.Kernels = strings.Split(*list, ",")
	}
	if cfg.Engine, err = localEngine(); err != nil {
		return fail(err)
	}
	cfg.Scenario, cfg.Progress = fs.Arg(0), progress
	progress(fmt.Sprintf("bisecting %d kernels, %s .. %s, in %s", len(cfg.Kernels), cfg.Kernels[0], cfg.Kernels[len(cfg.Kernels)-1], cfg.Out))
	res, err := bisect.Run(ctx, cfg)
	if err != nil {
		return fail(err)
	}
	if err := writeJSON(cfg.Out+"/bisect.json", res); err != nil {
		fmt.Fprintln(os.Stderr, "faultline: "+err.Error())
	}
	if *jsonOut {
		printJSON(res)
	} else {
		res.WriteTable(os.Stdout, cfg.Fix)
	}
	if res.Answer == "" {
		return 1
	}
	return exitOK
}

// builderFuncs returns what bisect and nightly build kernels with: a build
// of a build spec (progress on stderr; cached builds are instant) and its
// code's hash.
func builderFuncs(store *kernels.Store) (func(context.Context, string) error, func(context.Context, string) (string, error), error) {
	b, _, err := newBuilder(store, 0)
	if err != nil {
		return nil, nil, err
	}
	build := func(ctx context.Context, spec string) (*kernels.Kernel, error) {
		s, err := kernels.LoadBuildSpec(spec)
		if err != nil {
			return nil, err
		}
		r, err := b.Build(ctx, s)
		if err != nil {
			return nil, err
		}
		if !r.Cached {
			progress(fmt.Sprintf("built %s: %d objects in %s (ccache hits %d of %d)", s.Name, r.Compiled, r.Duration.Round(time.Second),
				r.Cache.Hits, r.Cache.Hits+r.Cache.Misses))
		}
		return r.Kernel, nil
	}
	textHash := func(ctx context.Context, spec string) (string, error) {
		k, err := build(ctx, spec)
		if err != nil {
			return "", err
		}
		if k.TextSHA256 == "" {
			return "", fmt.Errorf("%s was built before faultline recorded code hashes", k.Name)
		}
		return k.TextSHA256, nil
	}
	return func(ctx context.Context, spec string) error { _, err := build(ctx, spec); return err }, textHash, nil
}
