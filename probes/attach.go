package probes

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// Report is what one injection point did during a run.
type Report struct {
	Injection
	// Attached says whether the probe was attached; Reason says why not.
	Attached bool   `json:"attached"`
	Reason   string `json:"reason,omitempty"`
	// Hits counts every time the probe ran.
	Hits uint64 `json:"hits"`
	// Filtered counts hits that a filter (comm, pid, cgroup, caller, site,
	// if-set / if-clear, while) excluded.
	Filtered uint64 `json:"filtered"`
	// Fired counts injections: delays made, failures forced, or matching
	// hits for count.
	Fired uint64 `json:"fired"`
	// Delay is the total injected delay.
	Delay time.Duration `json:"delay_ns"`
	// BudgetSkips counts delays skipped because the per-second budget was
	// spent.
	BudgetSkips uint64 `json:"budget_skips"`
	// UntilMet counts delays that ended early because their until= test
	// passed.
	UntilMet uint64 `json:"until_met,omitempty"`
	// Seconds is how long the probe was attached.
	Seconds float64 `json:"seconds"`
	// NeverFired flags an attached injection that did nothing.
	NeverFired bool `json:"never_fired,omitempty"`
	// Snapshot says the figures come from the last periodic line in the
	// kernel log (the guest died before the final report).
	Snapshot bool `json:"snapshot,omitempty"`
}

// Set is a set of attached injections.
type Set struct {
	points []*point
	global bool                   // the trylock_global debugfs switch was turned on
	whiles map[string]*whileProbe // while= function lists, by the option's value
	// spec is the parsed BPF object, parsed once and copied per point.
	spec *ebpf.CollectionSpec
	// blacklist holds the functions on the kernel's kprobe blacklist, read
	// once (nil: not read yet; the file is long and slow to read).
	blacklist map[string]bool
}

// injectSpec returns a copy of the parsed BPF object, parsing it on first use.
func (s *Set) injectSpec() (*ebpf.CollectionSpec, error) {
	if s.spec == nil {
		spec, err := loadInject()
		if err != nil {
			return nil, fmt.Errorf("load BPF object: %w", err)
		}
		s.spec = spec
	}
	return s.spec.Copy(), nil
}

// blacklisted tells whether fn is on the kernel's kprobe blacklist (false
// when the list cannot be read: the kernel's refusal then names it).
func (s *Set) blacklisted(fn string) bool {
	if s.blacklist == nil {
		s.blacklist = map[string]bool{}
		if bl, err := os.ReadFile(kprobeBlacklist); err == nil {
			for _, line := range strings.Split(string(bl), "\n") {
				// "0xSTART-0xEND\tfunc" (older kernels: "func+0x0/0xLEN")
				if f := strings.Fields(line); len(f) == 2 {
					name, _, _ := strings.Cut(f[1], "+")
					s.blacklist[name] = true
				}
			}
		}
	}
	return s.blacklist[fn]
}

// whileProbe counts the tasks inside one while= function (or list of
// functions), for every injection that names it.
type whileProbe struct {
	objs  *ebpf.Collection
	links []link.Link
}

type point struct {
	inj      Injection
	attached bool
	objs     *ebpf.Collection
	link     link.Link
	stats    *ebpf.Map
	since    time.Time
	reason   string
	elapsed  time.Duration
}

const (
	errorInjectionList = "/sys/kernel/debug/error_injection/list"
	trylockGlobal      = "/sys/kernel/debug/faultline/trylock_global"
	kprobeBlacklist    = "/sys/kernel/debug/kprobes/blacklist"
	kprobeOptimization = "/proc/sys/debug/kprobes-optimization"
)

// pauseOptimizer turns kprobe jump optimization (CONFIG_OPTPROBES) off
// while a set of probes is registered or removed, and returns the function
// that turns it back on. Every registration re-arms the kernel's optimizer,
// which runs 5 jiffies later and holds text_mutex across an RCU-tasks grace
// period (about 100 ms in a TCG guest), and each BPF program load behind it
// waits (the JIT takes text_mutex): attaching 54 probes took 4.6 s, half of
// them stalled so. With it off, the probes are optimized in one batch when
// it comes back on. A kernel without the sysctl, with optimization already
// off, or refusing the change is left as it is: only slower to attach.
// FAULTLINE_KPROBE_OPT_PAUSE=off in the agent's environment skips the pause
// (the baseline of make bench-attach).
func pauseOptimizer() (resume func() error) {
	b, err := os.ReadFile(kprobeOptimization)
	if err != nil || strings.TrimSpace(string(b)) != "1" || os.Getenv("FAULTLINE_KPROBE_OPT_PAUSE") == "off" ||
		os.WriteFile(kprobeOptimization, []byte("0\n"), 0o644) != nil {
		return func() error { return nil }
	}
	return func() error {
		if err := os.WriteFile(kprobeOptimization, []byte("1\n"), 0o644); err != nil {
			return fmt.Errorf("turn kprobe jump optimization back on (%s): %w", kprobeOptimization, err)
		}
		return nil
	}
}

