package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"faultline/kernels"
	"faultline/probes"
	"faultline/workloads"
)

// Fault names how a run went wrong on the way, before anyone looks at the
// console: the harness's view. The verdict (results.Judge) is made from it,
// the console's crash reports and the workload's integrity check.
type Fault string

// Faults a run can end with.
const (
	FaultNone        Fault = ""
	FaultBoot        Fault = "boot-failure"    // the guest never reached its agent
	FaultCrash       Fault = "crash"           // the guest kernel panicked or reset
	FaultHang        Fault = "hang"            // silent console and silent agent
	FaultTimeout     Fault = "timeout"         // the command outlived its timeout
	FaultLost        Fault = "connection-lost" // SSH dropped, guest alive
	FaultQEMUDied    Fault = "qemu-died"       // QEMU killed from outside
	FaultInterrupted Fault = "interrupted"     // faultline was asked to stop
	FaultInfra       Fault = "infra"           // anything else on the host side
)

// Outcome is what happened in one run of a case, as the harness saw it.
type Outcome struct {
	Case    string    `json:"case"`
	Kernel  string    `json:"kernel"`
	Release string    `json:"release"`
	Seed    int64     `json:"seed"`
	Argv    []string  `json:"argv"`
	Started time.Time `json:"started"`
	// Boot is QEMU start to the agent ready; Run the command's wall time;
	// Wall the whole run, VM preparation and shutdown included.
	Boot time.Duration `json:"boot_ns"`
	Run  time.Duration `json:"run_ns"`
	Wall time.Duration `json:"wall_ns"`
	// Fault is the harness's view of how it ended; Error the detail.
	Fault Fault  `json:"fault,omitempty"`
	Error string `json:"error,omitempty"`
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
}

// ExecOptions say where and how a run executes.
type ExecOptions struct {
	// Dir receives console.log, stdout.txt and stderr.txt.
	Dir string
	// Agent is the static faultline binary for the guest.
	Agent string
	// Accel is "auto", "tcg" or "kvm".
	Accel string
	// BootTimeout bounds the boot (default 60 s).
	BootTimeout time.Duration
	// Progress receives progress lines (nil: none).
	Progress func(string)
}

// Execute runs case c once with seed on kernel k in a fresh VM, and always
// returns an outcome: errors become its Fault and Error. QEMU is gone when it
// returns.
func Execute(ctx context.Context, c *Case, k *kernels.Kernel, seed int64, o ExecOptions) *Outcome {
	start := time.Now()
	out := &Outcome{Case: c.Name, Kernel: k.Name, Release: k.Release, Seed: seed, Argv: c.Argv(seed),
		Started: start, ExitCode: -1,
		Console: filepath.Join(o.Dir, "console.log"), Stdout: filepath.Join(o.Dir, "stdout.txt"), Stderr: filepath.Join(o.Dir, "stderr.txt")}
	defer func() { out.Wall = time.Since(start) }()
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		out.Fault, out.Error, out.StorageError = FaultInfra, err.Error(), err.Error()
		return out
	}
	vm, err := New(Options{
		Kernel: k, FS: c.FS, MkfsOpts: c.Mkfs, MountOpts: strings.Join(c.Mount, ","), DiskSize: c.DiskSize,
		CPUs: c.CPUs, MemoryMB: c.MemoryMB, NUMANodes: c.NUMA, CPUModel: c.CPUModel, Accel: o.Accel, BootTimeout: o.BootTimeout,
		Cmdline: c.Append, ConsolePath: out.Console, Agent: o.Agent, Progress: o.Progress,
	})
	if err != nil {
		out.Fault, out.Error = FaultInfra, err.Error()
		return out
	}
	stdout := &capFile{path: out.Stdout, max: 4 << 20}
	stderr := &capFile{path: out.Stderr, max: 1 << 20}
	defer func() {
		if err := errors.Join(stdout.close(), stderr.close()); err != nil && out.StorageError == "" {
			out.StorageError = err.Error()
		}
	}()
	bootStart := time.Now()
	err = vm.Boot(ctx)
	t := vm.Timings()
	out.Boot = t.Listening + t.Connected + t.Ready
	if err == nil {
		runStart := time.Now()
		out.ExitCode, err = vm.Run(ctx, &Command{Shell: ShellQuote(out.Argv), Stdout: stdout, Stderr: stderr,
			Timeout: c.Timeout, HangAfter: c.HangTimeout})
		out.Run = time.Since(runStart)
		if err == nil && len(c.Inject) > 0 {
			out.Injections = fetchInjections(ctx, vm)
		}
	} else if out.Boot == 0 {
		out.Boot = time.Since(bootStart)
	}
	if err != nil {
		out.Fault, out.Error = faultOf(ctx, err), err.Error()
	}
	if cerr := vm.Close(); cerr != nil && out.Error == "" {
		out.Error = cerr.Error()
	}
	if cerr := vm.ConsoleErr(); cerr != nil {
		out.StorageError = "console: " + cerr.Error()
	}
	if out.Injections == nil && len(c.Inject) > 0 {
		// The guest died before the final report: take the last counters
		// it wrote to its kernel log.
		if b, err := os.ReadFile(out.Console); err == nil {
			out.Injections = probes.ReportsFromLog(b)
		}
	}
	if b := stdout.head(); len(b) > 0 {
		var s workloads.Summary
		if json.Unmarshal(b, &s) == nil && s.Workload != "" {
			out.Summary = &s
		}
	}
	return out
}

