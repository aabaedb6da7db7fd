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

// guilty returns the first non-generic function among: the given
// candidates, then the RIP line (if rip), then the stack.
func (r *Report) guilty(rip bool, cands ...string) string {
	if rip {
		cands = append(cands, r.ripFunc())
	}
	return pick(append(cands, r.reliableFrames(1)...)...)
}

var irqEndRE = re(`</IRQ>|<EOI>|\bapic_timer_interrupt\b|sysvec_apic_timer_interrupt|asm_sysvec_apic_timer_interrupt`)

// stallFrame returns the guilty frame of a stall or lockup. The stuck CPU
// loops somewhere in a larger piece of code, so the top frame is random;
// what identifies the bug is what the task was doing: in the interrupted
// stack (after the interrupt frames), the last non-generic frame before the
// first anchor (a dispatcher such as ioctl, sendmsg or a workqueue, whose
// caller says which device, protocol or work item loops), else the first
// non-generic frame.
func (r *Report) stallFrame() string {
	start := 1
	if i := r.firstLineIndex(irqEndRE, 1); i >= 0 {
		start = i + 1
	}
	var fns []string
	if fn := r.ripFuncFrom(start); fn != "" {
		fns = append(fns, fn)
	}
	fns = append(fns, r.reliableFrames(start)...)
	last := ""
	for _, fn := range fns {
		if stallAnchorRE.MatchString(fn) {
			if strings.HasPrefix(fn, "smp_call_function") {
				return "smp_call_function"
			}
			if last != "" {
				return last
			}
			break
		}
		if !skipFrame(fn) {
			last = fn
		}
	}
	return pick(fns...)
}