// removeMemlock lifts RLIMIT_MEMLOCK, which kernels before 5.11 charge BPF
// maps and programs to. It does what cilium/ebpf's rlimit.RemoveMemlock does
// without that package, whose init probes the kernel with a BPF map in every
// process that links it: in the guest agent, at every start of every
// command (about 20 ms under TCG).
func removeMemlock() error {
	inf := unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}
	if err := unix.Prlimit(0, unix.RLIMIT_MEMLOCK, &inf, nil); err != nil {
		return fmt.Errorf("raise memlock limit for BPF: %w", err)
	}
	return nil
}

// Attach loads and attaches every injection. An injection that cannot
// attach is an error naming what is missing, unless it is Optional: then it
// is reported as not attached. On error nothing stays attached.
func Attach(injs []Injection) (*Set, error) {
	if err := removeMemlock(); err != nil {
		return nil, err
	}
	resume := pauseOptimizer()
	syms := &kallsyms{}
	s := &Set{}
	// Instruction checks first: an attached kprobe rewrites the text it
	// probes, which a later check at the same point would read.
	insnErr := make([]error, len(injs))
	var kcore *elf.File
	for i, inj := range injs {
		insnErr[i] = checkInsn(inj, syms, &kcore)
	}
	if kcore != nil {
		kcore.Close()
	}
	for i, inj := range injs {
		p := &point{inj: inj}
		err := insnErr[i]
		if err == nil {
			err = s.attach(p, syms)
		}
		if err != nil {
			if !inj.Optional {
				s.Close()
				return nil, errors.Join(fmt.Errorf("inject %s: %w", inj.Spec, err), resume())
			}
			p.reason = err.Error()
		}
		s.points = append(s.points, p)
	}
	if err := resume(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Set) attach(p *point, syms *kallsyms) error {
	inj := p.inj
	prog := map[Kind]string{Count: "count", Delay: "delay", FailReturn: "fail", FailTrylock: "fail"}[inj.Kind]
	if err := checkKernel(inj, syms); err != nil {
		return err
	}
	if s.blacklisted(inj.Symbol) {
		return fmt.Errorf("%w: %s is on the kprobe blacklist", ErrNotSupported, inj.Symbol)
	}
	spec, err := s.injectSpec()
	if err != nil {
		return err
	}
	for name := range spec.Programs {
		if name != prog {
			delete(spec.Programs, name)
		}
	}
	th, always := threshold(inj.Probability)
	set := map[string]any{
		"threshold": th, "always": b2u(always),
		"delay_min_ns": uint64(inj.DelayMin), "delay_span_ns": uint64(inj.DelayMax - inj.DelayMin),
		"budget_ns": uint64(inj.Budget), "retval": inj.Return,
		"want_tgid": uint32(inj.PID),
	}
	if inj.Comm != "" {
		var c [16]byte
		copy(c[:], inj.Comm)
		set["check_comm"], set["want_comm"] = uint8(1), c
	}
	if inj.Cgroup != "" {
		id, err := cgroupID(inj.Cgroup)
		if err != nil {
			return err
		}
		set["want_cgroup"] = id
	}
	if inj.Caller != "" {
		lo, hi, err := syms.funcRange(inj.Caller)
		if err != nil {
			return err
		}
		set["caller_lo"], set["caller_hi"] = lo, hi
	}
	if f := inj.Field; f.Reg != "" {
		set["field_reg"], set["field_off"], set["field_mask"], set["field_want"] = fieldRegs[f.Reg], f.Offset, f.Set|f.Clear, f.Set
	}
	if f := inj.Until; f.Reg != "" {
		set["until_reg"], set["until_off"], set["until_mask"], set["until_want"] = fieldRegs[f.Reg], f.Offset, f.Set|f.Clear, f.Set
	}
	if inj.Kind == FailTrylock {
		set["caller_arg"], set["match_site"], set["site"] = uint8(1), uint8(1), TrylockSites[inj.Site]
	}
	var opts ebpf.CollectionOptions
	if inj.While != "" {
		w, err := s.whileProbe("while", inj.While, syms)
		if err != nil {
			return err
		}
		opts.MapReplacements = map[string]*ebpf.Map{"active": w.objs.Maps["active"]}
		set["check_while"] = uint8(1)
	}
	if inj.UntilIn != "" {
		w, err := s.whileProbe("until-in", inj.UntilIn, syms)
		if err != nil {
			return err
		}
		if opts.MapReplacements == nil {
			opts.MapReplacements = map[string]*ebpf.Map{}
		}
		opts.MapReplacements["until_active"] = w.objs.Maps["active"]
		set["check_until_in"] = uint8(1)
	}
	for name, v := range set {
		vs, ok := spec.Variables[name]
		if !ok {
			return fmt.Errorf("BPF object has no variable %s", name)
		}
		if err := vs.Set(v); err != nil {
			return fmt.Errorf("set %s: %w", name, err)
		}
	}
	coll, err := ebpf.NewCollectionWithOptions(spec, opts)
	if err != nil {
		return fmt.Errorf("load %s program: %w", prog, err)
	}
	p.objs, p.stats = coll, coll.Maps["stats"]
	l, err := link.Kprobe(inj.Symbol, coll.Programs[prog], &link.KprobeOptions{Offset: inj.Offset})
	if err != nil {
		coll.Close()
		p.objs = nil
		if errors.Is(err, os.ErrNotExist) {
			if _, _, serr := syms.funcRange(inj.Symbol); serr == nil && inj.Offset != 0 {
				return fmt.Errorf("%w: the kernel refused a kprobe at %s+%#x: not an instruction boundary, or a site kprobes may not patch (a static call, jump label or BUG); objdump this kernel's %s and pick a neighbouring instruction: %v",
					ErrBadInjection, inj.Symbol, inj.Offset, inj.Symbol, err)
			}
			return fmt.Errorf("%w %s%s", ErrUnknownSymbol, inj.Symbol, syms.suggest(inj.Symbol))
		}
		return fmt.Errorf("attach kprobe %s: %w", inj.Symbol, err)
	}
	p.link, p.since, p.attached = l, time.Now(), true
	if inj.Kind == FailTrylock && inj.Site == "global" && !s.global {
		if err := os.WriteFile(trylockGlobal, []byte("1\n"), 0o600); err != nil {
			return fmt.Errorf("enable the global trylock hook (%s): %w", trylockGlobal, err)
		}
		s.global = true
	}
	return nil
}

// whileProbe returns the probes counting the tasks inside fns (one
// function, or several separated by "|"), attaching them on first use: a
// kprobe at each function's entry and a kretprobe at its return, all
// counting in one map.
func (s *Set) whileProbe(opt, fns string, syms *kallsyms) (*whileProbe, error) {
	if w := s.whiles[fns]; w != nil {
		return w, nil
	}
	names := strings.Split(fns, "|")
	for _, fn := range names {
		if _, _, err := syms.funcRange(fn); err != nil {
			return nil, fmt.Errorf("%s=%s: %w", opt, fn, err)
		}
	}
	spec, err := s.injectSpec()
	if err != nil {
		return nil, err
	}
	for name := range spec.Programs {
		if name != "while_enter" && name != "while_exit" {
			delete(spec.Programs, name)
		}
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		return nil, fmt.Errorf("%s=%s: load the enter/exit programs: %w", opt, fns, err)
	}
	w := &whileProbe{objs: coll}
	for _, fn := range names {
		enter, err := link.Kprobe(fn, coll.Programs["while_enter"], nil)
		if err == nil {
			w.links = append(w.links, enter)
			var exit link.Link
			exit, err = link.Kretprobe(fn, coll.Programs["while_exit"], nil)
			if err == nil {
				w.links = append(w.links, exit)
			}
		}
		if err != nil {
			w.close()
			return nil, fmt.Errorf("%s=%s: attach its entry and return probes: %w", opt, fn, err)
		}
	}
	if s.whiles == nil {
		s.whiles = map[string]*whileProbe{}
	}
	s.whiles[fns] = w
	return w, nil
}

// detach removes the while probes (the map stays readable).
func (w *whileProbe) detach() error {
	var errs []error
	for _, l := range w.links {
		errs = append(errs, l.Close())
	}
	w.links = nil
	return errors.Join(errs...)
}

// close detaches the while probes and frees their programs and map.
func (w *whileProbe) close() error {
	err := w.detach()
	if w.objs != nil {
		w.objs.Close()
		w.objs = nil
	}
	return err
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// checkKernel tells, before loading anything, what the kernel lacks.
func checkKernel(inj Injection, syms *kallsyms) error {
	switch inj.Kind {
	case Delay:
		if err := features.HaveProgramHelper(ebpf.Kprobe, asm.FnLoop); err != nil {
			return fmt.Errorf("%w: delay needs the bpf_loop helper (kernel >= 5.17): %v", ErrNotSupported, err)
		}
	case FailReturn, FailTrylock:
		if err := features.HaveProgramHelper(ebpf.Kprobe, asm.FnOverrideReturn); err != nil {
			return fmt.Errorf("%w: %s needs bpf_override_return (CONFIG_FUNCTION_ERROR_INJECTION and CONFIG_BPF_KPROBE_OVERRIDE), which this kernel lacks; use a faultline-built kernel: faultline kernels build 6.1-harness, then --kernel 6.1-harness",
				ErrNotSupported, inj.Kind)
		}
		list, err := errorInjectable()
		if err != nil {
			return err
		}
		if !list[inj.Symbol] {
			if inj.Kind == FailTrylock {
				return fmt.Errorf("%w: fail-trylock needs faultline's trylock hook (%s), which this kernel lacks; use a kernel built with kernels/patches/faultline-hooks.patch (faultline kernels build 6.1-harness)",
					ErrNotSupported, TrylockHook)
			}
			if _, _, err := syms.funcRange(inj.Symbol); err != nil {
				return err
			}
			return fmt.Errorf("%w: %s is not on the kernel's error-injection list (ALLOW_ERROR_INJECTION), so its return cannot be overridden; candidates: %s",
				ErrNotSupported, inj.Symbol, nearest(list, inj.Symbol))
		}
	}
	return nil
}

// checkInsn compares the kernel's text at the probe point with the
// injection's insn=, if it has one. *kcore is /proc/kcore, opened on first
// use and left open for the next check (the caller closes it).
func checkInsn(inj Injection, syms *kallsyms, kcore **elf.File) error {
	if inj.Insn == "" {
		return nil
	}
	want, _ := hex.DecodeString(inj.Insn)
	start, _, err := syms.funcRange(inj.Symbol)
	if err != nil {
		return err
	}
	if *kcore == nil {
		if *kcore, err = elf.Open("/proc/kcore"); err != nil {
			return fmt.Errorf("%w: insn= reads the kernel's text from /proc/kcore (CONFIG_PROC_KCORE, root): %v", ErrNotSupported, err)
		}
	}
	got, err := kernelText(*kcore, start+inj.Offset, len(want))
	if err != nil {
		return err
	}
	return matchInsn(inj, want, got)
}

// matchInsn is checkInsn's verdict on the bytes read.
func matchInsn(inj Injection, want, got []byte) error {
	if bytes.Equal(want, got) {
		return nil
	}
	return fmt.Errorf("%w: %s+%#x holds % x, not the % x of insn=: the offset was found in another build of the kernel; find the point again with objdump of this one",
		ErrBadInjection, inj.Symbol, inj.Offset, got, want)
}

// kernelText reads n bytes of kernel memory at addr from /proc/kcore (f).
func kernelText(f *elf.File, addr uint64, n int) ([]byte, error) {
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && addr >= p.Vaddr && addr+uint64(n) <= p.Vaddr+p.Memsz {
			b := make([]byte, n)
			if _, err := p.ReadAt(b, int64(addr-p.Vaddr)); err != nil {
				return nil, fmt.Errorf("read kernel text at %#x: %w", addr, err)
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("read kernel text: %#x is in no /proc/kcore segment", addr)
}

// errorInjectable reads the kernel's error-injection list.
func errorInjectable() (map[string]bool, error) {
	f, err := os.Open(errorInjectionList)
	if err != nil {
		return nil, fmt.Errorf("%w: no %s (kernel without CONFIG_FUNCTION_ERROR_INJECTION, or debugfs not mounted); use a faultline-built kernel: faultline kernels build 6.1-harness",
			ErrNotSupported, errorInjectionList)
	}
	defer f.Close()
	out := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fs := strings.Fields(sc.Text()); len(fs) > 0 {
			out[fs[0]] = true
		}
	}
	return out, sc.Err()
}

// nearest lists up to five names of set sharing the longest prefix with name.
func nearest(set map[string]bool, name string) string {
	type cand struct {
		n      string
		common int
	}
	var cs []cand
	for n := range set {
		c := 0
		for c < len(n) && c < len(name) && n[c] == name[c] {
			c++
		}
		cs = append(cs, cand{n, c})
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].common != cs[j].common {
			return cs[i].common > cs[j].common
		}
		return cs[i].n < cs[j].n
	})
	var out []string
	for i := 0; i < len(cs) && i < 5; i++ {
		out = append(out, cs[i].n)
	}
	return strings.Join(out, ", ")
}

// cgroupID returns the cgroup v2 id (the directory's inode number) of path.
func cgroupID(path string) (uint64, error) {
	var st unix.Stat_t
	full := "/sys/fs/cgroup" + path
	if err := unix.Stat(full, &st); err != nil {
		return 0, fmt.Errorf("cgroup %s: %w", path, err)
	}
	return st.Ino, nil
}

// Reports returns what each injection did so far.
func (s *Set) Reports() []Report {
	var out []Report
	for _, p := range s.points {
		r := Report{Injection: p.inj, Attached: p.attached, Reason: p.reason}
		if p.stats != nil {
			var st injectStats
			if err := p.stats.Lookup(uint32(0), &st); err == nil {
				r.Hits, r.Filtered, r.Fired = st.Hits, st.Filtered, st.Fired
				r.Delay, r.BudgetSkips, r.UntilMet = time.Duration(st.DelayNs), st.BudgetSkips, st.UntilMet
			}
		}
		el := p.elapsed
		if p.link != nil {
			el = time.Since(p.since)
		}
		r.Seconds = el.Seconds()
		r.NeverFired = r.Attached && r.Fired == 0
		out = append(out, r)
	}
	return out
}

// Detach removes every probe (keeping the counters readable) and turns the
// global trylock hook off again.
func (s *Set) Detach() error {
	resume := func() error { return nil }
	if s.attachedAny() {
		resume = pauseOptimizer()
	}
	var errs []error
	for _, p := range s.points {
		if p.link != nil {
			p.elapsed = time.Since(p.since)
			errs = append(errs, p.link.Close())
			p.link = nil
		}
	}
	if s.global {
		errs = append(errs, os.WriteFile(trylockGlobal, []byte("0\n"), 0o600))
		s.global = false
	}
	for _, w := range s.whiles {
		errs = append(errs, w.detach())
	}
	errs = append(errs, resume())
	return errors.Join(errs...)
}

// attachedAny says whether some probe of the set is still attached.
func (s *Set) attachedAny() bool {
	for _, p := range s.points {
		if p.link != nil {
			return true
		}
	}
	for _, w := range s.whiles {
		if len(w.links) > 0 {
			return true
		}
	}
	return false
}

// Close detaches and frees everything.
func (s *Set) Close() error {
	err := s.Detach()
	for _, p := range s.points {
		if p.objs != nil {
			p.objs.Close()
			p.objs, p.stats = nil, nil
		}
	}
	for _, w := range s.whiles {
		err = errors.Join(err, w.close())
	}
	return err
}

// kallsyms reads /proc/kallsyms once, on first use.
type kallsyms struct {
	once  sync.Once
	err   error
	names map[string]uint64
	addrs []uint64 // sorted text symbol addresses
}

func (k *kallsyms) load() error {
	k.once.Do(func() {
		f, err := os.Open("/proc/kallsyms")
		if err != nil {
			k.err = fmt.Errorf("read kallsyms: %w", err)
			return
		}
		defer f.Close()
		k.names = map[string]uint64{}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 3 || (fs[1] != "t" && fs[1] != "T") {
				continue
			}
			a, err := strconv.ParseUint(fs[0], 16, 64)
			if err != nil {
				continue
			}
			if _, dup := k.names[fs[2]]; !dup {
				k.names[fs[2]] = a
			}
			k.addrs = append(k.addrs, a)
		}
		sort.Slice(k.addrs, func(i, j int) bool { return k.addrs[i] < k.addrs[j] })
		if len(k.addrs) > 0 && k.addrs[len(k.addrs)/2] == 0 {
			k.err = errors.New("kallsyms shows no addresses (kptr_restrict): run as root, or sysctl kernel.kptr_restrict=0")
		}
	})
	return k.err
}

