// Package probes is faultline's fault injector: eBPF kprobe programs that
// count hits, busy-wait (delay), force a function's return value
// (fail-return) or make a page trylock fail (fail-trylock), with their
// parser and Go loaders (github.com/cilium/ebpf). The programs are in
// bpf/inject.c; the generated inject_x86_bpfel.{go,o} are committed, so
// building needs no clang (go generate ./probes rebuilds them with clang-16).
package probes

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrBadInjection is returned for an injection spec that does not parse,
// or whose insn= does not match the kernel's text at the probe point.
var ErrBadInjection = errors.New("bad injection")

// ErrNotSupported is returned when the kernel lacks what an injection needs
// (bpf_loop, bpf_override_return, the faultline trylock hook).
var ErrNotSupported = errors.New("not supported by this kernel")

// ErrUnknownSymbol is returned when an injection names a function the
// kernel does not have.
var ErrUnknownSymbol = errors.New("unknown kernel symbol")

// Kind is what an injection does at its probe.
type Kind string

// The kinds of injection.
const (
	// Count counts hits: evidence that a window was reached.
	Count Kind = "count"
	// Delay busy-waits a random time in [min, max] (kernel >= 5.17: bpf_loop).
	Delay Kind = "delay"
	// FailReturn forces a function on the kernel's error-injection list to
	// return a value (CONFIG_BPF_KPROBE_OVERRIDE).
	FailReturn Kind = "fail-return"
	// FailTrylock makes a page trylock fail at a faultline hook site
	// (kernels built by faultline, with kernels/patches/faultline-hooks.patch).
	FailTrylock Kind = "fail-trylock"
)

// MaxDelay bounds one injected delay, so that the soft-lockup and RCU-stall
// detectors never fire because of the injector itself.
const MaxDelay = 10 * time.Millisecond

// DefaultBudget is the default cap on the total delay one injection point
// injects per second, summed over all CPUs.
const DefaultBudget = 250 * time.Millisecond

// TrylockHook is the function the faultline hooks patch adds; fail-trylock
// attaches to it.
const TrylockHook = "faultline_trylock_fail"

// TrylockSites maps fail-trylock site names to the hook's site argument
// (enum faultline_site in include/linux/faultline.h).
var TrylockSites = map[string]int32{
	"global":       0, // every folio_trylock(); enabled through debugfs while attached
	"eb-readahead": 1, // read_extent_buffer_pages(WAIT_NONE), fs/btrfs/extent_io.c
}

// TrylockSiteFunctions names the kernel function each site other than
// global sits in: a report that names the function and says a trylock
// lost points at the site.
var TrylockSiteFunctions = map[string]string{
	"eb-readahead": "read_extent_buffer_pages",
}

