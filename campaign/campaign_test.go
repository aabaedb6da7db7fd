package campaign

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"faultline/harness"
	"faultline/harness/fakevm"
	"faultline/kernels"
	"faultline/probes"
	"faultline/results"
	"faultline/verdict"
)

// The scheduler's tests: a fake pool instead of QEMU.

const cleanSummary = `{"workload":"fsync","ops":10,"integrity":{"checked_bytes":4096,"bad_blocks":0,"ok":true}}`

const badSummary = `{"workload":"fsync","ops":10,"integrity":{"checked_bytes":4096,"bad_blocks":2,"ok":false,"bad":[{"file":"f","offset":0,"what":"zeros"}]}}`

// oopsConsole is seed D's WARNING as 6.1 prints it.
var oopsConsole = func() string {
	b, err := os.ReadFile("../oops/testdata/warning-ext4-dirty-folio.log")
	if err != nil {
		panic(err)
	}
	return string(b)
}()

// writeScenario writes a scenario running the fsync workload runs times,
// with an injection (so the agent's report is read back).
func writeScenario(t *testing.T, name string, runs int, extra string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name+".yaml")
	text := fmt.Sprintf("name: %s\nkernel: debian:6.1-cloud\nfs: {type: ext4}\nworkload: {name: fsync}\ninject: [\"delay:ext4_sync_file:1ms\"]\nruns: %d\n%s", name, runs, extra)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func fakeKernels(spec string, _ func(string)) (*kernels.Kernel, error) {
	if strings.HasPrefix(spec, "missing") {
		return nil, fmt.Errorf("no kernel %s", spec)
	}
	return &kernels.Kernel{Name: spec + "-fake", Release: "6.1.0-fake"}, nil
}

// runIndex is the planned run's index, from the run directory in the
// console path (runs/0004-case/console.log for index 3: numbered from 1).
func runIndex(opts harness.Options) int {
	base := filepath.Base(filepath.Dir(opts.ConsolePath))
	n, _ := strconv.Atoi(strings.SplitN(base, "-", 2)[0])
	return n - 1
}

func config(pool *fakevm.Pool, parallel int) Config {
	return Config{Executor: &Local{Pool: pool, Agent: "/nonexistent/agent"}, Kernels: fakeKernels, Parallel: parallel}
}

