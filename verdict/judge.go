package verdict

import (
	"bytes"
	"fmt"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"faultline/oops"
	"faultline/workloads"
)

// Verdict is the judgement of one run.
type Verdict struct {
	Verdict string `json:"verdict"`
	// Pass says whether the run met its case's expectation (clean for a
	// clean expectation; the expected signature for a positive control).
	Pass bool `json:"pass"`
	// Title and Signature are those of the first crash report ("" if none).
	Title     string `json:"title,omitempty"`
	Signature string `json:"signature,omitempty"`
	// Detail says in a line why the verdict is what it is.
	Detail string `json:"detail"`
	// FirstCrash is the guest's printk time, in seconds since boot, of the
	// first report; -1 if there is none or it has no timestamp.
	FirstCrash float64 `json:"first_crash_s"`
	// TimedStart is the printk time at which a timed workload's timed
	// phase began (its kernel log marker); -1 if the console has none.
	TimedStart float64 `json:"timed_start_s"`
	// Reports are every crash report and symptom found in the console.
	Reports []*oops.Report `json:"reports"`
}

// ExpectClean is the expectation that a run ends with no crash, no data
// loss and no hang. Any other expectation is a signature id: the run is a
// positive control that must crash with that signature.
const ExpectClean = "clean"

// Judge gives a run its verdict from its outcome, the console text and the
// signatures, against the expectation (ExpectClean or a signature id).
// Faults go through Rules; a run without a fault is judged by its console,
// the workload's integrity check and its exit code.
func Judge(o *Outcome, console []byte, sigs *oops.Signatures, expect string) *Verdict {
	v := &Verdict{FirstCrash: -1, TimedStart: TimedStart(console)}
	v.Reports = oops.Classify(console, sigs)
	var found []*oops.Report
	for _, r := range v.Reports {
		if r.Type != "SYMPTOM" {
			found = append(found, r)
		}
	}
	first := func(rs []*oops.Report) {
		if len(rs) > 0 {
			v.Title, v.Signature = rs[0].Title, rs[0].Signature
			v.FirstCrash = oops.ReportTime(rs[0].Report)
		}
	}
	integrityBad := o.Summary != nil && !o.Summary.Integrity.OK
	rule := RuleOf(o.Fault)
	switch {
	case o.StorageError != "":
		v.Verdict, v.Detail = Infra, "run files not saved in full: "+o.StorageError
		first(v.Reports)
	case o.Fault != FaultNone && !rule.ReportWins:
		v.Verdict, v.Detail = rule.Verdict, firstLine(o.Error)
		if o.Fault == FaultInterrupted {
			v.Detail = "interrupted: " + v.Detail
		}
		if o.Fault == FaultBoot {
			first(found)
		} else {
			first(v.Reports)
		}
	case len(found) > 0:
		v.Verdict = Crash
		first(found)
		v.Detail = fmt.Sprintf("%d report(s) on the console", len(found))
		if o.Fault != FaultNone {
			v.Detail += "; " + string(o.Fault) + ": " + firstLine(o.Error)
		}
	case o.Fault == FaultCrash:
		v.Verdict, v.Title, v.Detail = Crash, "guest died without a report", firstLine(o.Error)
	case o.Fault == FaultTimeout:
		v.Verdict, v.Detail = rule.Verdict, "the command never ended (console not silent): "+firstLine(o.Error)
		first(v.Reports)
	case o.Fault != FaultNone:
		v.Verdict, v.Detail = rule.Verdict, string(o.Fault)+": "+firstLine(o.Error)
		first(v.Reports)
	case integrityBad:
		v.Verdict = Integrity
		in := o.Summary.Integrity
		v.Detail = fmt.Sprintf("%d bad blocks in %d bytes read back", in.BadBlocks, in.CheckedBytes)
		if len(in.Bad) > 0 {
			v.Detail += fmt.Sprintf("; first: %s at %d (%s)", in.Bad[0].File, in.Bad[0].Offset, in.Bad[0].What)
		}
		first(v.Reports)
	case len(v.Reports) > 0:
		// A known symptom (a lost-data warning, csum errors) with the data
		// still intact at the end: still a kernel bug shown.
		v.Verdict, v.Detail = Crash, "symptom on the console"
		first(v.Reports)
	case o.Summary == nil && o.Workload && faultSignal(o.ExitCode):
		// The workload is a Go program: the runtime catches SIGSEGV, SIGBUS,
		// SIGILL and SIGFPE itself (a Go fault panics and exits 2). Dying of
		// one means the kernel forced the default action, e.g. because it
		// could not deliver the signal: the kernel's doing, so no harness
		// trouble, whatever the console says.
		v.Verdict, v.Title = Crash, "workload killed by "+exitSignal(o.ExitCode)
		v.Detail = fmt.Sprintf("the workload died of a fault signal (exit %d) without a kernel report and without a Go panic, so the kernel forced it; see %s", o.ExitCode, o.Stderr)
	case o.Summary == nil && o.ExitCode != 0 && o.Workload:
		v.Verdict, v.Detail = Infra, fmt.Sprintf("workload failed (exit %d%s) without a summary; see %s", o.ExitCode, signalName(o.ExitCode), o.Stderr)
	case o.ExitCode != 0:
		v.Verdict, v.Detail = Integrity, fmt.Sprintf("command exited %d", o.ExitCode)
	default:
		v.Verdict, v.Detail = Clean, "no crash, data verified"
		if o.Summary == nil {
			v.Detail = "no crash, command exited 0"
		}
	}
	if integrityBad && v.Verdict == Crash {
		v.Detail += fmt.Sprintf("; integrity: %d bad blocks", o.Summary.Integrity.BadBlocks)
	}
	switch {
	case expect == "" || expect == ExpectClean:
		v.Pass = v.Verdict == Clean
	case v.Verdict == Infra || v.Verdict == Boot:
		// Harness trouble says nothing about the expectation.
	default:
		for _, r := range v.Reports {
			if r.Signature == expect {
				v.Pass = true
				v.Title, v.Signature = r.Title, r.Signature
				v.FirstCrash = oops.ReportTime(r.Report)
				break
			}
		}
		if !v.Pass {
			v.Detail = fmt.Sprintf("expected %s, got %s (%s)", expect, v.Verdict, v.Detail)
			v.Verdict = Expect
		}
	}
	return v
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSuffix(strings.TrimSpace(s), ";")
}

