package oops

import (
	"strings"
)

// oopsKind is one kind of kernel report: how to recognise its first line
// and how to title it.
type oopsKind struct {
	// needle is a fixed string every header of the kind contains (a cheap
	// filter before the regexp); "a|b" means either.
	needle string
	// header matches the report's first line.
	header *lazyRE
	// suppress lists header lines that look like the kind but are not
	// crashes.
	suppress []*lazyRE
	// needs, if set, must match one of the needsWithin lines after the
	// header for the report to count.
	needs       *lazyRE
	needsWithin int
	// continuation kinds (a panic after an oops) do not end the report
	// before them.
	continuation bool
	// absorbs matches headers of other kinds that, within a few lines of
	// this one, are part of the same report (ODEBUG's WARNING).
	absorbs *lazyRE
	// stackFollows kinds print their stack after a few lines of text: an
	// oops of the same task that starts before any frame was printed
	// happened while this report was printed, and belongs to it (lockdep
	// crashing in its own report).
	// It is a regexp on the header line (nil: never).
	stackFollows *lazyRE
	// noStack kinds print no stack trace of their own (KCSAN, KMSAN, a
	// free-text message): a report without one is not corrupted.
	noStack bool
	// describe sets title, type, frame and alternative titles.
	describe func(r *Report, m []string)
}

func re(s string) *lazyRE { return lazy(s) }

// anyLine matches every line.
var anyLine = re(``)

// reliableFrames returns the functions of the report's reliable stack
// frames, in order, from line index from on.
func (r *Report) reliableFrames(from int) []string {
	var out []string
	for _, l := range r.lines[min(from, len(r.lines)):] {
		if f, ok := parseFrame(l.text); ok && f.reliable {
			out = append(out, f.fn)
		}
	}
	return out
}

// faultFrame is the guilty frame of an x86 fault (general protection,
// page fault, divide error, ...): the faulting function, then the stack.
// Such a report always names the faulting instruction; without that line
// it is cut or garbled.
func (r *Report) faultFrame() string {
	if r.firstLineIndex(ipLineRE, 1) < 0 {
		r.CorruptedReason = "no instruction pointer line in the fault report"
		return ""
	}
	return r.guilty(true)
}

// ipLineRE is any line that gives the faulting instruction, with or
// without a function: x86 RIP/EIP/IP, arm64 "pc :", arm "PC is at",
// powerpc NIP.
var ipLineRE = re(`(?:^|\s)(?:[RE]?IP|NIP):? |^\s*pc : |PC is at `)

// ripFunc returns the function of the first kernel RIP/IP/pc line.
func (r *Report) ripFunc() string {
	for _, l := range r.lines {
		if fn, ok := parseRIP(l.text); ok {
			return fn
		}
	}
	return ""
}

// firstLineIndex returns the index of the first report line matching re
// at or after from, or -1.
func (r *Report) firstLineIndex(re *lazyRE, from int) int {
	for i := from; i < len(r.lines); i++ {
		if re.MatchString(r.lines[i].text) {
			return i
		}
	}
	return -1
}

// pick returns the first candidate that is not a generic frame.
func pick(cands ...string) string {
	for _, c := range cands {
		if c != "" && !skipFrame(c) {
			return c
		}
	}
	return ""
}

// pick returns the first candidate that is neither a generic frame nor one
// of the report kind's own (r.skip).
func (r *Report) pick(cands ...string) string {
	for _, c := range cands {
		if c != "" && !skipFrame(c) && (r.skip == nil || !r.skip.MatchString(c)) {
			return c
		}
	}
	return ""
}

// skipping sets the report kind's own generic frames (substrings, or
// anchored patterns) and returns r.
func (r *Report) skipping(patterns ...string) *Report {
	r.skip = re(strings.Join(patterns, "|"))
	return r
}

// faultInjectionRE is a fault-injection stack: printed by should_fail and
// should_failslab, it is frequently interleaved with a crash report, whose
// stack then cannot be told from it.
var faultInjectionRE = re(`^\s*(?:\[<?(?:0x)?[0-9a-f]+>?\]\s*)?should_fail(?:slab)?(?:\.[a-z0-9.]+)?\+0x`)

// guilty returns the first non-generic function among: the given
// candidates, then the RIP line (if rip), then the report's first stack.
// The stacks a sanitizer prints after it (where the object was allocated
// and freed, where uninit memory came from) say how the object came to
// be, not where the bug is: the frame never comes from them.
func (r *Report) guilty(rip bool, cands ...string) string {
	if rip {
		cands = append(cands, r.ripFunc())
	}
	stack := r.firstStack()
	for _, l := range r.lines[min(1, len(r.lines)):r.firstStackEnd()] {
		if faultInjectionRE.MatchString(l.text) {
			r.CorruptedReason = "a fault-injection stack is interleaved with the report"
			return ""
		}
	}
	return r.pick(append(cands, stack...)...)
}

// otherStackRE starts a stack that is not the report's own: the
// allocation and free stacks of KASAN, KFENCE and SLUB, KMSAN's origin,
// the work item's creation.
var otherStackRE = re(`^\s*(?:Allocated by task|Freed by task|Allocated:|Freed:|allocated by task|freed by task|Uninit was (?:created|stored)|Local variable .* created at|Last potentially related work creation|Second to last potentially related work creation|The buggy address belongs|Memory state around the buggy address|Last (?:call_rcu|timer|workqueue)|INFO: (?:Allocated|Freed|Slab) in)`)

// callTraceFrame is the first usable frame under "Call Trace:".
func (r *Report) callTraceFrame() string { return r.pick(r.callTrace()...) }

// firstStackEnd is the index of the line that ends the report's own
// stack: another kind of stack, or a second "Call Trace:" (another
// report's, printed into this one).
func (r *Report) firstStackEnd() int {
	end := r.firstLineIndex(otherStackRE, 1)
	if end < 0 {
		end = len(r.lines)
	}
	if i := r.firstLineIndex(callTraceRE, 1); i >= 0 {
		if j := r.firstLineIndex(callTraceRE, i+1); j >= 0 && j < end {
			end = j
		}
	}
	return end
}

// callTrace returns the reliable frames under the report's "Call Trace:"
// (its first stack when it has none).
func (r *Report) callTrace() []string {
	i := r.firstLineIndex(callTraceRE, 1)
	if i < 0 {
		return r.firstStack()
	}
	var out []string
	for _, l := range r.lines[i:] {
		if otherStackRE.MatchString(l.text) {
			break
		}
		if f, ok := parseFrame(l.text); ok && f.reliable {
			out = append(out, f.fn)
		}
	}
	return out
}

// firstStack returns the reliable frames of the report's own stack: up
// to the first stack of another kind.
func (r *Report) firstStack() []string {
	var out []string
	for _, l := range r.lines[min(1, len(r.lines)):r.firstStackEnd()] {
		if f, ok := parseFrame(l.text); ok && f.reliable {
			out = append(out, f.fn)
		}
	}
	return out
}

