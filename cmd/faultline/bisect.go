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
	"faultline/campaign"
	"faultline/harness"
	"faultline/kernels"
	"faultline/oops"
)

const bisectUsage = `Usage: faultline bisect --kernels SPEC,SPEC,...|FROM..TO [flags] SCENARIO
       faultline bisect --base BUILDSPEC --series DIR|FILE.mbox|git:REPO@A..B [flags] SCENARIO

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
each built when its step runs, in the base's persistent build tree.
Git histories are not bisected yet.

Examples:
  faultline bisect --kernels debian:6.1-cloud..debian:6.12-cloud --fix scenarios/seeds/seed-d-stock.yaml
  faultline bisect --kernels 6.1-harness,6.1-mutant-seed-d --bad-if signature:seed-d-ext4-gup-dio-no-buffers scenarios/seeds/seed-d.yaml
  faultline bisect --base 6.1-harness --series scenarios/gate/extent-buffer-v2.mbox scenarios/seeds/seed-b.yaml

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
	var cfg bisect.Config
	fs.BoolVar(&cfg.Fix, "fix", false, "find the first kernel without the crash")
	fs.StringVar(&cfg.BadIf, "bad-if", "", "what counts as bad: signature:ID, title:RE, integrity or hang (default: the first crash at the bad end)")
	fs.StringVar(&cfg.Case, "case", "", "the scenario's case (default: the scenario itself, no variant)")
	fs.Float64Var(&cfg.Confidence, "confidence", 0.95, "posterior probability to stop at")
	fs.IntVar(&cfg.Budget, "budget", 80, "runs at most")
	fs.StringVar(&cfg.Out, "out", "", "directory for the steps and bisect.json (default faultline-out/bisect-DATE-TIME)")
	fs.Int64Var(&cfg.Seed, "seed", 1, "seed of the first run")
	jsonOut := fs.Bool("json", false, "print the result as JSON")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 || (*list == "") == (*ser == "") || (*ser != "") != (*base != "") {
		return usageError("faultline bisect: give --kernels, or --base and --series, and one SCENARIO file")
	}
	store, err := kernels.NewStore()
	if err != nil {
		return fail(err)
	}
	if cfg.Out == "" {
		cfg.Out = "faultline-out/bisect-" + time.Now().Format("20060102-150405")
	}
	if *ser != "" {
		if cfg.Kernels, _, err = bisect.SeriesKernels(*base, *ser, cfg.Out); err != nil {
			return fail(err)
		}
		b, _, err := newBuilder(store, 0)
		if err != nil {
			return fail(err)
		}
		cfg.Build = func(ctx context.Context, spec string) error {
			s, err := kernels.LoadBuildSpec(spec)
			if err != nil {
				return err
			}
			_, err = b.Build(ctx, s)
			return err
		}
	} else if from, to, ok := strings.Cut(*list, ".."); ok {
		if cfg.Kernels, err = store.DebianRange(from, to); err != nil {
			return fail(fmt.Errorf("%w: %w", errUsage, err))
		}
	} else {
		cfg.Kernels = strings.Split(*list, ",")
	}
	sigs, err := oops.LoadSignatures()
	if err != nil {
		return fail(err)
	}
	agent, err := harness.AgentBinary()
	if err != nil {
		return fail(err)
	}
	cfg.Scenario, cfg.Progress = fs.Arg(0), progress
	cfg.Engine = campaign.Config{Executor: &campaign.Local{Pool: harness.QEMU{}, Agent: agent}, Signatures: sigs, Parallel: 1}
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
