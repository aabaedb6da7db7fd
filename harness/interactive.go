package harness

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"
)

// Interactive makes cmd an interactive session on the local terminal tty:
// a pseudo-terminal of the local type and size in the guest, the local
// terminal in raw mode, and window size changes forwarded. The returned
// function restores the terminal.
func Interactive(cmd *Command, tty *os.File) (func(), error) {
	fd := int(tty.Fd())
	cols, rows, err := term.GetSize(fd)
	if err != nil {
		cols, rows = 80, 24
	}
	cmd.Term = os.Getenv("TERM")
	if cmd.Term == "" {
		cmd.Term = "xterm"
	}
	cmd.Rows, cmd.Cols = rows, cols
	state, err := term.MakeRaw(fd)
	if err != nil {
		return nil, fmt.Errorf("terminal raw mode: %w", err)
	}
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	resize := make(chan [2]int, 1)
	cmd.Resize = resize
	go func() {
		for range winch {
			if c, r, err := term.GetSize(fd); err == nil {
				select {
				case resize <- [2]int{r, c}:
				default:
				}
			}
		}
	}()
	return func() { signal.Stop(winch); _ = term.Restore(fd, state) }, nil
}
