package bisect

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"faultline/campaign"
	"faultline/harness"
	"faultline/harness/fakevm"
	"faultline/kernels"
	"faultline/results"
	"faultline/verdict"
	"faultline/workloads"
)

var warning = func() string {
	b, err := os.ReadFile("../oops/testdata/warning-ext4-dirty-folio.log")
	if err != nil {
		panic(err)
	}
	return string(b)
}()

const clean = `{"workload":"fsync","ops":10,"integrity":{"checked_bytes":4096,"bad_blocks":0,"ok":true}}`

// kernelsK are k00..k11, "releases" in order; a run on kNN shows the WARNING
// with probability p when NN >= culprit, and fails to boot now and then.
func setup(t *testing.T, culprit int, p float64, fix bool) (Config, *fakevm.Pool) {
	t.Helper()
	dir := t.TempDir()
	sc := filepath.Join(dir, "s.yaml")
	os.WriteFile(sc, []byte("name: s\nkernel: k00\nfs: {type: ext4}\nworkload: {name: fsync}\n"), 0o644)
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(uint64(culprit), 1))
	pool := &fakevm.Pool{Script: func(o harness.Options) fakevm.Script {
		mu.Lock()
		defer mu.Unlock()
		n, _ := strconv.Atoi(strings.TrimPrefix(o.Kernel.Name, "k"))
		has := n >= culprit
		if fix {
			has = n < culprit
		}
		if rng.Float64() < 0.05 {
			return fakevm.Script{BootFault: verdict.FaultBoot, Detail: "no agent"}
		}
		if has && rng.Float64() < p {
			return fakevm.Script{Console: warning, RunFault: verdict.FaultCrash, Detail: "panic"}
		}
		return fakevm.Script{Stdout: clean}
	}}
	var ks []string
	for i := range 12 {
		ks = append(ks, fmt.Sprintf("k%02d", i))
	}
	cfg := Config{
		Engine: campaign.Config{Executor: &campaign.Local{Pool: pool}, Parallel: 1,
			Kernels: func(s string, _ func(string)) (*kernels.Kernel, error) { return &kernels.Kernel{Name: s}, nil }},
		Scenario: sc, Kernels: ks, Fix: fix, Out: filepath.Join(dir, "out"), Budget: 120,
	}
	return cfg, pool
}

func TestBisectFindsTheCulprit(t *testing.T) {
	for _, c := range []struct {
		culprit int
		p       float64
		fix     bool
		want    string
	}{
		{7, 1.0, false, "k07"},
		{3, 0.5, false, "k03"},
		{9, 1.0, true, "k09"}, // k00..k08 have it; k09 is the first without
	} {
		cfg, _ := setup(t, c.culprit, c.p, c.fix)
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if res.Answer != c.want || res.Confidence < 0.95 || res.Target != "signature:seed-d-ext4-gup-dio-no-buffers" {
			var b strings.Builder
			res.WriteTable(&b, c.fix)
			t.Errorf("culprit %d p %.1f fix %v: answer %q at %.2f, target %s; want %s\n%s", c.culprit, c.p, c.fix, res.Answer, res.Confidence, res.Target, c.want, b.String())
		}
		if _, err := os.Stat(filepath.Join(res.Steps[0].Dir, "faultline.db")); err != nil {
			t.Errorf("step store: %v", err)
		}
		st, err := results.OpenExisting(cfg.Out)
		if err != nil {
			t.Fatal(err)
		}
		bs, err := st.Bisections()
		st.Close()
		if err != nil || len(bs) != 1 || bs[0].Status != "done" || bs[0].Answer != c.want || len(bs[0].Steps) != len(res.Steps) ||
			len(bs[0].Steps[len(bs[0].Steps)-1].Posterior) != 11 {
			t.Errorf("stored bisection: %+v %v", bs, err)
		}
		html, err := os.ReadFile(filepath.Join(cfg.Out, "report.html"))
		if err != nil || !strings.Contains(string(html), c.want) || !strings.Contains(string(html), "<svg") {
			t.Errorf("report.html: %v", err)
		}
	}
}

