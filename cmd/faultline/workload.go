package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"

	"faultline/guest/pid1"
	"faultline/workloads"
)

const workloadUsage = `Usage (in the guest): workload NAME [flags]

Runs a race workload on the scratch filesystem and prints a JSON summary:
operations, errors, the integrity check (data read back after dropping
caches), and how often each targeted kernel function was reached.
Exit status: 0 clean, 1 integrity failure, 2 bad parameters, 125 error.

Example (from the host):
  faultline vm --kernel debian:6.1-cloud --fs ext4 -- workload mmap-dio --duration 10s

Workloads and their flags:

`

func workloadHelp() {
	fmt.Fprint(os.Stderr, workloadUsage)
	workloads.Usage(os.Stderr)
}

func cmdWorkload(ctx context.Context, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		workloadHelp()
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	w, err := workloads.Parse(args[0], args[1:], pid1.ScratchDir, os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintln(os.Stderr, "workload: "+err.Error())
		return exitUsage
	}
	if err := w.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, "workload: "+err.Error())
		return exitUsage
	}
	sum, err := w.Run(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "workload: "+err.Error())
		return exitError
	}
	b, _ := json.MarshalIndent(sum, "", "  ")
	fmt.Println(string(b))
	if !sum.Integrity.OK {
		return 1
	}
	return exitOK
}
