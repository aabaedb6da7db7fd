package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"faultline/agentctl"
	"faultline/harness"
	"faultline/kernels"
	"faultline/probes"
	"faultline/verdict"
	"faultline/workloads"
)

// Job is one run to execute: a case, its kernel, the run's seed and the
// directory that receives its files (console.log, stdout.txt, stderr.txt).
// ID names the attempt uniquely and stably (the same campaign, planned run
// and attempt give the same ID, also after a resume): a remote executor
// deduplicates by it.
type Job struct {
	Case   *Case
	Kernel *kernels.Kernel
	Seed   int64
	Dir    string
	ID     string
}

// Executor runs jobs. It always returns an outcome: what went wrong is its
// Fault and Error. Local runs them in VMs on this machine; a distributed
// executor runs them elsewhere and returns the same outcomes.
type Executor interface {
	Execute(ctx context.Context, j Job) *verdict.Outcome
}

// Local runs each job in a fresh VM from Pool on this machine.
type Local struct {
	// Pool hands out the VMs (harness.QEMU{} for real ones).
	Pool harness.Pool
	// Agent is the static faultline binary for the guest.
	Agent string
	// Accel is "auto", "tcg" or "kvm"; auto is resolved once, on the first
	// job's kernel, not in every VM at the same time.
	Accel string
	// BootTimeout bounds the boot (default 60 s).
	BootTimeout time.Duration
	// Progress receives progress lines (nil: none).
	Progress func(string)

	once  sync.Once
	accel string
	err   error
}

func (l *Local) resolveAccel(ctx context.Context, k *kernels.Kernel) (string, error) {
	l.once.Do(func() {
		l.accel = l.Accel
		if l.accel == "" {
			l.accel = "auto"
		}
		if _, real := l.Pool.(harness.QEMU); !real || l.accel == "tcg" {
			return
		}
		qemu, err := harness.ToolQEMU.Find()
		if err != nil {
			l.err = err
			return
		}
		l.accel, l.err = harness.ResolveAccel(ctx, qemu, l.accel, k, l.Progress)
	})
	return l.accel, l.err
}

// Execute runs the job once in a fresh VM. The VM is gone when it returns.
func (l *Local) Execute(ctx context.Context, j Job) *verdict.Outcome {
	c, k := j.Case, j.Kernel
	start := time.Now()
	out := &verdict.Outcome{Case: c.Name, Kernel: k.Name, Release: k.Release, Seed: j.Seed, Argv: c.Argv(j.Seed),
		Workload: c.Command == "", Started: start, ExitCode: -1,
		Console: filepath.Join(j.Dir, "console.log"), Stdout: filepath.Join(j.Dir, "stdout.txt"), Stderr: filepath.Join(j.Dir, "stderr.txt")}
	defer func() { out.Wall = time.Since(start) }()
	fault := func(err error) {
		out.Fault, out.Error = harness.FaultOf(ctx, err), err.Error()
		var he *harness.Error
		if errors.As(err, &he) {
			out.Error, out.ConsoleTail = he.Message(), he.Tail
		}
	}
	if err := os.MkdirAll(j.Dir, 0o755); err != nil {
		out.Fault, out.Error, out.StorageError = verdict.FaultInfra, err.Error(), err.Error()
		return out
	}
	accel, err := l.resolveAccel(ctx, k)
	if err != nil {
		fault(err)
		return out
	}
	vm, err := l.Pool.Create(harness.Options{
		Kernel: k, FS: c.FS, MkfsOpts: c.Mkfs, MountOpts: strings.Join(c.Mount, ","), DiskSize: c.DiskSize,
		CPUs: c.CPUs, MemoryMB: c.MemoryMB, NUMANodes: c.NUMA, Net: c.Net, CPUModel: c.CPUModel, Accel: accel, BootTimeout: l.BootTimeout,
		Cmdline: c.Append, ConsolePath: out.Console, Agent: l.Agent, Progress: l.Progress,
	})
	if err != nil {
		out.Fault, out.Error = verdict.FaultInfra, err.Error()
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
		out.ExitCode, err = vm.Run(ctx, &harness.Command{Shell: harness.ShellQuote(out.Argv), Stdout: stdout, Stderr: stderr,
			Timeout: c.Timeout, HangAfter: c.HangTimeout})
		out.Run = time.Since(runStart)
		if err == nil && len(c.Inject) > 0 {
			out.Injections, _ = agentctl.Injections(ctx, vm)
		}
	} else if out.Boot == 0 {
		out.Boot = time.Since(bootStart)
	}
	if err != nil {
		fault(err)
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
