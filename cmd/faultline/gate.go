//go:build !faultline_agent

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"faultline/gate"
	"faultline/kernels"
)

const gateUsage = `Usage: faultline gate --base SPEC --series DIR|FILE.mbox|git:REPO@BASE..TIP [flags]
       faultline gate --resume DIR

Does a patch series bring a crash, a hang or lost data that its base does
not have? The series (git format-patch files, a directory of them, an mbox
saved from a mailing list, or a git range) is applied to the base build spec
in its persistent build tree (a patch that does not apply is named with the
file and hunk, and nothing is built), the patched kernel is built, the
scenario cases the touched files can affect are chosen (fs/btrfs: btrfs
cases; fs/ext4: ext4; mm/, block/, fs/iomap and other shared code: all;
--scenarios names them instead), and both kernels run them with the same
seeds, --runs each. Per case and signature: NEW, FIXED, UNCHANGED or
INCONCLUSIVE, with counts and Fisher's exact test. Base results are reused
from an earlier gate when the base kernel's content, the cases, the runs and
the seed are the same. An interrupted gate goes on with --resume DIR (or the
same command): finished runs are kept.

Examples:
  faultline gate --base 6.1-harness --series ~/patches/v2/
  faultline gate --base 6.1-harness --series thread.mbox --scenarios scenarios/seeds/seed-b.yaml --only '^seed-b$' --runs 3
  faultline gate --base 6.1-harness --series git:$HOME/linux@v6.1..my-branch --junit gate.xml --kcidb kcidb.json --mail reply.txt

Exit status: 0 pass (or nothing faultline tests is touched), 1 regression,
a patch that does not apply or a kernel that does not build, 2 bad usage,
125 cannot judge (the base itself fails the cases, or harness trouble).

Flags:
`

// gateRequest is what --resume reads back from OUT/gate-request.json.
type gateRequest struct {
	Base      string   `json:"base"`
	Series    string   `json:"series"`
	Scenarios []string `json:"scenarios"`
	Explicit  bool     `json:"explicit"`
	Only      string   `json:"only"`
	Runs      int      `json:"runs"`
	Seed      int64    `json:"seed"`
	BaseCache string   `json:"base_cache"`
}

func cmdGate(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("gate", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, gateUsage); fs.PrintDefaults() }
	var req gateRequest
	fs.StringVar(&req.Base, "base", "", "base build spec (a shipped one such as 6.1-harness, or FILE.yaml)")
	fs.StringVar(&req.Series, "series", "", "the series: a directory of patches, a patch or mbox file, or git:REPO@BASE..TIP")
	scen := fs.String("scenarios", "", "scenario files or directories, comma-separated (default: chosen from scenarios/ by the files the series touches)")
	fs.StringVar(&req.Only, "only", "", "keep only the chosen cases whose name matches this regexp (e.g. '^seed-b$')")
	fs.IntVar(&req.Runs, "runs", gate.DefaultRuns, "runs per case and kernel (default: enough to see, at 95%, a crash that reproduces in 30% of runs)")
	fs.Int64Var(&req.Seed, "seed", 1, "seed of both kernels' first run")
	out := fs.String("out", "", "directory for the series, the campaigns and gate.json (default faultline-out/gate-DATE-TIME)")
	resume := fs.String("resume", "", "go on with the gate in this directory")
	noReuse := fs.Bool("no-reuse", false, "run the base even when an earlier gate's results for it could be reused")
	junit := fs.String("junit", "", "write JUnit XML (a testcase per case and kernel) to this file")
	kcidb := fs.String("kcidb", "", "write KernelCI KCIDB data (I/O schema v5) to this file")
	mail := fs.String("mail", "", "write a plain-text report to reply to the series with to this file")
	jsonOut := fs.Bool("json", false, "print the result as JSON")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return usageError("faultline gate: unexpected argument " + fs.Arg(0) + " (the series goes in --series)")
	}
	dir := *out
	if *resume != "" {
		b, err := os.ReadFile(filepath.Join(*resume, "gate-request.json"))
		if err != nil {
			return fail(fmt.Errorf("%w: --resume %s: not a gate directory: %w", errUsage, *resume, err))
		}
		if err := json.Unmarshal(b, &req); err != nil {
			return fail(err)
		}
		dir = *resume
	} else {
		if req.Base == "" || req.Series == "" {
			return usageError("faultline gate: give --base and --series (or --resume DIR)")
		}
		req.Scenarios, req.Explicit = []string{"scenarios"}, false
		if *scen != "" {
			req.Scenarios, req.Explicit = strings.Split(*scen, ","), true
		}
		if dir == "" {
			dir = "faultline-out/gate-" + time.Now().Format("20060102-150405")
		}
		if !*noReuse {
			c, err := kernels.CacheDir()
			if err != nil {
				return fail(err)
			}
			req.BaseCache = filepath.Join(c, "gate-base")
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fail(err)
		}
		if err := writeJSON(filepath.Join(dir, "gate-request.json"), req); err != nil {
			return fail(err)
		}
	}
	eng, err := localEngine()
	if err != nil {
		return fail(err)
	}
	eng.Parallel, eng.Retries = 0, 1
	store, err := kernels.NewStore()
	if err != nil {
		return fail(err)
	}
	b, clearStatus, err := newBuilder(store, 0)
	if err != nil {
		return fail(err)
	}
	var only *regexp.Regexp
	if req.Only != "" {
		if only, err = regexp.Compile(req.Only); err != nil {
			return fail(fmt.Errorf("%w: --only: %w", errUsage, err))
		}
	}
	cfg := gate.Config{Only: only,
		Engine:  eng,
		Builder: b, Base: req.Base, Series: req.Series, Scenarios: req.Scenarios, Explicit: req.Explicit,
		Runs: req.Runs, Seed: req.Seed, Out: dir, BaseCache: req.BaseCache,
		Argv: append([]string{"faultline", "gate"}, args...), Progress: func(s string) { clearStatus(); progress(s) },
	}
	res, err := gate.Run(ctx, cfg)
	clearStatus()
	if err != nil {
		return fail(err)
	}
	if err := writeJSON(filepath.Join(dir, "gate.json"), res); err != nil {
		return fail(err)
	}
	if *junit != "" {
		if err := res.WriteJUnit(*junit); err != nil {
			return fail(err)
		}
	}
	if *kcidb != "" {
		if err := res.WriteKCIDB(*kcidb, time.Now()); err != nil {
			return fail(err)
		}
	}
	if *mail != "" {
		f, err := os.Create(*mail)
		if err != nil {
			return fail(err)
		}
		res.WriteMail(f)
		if err := f.Close(); err != nil {
			return fail(err)
		}
	}
	if *jsonOut {
		printJSON(res)
	} else {
		res.WriteText(os.Stdout)
	}
	return res.ExitCode()
}
