package verdict

import (
	"os"
	"strings"
	"testing"

	"faultline/oops"
	"faultline/workloads"
)

// warnLog is seed D's WARNING as 6.1 prints it (shared with the store's
// and the campaign's tests).
var warnLog = func() string {
	b, err := os.ReadFile("../oops/testdata/warning-ext4-dirty-folio.log")
	if err != nil {
		panic(err)
	}
	return string(b)
}()

func TestJudge(t *testing.T) {
	sigs, err := oops.LoadSignatures()
	if err != nil {
		t.Fatal(err)
	}
	bad := &workloads.Summary{Workload: "mmap-dio", Integrity: workloads.Integrity{CheckedBytes: 4096, BadBlocks: 3,
		Bad: []workloads.BadBlock{{File: "f", Offset: 8192, What: "zeros"}}}}
	good := &workloads.Summary{Workload: "mmap-dio", Integrity: workloads.Integrity{CheckedBytes: 4096, OK: true}}
	wl := []string{"workload", "mmap-dio"}
	const seedD = "seed-d-ext4-gup-dio-no-buffers"
	for _, tc := range []struct {
		name    string
		o       Outcome
		console string
		expect  string
		verdict string
		pass    bool
		title   string
	}{
		{"clean", Outcome{Summary: good, Argv: wl, Workload: true}, "", "clean", Clean, true, ""},
		{"warning and lost data", Outcome{Summary: bad, ExitCode: 1, Argv: wl, Workload: true}, warnLog, "clean", Crash, false, "WARNING in ext4_dirty_folio"},
		{"positive control met", Outcome{Summary: bad, ExitCode: 1, Argv: wl, Workload: true}, warnLog, seedD, Crash, true, "WARNING in ext4_dirty_folio"},
		{"positive control missed", Outcome{Summary: good, Argv: wl, Workload: true}, "", seedD, Expect, false, ""},
		{"lost data only", Outcome{Summary: bad, ExitCode: 1, Argv: wl, Workload: true}, "", "clean", Integrity, false, ""},
		{"command failed", Outcome{ExitCode: 3, Argv: []string{"/bin/sh", "-c", "false"}}, "", "clean", Integrity, false, ""},
		{"workload error", Outcome{ExitCode: 125, Argv: wl, Workload: true}, "", "clean", Infra, false, ""},
		{"hang", Outcome{Fault: FaultHang, Error: "guest hung: no console output"}, "", "clean", Hang, false, ""},
		{"timeout", Outcome{Fault: FaultTimeout, Error: "command timed out"}, "", "clean", Hang, false, ""},
		{"boot", Outcome{Fault: FaultBoot, Error: "boot failure: no agent"}, "", "clean", Boot, false, ""},
		{"qemu killed", Outcome{Fault: FaultQEMUDied, Error: "qemu was killed"}, "", "clean", Infra, false, ""},
		{"qemu killed, positive control", Outcome{Fault: FaultQEMUDied, Error: "qemu was killed"}, "", seedD, Infra, false, ""},
		{"interrupted after a warning", Outcome{Fault: FaultInterrupted, Error: "context canceled"}, warnLog, "clean", Infra, false, "WARNING in ext4_dirty_folio"},
		{"disk full", Outcome{Summary: good, StorageError: "console: no space left on device"}, "", "clean", Infra, false, ""},
		{"crash without report", Outcome{Fault: FaultCrash, Error: "kernel crashed: qemu exited"}, "", "clean", Crash, false, "guest died without a report"},
	} {
		v := Judge(&tc.o, []byte(tc.console), sigs, tc.expect)
		if v.Verdict != tc.verdict || v.Pass != tc.pass || v.Title != tc.title {
			t.Errorf("%s: got %s pass=%v title %q (%s); want %s pass=%v title %q", tc.name, v.Verdict, v.Pass, v.Title, v.Detail, tc.verdict, tc.pass, tc.title)
		}
		if tc.title == "WARNING in ext4_dirty_folio" && (v.Signature != seedD || v.FirstCrash != 12.3457) {
			t.Errorf("%s: signature %q first crash %v", tc.name, v.Signature, v.FirstCrash)
		}
	}
}

// TestJudgeNamesSignal: a workload killed by a signal says which; a fault
// signal (which the Go runtime would have caught) is the kernel's doing.
func TestJudgeNamesSignal(t *testing.T) {
	sigs, err := oops.LoadSignatures()
	if err != nil {
		t.Fatal(err)
	}
	wl := []string{"workload", "mmap-dio"}
	for _, c := range []struct {
		code           int
		verdict, title string
		detail         string
	}{
		{139, Crash, "workload killed by SIGSEGV", "without a kernel report"},
		{135, Crash, "workload killed by SIGBUS", "exit 135"},
		{137, Infra, "", "workload failed (exit 137, killed by SIGKILL) without a summary"},
		{125, Infra, "", "workload failed (exit 125) without a summary"},
		{2, Infra, "", "workload failed (exit 2) without a summary"},
	} {
		v := Judge(&Outcome{ExitCode: c.code, Argv: wl, Workload: true, Stderr: "stderr.txt"}, nil, sigs, "clean")
		if v.Verdict != c.verdict || v.Title != c.title || !strings.Contains(v.Detail, c.detail) || v.Pass {
			t.Errorf("exit %d: %s %q %q pass=%v, want %s %q with %q", c.code, v.Verdict, v.Title, v.Detail, v.Pass, c.verdict, c.title, c.detail)
		}
	}
	// Not the workload (a user's command): its exit code is its own business.
	if v := Judge(&Outcome{ExitCode: 139, Argv: []string{"sh", "-c", "x"}}, nil, sigs, "clean"); v.Verdict != Integrity {
		t.Errorf("command killed by SIGSEGV: %s, want %s", v.Verdict, Integrity)
	}
}

func TestTimedStart(t *testing.T) {
	for console, want := range map[string]float64{
		"[    1.900000] faultline-agent: ready\n[   10.750000] " + workloads.TimedMarker + " of mmap-dio, 45s\n[   12.000000] BUG: x\n": 10.75,
		"[    1.900000] faultline-agent: ready\n":   -1,
		workloads.TimedMarker + " without a time\n": -1,
	} {
		if got := TimedStart([]byte(console)); got != want {
			t.Errorf("TimedStart(%q) = %v, want %v", console, got, want)
		}
	}
}