func TestBisectStops(t *testing.T) {
	// The bad end never shows it: said, not guessed.
	cfg, _ := setup(t, 99, 1, false)
	res, err := Run(context.Background(), cfg)
	if err != nil || res.Answer != "" || !strings.Contains(res.Stopped, "does not show the target") {
		t.Errorf("no crash anywhere: %+v %v", res, err)
	}
	// The good end shows it too.
	cfg, _ = setup(t, 0, 1, false)
	res, err = Run(context.Background(), cfg)
	if err != nil || res.Answer != "" || !strings.Contains(res.Stopped, "shows the target too") {
		t.Errorf("crash everywhere: %+v %v", res, err)
	}
	// Bad requests.
	cfg.BadIf = "colour:red"
	if _, err := Run(context.Background(), cfg); err == nil {
		t.Error("a bad --bad-if was accepted")
	}
	cfg.BadIf, cfg.Case = "", "nosuch"
	if _, err := Run(context.Background(), cfg); !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "its cases are s") {
		t.Errorf("an unknown case: %v", err)
	}
	cfg.Case, cfg.Kernels = "", cfg.Kernels[:1]
	if _, err := Run(context.Background(), cfg); err == nil {
		t.Error("one kernel was accepted")
	}
}

// TestBisectFailureKeepsSteps: a step that cannot run (here a kernel that
// does not resolve) ends the bisection with an error; the steps before it
// stay in the store and the bisection is marked failed.
func TestBisectFailureKeepsSteps(t *testing.T) {
	cfg, _ := setup(t, 6, 1, false)
	resolve := cfg.Engine.Kernels
	cfg.Engine.Kernels = func(s string, p func(string)) (*kernels.Kernel, error) {
		if s != "k00" && s != "k11" {
			return nil, fmt.Errorf("no kernel %s", s)
		}
		return resolve(s, p)
	}
	if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "no kernel") {
		t.Fatalf("err %v, want the resolver's", err)
	}
	st, err := results.OpenExisting(cfg.Out)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	bs, err := st.Bisections()
	if err != nil || len(bs) != 1 || !strings.HasPrefix(bs[0].Status, "failed: ") || len(bs[0].Steps) != 2 {
		t.Errorf("stored: %+v %v; want failed with the 2 end steps", bs, err)
	}
}