// Injection is one parsed injection spec.
type Injection struct {
	// Spec is the text it was parsed from.
	Spec string `json:"spec"`
	// Kind is what to do.
	Kind Kind `json:"kind"`
	// Symbol is the kernel function probed (faultline_trylock_fail for
	// fail-trylock).
	Symbol string `json:"symbol"`
	// Offset is the probe's offset into Symbol (delay and count only).
	Offset uint64 `json:"offset,omitempty"`
	// Site is the fail-trylock site name.
	Site string `json:"site,omitempty"`
	// DelayMin and DelayMax bound a delay.
	DelayMin time.Duration `json:"delay_min_ns,omitempty"`
	DelayMax time.Duration `json:"delay_max_ns,omitempty"`
	// Return is the value fail-return forces (-ENOMEM is -12).
	Return int64 `json:"return,omitempty"`
	// Probability of firing on a matching hit, in (0, 1].
	Probability float64 `json:"probability"`
	// Comm, PID (thread group) and Cgroup (a cgroup v2 path in the guest)
	// restrict the injection to matching tasks.
	Comm   string `json:"comm,omitempty"`
	PID    int    `json:"pid,omitempty"`
	Cgroup string `json:"cgroup,omitempty"`
	// Caller restricts the injection to calls from this function (its
	// range from kallsyms).
	Caller string `json:"caller,omitempty"`
	// While restricts the injection to times when some task (any task) is
	// inside this function: between its entry and its return (a kprobe and
	// a kretprobe on it). It widens a window only while the other side of
	// the race is running, so a busy-wait does not take the CPU the other
	// side needs the rest of the time. Exact while fewer tasks than the
	// kernel's kretprobe maxactive (max(10, 2 x CPUs)) are inside at once;
	// a task already inside when the probes attach is not counted. Several
	// functions, separated by "|", count together (some task is inside one
	// of them), so a window can span the other side's successive steps.
	While string `json:"while,omitempty"`
	// Field, if its Reg is set, is a memory test the call must pass
	// (if-set=, if-clear=; several of them test one word together).
	Field FieldTest `json:"field,omitzero"`
	// Until, if its Reg is set, ends a delay early (until-set=,
	// until-clear=): the busy-wait re-reads the word on every turn and stops
	// as soon as the test passes, so a hold lasts until the other side of
	// the race has done its part (a flag set, a pointer gone NULL: bit 63 of
	// a kernel pointer is set), at most the delay. The register is read
	// once, at the probe point.
	Until FieldTest `json:"until,omitzero"`
	// UntilIn ends a delay early as soon as some task is inside this
	// function (until-in=; several separated by "|", counted as for
	// While): a hold lasts until the other side of the race has started.
	// The held task's own calls count too, so name a function it is not
	// inside.
	UntilIn string `json:"until_in,omitempty"`
	// Budget caps the total delay per second (delay only).
	Budget time.Duration `json:"budget_ns,omitempty"`
	// Insn, if set, is the hex of the instruction bytes expected at the
	// probe point (insn=): a +offset found with objdump belongs to one
	// build, and the injection refuses to attach where the kernel's text
	// differs (read from /proc/kcore before any probe is attached).
	Insn string `json:"insn,omitempty"`
	// Optional injections that cannot attach are reported, not fatal.
	Optional bool `json:"optional,omitempty"`
}

// FieldTest is a memory test at the probe point: the bits in Set of the
// 64-bit word at register Reg plus Offset must all be set and the bits in
// Clear all clear. For example the flags of a structure whose address a
// register holds, found with objdump at a +offset probe, or a function's
// first argument (rdi) at its entry.
type FieldTest struct {
	Reg    string `json:"reg"`
	Offset uint64 `json:"offset"`
	Set    uint64 `json:"set_mask,omitempty"`
	Clear  uint64 `json:"clear_mask,omitempty"`
}

// fieldRegs are the registers a FieldTest can read, numbered as the BPF
// program's field_reg (1 + the index in the kernel's x86-64 struct pt_regs).
var fieldRegs = map[string]uint8{
	"r15": 1, "r14": 2, "r13": 3, "r12": 4, "rbp": 5, "rbx": 6, "r11": 7, "r10": 8,
	"r9": 9, "r8": 10, "rax": 11, "rcx": 12, "rdx": 13, "rsi": 14, "rdi": 15,
}

// addFieldTest parses REG[+OFF]:BIT and adds it to f: the bit must be set
// (set) or clear. All tests of f read the same word; what names the
// options in errors.
func addFieldTest(f *FieldTest, v string, set bool, what string) error {
	loc, bit, ok := strings.Cut(v, ":")
	reg, off, hasOff := strings.Cut(loc, "+")
	if !ok || reg == "" {
		return fmt.Errorf("%q: want REG[+OFF]:BIT, e.g. rbx+0x10:0", v)
	}
	if _, ok := fieldRegs[reg]; !ok {
		return fmt.Errorf("%q: unknown register %q; registers: rdi rsi rdx rcx r8 r9 rax rbx rbp r10-r15", v, reg)
	}
	var offset uint64
	if hasOff {
		n, err := strconv.ParseUint(off, 0, 32)
		if err != nil {
			return fmt.Errorf("%q: bad offset %q: want +0x10 or +16", v, off)
		}
		offset = n
	}
	b, err := strconv.ParseUint(bit, 10, 8)
	if err != nil || b > 63 {
		return fmt.Errorf("%q: bad bit %q: want 0 to 63", v, bit)
	}
	if f.Reg != "" && (f.Reg != reg || f.Offset != offset) {
		return fmt.Errorf("%q: tests %s+%#x, another test of this injection %s+%#x: all %s of one injection test the same word", v, reg, offset, f.Reg, f.Offset, what)
	}
	m := uint64(1) << b
	if (f.Set|f.Clear)&m != 0 {
		return fmt.Errorf("%q: bit %d is already tested", v, b)
	}
	f.Reg, f.Offset = reg, offset
	if set {
		f.Set |= m
	} else {
		f.Clear |= m
	}
	return nil
}

