//go:build !faultline_agent

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"

	"faultline/kernels"
	"faultline/nightly"
)

const nightlyUsage = `Usage: faultline nightly --store DIR --kernels debian:SERIES [flags] SCENARIO...
       faultline nightly --store DIR --tree REPO --branch BRANCH [--config BUILDSPEC] [flags] SCENARIO...

Tests the newest kernel of a series with a campaign of the scenarios (into
DIR/nights/NNN-KERNEL/campaign), compares its crashes with every earlier
night's in DIR, and for each crash kind that no earlier kernel showed
bisects it between the last kernel that ran the same case clean and
tonight's (DIR/nights/NNN-KERNEL/bisect-*). A Debian series' newest is the
newest release in the apt lists (run apt-get update before, as cron would);
a git branch's is its head, built with --config's recipe. A kernel a night
already tested is not tested again. DIR/report.html shows every night, the
crash index (first and last kernel each crash was seen on) and the
bisections; DIR/faultline.db holds them (tables nights, night_crashes,
night_bisections).

For cron: a lock (DIR/nightly.lock) keeps two nights from overlapping (the
second exits 75); a night killed part-way is finished by the next start
(its campaign resumed, its bisections run again on cached kernels). --as-of
replays an earlier night: that release or commit stands for the newest.

Examples:
  faultline nightly --store /srv/faultline/6.1 --kernels debian:6.1-cloud scenarios/seeds/seed-d-stock.yaml
  faultline nightly --store nightly --tree ~/src/linux --branch master --only '^seed-b$' scenarios/seeds/seed-b.yaml
  # crontab: 0 2 * * * cd /srv/faultline && faultline nightly --store 6.1 --kernels debian:6.1-cloud scenarios/ >>6.1/cron.log 2>&1

Exit status: 0 no new crash (or the kernel was tested already), 1 a new
crash (bisected or not: see the report), 2 bad usage, 75 another nightly
holds the store, 125 harness trouble (no run answered) or another error,
130 interrupted (run again to finish the night).

Flags:
`

func cmdNightly(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("nightly", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, nightlyUsage); fs.PrintDefaults() }
	var cfg nightly.Config
	fs.StringVar(&cfg.Dir, "store", "", "the nightly store: nights, crash index, bisections, report.html")
	deb := fs.String("kernels", "", "a Debian series: debian:6.1-cloud, debian:6.12-cloud, ...")
	tree := fs.String("tree", "", "a kernel git repository")
	branch := fs.String("branch", "", "with --tree: the branch whose head is tested")
	recipe := fs.String("config", "6.1-harness", "with --tree: the build spec whose config recipe commits are built with")
	asOf := fs.String("as-of", "", "test this release (debian:6.1.0-50-cloud) or commit instead of the newest: replay an earlier night")
	only := fs.String("only", "", "run only the cases whose name matches this regexp")
	fs.IntVar(&cfg.Runs, "runs", 0, "runs of each case (default: the scenarios')")
	fs.DurationVar(&cfg.Duration, "duration", 0, "each run's duration (default: the scenarios')")
	fs.Int64Var(&cfg.Seed, "seed", 1, "seed of the first run")
	fs.Float64Var(&cfg.Confidence, "confidence", 0.95, "each bisection's confidence to stop at")
	fs.IntVar(&cfg.Budget, "budget", 80, "each bisection's runs at most")
	jsonOut := fs.Bool("json", false, "print the night as JSON")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if cfg.Dir == "" || fs.NArg() == 0 || (*deb == "") == (*tree == "") || (*tree != "") != (*branch != "") {
		return usageError("faultline nightly: give --store DIR, either --kernels debian:SERIES or --tree REPO --branch BRANCH, and SCENARIO files")
	}
	if *only != "" {
		re, err := regexp.Compile(*only)
		if err != nil {
			return usageError("faultline nightly: --only: " + err.Error())
		}
		cfg.Only = re
	}
	store, err := kernels.NewStore()
	if err != nil {
		return fail(err)
	}
	if *deb != "" {
		cfg.Series = &nightly.Debian{Store: store, Spec: *deb, AsOf: *asOf}
	} else {
		cfg.Series = &nightly.Git{Tree: *tree, Branch: *branch, Recipe: *recipe, AsOf: *asOf}
		if cfg.Build, cfg.TextHash, err = builderFuncs(store); err != nil {
			return fail(err)
		}
	}
	if cfg.Engine, err = localEngine(); err != nil {
		return fail(err)
	}
	cfg.Scenarios, cfg.Progress = fs.Args(), progress
	res, err := nightly.Run(ctx, cfg)
	if errors.Is(err, nightly.ErrLocked) {
		fmt.Fprintln(os.Stderr, "faultline: "+err.Error())
		return 75
	}
	if err != nil {
		if errors.Is(err, nightly.ErrInput) {
			fmt.Fprintln(os.Stderr, "faultline: "+err.Error())
			return exitUsage
		}
		return fail(err)
	}
	if *jsonOut {
		printJSON(res)
	} else {
		n := res.Night
		fmt.Printf("night %d: %s: %s, %d runs (%d answered)\n", n.ID, n.Label, n.Status, n.Runs, n.Answered)
		for _, c := range n.Crashes {
			if c.Count > 0 {
				fmt.Printf("  %s: %d of %d runs of %s\n", c.Key, c.Count, c.Runs, c.Case)
			}
		}
		for _, b := range n.Bisections {
			fmt.Printf("  new %s: bisection %s", b.Key, b.Status)
			if b.Answer != "" {
				fmt.Printf(": first kernel with it %s (confidence %.3f)", b.Answer, b.Confidence)
			}
			if b.Note != "" {
				fmt.Printf(" (%s)", b.Note)
			}
			fmt.Println()
		}
		fmt.Printf("report: %s/report.html\n", cfg.Dir)
	}
	switch {
	case res.AlreadyTested:
		return exitOK
	case res.Night.Status == "no-answer":
		return exitError
	case len(res.New) > 0:
		return 1
	}
	return exitOK
}