func (r *Report) ripFuncFrom(from int) string {
	for _, l := range r.lines[min(from, len(r.lines)):] {
		if fn, ok := parseRIP(l.text); ok {
			return fn
		}
	}
	return ""
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
	r.Type, r.Title, r.Frame = typ, title, ""
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
	r.Title = strings.Replace(format, "%s", fn, 1)
	for _, a := range alts {
		r.AltTitles = append(r.AltTitles, strings.Replace(a, "%s", fn, 1))
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
			var alts []string
			if kind != "null-ptr-deref" {
				alts = []string{"bad-access in %s"}
			}
			r.set(strings.TrimSuffix(typ, "-"), title+" in %s", r.guilty(false, cleanFunc(m[2])), alts...)
		},
	},
	{
		needle: "KMSAN:",
		header: re(`BUG: KMSAN: ([a-z\-]+) in ([A-Za-z0-9_.]+)`),
		describe: func(r *Report, m []string) {
			r.set("KMSAN-"+strings.ToUpper(m[1]), "KMSAN: "+m[1]+" in %s", r.guilty(false, cleanFunc(m[2])), "bad-access in %s")
		},
	},
	{
		needle: "KFENCE:",
		header: re(`BUG: KFENCE: ([a-z\- ]+?) in ([A-Za-z0-9_.]+)`),
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
		needle: "KCSAN:",
		header: re(`BUG: KCSAN: ([a-z\-:]+(?: [a-z\-]+)?) in ([A-Za-z0-9_.]+)`),
		describe: func(r *Report, m []string) {
			kind := m[1]
			if kind == "assert: race" {
				r.set("KCSAN-ASSERT", "KCSAN: assert: race in %s", r.guilty(false, cleanFunc(m[2])))
				return
			}
			r.set("KCSAN-DATARACE", "KCSAN: "+kind+" in %s", r.guilty(false, cleanFunc(m[2])))
		},
	},
	{
		needle: "UBSAN:",
		header: re(`UBSAN: ([A-Za-z\- ]+?)(?: in | on )`),
		describe: func(r *Report, m []string) {
			r.set("UBSAN", "UBSAN: "+ubsanKind(strings.ToLower(m[1]))+" in %s", r.guilty(false))
		},
	},
	// --- memory access faults ---
	{
		needle: "general protection fault",
		header: re(`general protection fault(?:: [0-9a-f]+ \[#\d+\]|, probably for non-canonical address|, maybe for address| for non-canonical address)`),
		describe: func(r *Report, m []string) {
			r.set("DoS", "general protection fault in %s", r.guilty(true), "bad-access in %s")
		},
	},
	{
		needle: "NULL pointer dereference",
		header: re(`BUG: (?:unable to handle kernel NULL pointer dereference|kernel NULL pointer dereference)`),
		describe: func(r *Report, m []string) {
			r.set("NULL-POINTER-DEREFERENCE", "BUG: unable to handle kernel NULL pointer dereference in %s", r.guilty(true), "bad-access in %s")
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
			r.set("MEMORY_SAFETY_BUG", "BUG: unable to handle kernel paging request in %s", r.guilty(true), "bad-access in %s")
		},
	},
	{
		needle: "Unable to handle kernel",
		header: re(`Unable to handle kernel (?:paging request|NULL pointer dereference|access to user memory)`),
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
		needle:   "double fault",
		header:   re(`PANIC: double fault`),
		describe: func(r *Report, m []string) { r.set("DoS", "PANIC: double fault in %s", r.guilty(true)) },
	},
	{
		needle:   "divide",
		header:   re(`divide(?: |_)error: [0-9a-f]+`),
		describe: func(r *Report, m []string) { r.set("DoS", "divide error in %s", r.guilty(true)) },
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
		needle:       "WARNING: ",
		header:       re(`(?:WARNING|\[ INFO|\[ BUG): (?:\S+ )?(held lock freed|bad unlock balance|(?i:nested lock was not taken)|suspicious RCU usage|lock held when returning to user space|still has locks held)`),
		stackFollows: re(`held lock freed|bad unlock balance|(?i:nested lock was not taken)|lock held when returning|still has locks held`),
		describe: func(r *Report, m []string) {
			typ := "LOCKDEP"
			fn := r.guilty(false)
			switch {
			case m[1] == "suspicious RCU usage":
				typ = "WARNING"
				if fn == "" {
					r.setNoFrame(typ, "WARNING: suspicious RCU usage")
					return
				}
			case strings.Contains(m[1], "held"):
				fn = r.lockFrame()
			}
			r.set(typ, "WARNING: "+strings.ToLower(m[1][:1])+m[1][1:]+" in %s", fn)
		},
	},
	{
		needle: "BUG: ",
		header: re(`BUG: (?:\S+ )?(held lock freed|bad unlock balance|lock held when returning to user space|still has locks held|spinlock bad magic|rwlock bad magic|spinlock lockup suspected|spinlock already unlocked|spinlock recursion|spinlock wrong owner|workqueue lockup)`),
		describe: func(r *Report, m []string) {
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
			if strings.HasPrefix(title, "using ") {
				typ = "LOCKDEP"
				title = strings.TrimSuffix(title, " in preemptible") + " in preemptible code"
			}
			r.set(typ, "BUG: "+title+" in %s", r.guilty(false))
		},
	},
	{
		needle: "Invalid wait context",
		header: re(`BUG: Invalid wait context`),
		describe: func(r *Report, m []string) {
			r.set("LOCKDEP", "WARNING: locking bug in %s", r.guilty(false))
		},
	},
	{
		needle:  "INFO: trying to register non-static key",
		header:  re(`INFO: trying to register non-static key`),
		absorbs: re(`WARNING`),
		describe: func(r *Report, m []string) {
			r.set("LOCKDEP", "INFO: trying to register non-static key in %s", r.guilty(false))
		},
	},
	// --- hangs and stalls ---
	{
		needle:   "INFO: task ",
		header:   re(`INFO: task .{1,64}:\d+ (?:blocked for more than \d+ seconds|can't die for more than)`),
		describe: func(r *Report, m []string) { r.set("HANG", "INFO: task hung in %s", r.guilty(false), "hang in %s") },
	},
	{
		needle: "detected ",
		header: re(`(?:INFO|rcu): (?:INFO: )?rcu_(?:sched|preempt|bh|tasks|tasks_trace|tasks_rude)? ?(?:self-)?detected (?:expedited )?stalls?`),
		suppress: []*lazyRE{
			re(`rcu_tasks detected stalls on tasks`), // tasks-RCU stall lists tasks, checked below
		},
		describe: func(r *Report, m []string) {
			r.set("HANG", "INFO: rcu detected stall in %s", r.stallFrame(), "stall in %s")
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
			var fns []string
			for _, fn := range r.reliableFrames(start) {
				if !strings.Contains(fn, "alloc") {
					fns = append(fns, fn)
				}
			}
			r.set("LEAK", "memory leak in %s", pick(fns...))
		},
	},
	{
		needle:   "ODEBUG:",
		header:   re(`ODEBUG: [a-z_ ]+ (?:\(active state \d+\) )?object(?: type)?:`),
		absorbs:  re(`WARNING|kernel BUG`),
		describe: func(r *Report, m []string) { r.set("WARNING", "WARNING: ODEBUG bug in %s", r.guilty(false)) },
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
		needle:   "BUG: Bad page state",
		header:   re(`BUG: Bad page (?:state|map)`),
		describe: func(r *Report, m []string) { r.set("BUG", "BUG: Bad page state in %s", r.guilty(false)) },
	},
	{
		needle:   "BUG: Bad rss-counter state",
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
		needle: "VFS: Busy inodes after unmount",
		header: re(`VFS: Busy inodes after unmount`),
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
		needle: "ASSERT FAILED",
		header: re(`trusty: panic .*ASSERT FAILED at \([^)]*\): (.*)`),
		describe: func(r *Report, m []string) {
			r.setNoFrame("DoS", "trusty: ASSERT FAILED: "+strings.TrimSpace(m[1]))
		},
	},
	{
		needle: "SYZ",
		header: re(`^(?:\d{4}/\d\d/\d\d \d\d:\d\d:\d\d )?(SYZFATAL|SYZFAIL): (.*)`),
		// The fuzzer's executor: its lines interleave with the kernel's
		// and must not cut a kernel report.
		continuation: true,
		describe: func(r *Report, m []string) {
			r.setNoFrame("SYZ_FAILURE", m[1]+": "+numRE.ReplaceAllString(strings.TrimSpace(m[2]), "NUM"))
		},
	},
	{
		needle: "WARNING: kernel stack ",
		header: re(`WARNING: kernel stack (?:regs|frame pointer) at .* has bad`),
		describe: func(r *Report, m []string) {
			r.setNoFrame("WARNING", "WARNING: kernel stack regs has bad value")
		},
	},
	{
		needle: "INFO: Freed in ",
		header: re(`INFO: Freed in ([A-Za-z0-9_.]+)\+0x[0-9a-f]+/0x[0-9a-f]+ age=\d+ cpu=\d+ pid=\d+`),
		describe: func(r *Report, m []string) {
			r.setNoFrame("MEMORY_SAFETY_BUG", "INFO: Freed in "+titleFunc(cleanFunc(m[1]))+" age=NUM cpu=NUM pid=NUM")
		},
	},
	{
		// A Go program's crash (the faultline agent, a Go workload).
		needle: "runtime: |fatal error: |panic: ",
		header: re(`^(?:runtime: |fatal error: |panic: )`),
		needs:  re(`^goroutine \d+ \[`),
		describe: func(r *Report, m []string) {
			r.setNoFrame("DoS", "go runtime error")
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
		needle: "WARNING: ",
		header: re(`(?:^|\S: )WARNING: ([^\s\[].*?)\s*$`),
		suppress: []*lazyRE{
			re(`WARNING: CPU|WARNING: \S+\.[ch]:\d+|WARNING: at `),
			re(`(?i)deprecated|fbcon: |wireless extensions|/etc/ssh/|workqueue cpumask|WARNING: Unsupported|WARNING: unable to open an initial console`),
		},
		describe: func(r *Report, m []string) { r.setNoFrame("WARNING", "WARNING: "+m[1]) },
	},
}