// Syntax is the injection spec grammar, for help texts.
const Syntax = `KIND:TARGET[:ARG][@PROB][,OPTION...]
  count:FUNC[+OFF]                       count hits
  delay:FUNC[+OFF]:MIN[-MAX][@P]         busy-wait MIN..MAX (<= 10ms) with probability P
  fail-return:FUNC:ERRNO|VALUE[@P]       force FUNC's return value (ENOMEM, -12, 1)
  fail-trylock:SITE[@P]                  make a page trylock fail (SITE: eb-readahead, global)
Options: comm=NAME  pid=TGID  cgroup=PATH  caller=FUNC  budget=DUR (delay per second,
default 250ms)  insn=HEX (the instruction bytes expected at the probe point)
while=FUNC[|FUNC...] (only while some task is inside FUNC, or one of them: the
other side of the race)
if-set=REG[+OFF]:BIT  if-clear=REG[+OFF]:BIT (only when that bit of the
64-bit word at register+offset is set / clear, e.g. if-clear=rbx+0x10:0; several
test one word together: if-set=rbx+0x10:4,if-clear=rbx+0x10:0)
until-set=REG[+OFF]:BIT  until-clear=REG[+OFF]:BIT (delay: end the busy-wait as
soon as that bit is set / clear, e.g. until-clear=rdi+0x18:63, a pointer gone NULL)
until-in=FUNC[|FUNC...] (delay: end the busy-wait as soon as some task is inside
FUNC: hold one side until the other has started)
optional (report instead of failing when it cannot attach)`

