package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"faultline/probes"
)

const injectUsage = `Usage: faultline inject [--report FILE] --inject SPEC... -- COMMAND [ARG...]

Runs in a guest (faultline vm runs it for you when given --inject): attaches
the injections, runs COMMAND, detaches them and writes what each injection
did (attached, hits, fired, total delay, failures forced) as JSON to FILE and
as a table to stderr. Exits with COMMAND's status.

Injection specs:
` + probes.Syntax + `

Examples:
  faultline inject --inject 'delay:btrfs_sync_file:1ms' --inject count:btrfs_sync_file -- workload ...
  faultline inject --inject 'fail-return:should_failslab:ENOMEM@0.01,comm=dd' -- dd if=/dev/zero of=f bs=1M count=10

Flags:
`

func cmdInject(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("inject", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, injectUsage); fs.PrintDefaults() }
	var specs multiFlag
	fs.Var(&specs, "inject", "injection spec (repeatable)")
	report := fs.String("report", "", "write the JSON report here")
	every := fs.Duration("kmsg-every", time.Second, "write the counters to /dev/kmsg this often (the first time after 300ms), so they survive a crash (0: never)")
	changes := fs.Duration("kmsg-changes", 50*time.Millisecond, "between those writes, check this often for delay and fail injections whose fired, met or budget-skip counts changed and write just their lines, so that a race that crashes the kernel at once still shows what fired (0: never)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "faultline inject: no command to run")
		return exitUsage
	}
	injs, err := probes.ParseAll(specs)
	if err != nil {
		return fail(fmt.Errorf("%w: %w", errUsage, err))
	}
	set, err := probes.Attach(injs)
	if err != nil {
		return fail(err)
	}
	defer set.Close()
	code, reps, err := set.Run(ctx, fs.Args(), probes.RunOptions{KmsgEvery: *every, KmsgChanges: *changes})
	if err != nil {
		fmt.Fprintln(os.Stderr, "faultline inject: "+err.Error())
		if code < 0 {
			return exitError
		}
	}
	if *report != "" {
		if err := probes.WriteReportFile(*report, reps); err != nil {
			fmt.Fprintln(os.Stderr, "faultline inject: "+err.Error())
		}
	}
	probes.WriteTable(os.Stderr, reps)
	return code
}

// cmdFeatures (in a guest) prints the running kernel's BPF features as JSON.
func cmdFeatures() int {
	return printJSON(map[string]any{"features": probes.Features()})
}