// numRE matches the numbers a title must not carry.
var numRE = re(`\d+`)

// ubsanKind maps UBSAN's message to the title's bug kind.
func ubsanKind(msg string) string {
	switch {
	case strings.Contains(msg, "out-of-bounds"):
		return "array-index-out-of-bounds"
	case strings.Contains(msg, "shift-out-of-bounds"), strings.Contains(msg, "shift exponent"):
		return "shift-out-of-bounds"
	}
	return "undefined-behaviour"
}

// Lines some kinds look for inside their report.
var (
	backtraceRE      = re(`backtrace`)
	unmountRE        = re(`\[unmount of`)
	stackBacktraceRE = re(`(?i)stack backtrace:`)
	becameSafeRE     = re(`which became \S+-irq-safe at:`)
	callTraceRE      = re(`^\s*Call Trace:`)
)

// lockFrameRE finds the "at: FUNC+0x..." of the lock a lockdep report is
// about.
var lockFrameRE = re(`at: (?:\[<[0-9a-f]+>\] )?([A-Za-z0-9_.]+)\+0x`)

// lockFrame returns the guilty frame of a lockdep report: where the lock
// was being acquired, else the stack.
func (r *Report) lockFrame() string {
	var cands []string
	for _, l := range r.lines {
		if m := lockFrameRE.FindStringSubmatch(l.text); m != nil {
			cands = append(cands, cleanFunc(m[1]))
			break
		}
	}
	if i := r.firstLineIndex(stackBacktraceRE, 0); i >= 0 {
		cands = append(cands, r.reliableFrames(i)...)
	} else if i := r.firstLineIndex(callTraceRE, 0); i >= 0 {
		// Older lockdep reports print the stack under "Call Trace:".
		cands = append(cands, r.reliableFrames(i)...)
	}
	return pick(cands...)
}