// irqEndRE marks the interrupt frames of a stack: their end (</IRQ>,
// <EOI>, arm's exception stack) or the timer interrupt's entry.
var irqEndRE = re(`</IRQ>|<EOI>|\bapic_timer_interrupt\b|sysvec_apic_timer_interrupt|Exception stack|el1h_64_irq`)

// irqEnd reports whether irqEndRE matches t, testing cheap strings first.
func irqEnd(t string) bool {
	return (strings.Contains(t, "</IRQ>") || strings.Contains(t, "<EOI>") || strings.Contains(t, "apic_timer_interrupt") ||
		strings.Contains(t, "Exception stack") || strings.Contains(t, "el1h_64_irq")) && irqEndRE.MatchString(t)
}

// irqEndIndex is the index of the first line after the header that irqEnd
// matches, or -1.
func (r *Report) irqEndIndex() int {
	for i := 1; i < len(r.lines); i++ {
		if irqEnd(r.lines[i].text) {
			return i
		}
	}
	return -1
}

// stallFrame returns the guilty frame of a stall or lockup. The stuck CPU
// loops somewhere in a larger piece of code, so the top frame is random;
// what identifies the bug is what the task was doing: among the non-generic
// frames of the interrupted stack (after the interrupt frames), the one
// before the first anchor (a dispatcher such as ioctl, sendmsg or a
// workqueue, whose caller says which device, protocol or work item loops),
// or the anchor itself when it comes first. A stack with no anchor at all
// does not say what the task was doing: no frame.
func (r *Report) stallFrame() string {
	return r.stallFrameFrom(r.irqEndIndex() + 1)
}

// stallFrameFrom is stallFrame over the report's lines from index start on
// (1 when the report shows no interrupt frames).
func (r *Report) stallFrameFrom(start int) string {
	start = max(start, 1)
	var fns []string
	if fn := r.ripFuncFrom(start); fn != "" {
		fns = append(fns, fn)
	}
	fns = append(fns, r.reliableFrames(start)...)
	var usable []string
	for _, fn := range fns {
		if !skipFrame(fn) && (r.skip == nil || !r.skip.MatchString(fn)) {
			usable = append(usable, fn)
		}
	}
	for i, fn := range usable {
		if stallAnchorRE.MatchString(stripSyscallPrefixes(fn)) {
			if strings.Contains(fn, "smp_call_function") {
				return "smp_call_function"
			}
			return usable[max(i-1, 0)]
		}
	}
	return ""
}

func (r *Report) ripFuncFrom(from int) string {
	for _, l := range r.lines[min(from, len(r.lines)):] {
		if fn, ok := parseRIP(l.text); ok {
			return fn
		}
	}
	return ""
}

// syscallPrefixes are the wrappers' prefixes of a system call's frames,
// removed in this order (__x64_sys_ioctl: sys_ioctl; compat_SyS_ioctl:
// ioctl; __sys_setsockopt: setsockopt) before a frame is compared with
// the stall anchors.
var syscallPrefixes = []string{"SYSC_", "SyS_", "sys_", "__x64_", "__ia32_", "__arm64_", "____sys_", "___sys_", "__sys_",
	"__se_", "__se_sys_", "__do_sys_", "compat_SYSC_", "compat_SyS_", "ksys_"}

func stripSyscallPrefixes(fn string) string {
	for _, p := range syscallPrefixes {
		fn = strings.TrimPrefix(fn, p)
	}
	return fn
}

// hasStack reports whether the report holds any stack frame (a header that
// names a function is not enough: without a stack the report was cut or
// garbled).
func (r *Report) hasStack() bool {
	for _, l := range r.lines[1:] {
		if _, ok := parseFrame(l.text); ok {
			return true
		}
	}
	return false
}

// setNoFrame fills in a title that names no function.
func (r *Report) setNoFrame(typ, title string) {
	if timestampRE.MatchString(title) {
		// Another line's printk timestamp inside the message: two lines
		// were merged.
		r.Corrupted, r.CorruptedReason = true, "a timestamp inside the title"
	}
	r.Type, r.Title, r.Frame = typ, sanitizeTitle(title), ""
}

// timestampRE is a printk timestamp.
var timestampRE = re(`\[ *[0-9]+\.[0-9]+\]`)

// titleReplacements are syzkaller's, in its order: what differs between
// two reports of one bug (executor process ids, addresses, IP addresses,
// source line numbers, function offsets, CPU numbers, other numbers)
// becomes a fixed word. Each is applied until the title stops changing
// (matches can overlap: "0,1,2"). An address is six or more hex digits,
// with or without 0x, after anything but a letter or a digit (so a run of
// the letters a-f after an underscore is one too, as syzbot has it); a
// number stands between non-word characters, or is seven digits or more.
var titleReplacements = []struct {
	re   *lazyRE
	with string
	// can reports whether the title may hold a match (a cheap test
	// first: most titles hold no number).
	can func(t string) bool
}{
	{re(`syz-executor\.?[0-9]+(?:[/:][0-9]+)?`), "syz-executor", func(t string) bool { return strings.Contains(t, "syz-executor") }},
	{re(`syzkaller[0-9]+(?:[/:][0-9]+)?`), "syzkaller", func(t string) bool { return strings.Contains(t, "syzkaller") }},
	{re(`([^a-zA-Z0-9])(?:0x)?[0-9a-f]{6,}`), "${1}ADDR", func(t string) bool { return hexRun(t, 6) }},
	{re(`([^a-zA-Z0-9])(?:[0-9]{1,3}\.){3}[0-9]{1,3}`), "${1}IP", func(t string) bool { return strings.Contains(t, ".") && hasDigit(t) }},
	{re(`(\.\w+)(?::[0-9]+)+`), "${1}:LINE", func(t string) bool { return strings.Contains(t, ":") && hasDigit(t) }},
	{re(`([a-zA-Z][a-zA-Z0-9_.]+)\+0x[0-9a-z]+/0x[0-9a-z]+`), "${1}", func(t string) bool { return strings.Contains(t, "+0x") }},
	{re(`CPU#[0-9]+`), "CPU", func(t string) bool { return strings.Contains(t, "CPU#") }},
	{re(`(\W)(\d+)(\W|$)`), "${1}NUM${3}", hasDigit},
	{re(`\d{7,}`), "NUM", hasDigit},
}

func hasDigit(t string) bool { return strings.ContainsAny(t, "0123456789") }