func TestSeriesKernels(t *testing.T) {
	dir := t.TempDir()
	specs, ser, err := SeriesKernels("6.1-harness", "../scenarios/gate/extent-buffer-v2.mbox", dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != 4 || len(ser.Patches) != 3 || filepath.Base(specs[0]) != "0000-base.yaml" ||
		filepath.Base(specs[2]) != "0002-btrfs-drop-the-tree-reference-check-after-setting-io.yaml" {
		t.Fatalf("specs %v", specs)
	}
	base, _ := kernels.LoadBuildSpec("6.1-harness")
	for k, p := range specs {
		s, err := kernels.LoadBuildSpec(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Patches) != len(base.Patches)+k {
			t.Errorf("point %d: %d patches, want %d", k, len(s.Patches), len(base.Patches)+k)
		}
	}
	if _, _, err := SeriesKernels("debian:6.1-cloud", "../scenarios/gate/harmless", dir); !errors.Is(err, ErrInput) {
		t.Errorf("a Debian kernel as the base: %v", err)
	}
}

// TestBisectUntestable: kernels that do not build are steps with a note,
// never good or bad; a culprit next to them cannot be told apart from them
// (the credible set holds them), one away from them still can.
func TestBisectUntestable(t *testing.T) {
	for _, c := range []struct {
		culprit int
		want    string // answer, or "" for inconclusive
	}{
		{9, "k09"},
		{7, ""},
	} {
		cfg, _ := setup(t, c.culprit, 1, false)
		var built []string
		cfg.Build = func(_ context.Context, spec string) error {
			built = append(built, spec)
			if spec == "k06" || spec == "k07" {
				return &kernels.BuildError{Spec: spec, Log: "/nonexistent", Err: errors.New("make: error 2")}
			}
			return nil
		}
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		var tb strings.Builder
		res.WriteTable(&tb, false)
		if res.Answer != c.want {
			t.Errorf("culprit %d: answer %q, want %q\n%s", c.culprit, res.Answer, c.want, tb.String())
		}
		if c.want == "" && (!strings.Contains(res.Stopped, "do not build") || !strings.Contains(strings.Join(res.Credible, ","), "k07")) {
			t.Errorf("culprit %d: stopped %q credible %v", c.culprit, res.Stopped, res.Credible)
		}
		notes := 0
		for _, s := range res.Steps {
			if s.Note != "" {
				notes++
				if s.Runs != 0 || !strings.Contains(s.Note, "does not build") {
					t.Errorf("step %+v", s)
				}
			}
		}
		if c.want == "" && notes == 0 {
			t.Errorf("culprit %d: no step says a kernel did not build\n%s", c.culprit, tb.String())
		}
		if !strings.Contains(tb.String(), "does not build") && notes > 0 {
			t.Errorf("the table does not show the untestable step:\n%s", tb.String())
		}
	}
	// An end that does not build stops the bisection, said.
	cfg, _ := setup(t, 5, 1, false)
	cfg.Build = func(_ context.Context, spec string) error {
		if spec == "k11" {
			return &kernels.PatchError{Patch: "x.patch", N: 1}
		}
		return nil
	}
	res, err := Run(context.Background(), cfg)
	if err != nil || res.Answer != "" || !strings.Contains(res.Stopped, "does not build") {
		t.Errorf("bad end unbuildable: %+v %v", res, err)
	}
}

func TestBisectClassical(t *testing.T) {
	cfg, _ := setup(t, 7, 1, false)
	cfg.Classical = true
	res, err := Run(context.Background(), cfg)
	if err != nil || res.Answer != "k07" || res.Rule != "classical" {
		t.Fatalf("classical: %+v %v", res, err)
	}
	// Binary search over 11 candidates: 3 or 4 steps; a bad step stops at
	// its first run (p = 1), a good one makes 10 (boot failures aside).
	if res.Runs < 10 || res.Runs > 50 {
		t.Errorf("classical made %d runs", res.Runs)
	}
}

// TestCheckCode: a culprit whose code is its parent's is flagged.
func TestCheckCode(t *testing.T) {
	cfg, _ := setup(t, 7, 1, false)
	cfg.TextHash = func(_ context.Context, spec string) (string, error) {
		if spec == "k06" || spec == "k07" {
			return "same", nil
		}
		return spec, nil
	}
	res, err := Run(context.Background(), cfg)
	if err != nil || res.Answer != "k07" || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "same code") {
		t.Fatalf("%+v %v", res, err)
	}
	cfg, _ = setup(t, 7, 1, false)
	cfg.TextHash = func(_ context.Context, spec string) (string, error) { return spec, nil }
	if res, err := Run(context.Background(), cfg); err != nil || len(res.Warnings) != 0 {
		t.Errorf("different code flagged: %+v %v", res, err)
	}
}

// TestGitKernels on a real repository: every commit from good to bad, a
// spec each on git:REPO@SHA with the recipe's config; bad ranges refused.
func TestGitKernels(t *testing.T) {
	repo := t.TempDir()
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", repo}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "main")
	for i := range 6 {
		os.WriteFile(filepath.Join(repo, "f"), []byte(strconv.Itoa(i)), 0o644)
		git("add", "f")
		git("commit", "-qm", fmt.Sprintf("change %d", i))
	}
	git("tag", "good", "HEAD~4")
	out := t.TempDir()
	cs, err := GitKernels(repo, "good", "main", "6.1-harness", out)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 5 || cs[0].Subject != "change 1" || cs[4].Subject != "change 5" {
		t.Fatalf("commits %+v", cs)
	}
	s, err := kernels.LoadBuildSpec(cs[2].Spec)
	if err != nil {
		t.Fatal(err)
	}
	if s.Source != "git:"+repo+"@"+cs[2].SHA || s.Config.Base != "tinyconfig" || len(s.Patches) != 0 {
		t.Errorf("spec %+v", s)
	}
	for _, c := range []struct{ good, bad, want string }{
		{"main", "good", "not an ancestor"},
		{"good", "good", "same commit"},
		{"nosuch", "main", `--good "nosuch" is not a commit`},
	} {
		if _, err := GitKernels(repo, c.good, c.bad, "6.1-harness", out); !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s..%s: %v, want %q", c.good, c.bad, err, c.want)
		}
	}
	os.WriteFile(filepath.Join(repo, "f"), []byte("dirty"), 0o644)
	if _, err := GitKernels(repo, "good", "main", "6.1-harness", out); !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "uncommitted") {
		t.Errorf("dirty tree: %v", err)
	}
	if _, err := GitKernels(t.TempDir(), "a", "b", "6.1-harness", out); !errors.Is(err, ErrInput) {
		t.Errorf("not a repository: %v", err)
	}
}