func TestParallelLimitAndSeeds(t *testing.T) {
	pool := &fakevm.Pool{Script: func(harness.Options) fakevm.Script {
		return fakevm.Script{Stdout: cleanSummary, RunDelay: 30 * time.Millisecond,
			Timings: harness.Timings{Listening: time.Second, Connected: 100 * time.Millisecond, Ready: 50 * time.Millisecond}}
	}}
	var events []Event
	var mu sync.Mutex
	cfg := config(pool, 2)
	cfg.Progress = func(e Event) { mu.Lock(); events = append(events, e); mu.Unlock() }
	c, err := Create(cfg, Plan{Scenarios: []string{writeScenario(t, "par", 7, "")}, Out: t.TempDir(), Seed: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res := c.Run(context.Background())
	if res.Status != "done" || res.ExitCode() != verdict.ExitOK {
		t.Fatalf("status %s exit %d (%v), want done 0", res.Status, res.ExitCode(), res.StoreErr)
	}
	if pool.MaxRunning != 2 {
		t.Errorf("at most %d VMs at once, want 2 (--parallel 2)", pool.MaxRunning)
	}
	// Run i gets seed+i: every seed once.
	seeds := map[string]bool{}
	for _, cmd := range pool.Commands {
		seeds[fakevm.SeedOf(cmd)] = true
	}
	for i := range 7 {
		if !seeds[strconv.Itoa(1000+i)] {
			t.Errorf("no run with seed %d; ran %q", 1000+i, pool.Commands)
		}
	}
	if len(pool.Commands) != 7 || !strings.Contains(pool.Commands[0], "inject") {
		t.Errorf("commands %q: want 7 workload runs under faultline inject", pool.Commands)
	}
	// Progress: the campaign line, then one line per run; the last says 7/7.
	last := events[len(events)-1]
	if last.Run == nil || last.Status.Finished != 7 || !strings.Contains(last.Line, "[7/7") {
		t.Errorf("last event %+v", last)
	}
	if res.Summary.Finished != 7 || res.Summary.Verdicts[verdict.Clean] != 7 || math.Abs(res.Summary.MeanBoot-1.15) > 1e-9 {
		t.Errorf("summary %+v", res.Summary)
	}
}

// TestFaultsToVerdicts: each way a run ends, through the executor and the
// judge, to its verdict, the stored record and the campaign's exit code.
func TestFaultsToVerdicts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		script  fakevm.Script
		verdict string
		title   string
		exit    int // the campaign's
	}{
		{"clean", fakevm.Script{Stdout: cleanSummary}, verdict.Clean, "", verdict.ExitOK},
		{"oops", fakevm.Script{Console: oopsConsole, RunFault: verdict.FaultCrash, Detail: "qemu exited"}, verdict.Crash, "WARNING in ext4_dirty_folio", verdict.ExitFinding},
		{"panic without report", fakevm.Script{RunFault: verdict.FaultCrash, Detail: "qemu exited"}, verdict.Crash, "guest died without a report", verdict.ExitFinding},
		{"lost data", fakevm.Script{Stdout: badSummary, Exit: 1}, verdict.Integrity, "", verdict.ExitFinding},
		{"hang", fakevm.Script{RunFault: verdict.FaultHang, Detail: "no console output for 2m0s", Tail: "last line"}, verdict.Hang, "", verdict.ExitFinding},
		{"timeout", fakevm.Script{RunFault: verdict.FaultTimeout, Detail: "after 3m"}, verdict.Hang, "", verdict.ExitFinding},
		{"boot failure", fakevm.Script{BootFault: verdict.FaultBoot, Detail: "no agent after 60s"}, verdict.Boot, "", verdict.ExitError},
		{"connection lost", fakevm.Script{RunFault: verdict.FaultLost, Detail: "EOF"}, verdict.Infra, "", verdict.ExitError},
		{"qemu killed", fakevm.Script{RunFault: verdict.FaultQEMUDied, Detail: "signal: killed"}, verdict.Infra, "", verdict.ExitError},
		{"lost after an oops", fakevm.Script{Console: oopsConsole, RunFault: verdict.FaultLost, Detail: "EOF"}, verdict.Crash, "WARNING in ext4_dirty_folio", verdict.ExitFinding},
		{"workload error", fakevm.Script{Exit: 125}, verdict.Infra, "", verdict.ExitError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool := &fakevm.Pool{Script: func(harness.Options) fakevm.Script { return tc.script }}
			cfg := config(pool, 1)
			c, err := Create(cfg, Plan{Scenarios: []string{writeScenario(t, "f", 1, "")}, Out: t.TempDir(), Seed: 7})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			res := c.Run(context.Background())
			if res.ExitCode() != tc.exit {
				t.Errorf("campaign exit %d, want %d", res.ExitCode(), tc.exit)
			}
			var final []*results.Run
			for _, r := range res.Runs {
				if r.Final {
					final = append(final, r)
				}
			}
			if len(final) != 1 {
				t.Fatalf("%d final runs, want 1", len(final))
			}
			r := final[0]
			if r.Verdict != tc.verdict || r.Title != tc.title {
				t.Errorf("verdict %s %q (%s), want %s %q", r.Verdict, r.Title, r.Detail, tc.verdict, tc.title)
			}
			// Infra errors are run once more (Retries 0 here: not).
			if len(res.Runs) != 1 {
				t.Errorf("%d attempts recorded, want 1", len(res.Runs))
			}
			f := tc.script.RunFault
			if f == verdict.FaultNone {
				f = tc.script.BootFault
			}
			if r.Fault != string(f) {
				t.Errorf("stored fault %q, want %q", r.Fault, f)
			}
		})
	}
}

