// Package fakevm is a harness.Pool of fake instances for tests of what
// sits above the VM (the campaign engine, the jobs): each instance follows
// a script (console text, stdout, exit code, a fault at boot or run,
// timings, delays) instead of booting QEMU, and the pool records what it
// was asked to run and how many instances ran at once.
package fakevm

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"faultline/agentctl"
	"faultline/harness"
	"faultline/probes"
	"faultline/verdict"
)

// Script is what one fake instance does.
type Script struct {
	// Console is appended to the console log at boot (BootConsole) and
	// while the command runs (Console).
	BootConsole, Console string
	// Stdout is what the command prints (a workload's JSON summary).
	Stdout string
	// Exit is the command's exit status.
	Exit int
	// BootFault and RunFault, if set, make Boot or Run fail with a
	// *harness.Error of that fault (Detail and Tail as given).
	BootFault, RunFault verdict.Fault
	Detail, Tail        string
	// BootDelay and RunDelay are slept (cut short by the context) before
	// Boot and Run return; Block makes Run wait for the context.
	BootDelay, RunDelay time.Duration
	Block               bool
	// Injections is the injection report the agent leaves.
	Injections []probes.Report
	// Timings are what the instance reports.
	Timings harness.Timings
}

// Pool hands out fake instances. Script picks each one's script from its
// options (the console path names the run's directory).
type Pool struct {
	Script func(opts harness.Options) Script

	mu      sync.Mutex
	running int
	// MaxRunning is the most instances booted and not closed at once.
	MaxRunning int
	// Commands are the command lines run, in order (the agent's own
	// report reads left out).
	Commands []string
	// Created counts instances handed out.
	Created int
}

// Ran returns how many commands the pool's instances ran (the agent's own
// report reads left out).
func (p *Pool) Ran() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.Commands)
}

// Create returns a fake instance; bad options fail as harness.New's do.
func (p *Pool) Create(opts harness.Options) (harness.Instance, error) {
	if opts.Kernel == nil {
		return nil, fmt.Errorf("no kernel given")
	}
	p.mu.Lock()
	p.Created++
	p.mu.Unlock()
	s := Script{}
	if p.Script != nil {
		s = p.Script(opts)
	}
	return &Instance{pool: p, opts: opts, script: s}, nil
}

// Instance is one fake VM.
type Instance struct {
	pool            *Pool
	opts            harness.Options
	script          Script
	booted, closed  bool
	consoleErr      error
	failed, crashed bool
}

var _ harness.Instance = (*Instance)(nil)

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (i *Instance) appendConsole(s string) {
	if s == "" || i.opts.ConsolePath == "" {
		return
	}
	f, err := os.OpenFile(i.opts.ConsolePath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		i.consoleErr = err
		return
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		i.consoleErr = err
	}
}

func (i *Instance) fault(f verdict.Fault) error {
	i.failed = true
	i.crashed = f == verdict.FaultCrash
	return &harness.Error{Fault: f, Detail: i.script.Detail, Tail: i.script.Tail}
}

// Boot "boots": it counts the instance as running and follows the script.
func (i *Instance) Boot(ctx context.Context) error {
	if i.booted {
		return fmt.Errorf("VM already booted")
	}
	i.booted = true
	i.pool.mu.Lock()
	i.pool.running++
	i.pool.MaxRunning = max(i.pool.MaxRunning, i.pool.running)
	i.pool.mu.Unlock()
	i.appendConsole("[    0.000000] Linux version 6.1.0-fake\n" + i.script.BootConsole)
	if err := sleep(ctx, i.script.BootDelay); err != nil {
		return err
	}
	if i.script.BootFault != verdict.FaultNone {
		return i.fault(i.script.BootFault)
	}
	return nil
}

// Run follows the script for the command; the agent's report read returns
// the scripted injections.
func (i *Instance) Run(ctx context.Context, cmd *harness.Command) (int, error) {
	if !i.booted || i.closed {
		return -1, fmt.Errorf("VM not booted")
	}
	if cmd.Shell == "cat "+agentctl.InjectReport {
		b, _ := json.Marshal(map[string]any{"injections": i.script.Injections})
		_, _ = cmd.Stdout.Write(b)
		return 0, nil
	}
	i.pool.mu.Lock()
	i.pool.Commands = append(i.pool.Commands, cmd.Shell)
	i.pool.mu.Unlock()
	i.appendConsole(i.script.Console)
	if i.script.Stdout != "" && cmd.Stdout != nil {
		_, _ = io.WriteString(cmd.Stdout, i.script.Stdout)
	}
	d := i.script.RunDelay
	if i.script.Block {
		d = 24 * time.Hour
	}
	if err := sleep(ctx, d); err != nil {
		i.failed = true
		return -1, err
	}
	if i.script.RunFault != verdict.FaultNone {
		return -1, i.fault(i.script.RunFault)
	}
	return i.script.Exit, nil
}

// Timings returns the scripted timings.
func (i *Instance) Timings() harness.Timings { return i.script.Timings }

// Console returns the console log's path.
func (i *Instance) Console() string { return i.opts.ConsolePath }

// ConsoleErr returns the first error writing the console.
func (i *Instance) ConsoleErr() error { return i.consoleErr }

// Kept reports whether the console is kept.
func (i *Instance) Kept() bool { return i.opts.ConsolePath != "" || i.failed || i.crashed }

// Close "powers off".
func (i *Instance) Close() error {
	if i.closed {
		return nil
	}
	i.closed = true
	if i.booted {
		i.pool.mu.Lock()
		i.pool.running--
		i.pool.mu.Unlock()
	}
	return nil
}

// SeedOf returns the --seed=N of a workload command line, or "".
func SeedOf(shell string) string {
	for _, f := range strings.Fields(shell) {
		if v, ok := strings.CutPrefix(f, "--seed="); ok {
			return v
		}
	}
	return ""
}