// faultSignal says whether a shell-style exit code is a death by SIGSEGV,
// SIGBUS, SIGILL or SIGFPE.
func faultSignal(code int) bool {
	switch syscall.Signal(code - 128) {
	case unix.SIGSEGV, unix.SIGBUS, unix.SIGILL, unix.SIGFPE:
		return code > 128
	}
	return false
}

// signalName names the signal of a shell-style exit code (128 + signal):
// ", killed by SIGSEGV" for 139; "" for other codes.
func signalName(code int) string {
	if code <= 128 || code >= 128+65 {
		return ""
	}
	return ", killed by " + exitSignal(code)
}

// exitSignal names the signal of an exit code over 128: "SIGSEGV", or
// "signal N" for one without a name.
func exitSignal(code int) string {
	if name := unix.SignalName(syscall.Signal(code - 128)); name != "" {
		return name
	}
	return fmt.Sprintf("signal %d", code-128)
}

// TimedStart returns the printk time of the first timed-phase marker a
// timed workload wrote to the kernel log (workloads.TimedMarker), -1 if
// there is none.
func TimedStart(console []byte) float64 {
	i := bytes.Index(console, []byte(workloads.TimedMarker))
	if i < 0 {
		return -1
	}
	line := console[:i]
	if j := bytes.LastIndexByte(line, '\n'); j >= 0 {
		line = line[j+1:]
	}
	return oops.ReportTime(string(line))
}
