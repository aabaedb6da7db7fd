//go:build !faultline_agent

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"faultline/probes"
)

// TestInjectDelayAndCount runs the fsync calibration workload on the stock
// kernel twice: once with a count, once with a 1 ms delay as well. The count
// must equal the fsyncs made, the delay must fire on every call and show in
// the latency seen from user space, and the run record must carry both.
func TestInjectDelayAndCount(t *testing.T) {
	needKernel(t)
	tmp := t.TempDir()
	type summary struct {
		Ops     int64
		Latency struct {
			MinUS float64 `json:"min_us"`
		}
	}
	run := func(extra ...string) (summary, map[string]probes.Report) {
		rep := filepath.Join(tmp, "run.json")
		os.Remove(rep)
		args := append([]string{"vm", "--kernel", "debian:6.1-cloud", "--fs", "ext4", "--timeout", "120s", "--report", rep,
			"--inject", "count:ext4_sync_file,comm=workload"}, extra...)
		args = append(args, "--", "workload", "fsync", "--ops", "100", "--clean")
		r := faultline(t, tmp, "", args...)
		if r.code != 0 {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		var s summary
		if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
			t.Fatalf("summary: %v\n%s", err, r.stdout)
		}
		reps := map[string]probes.Report{}
		for _, x := range readInjections(t, rep) {
			reps[string(x.Kind)] = x
		}
		if !strings.Contains(r.stderr, "count:ext4_sync_file,comm=workload") {
			t.Errorf("no injection table on stderr:\n%s", r.stderr)
		}
		return s, reps
	}
	base, reps := run()
	if c := reps["count"]; !c.Attached || c.Fired != uint64(base.Ops) || base.Ops != 100 {
		t.Errorf("count: %+v, want 100 fired for %d fsyncs", c, base.Ops)
	}
	slow, reps := run("--inject", "delay:ext4_sync_file:1ms")
	d := reps["delay"]
	if !d.Attached || d.Fired != 100 || d.Delay < 100*time.Millisecond || reps["count"].Fired != 100 {
		t.Errorf("delay: %+v, count %+v; want 100 delays of >= 1ms", d, reps["count"])
	}
	// Every fsync now waits at least 1 ms: a lower bound, not a timing target.
	if slow.Latency.MinUS < 1000 {
		t.Errorf("fastest fsync with a 1ms delay took %.0fus (without: %.0fus)", slow.Latency.MinUS, base.Latency.MinUS)
	}
	t.Logf("fastest fsync: %.0fus without, %.0fus with a 1ms delay; injected %s in total", base.Latency.MinUS, slow.Latency.MinUS, d.Delay)
	noQEMULeft(t, tmp)
}

