//go:build !faultline_agent

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/term"

	"faultline/campaign"
	"faultline/harness"
	"faultline/verdict"
)

// hostExitCode maps errors to exit codes: a VM's fault through the one
// table (verdict.Rules), bad input to 2.
func hostExitCode(err error) (int, bool) {
	var he *harness.Error
	switch {
	case errors.As(err, &he):
		return verdict.ExitCode(he.Fault), true
	case errors.Is(err, campaign.ErrInput), errors.Is(err, campaign.ErrBadScenario):
		return verdict.ExitUsage, true
	case errors.Is(err, context.Canceled):
		return verdict.ExitInterrupted, true
	}
	return 0, false
}

// progress prints a progress line on stderr.
func progress(s string) { fmt.Fprintln(os.Stderr, "faultline: "+s) }

// parseFlags parses a command's flags: ok false means return code now
// (0 after --help, 2 after a bad flag).
func parseFlags(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return verdict.ExitOK, false
		}
		return verdict.ExitUsage, false
	}
	return 0, true
}

// usageError prints msg and returns the usage exit code.
func usageError(msg string) int {
	fmt.Fprintln(os.Stderr, msg)
	return verdict.ExitUsage
}

// progressPrinter prints a campaign's progress lines on stderr; on a
// terminal it keeps a status line under them, redrawn every second.
type progressPrinter struct {
	quiet, tty bool
	mu         sync.Mutex
	last       campaign.Status
}

func newProgress(quiet bool) *progressPrinter {
	return &progressPrinter{quiet: quiet, tty: !quiet && term.IsTerminal(int(os.Stderr.Fd()))}
}

// line prints a plain progress line.
func (p *progressPrinter) line(s string) {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.print(s)
}

func (p *progressPrinter) print(s string) {
	if p.tty {
		fmt.Fprintf(os.Stderr, "\r\033[Kfaultline: %s\n", s)
		if p.last.Planned > 0 {
			fmt.Fprintf(os.Stderr, "faultline: %s", p.last)
		}
		return
	}
	fmt.Fprintln(os.Stderr, "faultline: "+s)
}

// event prints a campaign event.
func (p *progressPrinter) event(e campaign.Event) {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last = e.Status
	p.print(e.Line)
}

// statusLine redraws the status line every second on a terminal until the
// returned stop is called.
func (p *progressPrinter) statusLine(status func() campaign.Status) (stop func()) {
	if !p.tty {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				p.mu.Lock()
				p.last = status()
				fmt.Fprintf(os.Stderr, "\r\033[Kfaultline: %s", p.last)
				p.mu.Unlock()
			case <-done:
				return
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		fmt.Fprint(os.Stderr, "\r\033[K")
	}
}
