//go:build !faultline_agent

package main

import (
	"testing"

	"faultline/verdict"
)

// TestExitCodes: the codes the agent build keeps for itself are verdict's.
func TestExitCodes(t *testing.T) {
	if exitOK != verdict.ExitOK || exitUsage != verdict.ExitUsage || exitError != verdict.ExitError {
		t.Errorf("exit codes %d %d %d differ from verdict's %d %d %d", exitOK, exitUsage, exitError, verdict.ExitOK, verdict.ExitUsage, verdict.ExitError)
	}
}
