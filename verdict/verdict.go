// Package verdict is faultline's vocabulary for how a run ended and what it
// means: the harness's fault kinds, the outcome of one run as data, the
// verdicts, and the one table from fault to verdict to exit code. Judge
// turns an outcome and its console into a verdict. It knows nothing of VMs
// or stores: the harness reports faults in its terms, the campaign judges
// with it, the store records what it returns.
package verdict

import (
	"time"

	"faultline/probes"
	"faultline/workloads"
)

// Fault names how a run went wrong on the way, before anyone looks at the
// console: the harness's view.
type Fault string

// Faults a run can end with.
const (
	FaultNone        Fault = ""
	FaultBoot        Fault = "boot-failure"    // the guest never reached its agent
	FaultCrash       Fault = "crash"           // the guest kernel panicked or reset
	FaultHang        Fault = "hang"            // silent console and silent agent
	FaultTimeout     Fault = "timeout"         // the command outlived its timeout
	FaultLost        Fault = "connection-lost" // the agent connection dropped, guest alive
	FaultQEMUDied    Fault = "qemu-died"       // QEMU killed from outside
	FaultInterrupted Fault = "interrupted"     // faultline was asked to stop
	FaultInfra       Fault = "infra"           // anything else on the host side
)

// Verdicts a run can get.
const (
	Clean     = "clean"              // no crash, no lost data, no hang
	Crash     = "crash"              // an oops, a panic, a known symptom, or the workload killed by a fault signal
	Integrity = "integrity"          // data lost or corrupted, no oops
	Hang      = "hang"               // silent console and agent, or the command never ended
	Boot      = "boot-failure"       // the guest never became ready
	Infra     = "infra-error"        // harness-side trouble: never a kernel bug
	Expect    = "expectation-failed" // a positive control did not show its signature
)

// All lists the verdicts in the order reports show them.
var All = []string{Clean, Crash, Integrity, Hang, Boot, Infra, Expect}

// Exit codes of faultline. "faultline vm" otherwise exits with the guest
// command's own status.
const (
	ExitOK          = 0
	ExitFinding     = 1   // a campaign or job found what it looks for (a crash, lost data, a hang, a missed control)
	ExitUsage       = 2   // bad command line or input, before anything ran
	ExitHang        = 121 // the guest hung: silent console, agent not answering
	ExitCrash       = 122 // the guest kernel crashed
	ExitBoot        = 123 // the guest did not boot
	ExitTimeout     = 124 // the guest command timed out
	ExitError       = 125 // faultline could not do its job (missing tool, infrastructure)
	ExitInterrupted = 130 // interrupted (a campaign resumes with --resume DIR)
)

// Rule is one row of the table from fault to verdict to exit code.
type Rule struct {
	Fault Fault
	// Verdict is the run's verdict when the console shows no crash report.
	Verdict string
	// ReportWins says that a crash report on the console makes the run a
	// crash whatever the fault (a dropped connection after an oops is the
	// oops).
	ReportWins bool
	// Exit is faultline vm's exit code for the fault.
	Exit int
}

// Rules is the table: every fault, its verdict and its exit code.
var Rules = []Rule{
	{FaultNone, Clean, true, ExitOK},
	{FaultBoot, Boot, false, ExitBoot},
	{FaultCrash, Crash, true, ExitCrash},
	{FaultHang, Hang, false, ExitHang},
	{FaultTimeout, Hang, true, ExitTimeout},
	{FaultLost, Infra, true, ExitError},
	{FaultQEMUDied, Infra, true, ExitError},
	{FaultInterrupted, Infra, false, ExitInterrupted},
	{FaultInfra, Infra, true, ExitError},
}

// RuleOf returns the table's row for a fault (FaultInfra's for one it does
// not know).
func RuleOf(f Fault) Rule {
	for _, r := range Rules {
		if r.Fault == f {
			return r
		}
	}
	return Rules[len(Rules)-1]
}

// ExitCode is faultline's exit code for a fault.
func ExitCode(f Fault) int { return RuleOf(f).Exit }

// Outcome is what happened in one run of a case, as the executor saw it:
// plain data, whatever ran it (a local VM, a remote worker, a fake).
type Outcome struct {
	Case    string    `json:"case"`
	Kernel  string    `json:"kernel"`
	Release string    `json:"release"`
	Seed    int64     `json:"seed"`
	Argv    []string  `json:"argv"`
	Started time.Time `json:"started"`
	// Workload says the command was a faultline workload (not a user's
	// shell command): its exit code and summary follow its rules.
	Workload bool `json:"workload"`
	// Boot is QEMU start to the agent ready; Run the command's wall time;
	// Wall the whole run, VM preparation and shutdown included.
	Boot time.Duration `json:"boot_ns"`
	Run  time.Duration `json:"run_ns"`
	Wall time.Duration `json:"wall_ns"`
	// Fault is the harness's view of how it ended; Error the detail (one
	// line) and ConsoleTail the console's last lines when it went wrong.
	Fault       Fault  `json:"fault,omitempty"`
	Error       string `json:"error,omitempty"`
	ConsoleTail string `json:"console_tail,omitempty"`
	// ExitCode is the guest command's exit status (-1 if it did not end).
	ExitCode int `json:"exit_code"`
	// Summary is the workload's JSON summary, if it printed one.
	Summary *workloads.Summary `json:"summary,omitempty"`
	// Injections are the injection reports from the guest.
	Injections []probes.Report `json:"injections,omitempty"`
	// Console, Stdout and Stderr are the paths of the run's files.
	Console string `json:"console"`
	Stdout  string `json:"stdout"`
	Stderr  string `json:"stderr"`
	// StorageError is set when a run file could not be written in full
	// (a full disk): the run cannot be trusted.
	StorageError string `json:"storage_error,omitempty"`
	// Worker and Deliveries say, for a run on a remote worker, which
	// worker ran it and how often the job had been delivered (more than
	// once: a worker was lost before).
	Worker     string `json:"worker,omitempty"`
	Deliveries int    `json:"deliveries,omitempty"`
	// Overhead is, for a remote run, the coordinator's wait beyond the
	// worker's Wall: queueing, transfer of the job, the outcome and the
	// files.
	Overhead time.Duration `json:"overhead_ns,omitempty"`
}
