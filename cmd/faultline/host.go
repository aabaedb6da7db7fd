//go:build !faultline_agent

package main

import (
	"errors"
	"fmt"
	"os"

	"faultline/harness"
)

var (
	errCrash   = harness.ErrKernelCrashed
	errBoot    = harness.ErrBootFailure
	errTimeout = harness.ErrTimeout
)

// hostExitCode maps the harness's errors to their exit codes.
func hostExitCode(err error) (int, bool) {
	switch {
	case errors.Is(err, errCrash):
		return exitCrash, true
	case errors.Is(err, errBoot):
		return exitBoot, true
	case errors.Is(err, errTimeout):
		return exitTimeout, true
	case errors.Is(err, harness.ErrHang):
		return exitHang, true
	}
	return 0, false
}

// progress prints a progress line on stderr.
func progress(s string) { fmt.Fprintln(os.Stderr, "faultline: "+s) }
