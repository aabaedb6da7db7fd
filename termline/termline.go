// Package termline prints progress lines on a stream. On a terminal it
// keeps one status line under them, rewritten in place; elsewhere (a log,
// CI) every line is a plain line and frequent updates are thinned out.
package termline

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// Writer prints "faultline: "-prefixed lines and a status line.
type Writer struct {
	f     *os.File
	tty   bool
	quiet bool
	// Every is how often a status update is printed as a line when the
	// stream is not a terminal (0: never).
	Every time.Duration

	mu     sync.Mutex
	status string
	shown  bool
	last   time.Time
}

// New returns a Writer on f; quiet prints nothing at all.
func New(f *os.File, quiet bool) *Writer {
	return &Writer{f: f, quiet: quiet, tty: !quiet && term.IsTerminal(int(f.Fd()))}
}

// Line prints a line (above the status line on a terminal).
func (w *Writer) Line(s string) {
	if w.quiet {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.tty {
		fmt.Fprintln(w.f, "faultline: "+s)
		return
	}
	fmt.Fprintf(w.f, "\r\033[Kfaultline: %s\n", s)
	if w.status != "" {
		fmt.Fprintf(w.f, "faultline: %s", w.status)
	}
}

// Status sets the status line: rewritten in place on a terminal; printed
// as a line at most every Every otherwise. "" ends it.
func (w *Writer) Status(s string) {
	if w.quiet {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.status = s
	switch {
	case s == "":
		if w.tty && w.shown {
			fmt.Fprint(w.f, "\r\033[K")
		}
		w.shown = false
	case w.tty:
		if len(s) > 150 {
			s = s[:150]
		}
		fmt.Fprintf(w.f, "\r\033[Kfaultline: %s", s)
		w.shown = true
	case w.Every > 0 && time.Since(w.last) >= w.Every:
		w.last = time.Now()
		fmt.Fprintln(w.f, "faultline: "+strings.TrimSpace(s))
	}
}

// Tick calls Status(f()) every second on a terminal until stop is called;
// stop ends the status line.
func (w *Writer) Tick(f func() string) (stop func()) {
	if !w.tty {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				w.Status(f())
			case <-done:
				return
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		w.Status("")
	}
}
