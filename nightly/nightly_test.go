package nightly

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"faultline/campaign"
	"faultline/harness"
	"faultline/harness/fakevm"
	"faultline/kernels"
	"faultline/results"
)

// fakeSeries is k00..k09; Now is tonight's.
type fakeSeries struct{ Now int }

func (f *fakeSeries) Describe() string { return "fake" }
func (f *fakeSeries) Newest(context.Context, string) (Point, error) {
	k := fmt.Sprintf("k%02d", f.Now)
	return Point{Spec: k, ID: k, Label: k}, nil
}
func (f *fakeSeries) Between(good, bad Point, _ string) ([]string, map[string]string, error) {
	g, _ := strconv.Atoi(good.ID[1:])
	b, _ := strconv.Atoi(bad.ID[1:])
	var ks []string
	for i := g; i <= b; i++ {
		ks = append(ks, fmt.Sprintf("k%02d", i))
	}
	return ks, nil, nil
}

var warning = func() string {
	b, err := os.ReadFile("../oops/testdata/warning-ext4-dirty-folio.log")
	if err != nil {
		panic(err)
	}
	return string(b)
}()

const clean = `{"workload":"fsync","ops":10,"integrity":{"checked_bytes":4096,"bad_blocks":0,"ok":true}}`

// setup: kernels from culprit on show the WARNING in every run.
func setup(t *testing.T, culprit int) (Config, *fakeSeries) {
	dir := t.TempDir()
	sc := filepath.Join(dir, "s.yaml")
	os.WriteFile(sc, []byte("name: s\nkernel: k00\nfs: {type: ext4}\nworkload: {name: fsync}\nruns: 2\n"), 0o644)
	var mu sync.Mutex
	pool := &fakevm.Pool{Script: func(o harness.Options) fakevm.Script {
		mu.Lock()
		defer mu.Unlock()
		n, _ := strconv.Atoi(strings.TrimPrefix(o.Kernel.Name, "k"))
		if n >= culprit {
			return fakevm.Script{Console: warning, RunFault: "crash", Detail: "panic"}
		}
		return fakevm.Script{Stdout: clean}
	}}
	s := &fakeSeries{}
	return Config{
		Dir: filepath.Join(dir, "store"), Series: s, Scenarios: []string{sc}, Seed: 1,
		Engine: campaign.Config{Executor: &campaign.Local{Pool: pool}, Parallel: 1,
			Kernels: func(s string, _ func(string)) (*kernels.Kernel, error) { return &kernels.Kernel{Name: s}, nil }},
	}, s
}

// TestNights: night 1 on k02 is clean; night 2 on k08 sees a crash no
// earlier night saw and bisects k02..k08 to the culprit k05; night 3 on
// k09 sees it again: not new; a second start on k09 tests nothing.
func TestNights(t *testing.T) {
	cfg, s := setup(t, 5)
	ctx := context.Background()
	s.Now = 2
	r, err := Run(ctx, cfg)
	if err != nil || len(r.New) != 0 || r.Night.Status != "done" || r.Night.Answered != 2 {
		t.Fatalf("night 1: %+v %v", r, err)
	}
	s.Now = 8
	r, err = Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := "signature:seed-d-ext4-gup-dio-no-buffers"
	if len(r.New) != 1 || r.New[0] != want || len(r.Night.Bisections) != 1 {
		t.Fatalf("night 2: %+v", r)
	}
	if b := r.Night.Bisections[0]; b.Status != "done" || b.Answer != "k05" || b.Good != "k02" || b.Confidence < 0.95 {
		t.Errorf("night 2's bisection: %+v", b)
	}
	s.Now = 9
	if r, err = Run(ctx, cfg); err != nil || len(r.New) != 0 || len(r.Night.Bisections) != 0 {
		t.Errorf("night 3: %+v %v", r, err)
	}
	if r, err = Run(ctx, cfg); err != nil || !r.AlreadyTested {
		t.Errorf("night 3 again: %+v %v", r, err)
	}
	st, err := results.OpenExisting(cfg.Dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ns, _ := st.Nights()
	idx := results.CrashIndex(ns)
	if len(ns) != 3 || len(idx) != 1 || idx[0].First != "k08" || idx[0].Last != "k09" || idx[0].Kernels != 2 {
		t.Errorf("nights %d, index %+v", len(ns), idx)
	}
	html, err := os.ReadFile(filepath.Join(cfg.Dir, "report.html"))
	if err != nil || !strings.Contains(string(html), "k05") {
		t.Errorf("report.html: %v", err)
	}
}

// TestFirstNightCrash: a crash on the first night has nothing to bisect
// against: new, said, no bisection.
func TestFirstNightCrash(t *testing.T) {
	cfg, s := setup(t, 0)
	s.Now = 3
	r, err := Run(context.Background(), cfg)
	if err != nil || len(r.New) != 1 || len(r.Night.Bisections) != 1 || r.Night.Bisections[0].Status != "not started" {
		t.Fatalf("%+v %v", r, err)
	}
}

// TestLocked: a second nightly on the same store is refused.
func TestLocked(t *testing.T) {
	cfg, _ := setup(t, 5)
	unlock, err := Lock(cfg.Dir)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if _, err := Run(context.Background(), cfg); !errors.Is(err, ErrLocked) {
		t.Errorf("second nightly: %v, want ErrLocked", err)
	}
}

// TestResume: a night killed during its campaign is finished by the next
// start, whatever the series' head is by then.
func TestResume(t *testing.T) {
	cfg, s := setup(t, 5)
	s.Now = 2
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	s.Now = 7
	ctx, cancel := context.WithCancel(context.Background())
	cfg.Engine.Progress = nil
	calls := 0
	cfg.Progress = func(l string) {
		if strings.Contains(l, "run ") || strings.Contains(l, "crash") {
			calls++
			if calls == 1 {
				cancel()
			}
		}
	}
	if _, err := Run(ctx, cfg); err == nil {
		t.Fatal("an interrupted night returned no error")
	}
	cfg.Progress = nil
	s.Now = 9 // a newer head meanwhile: the interrupted night comes first
	r, err := Run(context.Background(), cfg)
	if err != nil || !r.Resumed || r.Night.Label != "k07" || len(r.New) != 1 || r.Night.Bisections[0].Answer != "k05" {
		t.Fatalf("resumed: %+v %v", r, err)
	}
}