func TestVisitCost(t *testing.T) {
	for _, c := range []struct {
		builds, runs int
		build, run   time.Duration
		want         float64
	}{
		{0, 0, 0, 0, 1},
		{0, 4, 0, 4 * time.Minute, 1},
		{2, 4, 4 * time.Minute, 4 * time.Minute, 3}, // a 2-minute build, 1-minute runs
	} {
		b := &bisector{builds: c.builds, timedRuns: c.runs, buildTime: c.build, runTime: c.run}
		if got := b.visitCost(); got != c.want {
			t.Errorf("%+v: visit cost %.2f, want %.2f", c, got, c.want)
		}
	}
}

func TestShorterRuns(t *testing.T) {
	s := time.Second
	for _, c := range []struct {
		first []float64
		full  time.Duration
		want  time.Duration
	}{
		{[]float64{12.3, 8, 9.1}, 60 * s, 19 * s},    // ceil(1.5 x 12.3)
		{[]float64{12.3, 8}, 60 * s, 0},              // two crashes bound nothing
		{[]float64{2, 3, 1, 2.5, 3}, 60 * s, 10 * s}, // never under 10 s
		{[]float64{30, 31, 29}, 45 * s, 0},           // 47 s is not shorter
		{[]float64{12, -1, 9}, 60 * s, 0},            // a crash at an unknown time
		{[]float64{12, 13, 9}, 0, 0},                 // an untimed case
		{[]float64{21.4, 12, 14, 14.2, 11.1}, 45 * s, 33 * s},
	} {
		if got, _ := shorterRuns(c.first, c.full); got != c.want {
			t.Errorf("shorterRuns(%v, %v) = %v, want %v", c.first, c.full, got, c.want)
		}
	}
}

// TestBisectShortensRuns: a timed case's runs after the end with the target
// last 1.5 x its slowest first crash: counted from the workload's timed
// phase when the console marks it (the WARNING at 12.35 s, the phase from
// 5.1 s: 11 s), else from the kernel's start (19 s); with KeepDuration,
// all of them the case's duration.
func TestBisectShortensRuns(t *testing.T) {
	for _, c := range []struct {
		keep, marker bool
		short        string
	}{{false, false, "19s"}, {false, true, "11s"}, {true, false, ""}} {
		cfg, pool := setup(t, 5, 1, false)
		os.WriteFile(cfg.Scenario, []byte("name: s\nkernel: k00\nfs: {type: ext4}\nworkload: {name: mmap-dio}\nduration: 60s\n"), 0o644)
		cfg.KeepDuration = c.keep
		if c.marker {
			inner := pool.Script
			pool.Script = func(o harness.Options) fakevm.Script {
				sc := inner(o)
				sc.Console = "[    5.100000] " + workloads.TimedMarker + " of mmap-dio, 1m0s\n" + sc.Console
				return sc
			}
		}
		res, err := Run(context.Background(), cfg)
		if err != nil || res.Answer != "k05" {
			t.Fatalf("%+v: answer %q, %v", c, res.Answer, err)
		}
		// The bad end's runs at 60 s, then only shorter ones.
		var got []string
		for _, cmd := range pool.Commands {
			switch {
			case strings.Contains(cmd, "--duration=1m0s"):
				got = append(got, "60")
			case c.short != "" && strings.Contains(cmd, "--duration="+c.short):
				got = append(got, "short")
			default:
				got = append(got, "?")
			}
		}
		seq := strings.Join(got, " ")
		want := regexp.MustCompile(`^60( 60)* short( short)*$`) // the bad end's runs, then the rest
		if c.keep {
			want = regexp.MustCompile(`^60( 60)*$`)
		}
		if !want.MatchString(seq) || (res.RunDuration.String() == c.short) == c.keep {
			t.Errorf("%+v: run durations %s; result says %v", c, seq, res.RunDuration)
		}
	}
}