// funcRange returns [start, end) of a text symbol: up to the next symbol.
func (k *kallsyms) funcRange(name string) (uint64, uint64, error) {
	if err := k.load(); err != nil {
		return 0, 0, err
	}
	a, ok := k.names[name]
	if !ok {
		return 0, 0, fmt.Errorf("%w %s%s", ErrUnknownSymbol, name, k.suggest(name))
	}
	i := sort.Search(len(k.addrs), func(i int) bool { return k.addrs[i] > a })
	if i == len(k.addrs) {
		return a, a + 4096, nil
	}
	return a, k.addrs[i], nil
}

// suggest names symbols like name: compiler clones (.isra, .constprop,
// .part) and names sharing a long prefix.
func (k *kallsyms) suggest(name string) string {
	if k.load() != nil {
		return ""
	}
	var clones []string
	for n := range k.names {
		if strings.HasPrefix(n, name+".") {
			clones = append(clones, n)
		}
	}
	if len(clones) > 0 {
		sort.Strings(clones)
		return fmt.Sprintf(" (inlined or cloned by the compiler; probe the clone: %s)", strings.Join(clones, ", "))
	}
	set := map[string]bool{}
	for n := range k.names {
		if len(n) > 4 && len(name) > 4 && n[:4] == name[:4] {
			set[n] = true
		}
	}
	if len(set) == 0 {
		return " (not in /proc/kallsyms: not in this kernel, or built as a module that is not loaded)"
	}
	return " (not in /proc/kallsyms; similar: " + nearest(set, name) + ")"
}

