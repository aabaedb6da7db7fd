package results

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"faultline/harness"
)

// Verdicts a run can get.
const (
	VerdictClean     = "clean"              // no crash, no lost data, no hang
	VerdictCrash     = "crash"              // an oops, a panic, a known symptom, or the workload killed by a fault signal
	VerdictIntegrity = "integrity"          // data lost or corrupted, no oops
	VerdictHang      = "hang"               // silent console and agent, or the command never ended
	VerdictBoot      = "boot-failure"       // the guest never became ready
	VerdictInfra     = "infra-error"        // harness-side trouble: never a kernel bug
	VerdictExpect    = "expectation-failed" // a positive control did not show its signature
)

// Verdicts lists the verdicts in the order reports show them.
var Verdicts = []string{VerdictClean, VerdictCrash, VerdictIntegrity, VerdictHang, VerdictBoot, VerdictInfra, VerdictExpect}

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
	// Reports are every crash report and symptom found in the console.
	Reports []*Report `json:"reports"`
}

// Judge gives a run its verdict from the harness's outcome, the console text
// and the signatures, against the expectation ("clean" or a signature id).
func Judge(o *harness.Outcome, console []byte, sigs *Signatures, expect string) *Verdict {
	v := &Verdict{FirstCrash: -1}
	v.Reports = Classify(console, sigs)
	var oops []*Report
	for _, r := range v.Reports {
		if r.Type != "SYMPTOM" {
			oops = append(oops, r)
		}
	}
	first := func(rs []*Report) {
		if len(rs) > 0 {
			v.Title, v.Signature = rs[0].Title, rs[0].Signature
			v.FirstCrash = printkTime(rs[0].Report)
		}
	}
	integrityBad := o.Summary != nil && !o.Summary.Integrity.OK
	switch {
	case o.StorageError != "":
		v.Verdict, v.Detail = VerdictInfra, "run files not saved in full: "+o.StorageError
		first(v.Reports)
	case o.Fault == harness.FaultInterrupted:
		v.Verdict, v.Detail = VerdictInfra, "interrupted: "+firstLine(o.Error)
		first(v.Reports)
	case o.Fault == harness.FaultBoot:
		v.Verdict, v.Detail = VerdictBoot, firstLine(o.Error)
		first(oops)
	case o.Fault == harness.FaultHang:
		v.Verdict, v.Detail = VerdictHang, firstLine(o.Error)
		first(v.Reports)
	case len(oops) > 0:
		v.Verdict = VerdictCrash
		first(oops)
		v.Detail = fmt.Sprintf("%d report(s) on the console", len(oops))
		if o.Fault != harness.FaultNone {
			v.Detail += "; " + string(o.Fault) + ": " + firstLine(o.Error)
		}
	case o.Fault == harness.FaultCrash:
		v.Verdict, v.Title, v.Detail = VerdictCrash, "guest died without a report", firstLine(o.Error)
	case o.Fault == harness.FaultTimeout:
		v.Verdict, v.Detail = VerdictHang, "the command never ended (console not silent): "+firstLine(o.Error)
		first(v.Reports)
	case o.Fault != harness.FaultNone:
		v.Verdict, v.Detail = VerdictInfra, string(o.Fault)+": "+firstLine(o.Error)
		first(v.Reports)
	case integrityBad:
		v.Verdict = VerdictIntegrity
		in := o.Summary.Integrity
		v.Detail = fmt.Sprintf("%d bad blocks in %d bytes read back", in.BadBlocks, in.CheckedBytes)
		if len(in.Bad) > 0 {
			v.Detail += fmt.Sprintf("; first: %s at %d (%s)", in.Bad[0].File, in.Bad[0].Offset, in.Bad[0].What)
		}
		first(v.Reports)
	case len(v.Reports) > 0:
		// A known symptom (a lost-data warning, csum errors) with the data
		// still intact at the end: still a kernel bug shown.
		v.Verdict, v.Detail = VerdictCrash, "symptom on the console"
		first(v.Reports)
	case o.Summary == nil && isWorkload(o) && faultSignal(o.ExitCode):
		// The workload is a Go program: the runtime catches SIGSEGV, SIGBUS,
		// SIGILL and SIGFPE itself (a Go fault panics and exits 2). Dying of
		// one means the kernel forced the default action, e.g. because it
		// could not deliver the signal: the kernel's doing, so no harness
		// trouble, whatever the console says.
		v.Verdict, v.Title = VerdictCrash, "workload killed by "+exitSignal(o.ExitCode)
		v.Detail = fmt.Sprintf("the workload died of a fault signal (exit %d) without a kernel report and without a Go panic, so the kernel forced it; see %s", o.ExitCode, o.Stderr)
	case o.Summary == nil && o.ExitCode != 0 && isWorkload(o):
		v.Verdict, v.Detail = VerdictInfra, fmt.Sprintf("workload failed (exit %d%s) without a summary; see %s", o.ExitCode, signalName(o.ExitCode), o.Stderr)
	case o.ExitCode != 0:
		v.Verdict, v.Detail = VerdictIntegrity, fmt.Sprintf("command exited %d", o.ExitCode)
	default:
		v.Verdict, v.Detail = VerdictClean, "no crash, data verified"
		if o.Summary == nil {
			v.Detail = "no crash, command exited 0"
		}
	}
	if integrityBad && v.Verdict == VerdictCrash {
		v.Detail += fmt.Sprintf("; integrity: %d bad blocks", o.Summary.Integrity.BadBlocks)
	}
	switch {
	case expect == "" || expect == "clean":
		v.Pass = v.Verdict == VerdictClean
	case v.Verdict == VerdictInfra || v.Verdict == VerdictBoot:
		// Harness trouble says nothing about the expectation.
	default:
		for _, r := range v.Reports {
			if r.Signature == expect {
				v.Pass = true
				v.Title, v.Signature = r.Title, r.Signature
				v.FirstCrash = printkTime(r.Report)
				break
			}
		}
		if !v.Pass {
			v.Detail = fmt.Sprintf("expected %s, got %s (%s)", expect, v.Verdict, v.Detail)
			v.Verdict = VerdictExpect
		}
	}
	return v
}

func isWorkload(o *harness.Outcome) bool {
	for i, a := range o.Argv {
		if a == "workload" && (i == 0 || o.Argv[i-1] == "--") {
			return true
		}
	}
	return false
}

var printkTimeRE = lazy(`^(?:<\d+>)?\[\s*(\d+\.\d+)\]`)

// printkTime returns the timestamp of the first line of a report, or -1.
func printkTime(report string) float64 {
	m := printkTimeRE.FindStringSubmatch(report)
	if m == nil {
		return -1
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return -1
	}
	return f
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	s, _, _ = strings.Cut(s, "; console tail:")
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