// faultOf sorts a VM error into a fault.
func faultOf(ctx context.Context, err error) Fault {
	switch {
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		return FaultInterrupted
	case errors.Is(err, ErrQEMUDied):
		return FaultQEMUDied
	case errors.Is(err, ErrKernelCrashed):
		return FaultCrash
	case errors.Is(err, ErrBootFailure):
		return FaultBoot
	case errors.Is(err, ErrHang):
		return FaultHang
	case errors.Is(err, ErrTimeout):
		return FaultTimeout
	case errors.Is(err, ErrConnectionLost):
		return FaultLost
	}
	return FaultInfra
}

// fetchInjections reads the guest's injection report.
func fetchInjections(ctx context.Context, vm Instance) []probes.Report {
	var b bytes.Buffer
	code, err := vm.Run(ctx, &Command{Shell: "cat " + GuestInjectReport, Stdout: &b, Stderr: io.Discard, Timeout: 30 * time.Second})
	if err != nil || code != 0 {
		return nil
	}
	var r struct {
		Injections []probes.Report `json:"injections"`
	}
	if json.Unmarshal(b.Bytes(), &r) != nil {
		return nil
	}
	return r.Injections
}

// capFile writes a run's output stream to a file, keeping at most max bytes
// (the rest is counted and noted), and remembers the first write error
// without failing the stream: the guest command must not notice.
type capFile struct {
	path    string
	max     int64
	f       *os.File
	n       int64
	dropped int64
	err     error
	buf     []byte // the first 1 MiB, for the summary
}

func (c *capFile) Write(p []byte) (int, error) {
	if len(c.buf) < 1<<20 {
		c.buf = append(c.buf, p[:min(len(p), 1<<20-len(c.buf))]...)
	}
	if c.f == nil && c.err == nil {
		c.f, c.err = os.Create(c.path)
	}
	room := c.max - c.n
	w := p
	if int64(len(w)) > room {
		w = w[:max(room, 0)]
	}
	c.dropped += int64(len(p) - len(w))
	if c.f != nil && len(w) > 0 && c.err == nil {
		var n int
		n, c.err = c.f.Write(w)
		c.n += int64(n)
	}
	return len(p), nil
}

func (c *capFile) head() []byte { return c.buf }

func (c *capFile) close() error {
	if c.f == nil && c.err == nil {
		c.f, c.err = os.Create(c.path)
	}
	if c.f != nil {
		if c.dropped > 0 && c.err == nil {
			_, c.err = fmt.Fprintf(c.f, "\n[faultline: %d more bytes not kept]\n", c.dropped)
		}
		if err := c.f.Close(); err != nil && c.err == nil {
			c.err = err
		}
	}
	if c.err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(c.path), c.err)
	}
	return nil
}

// ShellQuote joins argv into a command line that /bin/sh -c splits back into
// argv.
func ShellQuote(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
		}) < 0 {
			q[i] = a
			continue
		}
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