// KmsgPrefix starts the lines "faultline inject" writes to the kernel log
// while it runs, so that the counters survive a guest that crashes before
// the final report is read.
const KmsgPrefix = "faultline-inject: "

// KmsgLine formats report i as a kernel-log line.
func KmsgLine(i int, r Report) string {
	return fmt.Sprintf("%s%d hits=%d filtered=%d fired=%d delay_ns=%d skips=%d met=%d secs=%.1f attached=%t spec=%s",
		KmsgPrefix, i, r.Hits, r.Filtered, r.Fired, int64(r.Delay), r.BudgetSkips, r.UntilMet, r.Seconds, r.Attached, r.Spec)
}

// ReportsFromLog returns, for each injection, the last counters it wrote to
// the kernel log (see KmsgLine), or nil if there are none. They are marked
// Snapshot: taken up to a few seconds before the end.
func ReportsFromLog(log []byte) []Report {
	last := map[int]Report{}
	n := 0
	for _, line := range strings.Split(string(log), "\n") {
		_, rest, ok := strings.Cut(line, KmsgPrefix)
		if !ok {
			continue
		}
		var i int
		var r Report
		var delay int64
		var spec string
		_, err := fmt.Sscanf(rest, "%d hits=%d filtered=%d fired=%d delay_ns=%d skips=%d met=%d secs=%g attached=%t spec=%s",
			&i, &r.Hits, &r.Filtered, &r.Fired, &delay, &r.BudgetSkips, &r.UntilMet, &r.Seconds, &r.Attached, &spec)
		if err != nil { // the lines of faultline before until= (no met=)
			r = Report{}
			_, err = fmt.Sscanf(rest, "%d hits=%d filtered=%d fired=%d delay_ns=%d skips=%d secs=%g attached=%t spec=%s",
				&i, &r.Hits, &r.Filtered, &r.Fired, &delay, &r.BudgetSkips, &r.Seconds, &r.Attached, &spec)
		}
		if err != nil || i < 0 || i > 64 {
			continue
		}
		inj, err := Parse(strings.TrimSpace(spec))
		if err != nil {
			continue
		}
		r.Injection, r.Delay, r.Snapshot = inj, time.Duration(delay), true
		r.NeverFired = r.Attached && r.Fired == 0
		last[i] = r
		n = max(n, i+1)
	}
	if len(last) == 0 {
		return nil
	}
	out := make([]Report, 0, n)
	for i := 0; i < n; i++ {
		if r, ok := last[i]; ok {
			out = append(out, r)
		}
	}
	return out
}