// Parse parses one injection spec (see Syntax).
func Parse(spec string) (Injection, error) {
	inj := Injection{Spec: spec, Probability: 1}
	bad := func(format string, args ...any) (Injection, error) {
		return Injection{}, fmt.Errorf("%w %q: %s (syntax: %s)", ErrBadInjection, spec, fmt.Sprintf(format, args...),
			"KIND:TARGET[:ARG][@PROB][,OPTION...]; see faultline vm --help")
	}
	parts := strings.Split(spec, ",")
	main := parts[0]
	if at := strings.LastIndex(main, "@"); at >= 0 {
		p, err := parseProbability(main[at+1:])
		if err != nil {
			return bad("%v", err)
		}
		inj.Probability, main = p, main[:at]
	}
	fields := strings.Split(main, ":")
	if len(fields) < 2 || fields[1] == "" {
		return bad("want KIND:TARGET")
	}
	inj.Kind = Kind(fields[0])
	target := fields[1]
	arg, hasArg := "", len(fields) > 2
	if hasArg {
		arg = strings.Join(fields[2:], ":")
	}
	switch inj.Kind {
	case Count, Delay:
		sym, off, err := parseTarget(target)
		if err != nil {
			return bad("%v", err)
		}
		inj.Symbol, inj.Offset = sym, off
		if inj.Kind == Count {
			if hasArg {
				return bad("count takes no argument")
			}
			break
		}
		if !hasArg {
			return bad("delay needs a duration: delay:FUNC:MIN[-MAX], e.g. delay:%s:100us-2ms", target)
		}
		lo, hi, _ := strings.Cut(arg, "-")
		if inj.DelayMin, err = parseDuration(lo); err != nil {
			return bad("%v", err)
		}
		inj.DelayMax = inj.DelayMin
		if hi != "" {
			if inj.DelayMax, err = parseDuration(hi); err != nil {
				return bad("%v", err)
			}
		}
		switch {
		case inj.DelayMin <= 0:
			return bad("delay must be positive")
		case inj.DelayMax < inj.DelayMin:
			return bad("delay range %s-%s is backwards", inj.DelayMin, inj.DelayMax)
		case inj.DelayMax > MaxDelay:
			return bad("delay %s is over the %s limit (a longer busy-wait trips the soft-lockup and RCU-stall detectors)", inj.DelayMax, MaxDelay)
		}
		inj.Budget = DefaultBudget
	case FailReturn:
		sym, off, err := parseTarget(target)
		if err != nil {
			return bad("%v", err)
		}
		if off != 0 {
			return bad("fail-return probes the function entry; no +offset")
		}
		inj.Symbol = sym
		if !hasArg {
			return bad("fail-return needs a value: fail-return:%s:ENOMEM (or -12, or 1 for a bool)", target)
		}
		if inj.Return, err = parseReturn(arg); err != nil {
			return bad("%v", err)
		}
	case FailTrylock:
		if _, ok := TrylockSites[target]; !ok {
			return bad("unknown trylock site %q; sites: %s", target, siteNames())
		}
		if hasArg {
			return bad("fail-trylock takes no argument")
		}
		// The hook returns non-zero for "fail this trylock": the
		// override's value must be 1 (0 would let every trylock go on).
		inj.Symbol, inj.Site, inj.Return = TrylockHook, target, 1
	default:
		return bad("unknown kind %q; kinds: count, delay, fail-return, fail-trylock", fields[0])
	}
	for _, opt := range parts[1:] {
		k, v, _ := strings.Cut(opt, "=")
		var err error
		switch k {
		case "comm":
			if v == "" || len(v) > 15 {
				return bad("comm=%q: a task name of 1 to 15 characters", v)
			}
			inj.Comm = v
		case "pid":
			if inj.PID, err = strconv.Atoi(v); err != nil || inj.PID <= 0 {
				return bad("pid=%q: want a positive process id", v)
			}
		case "cgroup":
			if !strings.HasPrefix(v, "/") {
				return bad("cgroup=%q: want a path under /sys/fs/cgroup, e.g. /faultline-mmap-dio", v)
			}
			inj.Cgroup = v
		case "caller":
			if v == "" {
				return bad("caller= needs a function name")
			}
			if inj.Offset != 0 {
				return bad("caller= reads the return address, which is only known at the function entry (no +offset)")
			}
			inj.Caller = v
		case "while":
			if !funcList(v) {
				return bad("while=%q: want function names (no +offset) separated by |, e.g. while=try_to_free_mem_cgroup_pages or while=__x64_sys_sync_file_range|memory_reclaim", v)
			}
			inj.While = v
		case "until-in":
			if inj.Kind != Delay {
				return bad("until-in= applies to delay only (it ends a busy-wait early)")
			}
			if !funcList(v) {
				return bad("until-in=%q: want function names (no +offset) separated by |, e.g. until-in=iomap_dio_bio_iter", v)
			}
			inj.UntilIn = v
		case "budget":
			if inj.Kind != Delay {
				return bad("budget= applies to delay only")
			}
			if inj.Budget, err = parseDuration(v); err != nil || inj.Budget < inj.DelayMax || inj.Budget > 900*time.Millisecond {
				return bad("budget=%q: want a duration from the maximum delay up to 900ms (per second)", v)
			}
		case "if-set", "if-clear":
			if err := addFieldTest(&inj.Field, v, k == "if-set", "if-set=/if-clear="); err != nil {
				return bad("%s=%v", k, err)
			}
		case "until-set", "until-clear":
			if inj.Kind != Delay {
				return bad("%s= applies to delay only (it ends a busy-wait early)", k)
			}
			if err := addFieldTest(&inj.Until, v, k == "until-set", "until-set=/until-clear="); err != nil {
				return bad("%s=%v", k, err)
			}
		case "insn":
			b, err := hex.DecodeString(v)
			if err != nil || len(b) == 0 || len(b) > 15 {
				return bad("insn=%q: want the instruction's 1 to 15 bytes in hex, as objdump shows them, e.g. insn=f0480fba731004", v)
			}
			inj.Insn = hex.EncodeToString(b)
		case "optional":
			if v != "" {
				return bad("optional takes no value")
			}
			inj.Optional = true
		default:
			return bad("unknown option %q; options: comm=, pid=, cgroup=, caller=, while=, budget=, if-set=, if-clear=, until-set=, until-clear=, until-in=, insn=, optional", opt)
		}
	}
	return inj, nil
}

