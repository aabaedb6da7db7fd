package oops

import (
	"strconv"
	"strings"
)

// line is one console line with its printk decorations removed.
type line struct {
	num  int    // 1-based line number in the log
	raw  string // as logged, without "\r"
	text string // without <level>, [timestamp] and [T123]/[C1] caller id
	ctx  string // the caller id ("T123", "C1"), if the log had one
}

// What printk and serial capture put before a message: a syslog level
// (<6>), a timestamp ([  12.345678]), a caller id ([T123], [  C1]:
// CONFIG_PRINTK_CALLER); see printkPrefix.

// printkPrefix returns the length of the printk prefix at the start of r
// (what ^(?:<\d+>)?(?:\[\s*\d+\.\d+\])?(?:\[\s*([TC]\d+)\])? matches) and
// the caller id in it, without a regexp: this runs on every line.
func printkPrefix(r string) (end int, ctx string) {
	i := 0
	// <level>
	if i < len(r) && r[i] == '<' {
		j := i + 1
		for j < len(r) && isDigit(r[j]) {
			j++
		}
		if j > i+1 && j < len(r) && r[j] == '>' {
			i = j + 1
		}
	}
	// [  123.456789]
	if i < len(r) && r[i] == '[' {
		j := skipSpace(r, i+1)
		k := skipDigits(r, j)
		if k > j && k < len(r) && r[k] == '.' {
			m := skipDigits(r, k+1)
			if m > k+1 && m < len(r) && r[m] == ']' {
				i = m + 1
			}
		}
	}
	// [T123] or [  C1]
	if i < len(r) && r[i] == '[' {
		j := skipSpace(r, i+1)
		if j < len(r) && (r[j] == 'T' || r[j] == 'C') {
			k := skipDigits(r, j+1)
			if k > j+1 && k < len(r) && r[k] == ']' {
				return k + 1, r[j:k]
			}
		}
	}
	return i, ""
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func skipDigits(r string, i int) int {
	for i < len(r) && isDigit(r[i]) {
		i++
	}
	return i
}

// skipSpace skips what \s matches.
func skipSpace(r string, i int) int {
	for i < len(r) && (r[i] == ' ' || r[i] == '\t' || r[i] == '\n' || r[i] == '\f' || r[i] == '\r') {
		i++
	}
	return i
}

func splitLines(log []byte) []line {
	s := strings.ReplaceAll(string(log), "\r", "")
	raw := strings.Split(s, "\n")
	if n := len(raw); n > 0 && raw[n-1] == "" {
		raw = raw[:n-1]
	}
	out := make([]line, len(raw))
	for i, r := range raw {
		l := line{num: i + 1, raw: r}
		text := r
		if end, ctx := printkPrefix(r); end > 0 {
			text = strings.TrimPrefix(r[end:], " ")
			l.ctx = ctx
		}
		l.text = text
		out[i] = l
	}
	return out
}

// frameRE matches a stack frame: "func+0x1/0x2", optionally behind an
// old-style "[<ffffffff81234567>]" address, optionally marked unreliable
// with "?", optionally followed by a module name.
var frameRE = lazy(`^\s*(?:\[<[0-9a-f]+>\]\s*)?(\?\s*)?(?:\[<[0-9a-f]+>\]\s*)?([A-Za-z0-9_.$]+)\+0x[0-9a-f]+/0x[0-9a-f]+`)

// ripRE matches the line that names the faulting instruction: x86 "RIP:"
// and "IP:", arm64 "pc :", arm "PC is at", powerpc "NIP".
var ripRE = lazy(`(?:^|\s)(?:RIP: [0-9a-f]{4}:|EIP: [0-9a-f]{4}:|IP:|pc :|PC is at|NIP \[[0-9a-f]+\])\s*(?:\[<[0-9a-f]+>\]\s*)*(?:\[<[0-9a-f]+>\]\s*)?([A-Za-z0-9_.$]+)\+0x[0-9a-f]+/0x[0-9a-f]+`)

// frame is a function in a stack trace.
type frame struct {
	fn       string // normalised: compiler suffixes (.isra.0, .part.1, .cold) removed
	reliable bool   // not marked "?"
}

// syscallRE matches the wrappers around a system call's body.
var syscallRE = lazy(`^(?:SyS_|sys_|ksys_|__se_sys_|__do_sys_|compat_SyS_|__se_compat_sys_|__do_compat_sys_)(\w+)`)

// archSyscallRE matches the architecture's syscall stubs, named sys_X.
var archSyscallRE = lazy(`^__(?:x64|ia32|arm64|s390x|riscv)_(?:compat_)?sys_(\w+)`)

// cleanFunc removes the suffixes the compiler adds to function clones
// (.isra.0, .part.1, .cold, .constprop.0).
func cleanFunc(fn string) string {
	if i := strings.IndexByte(fn, '.'); i > 0 {
		fn = fn[:i]
	}
	return fn
}

// synchronizeRE matches the flavours of waiting for an RCU grace period,
// which hang reports name as one.
var synchronizeRE = lazy(`^_?_?synchronize_(?:s?rcu|sched|rcu_bh)(?:_expedited|_normal)?$`)

// titleFunc is how a guilty function appears in a title: a system call by
// its own name (SyS_bpf, __x64_sys_bpf: bpf), grace-period waits as
// synchronize_rcu, C++-mangled test names demangled to the bare name.
func titleFunc(fn string) string {
	if m := syscallRE.FindStringSubmatch(fn); m != nil {
		return m[1]
	}
	if m := archSyscallRE.FindStringSubmatch(fn); m != nil {
		return "sys_" + m[1]
	}
	if synchronizeRE.MatchString(fn) {
		return "synchronize_rcu"
	}
	if m := mangledRE.FindStringSubmatch(fn); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil && n <= len(m[2]) {
			return m[2][:n]
		}
	}
	return fn
}

// mangledRE matches an Itanium C++ mangled name (_Z8fakeNameiii).
var mangledRE = lazy(`^_Z(\d+)([A-Za-z_]\w*)`)

// armFrameRE matches the 32-bit ARM unwinder's "[<pc>] (func) from [<lr>]
// (caller+0x18/0x1c)" lines. The frame is the caller: with tail calls the
// next line does not always name it again. A caller printed as a bare
// address ("(0xffffffff)": the unwinder lost it) is no frame.
var armFrameRE = lazy(`^\s*\[<[0-9a-f]+>\] \([A-Za-z0-9_.$]+(?:\+0x[0-9a-f]+/0x[0-9a-f]+)?\) from \[<[0-9a-f]+>\] \(([A-Za-z_.$][A-Za-z0-9_.$]*)\b`)

// parseFrame returns the frame a line holds, if any.
func parseFrame(text string) (frame, bool) {
	if !strings.Contains(text, "+0x") && !strings.Contains(text, ") from [<") {
		return frame{}, false // cheap test first: most lines are not frames
	}
	if strings.Contains(text, ") from [<") {
		if m := armFrameRE.FindStringSubmatch(text); m != nil {
			return frame{fn: cleanFunc(m[1]), reliable: true}, true
		}
	}
	m := frameRE.FindStringSubmatch(text)
	if m == nil {
		return frame{}, false
	}
	return frame{fn: cleanFunc(m[2]), reliable: m[1] == ""}, true
}

// parseRIP returns the function a RIP:/IP:/pc line names.
func parseRIP(text string) (string, bool) {
	m := ripRE.FindStringSubmatch(text)
	if m == nil {
		return "", false
	}
	return cleanFunc(m[1]), true
}
