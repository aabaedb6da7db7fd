package harness

import (
	"bytes"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"faultline/guest/pid1"
)

const consoleTailSize = 64 << 10

// consoleWriter stores the guest console as it arrives (every byte goes to
// the file at once, so a crash of faultline loses nothing already printed),
// echoes it if asked, and watches it for the agent's ready line and for
// kernel panics.
type consoleWriter struct {
	f    *os.File
	echo io.Writer

	lastWrite atomic.Int64 // unix nanoseconds of the last console output

	mu        sync.Mutex
	line      []byte
	last      []byte // the last consoleTailSize bytes
	panic     bool
	failed    string // the agent's setup-failed line
	listening chan struct{}
	ready     chan struct{}
	isListen  bool
	isReady   bool
	writeErr  error  // the first error writing the console file
	agentDied string // the agent's server-exited line, or its Go panic
	goPanic   string // a Go panic's first line (the agent's runtime)
	initDied  bool   // PID 1 (the agent) died of that panic: not a kernel crash
}

func newConsoleWriter(f *os.File, echo io.Writer) *consoleWriter {
	c := &consoleWriter{f: f, echo: echo, ready: make(chan struct{}), listening: make(chan struct{})}
	c.lastWrite.Store(time.Now().UnixNano())
	return c
}

// silentFor is how long the console has been silent.
func (c *consoleWriter) silentFor() time.Duration {
	return time.Since(time.Unix(0, c.lastWrite.Load()))
}

// panicMarkers are console lines after which the kernel is gone.
var panicMarkers = []string{"Kernel panic - not syncing", "---[ end Kernel panic"}

func (c *consoleWriter) Write(p []byte) (int, error) {
	n := len(p)
	c.lastWrite.Store(time.Now().UnixNano())
	// A write error (a full disk) must not stop the copy: QEMU would block
	// on its serial port and the guest with it. It is remembered instead.
	_, werr := c.f.Write(p)
	if c.echo != nil {
		_, _ = c.echo.Write(p)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if werr != nil && c.writeErr == nil {
		c.writeErr = werr
	}
	c.last = append(c.last, p...)
	if len(c.last) > 2*consoleTailSize {
		c.last = append([]byte(nil), c.last[len(c.last)-consoleTailSize:]...)
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			c.line = append(c.line, p...)
			if len(c.line) > 4096 {
				c.line = c.line[:0]
			}
			break
		}
		c.line = append(c.line, p[:i]...)
		c.scan(string(c.line))
		c.line = c.line[:0]
		p = p[i+1:]
	}
	return n, nil
}

func (c *consoleWriter) scan(line string) {
	switch {
	case !c.isListen && strings.Contains(line, pid1.ListeningLine):
		c.isListen = true
		close(c.listening)
	case !c.isReady && strings.Contains(line, pid1.ReadyLine):
		c.isReady = true
		close(c.ready)
	case c.failed == "" && strings.Contains(line, pid1.SetupFailedPrefix):
		_, c.failed, _ = strings.Cut(line, pid1.SetupFailedPrefix)
	case c.agentDied == "" && strings.Contains(line, pid1.ServerExitedPrefix):
		c.agentDied = strings.TrimSpace(line)
	case c.goPanic == "" && strings.HasPrefix(strings.TrimSpace(line), "panic: "):
		c.goPanic = strings.TrimSpace(line)
	}
	// The agent is PID 1 and runs the SSH server: a Go panic there ends
	// PID 1, and the kernel panics for it. That is the agent's failure,
	// not the kernel's (a fault the kernel sends is "fatal error: fault"
	// or "unexpected signal", not "panic:").
	if c.goPanic != "" && !c.panic && strings.Contains(line, "Attempted to kill init!") {
		c.initDied = true
		if c.agentDied == "" {
			c.agentDied = "faultline-agent (PID 1) died: " + c.goPanic
		}
	}
	if c.initDied {
		return
	}
	for _, m := range panicMarkers {
		if strings.Contains(line, m) {
			c.panic = true
		}
	}
}

func (c *consoleWriter) setupFailed() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failed
}

func (c *consoleWriter) panicked() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.panic
}

// tail returns the last n lines of the console.
func (c *consoleWriter) tail(n int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := strings.ReplaceAll(string(c.last), "\r", "")
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  | " + strings.Join(lines, "\n  | ")
}

// agentPanicked reports whether PID 1 (the agent) died of a Go panic, which
// made the kernel panic.
func (c *consoleWriter) agentPanicked() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.initDied
}

// serverDied returns the agent's line saying its SSH server died, or "".
func (c *consoleWriter) serverDied() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.agentDied
}

func (c *consoleWriter) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writeErr
}

func (c *consoleWriter) close() {
	_ = c.f.Close()
}