// warningKinds maps the file or function of a WARNING to its specialised
// title.
var warningKinds = []struct {
	match *lazyRE // on "FILE FUNC"
	title string
	typ   string
}{
	{re(`lib/refcount\.c|\brefcount_`), "WARNING: refcount bug in %s", "REFCOUNT_WARNING"},
	{re(`kernel/locking/lockdep\.c`), "WARNING: locking bug in %s", "LOCKDEP"},
	{re(`lib/debugobjects\.c`), "WARNING: ODEBUG bug in %s", "WARNING"},
	{re(`mm/slab_common\.c:\d+ kmalloc_slab`), "WARNING: kmalloc bug in %s", "WARNING"},
	{re(`mm/vmalloc\.c:\d+ __vmalloc`), "WARNING: zero-size vmalloc in %s", "WARNING"},
	{re(`mm/util\.c:\d+ kvmalloc`), "WARNING: kmalloc bug in %s", "WARNING"},
}

func describeWarning(r *Report, file, fn string) {
	if !r.hasStack() {
		// A WARNING names its function, but without a stack the report
		// was cut short or interleaved with other output.
		r.CorruptedReason = "no stack trace after the WARNING line"
		fn = "-"
	}
	key := file + " " + fn
	for _, w := range warningKinds {
		if w.match.MatchString(key) {
			if fn == "-" {
				r.set(w.typ, w.title, "")
				return
			}
			r.set(w.typ, w.title, r.guilty(false))
			return
		}
	}
	if fn == "usb_submit_urb" {
		// Drivers misuse usb_submit_urb in many ways: the caller says which.
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
	default:
		// The reason, without the details that vary between runs.
		msg, _, _ = strings.Cut(msg, " for ")
		msg = strings.TrimSuffix(msg, " in interrupt")
		msg = strings.TrimRight(strings.TrimSuffix(msg, " ..."), " .")
		r.setNoFrame("DoS", "kernel panic: "+msg)
	}
}