// TestFaultTable: every fault has one row: its verdict and exit code.
func TestFaultTable(t *testing.T) {
	want := map[verdict.Fault][2]any{
		verdict.FaultNone: {verdict.Clean, 0}, verdict.FaultBoot: {verdict.Boot, 123}, verdict.FaultCrash: {verdict.Crash, 122},
		verdict.FaultHang: {verdict.Hang, 121}, verdict.FaultTimeout: {verdict.Hang, 124}, verdict.FaultLost: {verdict.Infra, 125},
		verdict.FaultQEMUDied: {verdict.Infra, 125}, verdict.FaultInterrupted: {verdict.Infra, 130}, verdict.FaultInfra: {verdict.Infra, 125},
	}
	if len(verdict.Rules) != len(want) {
		t.Errorf("%d rules, want %d", len(verdict.Rules), len(want))
	}
	for f, w := range want {
		r := verdict.RuleOf(f)
		if r.Fault != f || r.Verdict != w[0] || r.Exit != w[1] || verdict.ExitCode(f) != w[1] {
			t.Errorf("fault %q: rule %+v, want verdict %v exit %v", f, r, w[0], w[1])
		}
		e := &harness.Error{Fault: f, Detail: "d", Tail: "t"}
		if f != verdict.FaultNone && f != verdict.FaultInterrupted && harness.FaultOf(context.Background(), e) != f {
			t.Errorf("FaultOf(%v) = %q", e, harness.FaultOf(context.Background(), e))
		}
	}
}

// TestInterruptAndResume: cancelling keeps every finished run, marks the
// ones under way not final; resuming runs only what is left, and each
// planned run ends with exactly one final record.
func TestInterruptAndResume(t *testing.T) {
	out := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var block sync.Map // run index -> true: blocks until cancelled
	block.Store(3, true)
	pool := &fakevm.Pool{Script: func(o harness.Options) fakevm.Script {
		s := fakevm.Script{Stdout: cleanSummary, RunDelay: 5 * time.Millisecond}
		if _, ok := block.Load(runIndex(o)); ok {
			s.Block = true
		}
		return s
	}}
	cfg := config(pool, 1)
	cfg.Progress = func(e Event) {
		if e.Run != nil && e.Run.Planned.Index == 2 {
			// Run 3 starts next and blocks: interrupt while it runs.
			go func() { time.Sleep(20 * time.Millisecond); cancel() }()
		}
	}
	c, err := Create(cfg, Plan{Scenarios: []string{writeScenario(t, "r", 6, "")}, Out: out, Seed: 50})
	if err != nil {
		t.Fatal(err)
	}
	res := c.Run(ctx)
	c.Close()
	if res.Status != "interrupted" || res.ExitCode() != verdict.ExitInterrupted {
		t.Fatalf("status %s exit %d, want interrupted 130", res.Status, res.ExitCode())
	}
	if res.Summary.Finished != 3 {
		t.Errorf("%d finished before the interrupt, want 3", res.Summary.Finished)
	}
	block.Delete(3)
	pool2 := &fakevm.Pool{Script: func(harness.Options) fakevm.Script { return fakevm.Script{Stdout: cleanSummary} }}
	c2, err := Resume(config(pool2, 0), out)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if c2.Info.Parallel != 1 {
		t.Errorf("resumed with parallel %d, want the campaign's 1", c2.Info.Parallel)
	}
	res2 := c2.Run(context.Background())
	if res2.Status != "done" || res2.ExitCode() != 0 {
		t.Fatalf("resumed: %s %d", res2.Status, res2.ExitCode())
	}
	if len(pool2.Commands) != 3 {
		t.Errorf("resume ran %d runs, want the 3 left", len(pool2.Commands))
	}
	for _, cmd := range pool2.Commands {
		if s := fakevm.SeedOf(cmd); s != "53" && s != "54" && s != "55" {
			t.Errorf("resume ran seed %s; want 53-55 (the runs left keep their seeds)", s)
		}
	}
	finals := map[int]int{}
	attempts := map[int]int{}
	for _, r := range res2.Runs {
		attempts[r.Index]++
		if r.Final {
			finals[r.Index]++
		}
	}
	for i := range 6 {
		if finals[i] != 1 {
			t.Errorf("run %d has %d final records, want 1", i, finals[i])
		}
	}
	if attempts[3] != 2 {
		t.Errorf("run 3 has %d records, want 2 (the interrupted one kept)", attempts[3])
	}
	if res2.Summary.Finished != 6 || res2.Summary.Verdicts[verdict.Clean] != 6 {
		t.Errorf("summary after resume: %+v", res2.Summary)
	}
	if _, err := Resume(config(pool2, 0), t.TempDir()); err == nil || !strings.Contains(err.Error(), "holds no faultline.db") {
		t.Errorf("resume of an empty directory: %v", err)
	}
}