// funcList tells whether v is function names separated by "|" (while=,
// until-in=).
func funcList(v string) bool {
	for _, fn := range strings.Split(v, "|") {
		if fn == "" || strings.ContainsAny(fn, "+:") {
			return false
		}
	}
	return true
}

func siteNames() string {
	var s []string
	for n := range TrylockSites {
		s = append(s, n)
	}
	if len(s) == 2 && s[0] > s[1] {
		s[0], s[1] = s[1], s[0]
	}
	return strings.Join(s, ", ")
}

// parseTarget splits FUNC[+OFF].
func parseTarget(t string) (string, uint64, error) {
	sym, off, hasOff := strings.Cut(t, "+")
	if sym == "" || strings.ContainsAny(sym, " \t/@") {
		return "", 0, fmt.Errorf("bad function name %q", sym)
	}
	if !hasOff {
		return sym, 0, nil
	}
	n, err := strconv.ParseUint(off, 0, 64)
	if err != nil {
		return "", 0, fmt.Errorf("bad offset %q: want +0x1a or +26", off)
	}
	return sym, n, nil
}

func parseProbability(s string) (float64, error) {
	pct := strings.HasSuffix(s, "%")
	p, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil {
		return 0, fmt.Errorf("bad probability %q: want 0.3 or 30%%", s)
	}
	if pct {
		p /= 100
	}
	if !(p > 0 && p <= 1) {
		return 0, fmt.Errorf("probability %s is not in (0, 1]", s)
	}
	return p, nil
}

// parseDuration accepts Go durations (100us, 2ms, 1.5ms) and µs.
func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.ReplaceAll(s, "µs", "us"))
	if err != nil {
		return 0, fmt.Errorf("bad duration %q: want e.g. 500us or 2ms", s)
	}
	return d, nil
}

// errnos are the names fail-return accepts.
var errnos = map[string]syscall.Errno{
	"EPERM": syscall.EPERM, "ENOENT": syscall.ENOENT, "EINTR": syscall.EINTR, "EIO": syscall.EIO,
	"ENOMEM": syscall.ENOMEM, "EAGAIN": syscall.EAGAIN, "EBUSY": syscall.EBUSY, "EEXIST": syscall.EEXIST,
	"EINVAL": syscall.EINVAL, "ENOSPC": syscall.ENOSPC, "EROFS": syscall.EROFS, "EDQUOT": syscall.EDQUOT,
	"ENODATA": syscall.ENODATA, "EUCLEAN": syscall.Errno(117), "ENOTBLK": syscall.ENOTBLK,
}

// parseReturn accepts ENOMEM, -ENOMEM or a number.
func parseReturn(s string) (int64, error) {
	if e, ok := errnos[strings.TrimPrefix(s, "-")]; ok {
		return -int64(e), nil
	}
	n, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		return 0, fmt.Errorf("bad return value %q: want an errno name (ENOMEM), a negative errno (-12) or a number", s)
	}
	return n, nil
}

// threshold converts a probability to the program's u32 threshold.
func threshold(p float64) (uint32, bool) {
	if p >= 1 {
		return math.MaxUint32, true
	}
	return uint32(p * float64(math.MaxUint32)), false
}
