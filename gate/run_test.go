package gate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"faultline/campaign"
	"faultline/harness"
	"faultline/harness/fakevm"
	"faultline/kernels"
)

// The gate's flow against fake kernels and fake VMs: what it decides, what
// it reuses, how it resumes.

const cleanSummary = `{"workload":"fsync","ops":10,"integrity":{"checked_bytes":4096,"bad_blocks":0,"ok":true}}`

var oopsConsole = func() string {
	b, err := os.ReadFile("../oops/testdata/warning-ext4-dirty-folio.log")
	if err != nil {
		panic(err)
	}
	return string(b)
}()

// fakeBuilder "builds" every spec at once; fail names a spec that fails.
type fakeBuilder struct {
	fail  error
	built []string
}

func (f *fakeBuilder) Build(_ context.Context, s *kernels.BuildSpec) (*kernels.BuildResult, error) {
	f.built = append(f.built, s.Name)
	if f.fail != nil && strings.Contains(s.Name, "+series") {
		return nil, f.fail
	}
	return &kernels.BuildResult{Kernel: &kernels.Kernel{Name: s.Name, Key: "key-" + s.Name, Release: "6.1.0-fake"}, Duration: time.Second}, nil
}

// gateFixture writes an ext4 scenario and a one-patch ext4 series.
func gateFixture(t *testing.T) (scen, series string) {
	t.Helper()
	dir := t.TempDir()
	scen = filepath.Join(dir, "ext4-fsync.yaml")
	text := "name: ext4-fsync\nkernel: debian:6.1-cloud\nfs: {type: ext4}\nworkload: {name: fsync}\ninject: [\"delay:ext4_sync_file:1ms\"]\nruns: 1\n"
	if err := os.WriteFile(scen, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	series = filepath.Join(dir, "series")
	os.Mkdir(series, 0o755)
	if err := os.WriteFile(filepath.Join(series, "0001-ext4.patch"), []byte(patchText(1, 1, "ext4: a change", "fs/ext4/inode.c")), 0o644); err != nil {
		t.Fatal(err)
	}
	return scen, series
}

// gateConfig runs base and patched kernels on a fake pool: crashBase and
// crashPatched make that side's runs oops.
func gateConfig(t *testing.T, pool *fakevm.Pool, b KernelBuilder, scen, series, out, cache string) Config {
	return Config{
		Engine: campaign.Config{Executor: &campaign.Local{Pool: pool, Agent: "/nonexistent/agent"}, Parallel: 1,
			Kernels: func(spec string, _ func(string)) (*kernels.Kernel, error) {
				name := spec
				if strings.HasSuffix(spec, "patched.yaml") {
					name = "6.1-harness+series"
				}
				return &kernels.Kernel{Name: name, Release: "6.1.0-fake"}, nil
			}},
		Builder: b, Base: "6.1-harness", Series: series, Scenarios: []string{scen}, Explicit: true,
		Runs: 3, Seed: 1, Out: out, BaseCache: cache,
	}
}

func scripted(crashBase, crashPatched bool, delay time.Duration) *fakevm.Pool {
	return &fakevm.Pool{Script: func(o harness.Options) fakevm.Script {
		crash := crashBase
		if strings.Contains(o.Kernel.Name, "+series") {
			crash = crashPatched
		}
		if crash {
			return fakevm.Script{Console: oopsConsole, RunFault: "crash", Detail: "qemu exited", RunDelay: delay}
		}
		return fakevm.Script{Stdout: cleanSummary, RunDelay: delay}
	}}
}

func TestGateDecisions(t *testing.T) {
	scen, series := gateFixture(t)
	for _, tc := range []struct {
		name                    string
		crashBase, crashPatched bool
		status                  string
		exit                    int
	}{
		{"regression", false, true, StatusRegression, 1},
		{"pass", false, false, StatusPass, 0},
		{"base fails", true, true, StatusCannotJudge, 125},
		{"fixed by the series", true, false, StatusCannotJudge, 125},
	} {
		pool := scripted(tc.crashBase, tc.crashPatched, 0)
		res, err := Run(context.Background(), gateConfig(t, pool, &fakeBuilder{}, scen, series, t.TempDir(), ""))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if res.Status != tc.status || res.ExitCode() != tc.exit {
			t.Errorf("%s: status %s exit %d, want %s %d (%+v)", tc.name, res.Status, res.ExitCode(), tc.status, tc.exit, res.Cases)
		}
		if pool.Ran() != 6 {
			t.Errorf("%s: %d runs, want 3 per kernel", tc.name, pool.Ran())
		}
	}
}

func TestGateReusesBaseAndResumes(t *testing.T) {
	scen, series := gateFixture(t)
	cache := t.TempDir()
	pool := scripted(false, false, 0)
	if _, err := Run(context.Background(), gateConfig(t, pool, &fakeBuilder{}, scen, series, t.TempDir(), cache)); err != nil {
		t.Fatal(err)
	}
	// A second gate on the same base, cases, runs and seed: only the
	// patched kernel runs.
	pool2 := scripted(false, true, 0)
	res, err := Run(context.Background(), gateConfig(t, pool2, &fakeBuilder{}, scen, series, t.TempDir(), cache))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Base.Reused || pool2.Ran() != 3 || res.Status != StatusRegression {
		t.Errorf("reuse: reused %v, %d runs (want 3), status %s", res.Base.Reused, pool2.Ran(), res.Status)
	}
	var b strings.Builder
	res.WriteText(&b)
	if !strings.Contains(b.String(), "base results reused") || !strings.Contains(b.String(), "NEW") {
		t.Errorf("text output:\n%s", b.String())
	}
	// Interrupted while the patched kernel runs, then run again in the same
	// directory: finished runs are kept, the rest run.
	out := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	slow := scripted(false, false, 300*time.Millisecond)
	go func() {
		for slow.Ran() < 4 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	if _, err := Run(ctx, gateConfig(t, slow, &fakeBuilder{}, scen, series, out, "")); err == nil {
		t.Fatal("an interrupted gate returned no error")
	}
	done := slow.Ran()
	again := scripted(false, false, 0)
	res, err = Run(context.Background(), gateConfig(t, again, &fakeBuilder{}, scen, series, out, ""))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusPass || again.Ran() >= 6 || again.Ran()+done < 6 {
		t.Errorf("resume: status %s, %d runs before, %d after (want the unfinished ones only)", res.Status, done, again.Ran())
	}
}

func TestGateApplyAndBuildFailures(t *testing.T) {
	scen, series := gateFixture(t)
	pe := &kernels.PatchError{Patch: "0001-ext4.patch", N: 3, Failed: []kernels.HunkFailure{{File: "fs/ext4/inode.c", Hunk: 1, Line: 10, Message: "Hunk #1 FAILED at 10."}}}
	b := &fakeBuilder{fail: pe}
	pool := scripted(false, false, 0)
	res, err := Run(context.Background(), gateConfig(t, pool, b, scen, series, t.TempDir(), ""))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusApplyFailed || res.Apply.N != 1 || res.Apply.Subject != "ext4: a change" || pool.Ran() != 0 || len(b.built) != 1 {
		t.Errorf("apply failure: %+v, apply %+v, %d runs, built %v", res.Status, res.Apply, pool.Ran(), b.built)
	}
	logf := filepath.Join(t.TempDir(), "build.log")
	os.WriteFile(logf, []byte("  CC fs/ext4/inode.o\nfs/ext4/inode.c:5:1: error: 'x' undeclared\nmake: *** Error 2\n"), 0o644)
	b = &fakeBuilder{fail: &kernels.BuildError{Spec: "x", Log: logf, Err: fmt.Errorf("exit status 2")}}
	res, err = Run(context.Background(), gateConfig(t, pool, b, scen, series, t.TempDir(), ""))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusBuildFailed || !strings.Contains(res.BuildLog, "undeclared") || res.ExitCode() != 1 {
		t.Errorf("build failure: %s, log %q", res.Status, res.BuildLog)
	}
}