// hexRun reports whether t holds n hex digits (0-9, a-f) in a row.
func hexRun(t string, n int) bool {
	run := 0
	for i := 0; i < len(t); i++ {
		if c := t[i]; c >= '0' && c <= '9' || c >= 'a' && c <= 'f' {
			if run++; run >= n {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// maxTitleLen is where syzbot cuts a title (a corrupted or intermixed
// line can be very long).
const maxTitleLen = 120

// sanitizeTitle makes a title the same for every report of one bug, as
// syzbot does: titleReplacements, then at most maxTitleLen bytes, tabs as
// spaces, control and non-ASCII bytes dropped, runs of spaces as one, no
// space at either end.
func sanitizeTitle(t string) string {
	for _, r := range titleReplacements {
		if !r.can(t) {
			continue
		}
		for {
			n := r.re.ReplaceAllString(t, r.with)
			if n == t {
				break
			}
			t = n
		}
	}
	b := make([]byte, 0, len(t))
	prev := byte(' ')
	for i := 0; i < len(t) && i < maxTitleLen; i++ {
		c := t[i]
		switch {
		case c == '\t':
			c = ' '
		case c < 0x20 || c >= 0x7f:
			continue
		}
		if c == ' ' && prev == ' ' {
			continue
		}
		b = append(b, c)
		prev = c
	}
	return strings.TrimSpace(string(b))
}

// set fills in the title from format, where %s stands for the frame.
func (r *Report) set(typ, format, fn string, alts ...string) {
	r.Type = typ
	if fn == "" {
		fn = "corrupted"
		r.Corrupted = true
		if r.CorruptedReason == "" {
			r.CorruptedReason = "no usable stack frame"
		}
	}
	fn = titleFunc(fn)
	r.Frame = fn
	r.Title = sanitizeTitle(strings.Replace(format, "%s", fn, 1))
	for _, a := range alts {
		r.AltTitles = append(r.AltTitles, sanitizeTitle(strings.Replace(a, "%s", fn, 1)))
	}
}

// accessRE finds KASAN's "Read of size N" / "Write of size N".
var accessRE = re(`\b(Read|Write) (?:of size|at addr)`)

var kinds = []*oopsKind{
	// --- sanitizers ---
	{
		needle: "KASAN:",
		header: re(`BUG: KASAN: ([a-z\-]+(?: or [a-z\-]+)?)(?: in| on address)? ?([A-Za-z0-9_.]+)?`),
		describe: func(r *Report, m []string) {
			kind := m[1]
			if kind == "double-free" || strings.Contains(kind, "invalid-free") {
				r.skipping("slab_", "kfree", "vunmap", "vfree")
				r.set("KASAN-INVALID-FREE", "KASAN: invalid-free in %s", r.guilty(false, cleanFunc(m[2])), "invalid-free in %s")
				return
			}
			access := ""
			if i := r.firstLineIndex(accessRE, 0); i >= 0 {
				access = accessRE.FindStringSubmatch(r.lines[i].text)[1]
			}
			typ := "KASAN-" + strings.ToUpper(access)
			switch kind {
			case "use-after-free":
				typ = "KASAN-USE-AFTER-FREE-" + strings.ToUpper(access)
			case "null-ptr-deref":
				typ = "KASAN-NULL-POINTER-DEREFERENCE-" + strings.ToUpper(access)
			}
			title := "KASAN: " + kind
			if access != "" {
				title += " " + access
			}
			if strings.Contains(m[0], "on address") {
				// Old kernels: the report names no function.
				r.setNoFrame(strings.TrimSuffix(typ, "-"), title)
				return
			}
			if access == "" {
				// No "Read of size" line: cut short; titled by the header
				// as it stands (old kernels: "... in FUNC at addr ADDR").
				r.CorruptedReason = "no Read/Write line after the KASAN header"
				r.Corrupted = true
				r.setNoFrame(strings.TrimSuffix(typ, "-"), "KASAN: "+strings.TrimSpace(strings.TrimPrefix(r.lines[0].text[strings.Index(r.lines[0].text, "BUG: KASAN: "):], "BUG: KASAN: ")))
				return
			}
			var alts []string
			if kind != "null-ptr-deref" {
				alts = []string{"bad-access in %s"}
			}
			r.skipping("kernel_fault", "tag_check", "mem_abort", "^el1_", "^el1h_")
			r.set(strings.TrimSuffix(typ, "-"), title+" in %s", r.guilty(false, cleanFunc(m[2])), alts...)
		},
	},
	{
		needle:  "KMSAN:",
		noStack: true,
		header:  re(`BUG: KMSAN: ([a-z\-]+) in ([A-Za-z0-9_.]+)`),
		describe: func(r *Report, m []string) {
			r.skipping("alloc_skb", "netlink_ack", "netlink_rcv_skb", "_encrypt$", "^(?:crypto|cipher|drbg|rng)_")
			if m[1] == "kernel-usb-infoleak" {
				r.skipping("alloc_skb", "usb_submit_urb", "usb_start_wait_urb", "usb_bulk_msg", "usb_interrupt_msg", "usb_control_msg")
			}
			r.set("KMSAN-"+strings.ToUpper(m[1]), "KMSAN: "+m[1]+" in %s", r.guilty(false, cleanFunc(m[2])), "bad-access in %s")
		},
	},
	{
		needle:  "KFENCE:",
		noStack: true,
		header:  re(`BUG: KFENCE: ([a-z\- ]+?) in ([A-Za-z0-9_.]+)`),
		describe: func(r *Report, m []string) {
			typ := "KFENCE-" + strings.ToUpper(strings.ReplaceAll(m[1], " ", "-"))
			var alts []string
			switch {
			case strings.HasPrefix(m[1], "out-of-bounds") || strings.HasPrefix(m[1], "use-after-free"):
				typ = "KFENCE-" + strings.ToUpper(m[1][strings.LastIndex(m[1], " ")+1:])
				alts = []string{"bad-access in %s"}
			case m[1] == "invalid free":
				alts = []string{"invalid-free in %s"}
			}
			r.set(typ, "KFENCE: "+m[1]+" in %s", r.guilty(false, cleanFunc(m[2])), alts...)
		},
	},
	{
		needle:  "KCSAN:",
		noStack: true,
		header:  re(`BUG: KCSAN: ([a-z\-:]+(?: [a-z\-]+)?) in ([A-Za-z0-9_.]+)`),
		describe: func(r *Report, m []string) {
			kind := m[1]
			if kind == "assert: race" {
				r.set("KCSAN-ASSERT", "KCSAN: assert: race in %s", r.guilty(false, cleanFunc(m[2])))
				return
			}
			// A data race names both sides as printed: "data-race in f / g".
			text := r.lines[0].text[strings.Index(r.lines[0].text, "KCSAN: ")+len("KCSAN: "):]
			if strings.Contains(text, " / ") {
				r.setNoFrame("KCSAN-DATARACE", "KCSAN: "+strings.TrimSpace(text))
				r.Frame = cleanFunc(m[2])
				return
			}
			r.set("KCSAN-DATARACE", "KCSAN: "+kind+" in %s", r.guilty(false, cleanFunc(m[2])))
		},
	},
	{
		needle: "UBSAN:",
		header: re(`UBSAN: ([A-Za-z\- ]+?)(?: in | on )`),
		describe: func(r *Report, m []string) {
			r.skipping("ubsan", "overflow")
			kind := m[1]
			if strings.EqualFold(kind, "Undefined behaviour") { // kernels before 5.9
				kind = "undefined-behaviour"
			}
			alts := []string(nil)
			if kind == "array-index-out-of-bounds" {
				alts = []string{"bad-access in %s"}
			}
			r.set("UBSAN", "UBSAN: "+kind+" in %s", r.callTraceFrame(), alts...)
		},
	},
	// --- memory access faults ---
	{
		needle: "general protection fault",
		header: re(`general protection fault(?:: [0-9a-f]+ \[#\d+\]|, probably for non-canonical address|, maybe for address| for non-canonical address)`),
		describe: func(r *Report, m []string) {
			r.set("DoS", "general protection fault in %s", r.faultFrame(), "bad-access in %s")
		},
	},
	{
		needle: "NULL pointer dereference",
		header: re(`BUG: (?:unable to handle kernel NULL pointer dereference|[Kk]ernel NULL pointer dereference)`),
		describe: func(r *Report, m []string) {
			r.set("NULL-POINTER-DEREFERENCE", "BUG: unable to handle kernel NULL pointer dereference in %s", r.faultFrame(), "bad-access in %s")
		},
	},
	{
		needle:  "BUG: unable to handle ",
		header:  re(`BUG: unable to handle (?:kernel paging request|page fault for address|kernel access to user memory|kernel)`),
		absorbs: re(`double fault|general protection fault`),
		describe: func(r *Report, m []string) {
			if strings.TrimSpace(m[0]) == "BUG: unable to handle kernel" && strings.HasSuffix(strings.TrimSpace(r.lines[0].text), "kernel") {
				r.setNoFrame("MEMORY_SAFETY_BUG", "BUG: unable to handle kernel")
				return
			}
			r.set("MEMORY_SAFETY_BUG", "BUG: unable to handle kernel paging request in %s", r.faultFrame(), "bad-access in %s")
		},
	},
	{
		needle: "Unable to handle kernel",
		// arm64 names the access ("paging request", "write to read-only
		// memory", ...), powerpc its kind ("data access on read").
		header: re(`Unable to handle kernel (?:paging request|NULL pointer dereference|access to user memory|execute from non-executable memory|read from unreadable memory|write to read-only memory|data access|instruction fetch)`),
		describe: func(r *Report, m []string) {
			if strings.Contains(m[0], "NULL pointer") {
				r.set("NULL-POINTER-DEREFERENCE", "BUG: unable to handle kernel NULL pointer dereference in %s", r.guilty(true), "bad-access in %s")
				return
			}
			r.set("MEMORY_SAFETY_BUG", "BUG: unable to handle kernel paging request in %s", r.guilty(true), "bad-access in %s")
		},
	},
	{
		needle: "Unhandled fault",
		header: re(`Unhandled fault:`),
		describe: func(r *Report, m []string) {
			r.set("DoS", "Unhandled fault in %s", r.guilty(true), "bad-access in %s")
		},
	},
	{
		needle:  "stack guard page was hit",
		header:  re(`BUG: (?:TASK |IRQ |NMI )?stack guard page was hit`),
		absorbs: re(`kernel stack overflow`),
		describe: func(r *Report, m []string) {
			r.set("DoS", "BUG: stack guard page was hit in %s", r.stallFrame(), "stack-overflow in %s")
		},
	},
	{
		needle: "kernel stack overflow",
		header: re(`kernel stack overflow`),
		describe: func(r *Report, m []string) {
			r.set("DoS", "kernel stack overflow in %s", r.stallFrame(), "stack-overflow in %s")
		},
	},
	{
		needle: "double fault",
		header: re(`PANIC: double fault`),
		// A fault while handling another fault: inside a report it is
		// part of it.
		continuation: true,
		describe:     func(r *Report, m []string) { r.set("DoS", "PANIC: double fault in %s", r.faultFrame()) },
	},
	{
		needle:   "divide",
		header:   re(`divide(?: |_)error: [0-9a-f]+`),
		describe: func(r *Report, m []string) { r.set("DoS", "divide error in %s", r.faultFrame()) },
	},
	{
		needle:   "int3",
		header:   re(`(?:^|Oops: )int3: [0-9a-f]+`),
		describe: func(r *Report, m []string) { r.set("DoS", "int3 in %s", r.guilty(true)) },
	},
	// --- BUG_ON, assertions ---
	{
		needle: "kernel BUG",
		header: re(`kernel BUG at ([^!\s]+)`),
		describe: func(r *Report, m []string) {
			if strings.HasPrefix(m[1], "lib/list_debug.c") {
				r.set("MEMORY_SAFETY_BUG", "BUG: corrupted list in %s", r.guilty(true), "bad-access in %s")
				return
			}
			if strings.HasPrefix(m[1], "net/core/skbuff.c") {
				// skb_put, skb_push, skb_pull: the caller misused them.
				r.skipping("^skb_", "^__skb_")
			}
			if strings.HasPrefix(m[1], "mm/usercopy.c") {
				r.skipping("usercopy", "__check")
				r.set("MEMORY_SAFETY_BUG", "BUG: bad usercopy in %s", r.guilty(false), "bad-access in %s")
				return
			}
			r.set("BUG", "kernel BUG in %s", r.guilty(true))
		},
	},
	{
		needle:  "assertion failed",
		header:  re(`assertion failed: (.+?), (?:in|file:) ([^\s:,]+)`),
		absorbs: re(`kernel BUG|invalid opcode`),
		describe: func(r *Report, m []string) {
			r.set("BUG", "kernel BUG in %s", r.guilty(true))
		},
	},
	// --- lockdep and atomicity ---
	{
		needle:       ": possible ",
		header:       re(`(?:WARNING|\[ INFO): possible (?:circular locking dependency|recursive locking|irq lock inversion dependency) detected`),
		stackFollows: anyLine,
		describe:     func(r *Report, m []string) { r.set("LOCKDEP", "possible deadlock in %s", r.lockFrame()) },
	},
	{
		needle: "lock order detected",
		header: re(`(?:WARNING|\[ INFO): [A-Z]+-(?:safe|READ-safe) -> [A-Z]+-(?:unsafe|READ-unsafe) lock order detected`),
		describe: func(r *Report, m []string) {
			// The bug is where the irq-safe lock is taken in irq context:
			// the first stack, under "which became ...-irq-safe at:".
			fn := ""
			if i := r.firstLineIndex(becameSafeRE, 0); i >= 0 {
				fn = pick(r.reliableFrames(i)...)
			}
			r.set("LOCKDEP", "possible deadlock in %s", pick(fn, r.lockFrame()))
		},
	},
	{
		needle:       "inconsistent lock state",
		header:       re(`(?:WARNING|\[ INFO): inconsistent lock state`),
		stackFollows: anyLine,
		describe:     func(r *Report, m []string) { r.set("LOCKDEP", "inconsistent lock state in %s", r.lockFrame()) },
	},
	{
		needle:       "WARNING: |INFO: suspicious RCU",
		header:       re(`(WARNING|\[ INFO|\[ BUG|INFO): (?:\S+ )?(held lock freed|bad unlock balance|(?i:nested lock was not taken)|suspicious RCU usage|lock held when returning to user space|still has locks held)`),
		stackFollows: re(`held lock freed|bad unlock balance|(?i:nested lock was not taken)|lock held when returning|still has locks held`),
		describe: func(r *Report, m []string) {
			typ, what, prefix := "LOCKDEP", m[2], "WARNING"
			if what == "suspicious RCU usage" {
				typ = "WARNING"
				if strings.HasSuffix(m[1], "INFO") {
					prefix = "INFO" // older kernels
				}
				r.skipping("rcu", "kmem", "slab")
			}
			fn := r.guilty(false)
			if strings.Contains(what, "held") {
				fn = r.lockFrame()
			}
			if fn == "" && what == "suspicious RCU usage" {
				r.setNoFrame(typ, prefix+": suspicious RCU usage")
				return
			}
			r.set(typ, prefix+": "+strings.ToLower(what[:1])+what[1:]+" in %s", fn)
		},
	},
	{
		needle: "BUG: ",
		header: re(`BUG: (?:\S+ )?(held lock freed|bad unlock balance|lock held when returning to user space|still has locks held|spinlock bad magic|rwlock bad magic|spinlock lockup suspected|spinlock already unlocked|spinlock recursion|spinlock wrong owner|spinlock wrong CPU)`),
		describe: func(r *Report, m []string) {
			if strings.HasPrefix(m[1], "spinlock") || strings.HasPrefix(m[1], "rwlock") {
				r.skipping("spin_", "_lock", "_unlock")
			}
			fn := r.guilty(false)
			if strings.Contains(m[1], "held") {
				fn = r.lockFrame()
			}
			r.set("LOCKDEP", "BUG: "+m[1]+" in %s", fn)
		},
	},
	{
		needle: "BUG: ",
		header: re(`BUG: (sleeping function called from invalid context|scheduling while atomic|using (?:smp_processor_id|__this_cpu_[a-z_]+|this_cpu_[a-z_]+)\(\) in preemptible)`),
		describe: func(r *Report, m []string) {
			typ := "ATOMIC_SLEEP"
			title := m[1]
			switch {
			case strings.HasPrefix(title, "using "):
				typ = "LOCKDEP"
				title = strings.TrimSuffix(title, " in preemptible") + " in preemptible code"
				r.skipping("dump_stack", "preempt", "debug_", "processor_id", "this_cpu")
			case strings.HasPrefix(title, "scheduling while atomic"):
				r.skipping("schedule")
			}
			// The stack under "Call Trace:", not where preemption was
			// disabled.
			r.set(typ, "BUG: "+title+" in %s", r.pick(r.callTrace()...))
		},
	},
	{
		needle: "Invalid wait context",
		header: re(`BUG: Invalid wait context`),
		describe: func(r *Report, m []string) {
			r.skipping("lock_sock", "release_sock")
			r.set("LOCKDEP", "WARNING: locking bug in %s", r.guilty(false))
		},
	},
	{
		needle:  "INFO: trying to register non-static key",
		header:  re(`INFO: trying to register non-static key`),
		absorbs: re(`WARNING`),
		describe: func(r *Report, m []string) {
			r.skipping("stack", "lock", "IRQ")
			r.set("LOCKDEP", "INFO: trying to register non-static key in %s", r.guilty(false))
		},
	},
	// --- hangs and stalls ---
	{
		needle: "INFO: task ",
		header: re(`INFO: task .{1,64}:\d+ (blocked for more than \d+ seconds|can't die for more than)`),
		describe: func(r *Report, m []string) {
			if strings.HasPrefix(m[1], "can't die") {
				r.skipping("schedule")
				r.set("HANG", "INFO: task can't die in %s", r.guilty(false), "hang in %s")
				return
			}
			r.set("HANG", "INFO: task hung in %s", r.hungFrame(), "hang in %s")
		},
	},
	{
		needle: "detected ",
		header: re(`(?:INFO|rcu): (?:INFO: )?rcu_(?:sched|preempt|bh|tasks|tasks_trace|tasks_rude)? ?(?:self-)?detected (?:expedited )?stalls?`),
		suppress: []*lazyRE{
			re(`rcu_tasks detected stalls on tasks`), // tasks-RCU stall lists tasks, checked below
		},
		describe: func(r *Report, m []string) {
			r.skipping("apic_timer_interrupt", "rcu")
			// The stall is what the CPU was doing when the timer interrupt
			// found it: a report without the interrupted stack (only the
			// tasks that block the grace period) cannot say what stalled.
			i := r.irqEndIndex()
			if i < 0 {
				r.CorruptedReason = "no interrupted stack in the stall report"
				r.set("HANG", "INFO: rcu detected stall in %s", "", "stall in %s")
				return
			}
			r.set("HANG", "INFO: rcu detected stall in %s", r.stallFrameFrom(i+1), "stall in %s")
		},
	},
	{
		needle: "rcu_tasks detected stalls",
		header: re(`INFO: rcu_tasks detected stalls on tasks`),
		describe: func(r *Report, m []string) {
			r.set("HANG", "INFO: rcu detected stall in %s", r.stallFrame(), "stall in %s")
		},
	},
	{
		needle: "soft lockup",
		header: re(`BUG: soft lockup - CPU#\d+ stuck for`),
		describe: func(r *Report, m []string) {
			r.set("HANG", "BUG: soft lockup in %s", r.stallFrame(), "stall in %s")
		},
	},
	{
		needle: "hard LOCKUP",
		header: re(`(?:Watchdog detected hard LOCKUP|NMI watchdog: .*hard LOCKUP)`),
		describe: func(r *Report, m []string) {
			r.set("HANG", "BUG: hard lockup in %s", r.stallFrame(), "stall in %s")
		},
	},
	// --- leaks and debug objects ---
	{
		needle: "memory leak",
		header: re(`BUG: memory leak`),
		needs:  re(`unreferenced object`), needsWithin: 3,
		describe: func(r *Report, m []string) {
			start := max(r.firstLineIndex(backtraceRE, 0), 0)
			// Everything that allocates is the leak's mechanism, not its
			// owner.
			r.skipping("kmemleak", "mmap", "kmem", "slab", "alloc", "create_object", "idr_get", "list_lru_init",
				"kasprintf", "kvasprintf", "pcpu_create", "strdup", "strndup", "memdup")
			r.set("LEAK", "memory leak in %s", r.pick(r.reliableFrames(start)...))
		},
	},
	{
		needle:  "ODEBUG:",
		header:  re(`ODEBUG: [a-z_ ]+ (?:\(active state \d+\) )?object(?: type)?:`),
		absorbs: re(`WARNING|kernel BUG`),
		describe: func(r *Report, m []string) {
			r.skipping(odebugSkip...)
			r.set("WARNING", "WARNING: ODEBUG bug in %s", r.guilty(false))
		},
	},
	{
		needle:  "corruption",
		header:  re(`(?:list_add|list_del|list_add_rcu|hlist_del|list_del_rcu) corruption`),
		absorbs: re(`WARNING|kernel BUG`),
		describe: func(r *Report, m []string) {
			r.set("MEMORY_SAFETY_BUG", "BUG: corrupted list in %s", r.guilty(true), "bad-access in %s")
		},
	},
	{
		needle: "BUG: Bad page ",
		header: re(`BUG: Bad page (state|cache|map)`),
		describe: func(r *Report, m []string) {
			if m[1] == "map" {
				r.setNoFrame("BUG", "BUG: Bad page map")
				return
			}
			// The page's story is in where it was last allocated.
			r.skipping("(?:free|put|get|update|release)_page", "free_unref", "^_*folio", "truncate_inode_pages",
				"page_frag_free", "alloc", "vmap", "page_owner")
			fn := ""
			if i := r.firstLineIndex(pageAllocatedRE, 0); i >= 0 {
				fn = r.pick(r.reliableFrames(i)...)
			}
			r.set("BUG", "BUG: Bad page "+m[1]+" in %s", fn)
		},
	},
	{
		// SLUB's debug checks (slab_err, object_err): "BUG kmalloc-64
		// (Not tainted): Object already free".
		needle:  "BUG ",
		header:  re(`^BUG [A-Za-z0-9_.:()-]+ \((?:Not tainted|Tainted: [^)]*)\): (.+)`),
		noStack: true,
		describe: func(r *Report, m []string) {
			msg := strings.TrimSpace(m[1])
			if i := strings.IndexAny(msg, "0123456789"); i > 0 {
				msg = strings.TrimRight(msg[:i], " :@=(x")
			}
			r.setNoFrame("MEMORY_SAFETY_BUG", "BUG: "+msg)
		},
	},
	{
		// A work item returned with a lock held or in atomic context: the
		// work function is named on the next line.
		needle:  "BUG: workqueue leaked lock",
		noStack: true,
		header:  re(`BUG: workqueue leaked lock or atomic`),
		describe: func(r *Report, m []string) {
			fn := ""
			if i := r.firstLineIndex(lastFunctionRE, 1); i >= 0 && i <= 3 {
				fn = cleanFunc(lastFunctionRE.FindStringSubmatch(r.lines[i].text)[1])
			}
			r.set("LOCKDEP", "BUG: workqueue leaked lock or atomic in %s", fn)
		},
	},
	{
		// Messages that are the whole report: titled by their fixed part.
		needle:   "BUG: ",
		noStack:  true,
		header:   re(`BUG: (workqueue lockup|non-zero (?:nr_ptes|nr_pmds|pgtables_bytes) on freeing mm)`),
		describe: func(r *Report, m []string) { r.setNoFrame("BUG", "BUG: "+m[1]) },
	},
	{
		needle:   "BUG: Bad rss-counter state",
		noStack:  true,
		header:   re(`BUG: Bad rss-counter state`),
		describe: func(r *Report, m []string) { r.setNoFrame("BUG", "BUG: Bad rss-counter state") },
	},
	{
		needle: "BUG: Dentry",
		header: re(`BUG: Dentry .* still in use`),
		describe: func(r *Report, m []string) {
			if strings.Contains(m[0], "[unmount of") || r.firstLineIndex(unmountRE, 0) >= 0 {
				r.setNoFrame("BUG", "BUG: Dentry still in use in unmount")
				return
			}
			r.set("BUG", "BUG: Dentry still in use in %s", r.guilty(false))
		},
	},
	{
		needle:  "VFS: Busy inodes after unmount",
		noStack: true,
		header:  re(`VFS: Busy inodes after unmount`),
		describe: func(r *Report, m []string) {
			r.setNoFrame("DoS", "VFS: Busy inodes after unmount (use-after-free)")
		},
	},
	// --- WARN_ON ---
	{
		needle: "WARNING:",
		header: re(`WARNING: (?:CPU: \d+ PID: \d+ |CPU: \d+ PID: \d+ Comm: \S+ |\[.*?\] )?(?:at )?(\S+)(?: \[[^\]]*\])? (?:at )?([A-Za-z0-9_.]+)(?:\+0x|\(\))`),
		// Older kernels print a debugobjects WARNING first and its
		// "ODEBUG:" message after it.
		absorbs:  re(`ODEBUG: `),
		describe: func(r *Report, m []string) { describeWarning(r, m[1], cleanFunc(m[2])) },
	},
	{
		needle:  "ASSERT FAILED",
		noStack: true,
		header:  re(`trusty: panic .*ASSERT FAILED at \([^)]*\): (.*)`),
		describe: func(r *Report, m []string) {
			r.setNoFrame("DoS", "trusty: ASSERT FAILED: "+strings.TrimSpace(m[1]))
		},
	},
	{
		needle:  "SYZ",
		noStack: true,
		header:  re(`^(?:\d{4}/\d\d/\d\d \d\d:\d\d:\d\d )?(SYZFATAL|SYZFAIL): (.*)`),
		// The fuzzer's executor: its lines interleave with the kernel's
		// and must not cut a kernel report.
		continuation: true,
		describe: func(r *Report, m []string) {
			r.setNoFrame("SYZ_FAILURE", m[1]+": "+strings.TrimSpace(m[2]))
		},
	},
	{
		needle:  "WARNING: kernel stack ",
		noStack: true,
		header:  re(`WARNING: kernel stack (regs|frame pointer) at (?:([0-9a-f]+) in \S+ has bad (?:'([^']+)' )?value)?`),
		describe: func(r *Report, m []string) {
			// Only the kernel's full form (a hex address, not "(ptrval)")
			// tells the two messages apart.
			switch {
			case m[2] == "":
				r.setNoFrame("WARNING", "WARNING: kernel stack regs has bad value")
			case m[1] == "frame pointer":
				r.setNoFrame("WARNING", "WARNING: kernel stack frame pointer has bad value")
			case m[3] != "":
				r.setNoFrame("WARNING", "WARNING: kernel stack regs has bad '"+m[3]+"' value")
			default:
				r.setNoFrame("WARNING", "WARNING: kernel stack regs has bad value")
			}
		},
	},
	{
		// SLUB debug's record of an object's last free or allocation. Inside
		// a SLUB report it is part of it; alone, it is what is left of an
		// old KASAN or SLUB report whose header was lost.
		needle:       "INFO: Freed in |INFO: Allocated in ",
		noStack:      true,
		continuation: true,
		header:       re(`INFO: (Freed|Allocated) in (.+)`),
		describe: func(r *Report, m []string) {
			r.setNoFrame("MEMORY_SAFETY_BUG", "INFO: "+m[1]+" in "+strings.TrimSpace(m[2]))
			r.Corrupted, r.CorruptedReason = true, "only SLUB's record of the object is left of the report"
		},
	},
	{
		// A Go program's crash (the faultline agent, a Go workload).
		needle:  "runtime: |fatal error: |panic: ",
		noStack: true,
		header:  re(`^(?:runtime: |fatal error: |panic: )`),
		needs:   re(`^goroutine \d+ \[`),
		describe: func(r *Report, m []string) {
			r.setNoFrame("DoS", "go runtime error")
		},
	},
	{
		needle:   "stack segment: ",
		header:   re(`stack segment: [0-9a-f]+`),
		describe: func(r *Report, m []string) { r.set("DoS", "stack segment fault in %s", r.faultFrame()) },
	},
	{
		// A kernel BUG prints it after its own header; alone, it is a
		// ud2 somewhere else.
		needle:       "invalid opcode: ",
		header:       re(`invalid opcode: [0-9a-f]+`),
		continuation: true,
		describe:     func(r *Report, m []string) { r.set("DoS", "invalid opcode in %s", r.faultFrame()) },
	},
	{
		// arm's oops line: after "Unable to handle kernel ..." it is part
		// of that report.
		needle:       "Internal error:",
		header:       re(`Internal error: `),
		continuation: true,
		describe:     func(r *Report, m []string) { r.set("DoS", "Internal error in %s", r.guilty(true), "bad-access in %s") },
	},
	{
		needle:   "Alignment trap:",
		header:   re(`Alignment trap: `),
		describe: func(r *Report, m []string) { r.set("DoS", "Alignment trap in %s", r.guilty(true)) },
	},
	{
		needle: "unregister_netdevice: waiting for",
		header: re(`unregister_netdevice: waiting for \S+ to become free`),
		// Repeated every few seconds from a kworker while other reports
		// are printed: it does not end them.
		continuation: true,
		noStack:      true,
		describe: func(r *Report, m []string) {
			r.setNoFrame("HANG", "unregister_netdevice: waiting for DEV to become free")
		},
	},
	{
		needle:  "VFS: Close: file count is 0",
		header:  re(`VFS: Close: file count is 0`),
		noStack: true,
		describe: func(r *Report, m []string) {
			r.setNoFrame("DoS", "VFS: Close: file count is zero (use-after-free)")
		},
	},
	{
		// A header cut off after its first word: the rest of the report
		// was lost.
		needle: "BUG:|WARNING:|INFO:",
		header: re(`(?:^|\s)(BUG|WARNING|INFO):\s*$`),
		describe: func(r *Report, m []string) {
			r.setNoFrame(m[1], m[1]+": corrupted")
			r.Corrupted, r.CorruptedReason = true, "the report's first line ends after "+m[1]+":"
		},
	},
	{
		// The x86 decompressor's last words: the machine booted again in
		// the middle of the log.
		needle:   "Booting the kernel.",
		noStack:  true,
		header:   re(`^Booting the kernel\.`),
		describe: func(r *Report, m []string) { r.setNoFrame("DoS", "unexpected kernel reboot") },
	},
	{
		// Any other "BUG:" or "INFO:" line is a report of a kind these rules
		// do not know, titled by its text as syzbot does. Inside another
		// report it is part of that report (SLUB's "INFO: Slab ..." lines).
		needle:       "BUG: |INFO: ",
		noStack:      true,
		continuation: true,
		header:       re(`(?:^|[^A-Za-z0-9_])((?:BUG|INFO): \S.*?)\s*$`),
		suppress: []*lazyRE{
			re(`INFO: lockdep is turned off|INFO: Stall ended before state dump start|INFO: NMI handler|(?:handler|interrupt).*took too long|INFO: recovery required on readonly filesystem|_INFO::|INFO: \S+ is not present in /proc/kallsyms|(?:BUG|INFO): no syscalls can create resource`),
		},
		describe: func(r *Report, m []string) {
			typ := "BUG"
			if strings.HasPrefix(m[1], "INFO") {
				typ = "INFO"
			}
			r.setNoFrame(typ, m[1])
		},
	},
	// --- panics (last: an oops before them names the bug) ---
	{
		needle:       "Kernel panic - not syncing",
		header:       re(`Kernel panic - not syncing: (.*)`),
		continuation: true,
		describe:     describePanic,
	},
	// --- a driver's or subsystem's free-text WARNING line (no stack):
	// titled by its text; known benign notices are not reports ---
	{
		needle:  "WARNING: ",
		noStack: true,
		header:  re(`(?:^|\S: )WARNING: ([^\s\[].*?)\s*$`),
		suppress: []*lazyRE{
			re(`WARNING: CPU|WARNING: \S+\.[ch]:\d+|WARNING: at `),
			re(`(?i)deprecated|fbcon: |wireless extensions|/etc/ssh/|workqueue cpumask|WARNING: Unsupported|WARNING: unable to open an initial console|mand mount option`),
			// CPU-mitigation notices at boot (they depend on the host's
			// CPU: under KVM a clean guest may print them) and file
			// systems' own warnings.
			re(`Unprivileged eBPF is enabled|WARNING: See https?://\S+ for mitigation options|not compiled with CPU_SRSO|EXT4-fs|XFS \(\S+\): WARNING`),
		},
		describe: func(r *Report, m []string) { r.setNoFrame("WARNING", "WARNING: "+m[1]) },
	},
}

// odebugSkip are the users of debug objects (timers, work, RCU heads,
// percpu, freeing): the report names who misused them.
var odebugSkip = []string{"debug_", "rcu", "hrtimer_", "timer_", "work_", "percpu_", "vunmap", "vfree", "__free_",
	"debug_check", "kobject_"}

// pageAllocatedRE starts the page owner's record of a bad page's last
// allocation.
var pageAllocatedRE = re(`page last allocated`)

// hungAnchors are the waits a hung task report is grouped by: everything
// stuck on the RTNL lock is one bug (titled by the frame that takes it),
// everything stuck waiting for a grace period another.
var hungAnchors = []struct{ prefix, title string }{
	{"rtnl_lock", ""}, {"synchronize_rcu", "synchronize_rcu"}, {"synchronize_srcu", "synchronize_rcu"},
	{"synchronize_net", "synchronize_rcu"}, {"synchronize_sched", "synchronize_rcu"},
}

// hungSkipRE are the frames of waiting itself.
var hungSkipRE = re(`sched|_lock|_slowlock|down|rwsem|completion|kthread|wait|synchronize|context_switch|__switch_to|cancel_delayed_work|rcu_barrier`)

// hungFrame returns the guilty frame of a hung task: a known wait it is
// stuck in, else the first frame that is not waiting machinery.
func (r *Report) hungFrame() string {
	frames := r.firstStack()
	for _, fn := range frames {
		for _, a := range hungAnchors {
			if strings.Contains(fn, a.prefix) {
				if a.title == "" {
					return fn // rtnl_lock, rtnl_lock_killable: the wait as named
				}
				return a.title
			}
		}
	}
	for _, fn := range frames {
		if !hungSkipRE.MatchString(fn) && !skipFrame(fn) {
			return fn
		}
	}
	return ""
}

// lastFunctionRE names the work function of a workqueue that leaked a
// lock.
var lastFunctionRE = re(`last function: ([A-Za-z0-9_.]+)`)

// Lines some kinds look for inside their report.
var (
	backtraceRE      = re(`backtrace`)
	unmountRE        = re(`\[unmount of`)
	stackBacktraceRE = re(`(?i)stack backtrace:`)
	becameSafeRE     = re(`which became \S+-irq-safe at:`)
	callTraceRE      = re(`^\s*Call Trace:`)
)

// tryingRE starts the part of a lockdep report about the lock taken.
var tryingRE = re(`is trying to acquire`)

// lockFrameRE finds the "at: FUNC+0x..." of the lock a lockdep report is
// about.
var lockFrameRE = re(`at: (?:\[<[0-9a-f]+>\] )?([A-Za-z0-9_.]+)\+0x`)

// lockFrame returns the guilty frame of a lockdep report: where the lock
// was being acquired, else the stack.
func (r *Report) lockFrame() string {
	// The lock being acquired and the lock held: the first two "at:"
	// lines after "is trying to acquire" (or after the header).
	var cands []string
	from := max(r.firstLineIndex(tryingRE, 0), 0)
	for _, l := range r.lines[from:] {
		if m := lockFrameRE.FindStringSubmatch(l.text); m != nil {
			cands = append(cands, cleanFunc(m[1]))
			if len(cands) == 2 {
				break
			}
		}
	}
	if i := r.firstLineIndex(stackBacktraceRE, 0); i >= 0 {
		cands = append(cands, r.reliableFrames(i)...)
	} else if i := r.firstLineIndex(callTraceRE, 0); i >= 0 {
		// Older lockdep reports print the stack under "Call Trace:".
		cands = append(cands, r.reliableFrames(i)...)
	}
	return r.pick(cands...)
}

// warningKinds maps the file or function of a WARNING to its specialised
// title.
var warningKinds = []struct {
	match *lazyRE // on "FILE FUNC"
	title string
	typ   string
	skip  []string // the kind's own generic frames
}{
	{re(`lib/refcount\.c|\brefcount_`), "WARNING: refcount bug in %s", "REFCOUNT_WARNING", []string{"refcount", "kobject_"}},
	{re(`kernel/locking/lockdep\.c`), "WARNING: locking bug in %s", "LOCKDEP", []string{"lock_sock", "release_sock"}},
	{re(`lib/debugobjects\.c`), "WARNING: ODEBUG bug in %s", "WARNING", odebugSkip},
	{re(`mm/usercopy\.c`), "WARNING: bad usercopy in %s", "WARNING", []string{"usercopy", "__check"}},
	{re(`lib/kobject\.c`), "WARNING: kobject bug in %s", "WARNING", []string{"kobject_"}},
	{re(`fs/proc/generic\.c:\d+ proc_register`), "WARNING: proc registration bug in %s", "WARNING", []string{"proc_"}},
	{re(`mm/vmalloc\.c:\d+ __vmalloc`), "WARNING: zero-size vmalloc in %s", "WARNING", nil},
	{re(`^mm/\S*\.c:\d+ k?.?malloc`), "WARNING: kmalloc bug in %s", "WARNING", []string{"kmalloc", "krealloc", "slab", "kmem"}},
}

func describeWarning(r *Report, file, fn string) {
	// The header's file and function choose the kind of WARNING.
	key := file + " " + fn
	if !r.hasStack() {
		// A WARNING names its function, but without a stack the report
		// was cut short or interleaved with other output.
		r.CorruptedReason = "no stack trace after the WARNING line"
		fn = "-"
	}
	for _, w := range warningKinds {
		if w.match.MatchString(key) {
			if fn == "-" {
				r.set(w.typ, w.title, "")
				return
			}
			if len(w.skip) > 0 {
				r.skipping(w.skip...)
			}
			r.set(w.typ, w.title, r.guilty(false))
			return
		}
	}
	if fn == "usb_submit_urb" {
		// Drivers misuse usb_submit_urb in many ways: the caller says which.
		r.skipping("usb_submit_urb", "usb_start_wait_urb", "usb_bulk_msg", "usb_interrupt_msg", "usb_control_msg")
		r.set("WARNING", "WARNING in %s/usb_submit_urb", r.guilty(false))
		return
	}
	if fn == "-" || pick(r.reliableFrames(1)...) == "" {
		// Only generic frames, or none: the stack is not this WARNING's.
		if r.CorruptedReason == "" {
			r.CorruptedReason = "no usable frame in the WARNING's stack"
		}
		r.set("WARNING", "WARNING in %s", "")
		return
	}
	r.set("WARNING", "WARNING in %s", r.guilty(false, fn))
}

// describePanic titles a panic that no oops preceded.
func describePanic(r *Report, m []string) {
	msg := strings.TrimSpace(m[1])
	switch {
	case strings.HasPrefix(msg, "corrupted stack end detected"):
		r.set("DoS", "kernel panic: corrupted stack end in %s", r.stallFrame(), "stack-overflow in %s")
	case strings.HasPrefix(msg, "stack-protector: Kernel stack is corrupted in"):
		fn := cleanFunc(strings.TrimSuffix(strings.Fields(strings.TrimPrefix(msg, "stack-protector: Kernel stack is corrupted in:"))[0], "+"))
		if i := strings.Index(fn, "+"); i > 0 {
			fn = fn[:i]
		}
		r.set("DoS", "kernel panic: stack is corrupted in %s", pick(fn, r.guilty(false)))
	case strings.HasPrefix(msg, "kernel stack overflow"):
		r.skipping("bad_stack")
		r.set("DoS", "kernel stack overflow in %s", r.stallFrame(), "stack-overflow in %s")
	case strings.HasPrefix(msg, "Attempted to kill init!"):
		r.setNoFrame("DoS", "kernel panic: Attempted to kill init!") // the exit code varies
	case strings.HasPrefix(msg, "Couldn't open N_TTY ldisc"):
		r.setNoFrame("DoS", "kernel panic: Couldn't open N_TTY ldisc")
	case strings.HasPrefix(msg, "Fatal exception"), strings.HasPrefix(msg, "panic_on_warn set"),
		strings.HasPrefix(msg, "hung_task: blocked tasks"):
		// Printed after the report that caused it: alone, the report itself
		// was lost.
		for _, fixed := range []string{"Fatal exception", "panic_on_warn set", "hung_task: blocked tasks"} {
			if strings.HasPrefix(msg, fixed) {
				r.setNoFrame("DoS", "kernel panic: "+fixed)
			}
		}
		r.Corrupted, r.CorruptedReason = true, "only the panic that followed the report is left"
	default:
		// The reason as printed (numbers and addresses sanitised).
		r.setNoFrame("DoS", "kernel panic: "+msg)
	}
}