// TestRetryInfra: a run judged infra-error is run again; both attempts are
// recorded, only the last counts.
func TestRetryInfra(t *testing.T) {
	var n int
	var mu sync.Mutex
	pool := &fakevm.Pool{Script: func(harness.Options) fakevm.Script {
		mu.Lock()
		defer mu.Unlock()
		n++
		if n == 1 {
			return fakevm.Script{RunFault: verdict.FaultLost, Detail: "EOF"}
		}
		return fakevm.Script{Stdout: cleanSummary}
	}}
	cfg := config(pool, 1)
	cfg.Retries = 1
	c, err := Create(cfg, Plan{Scenarios: []string{writeScenario(t, "retry", 2, "")}, Out: t.TempDir(), Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res := c.Run(context.Background())
	if res.ExitCode() != 0 || res.Summary.Verdicts[verdict.Clean] != 2 || res.Summary.Finished != 2 {
		t.Fatalf("exit %d summary %+v", res.ExitCode(), res.Summary)
	}
	if len(res.Runs) != 3 || res.Runs[0].Final || res.Runs[0].Verdict != verdict.Infra || res.Runs[1].Attempt != 2 {
		for _, r := range res.Runs {
			t.Logf("run %d attempt %d %s final=%v", r.Index, r.Attempt, r.Verdict, r.Final)
		}
		t.Errorf("want run 0: infra (not final) then clean (attempt 2), run 1 clean")
	}
}

// TestStoreHoldsCounters: the injection report and the workload's summary
// reach the store.
func TestStoreHoldsCounters(t *testing.T) {
	inj, _ := probes.Parse("delay:ext4_sync_file:1ms")
	pool := &fakevm.Pool{Script: func(harness.Options) fakevm.Script {
		return fakevm.Script{Stdout: cleanSummary, Injections: []probes.Report{{Injection: inj, Attached: true, Hits: 40, Fired: 40, Seconds: 2}}}
	}}
	c, err := Create(config(pool, 1), Plan{Scenarios: []string{writeScenario(t, "cnt", 1, "")}, Out: t.TempDir(), Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res := c.Run(context.Background())
	if len(res.Runs) != 1 || len(res.Runs[0].Counters) != 1 || res.Runs[0].Counters[0].Hits != 40 || res.Runs[0].Integrity == nil {
		t.Fatalf("runs %+v", res.Runs)
	}
	if res.Runs[0].Integrity.CheckedBytes != 4096 {
		t.Errorf("integrity %+v", res.Runs[0].Integrity)
	}
}

func TestBadInput(t *testing.T) {
	pool := &fakevm.Pool{}
	for _, tc := range []struct {
		name string
		plan Plan
		want string
	}{
		{"no such file", Plan{Scenarios: []string{"/nonexistent.yaml"}}, "scenario /nonexistent.yaml"},
		{"filtered out", Plan{Scenarios: []string{writeScenario(t, "a", 1, "")}, Only: regexp.MustCompile("^zzz$")}, "no case to run"},
		{"bad scenario", Plan{Scenarios: []string{writeScenario(t, "b", 1, "bogus: 1\n")}}, "bogus"},
		{"unknown kernel", Plan{Scenarios: []string{writeScenario(t, "c", 1, "variants: [{name: v, kernel: missing-1}]\n")}}, "kernel missing-1"},
	} {
		_, err := Create(config(pool, 1), tc.plan)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
	if pool.Created != 0 {
		t.Errorf("bad input booted %d VMs", pool.Created)
	}
	// An out directory that holds a campaign is never overwritten.
	out := t.TempDir()
	p := &fakevm.Pool{Script: func(harness.Options) fakevm.Script { return fakevm.Script{Stdout: cleanSummary} }}
	c, err := Create(config(p, 1), Plan{Scenarios: []string{writeScenario(t, "d", 1, "")}, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	c.Run(context.Background())
	c.Close()
	if _, err := Create(config(p, 1), Plan{Scenarios: []string{writeScenario(t, "d", 1, "")}, Out: out}); err == nil || !strings.Contains(err.Error(), "already holds a campaign") {
		t.Errorf("second campaign in one directory: %v", err)
	}
}
