package harness

import (
	"context"
	"errors"
	"strings"

	"faultline/verdict"
)

// Sentinels for errors.Is: a *Error unwraps to the one of its fault.
var (
	// ErrBootFailure: the guest did not reach the agent within the boot
	// timeout, or QEMU ended before it did.
	ErrBootFailure = errors.New("boot failure")
	// ErrKernelCrashed: the guest kernel panicked or the guest died while a
	// command ran.
	ErrKernelCrashed = errors.New("kernel crashed")
	// ErrTimeout: a command did not finish within its timeout.
	ErrTimeout = errors.New("command timed out")
	// ErrConnectionLost: the connection to the agent dropped but the guest
	// lives.
	ErrConnectionLost = errors.New("connection to the guest agent lost")
	// ErrHang: while a command ran, the console stayed silent and the agent
	// stopped answering: the guest is stuck.
	ErrHang = errors.New("guest hung")
	// ErrQEMUDied: QEMU was killed by a signal from outside (not a guest
	// panic or reset): trouble on the host, not a kernel bug.
	ErrQEMUDied = errors.New("qemu was killed")
)

var sentinels = map[verdict.Fault]error{
	verdict.FaultBoot: ErrBootFailure, verdict.FaultCrash: ErrKernelCrashed, verdict.FaultTimeout: ErrTimeout,
	verdict.FaultLost: ErrConnectionLost, verdict.FaultHang: ErrHang, verdict.FaultQEMUDied: ErrQEMUDied,
}

// Error is how a VM went wrong, as data: the fault kind, a one-line detail
// and the console's last lines.
type Error struct {
	Fault  verdict.Fault
	Detail string
	// Tail is the console's last lines ("" when they say nothing).
	Tail string
}

// Error gives the fault, the detail and the console tail.
func (e *Error) Error() string {
	msg := e.Message()
	if e.Tail != "" {
		msg += "; console tail:\n" + strings.TrimRight(e.Tail, "\n")
	}
	return msg
}

// Message gives the fault and the detail in a line, without the tail.
func (e *Error) Message() string {
	s := sentinels[e.Fault]
	msg := string(e.Fault)
	if s != nil {
		msg = s.Error()
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Unwrap returns the fault's sentinel (ErrHang, ...), for errors.Is.
func (e *Error) Unwrap() error { return sentinels[e.Fault] }

func vmError(f verdict.Fault, detail, tail string) *Error {
	return &Error{Fault: f, Detail: detail, Tail: tail}
}

// FaultOf sorts an error from a VM into a fault: a *Error's own, interrupted
// when ctx was cancelled, infra for anything else.
func FaultOf(ctx context.Context, err error) verdict.Fault {
	var e *Error
	switch {
	case err == nil:
		return verdict.FaultNone
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		return verdict.FaultInterrupted
	case errors.As(err, &e):
		return e.Fault
	}
	return verdict.FaultInfra
}