// TestInjectDetachAndErrors checks, in one guest, that a probe is listed
// while attached (and jump-optimized once attached) and gone after, and
// that an unknown symbol, an offset inside an instruction, a fail-return on
// a kernel without bpf_override_return and a function on the kprobe
// blacklist are clear errors.
func TestInjectDetachAndErrors(t *testing.T) {
	needKernel(t)
	tmp := t.TempDir()
	script := `set -e
faultline inject --inject count:ext4_sync_file --inject count:ext4_sync_file+0x5 -- sh -c 'sleep 0.5; cat /sys/kernel/debug/kprobes/list' > during
echo during: $(grep -c ext4_sync_file during) $(grep -c 'ext4_sync_file+0x5 *\[OPTIMIZED\]' during)
echo after: $(grep -c ext4_sync_file /sys/kernel/debug/kprobes/list || true)
faultline inject --inject count:ext4_sync_fil -- true 2> unknown || echo unknown-exit: $?
cat unknown
faultline inject --inject count:ext4_sync_file+0x1 -- true 2> boundary || echo boundary-exit: $?
cat boundary
faultline inject --inject fail-return:should_failslab:ENOMEM -- true 2> override || echo override-exit: $?
cat override
faultline inject --inject count:notify_die -- true 2> blacklist || echo blacklist-exit: $?
cat blacklist
faultline inject --inject count:ext4_sync_file,insn=cccccccccc -- true 2> insn || echo insn-exit: $?
cat insn
got=$(sed -n 's/.* holds \([0-9a-f ]*\), not the .*/\1/p' insn | tr -d ' ')
faultline inject --inject count:ext4_sync_file,insn=$got -- true && echo insn-match: $got
faultline inject --report while.json --inject count:ext4_writepages,while=ext4_sync_file \
  --inject count:ext4_writepages,while=pipe_read --inject count:ext4_writepages \
  --inject count:ext4_writepages,while=pipe_read\|ext4_sync_file -- \
  sh -c 'for i in 1 2 3; do dd if=/dev/zero of=w$i bs=4k count=4 conv=fsync 2>/dev/null; done; dd if=/dev/zero of=w4 bs=4k count=4 2>/dev/null; sync'
echo while-fired: $(grep -o '"fired": *[0-9]*' while.json | tr -dc '0-9 \n' | tr '\n' ' ')
echo while-after: $(grep -c . /sys/kernel/debug/kprobes/list || true)
faultline inject --report until.json --inject delay:ext4_sync_file:5ms,until-set=rdi+0x20:63 \
  --inject delay:ext4_sync_file:5ms,until-clear=rdi+0x20:63 \
  --inject delay:ext4_sync_file:5ms,until-in=hrtimer_nanosleep \
  --inject delay:ext4_sync_file:5ms,until-in=pipe_read -- \
  sh -c 'sleep 20 & sleep 0.2; for i in 1 2 3; do dd if=/dev/zero of=u$i bs=4k count=1 conv=fsync 2>/dev/null; done; kill $!'
echo until-json: $(tr -d '\n' < until.json)
echo until-after: $(grep -c . /sys/kernel/debug/kprobes/list || true)
echo optimization: $(cat /proc/sys/debug/kprobes-optimization) $(dmesg | grep -c 'kprobe jump-optimization is disabled')`
	r := faultline(t, tmp, "", "vm", "--kernel", "debian:6.1-cloud", "--fs", "ext4", "--timeout", "120s", "--", "sh", "-c", script)
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	// while=: the writebacks inside fsync, none inside pipe_read (nothing
	// reads a pipe), and more without the condition (the plain write's
	// writeback comes from sync); inside either of pipe_read and
	// ext4_sync_file, as many as inside fsync.
	var inFsync, inPipe, all, inEither int
	if _, err := fmt.Sscanf(afterWord(r.stdout, "while-fired:"), "%d %d %d %d", &inFsync, &inPipe, &all, &inEither); err != nil {
		t.Errorf("no while= counts (%v):\n%s", err, r.stdout)
	} else if inFsync < 3 || inPipe != 0 || all <= inFsync || inEither != inFsync {
		t.Errorf("while= counts: %d inside ext4_sync_file (want >= 3), %d inside pipe_read (want 0), %d in all (want more than inside fsync), %d inside pipe_read|ext4_sync_file (want as many as inside fsync)",
			inFsync, inPipe, all, inEither)
	}
	// until=: ext4_sync_file's first argument is a struct file, whose
	// f_inode (+0x20 on 6.1) is a kernel pointer (bit 63 set): a delay
	// until that bit is set ends at once, one until it is clear never ends
	// early.
	var until struct{ Injections []probes.Report }
	// until-in=: a background sleep is inside hrtimer_nanosleep all along
	// (a delay until some task is inside it ends at once); nothing reads a
	// pipe (one until some task is inside pipe_read never ends early).
	if err := json.Unmarshal([]byte(afterWord(r.stdout, "until-json:")), &until); err != nil || len(until.Injections) != 4 {
		t.Errorf("no until= report (%v):\n%s", err, r.stdout)
	} else {
		for _, pair := range []struct {
			name       string
			met, never int
		}{{"until-set=/until-clear=", 0, 1}, {"until-in=", 2, 3}} {
			met, never := until.Injections[pair.met], until.Injections[pair.never]
			// Ended early: the met delays took less than half of the
			// never-met ones' full 3 x 5ms (not a speed claim: TCG
			// guests vary; session 14 saw 5.1ms for the three).
			if met.Fired != 3 || met.UntilMet != 3 || met.Delay >= never.Delay/2 ||
				never.Fired != 3 || never.UntilMet != 0 || never.Delay < 15*time.Millisecond {
				t.Errorf("%s: met %d of %d in %s (want 3 of 3, under half the never-met delays), never %d of %d in %s (want 0 of 3, >= 15ms)",
					pair.name, met.UntilMet, met.Fired, met.Delay, never.UntilMet, never.Fired, never.Delay)
			}
		}
	}
	if !strings.Contains(r.stdout, "while-after: 0") || !strings.Contains(r.stdout, "until-after: 0") {
		t.Errorf("probes left behind after the while= or until= run:\n%s", r.stdout)
	}
	// Jump optimization is paused while probes attach and detach (the
	// kernel logs each pause) and on again after.
	var on, pauses int
	if _, err := fmt.Sscanf(afterWord(r.stdout, "optimization:"), "%d %d", &on, &pauses); err != nil || on != 1 || pauses == 0 {
		t.Errorf("kprobe jump optimization: %d after the runs (want 1), paused %d times (want > 0), %v:\n%s", on, pauses, err, r.stdout)
	}
	if strings.Contains(r.stdout, "insn-match: \n") {
		t.Errorf("the mismatch error named no bytes:\n%s", r.stdout)
	}
	for _, want := range []string{
		// The probe past the entry's ftrace site is jump-optimized once
		// attached.
		"during: 2 1", "after: 0",
		"unknown-exit: 125", "unknown kernel symbol ext4_sync_fil",
		"boundary-exit: 125", "refused a kprobe at ext4_sync_file+0x1",
		"override-exit: 125", "CONFIG_BPF_KPROBE_OVERRIDE", "faultline kernels build 6.1-harness",
		"blacklist-exit: 125", "notify_die is on the kprobe blacklist",
		"insn-exit: 125", "ext4_sync_file+0x0 holds", "not the cc cc cc cc cc of insn=", "insn-match: ",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	// Bad syntax is refused on the host, before a VM boots.
	r = faultline(t, tmp, "", "vm", "--inject", "delay:ext4_sync_file:50ms", "--", "true")
	if r.code != exitUsage || !strings.Contains(r.stderr, "over the 10ms limit") {
		t.Errorf("delay over the limit: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	noQEMULeft(t, tmp)
}

// TestKernelsShowProbe boots the stock kernel and asks cilium/ebpf's
// features package what it supports: bpf_loop and BTF yes, override no.
func TestKernelsShowProbe(t *testing.T) {
	needKernel(t)
	tmp := t.TempDir()
	r := faultline(t, tmp, "", "kernels", "show", "debian:6.1-cloud", "--probe", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	var info struct {
		BPF []probes.Feature `json:"bpf_features"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range info.BPF {
		got[f.Name] = f.Supported
	}
	want := map[string]bool{"kprobe_programs": true, "bpf_loop": true, "btf": true, "bpf_override_return": false, "error_injection_list": false, "trylock_hook": false}
	for k, v := range want {
		if sup, ok := got[k]; !ok || sup != v {
			t.Errorf("feature %s: supported=%v (present %v), want %v", k, sup, ok, v)
		}
	}
	noQEMULeft(t, tmp)
}

// TestInjectFieldTest checks if-set= on the stock kernel: at the entry of
// __x64_sys_lseek, rdi points at the caller's saved registers (struct
// pt_regs), whose si (offset 0x68) is lseek's offset argument. dd's skip=
// seeks by bs*skip: two seeks to 4096 (bit 12 set) and one to 2048 (bit 12
// clear) make the conditioned count fire exactly twice, while the plain
// count sees all three.
func TestInjectFieldTest(t *testing.T) {
	needKernel(t)
	tmp := t.TempDir()
	rep := filepath.Join(tmp, "run.json")
	const cond = "count:__x64_sys_lseek,comm=dd,if-set=rdi+0x68:12"
	script := `for n in 4096 4096 2048; do dd if=/dev/zero of=/dev/null bs=1 count=1 skip=$n 2>/dev/null; done`
	r := faultline(t, tmp, "", "vm", "--kernel", "debian:6.1-cloud", "--fs", "none", "--report", rep,
		"--inject", cond, "--inject", "count:__x64_sys_lseek,comm=dd", "--", "sh", "-c", script)
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	got := map[string]probes.Report{}
	for _, x := range readInjections(t, rep) {
		got[x.Spec] = x
	}
	c, all := got[cond], got["count:__x64_sys_lseek,comm=dd"]
	if !c.Attached || c.Fired != 2 || c.Hits < 3 {
		t.Errorf("conditioned count: %+v, want 2 fired of >= 3 hits", c)
	}
	if all.Fired < 3 || c.Hits != all.Hits || c.Filtered != c.Hits-2 {
		t.Errorf("plain count %+v against conditioned %+v: want >= 3 fired, the same hits, all but 2 filtered", all, c)
	}
	noQEMULeft(t, tmp)
}

// readInjections reads the injection reports of a --report run record.
func readInjections(t *testing.T, path string) []probes.Report {
	t.Helper()
	var rec runRecord
	b, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(b, &rec) != nil {
		t.Fatalf("run record: %v\n%s", err, b)
	}
	return rec.Injections
}

// afterWord returns the rest of the line of out that starts with word.
func afterWord(out, word string) string {
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, word); ok {
			return rest
		}
	}
	return ""
}
