//go:build !faultline_agent

package results

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"faultline/oops"
	"faultline/probes"
	"faultline/verdict"
	"faultline/workloads"
)

func TestStore(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	plan := []PlannedRun{{Index: 0, Case: "a", Scenario: "a", Kernel: "debian:6.1-cloud", Seed: 10, Expect: "clean"},
		{Index: 1, Case: "a/v", Scenario: "a", Kernel: "6.1-harness", Seed: 11, Expect: "clean"}}
	c := &Campaign{Seed: 10, Parallel: 1, Argv: []string{"faultline", "run", "a.yaml"}}
	if err := s.Create(c, []ScenarioText{{Name: "a", Path: "/x/a.yaml", Hash: "h", Source: []byte("name: a\n")}}, plan); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(&Campaign{}, nil, plan); err == nil || !strings.Contains(err.Error(), "--resume") {
		t.Errorf("second campaign in one dir: %v", err)
	}
	sigs, _ := oops.LoadSignatures()
	rundir := filepath.Join(dir, RunDir(plan[0], 1))
	os.MkdirAll(rundir, 0o755)
	os.WriteFile(filepath.Join(rundir, "console.log"), []byte(warnLog), 0o644)
	o := &verdict.Outcome{Case: "a", Kernel: "k1", Release: "6.1.0", Seed: 10, Started: time.Now(), Boot: time.Second, Wall: 10 * time.Second,
		Console: filepath.Join(rundir, "console.log"), ExitCode: 1, Argv: []string{"workload", "mmap-dio"},
		Summary: &workloads.Summary{Workload: "mmap-dio", Integrity: workloads.Integrity{BadBlocks: 2, CheckedBytes: 100},
			Reach: map[string]workloads.Reach{"ext4_dirty_folio": {Hits: 5}}},
		Injections: []probes.Report{{Injection: probes.Injection{Spec: "delay:bio_set_pages_dirty:10ms,until-clear=r15:13"}, Attached: true,
			Hits: 9, Fired: 8, Delay: 80 * time.Millisecond, BudgetSkips: 1, UntilMet: 3, Seconds: 2}}}
	v := verdict.Judge(o, []byte(warnLog), sigs, "clean")
	if _, err := s.Record(c.ID, plan[0], 1, o, v, false); err != nil {
		t.Fatal(err)
	}
	// An interrupted run is recorded but not final.
	o2 := &verdict.Outcome{Case: "a/v", Kernel: "k2", Seed: 11, Started: time.Now(), Fault: verdict.FaultInterrupted, Error: "context canceled"}
	if _, err := s.Record(c.ID, plan[1], 1, o2, verdict.Judge(o2, nil, sigs, "clean"), false); err != nil {
		t.Fatal(err)
	}
	if err := s.SetStatus(c.ID, "interrupted", 90*time.Second); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c2, texts, plan2, err := s.Load()
	if err != nil || c2.Status != "interrupted" || c2.Elapsed != 90*time.Second || len(texts) != 1 || len(plan2) != 2 || plan2[1].Kernel != "6.1-harness" {
		t.Fatalf("load: %+v %v %+v %v", c2, texts, plan2, err)
	}
	done, _ := s.Finished(c2.ID)
	if !done[0] || done[1] {
		t.Errorf("finished: %v", done)
	}
	if n, _ := s.NextAttempt(c2.ID, 1); n != 2 {
		t.Errorf("next attempt %d", n)
	}
	runs, err := s.Runs(c2.ID)
	if err != nil || len(runs) != 2 {
		t.Fatalf("runs: %v %v", runs, err)
	}
	r := runs[0]
	if r.Verdict != verdict.Crash || r.Signature != "seed-d-ext4-gup-dio-no-buffers" || r.Integrity == nil || r.Integrity.BadBlocks != 2 ||
		len(r.Counters) != 2 || r.Dir != RunDir(plan[0], 1) || !strings.Contains(r.Excerpt, "ext4_dirty_folio") {
		t.Errorf("run 0: %+v", r)
	}
	var probe, reach Counter
	for _, c := range r.Counters {
		if c.Kind == "probe" {
			probe = c
		} else {
			reach = c
		}
	}
	if reach.Hits != 5 || probe.Hits != 9 || probe.Fired != 8 || probe.Delay != 80*time.Millisecond || probe.BudgetSkips != 1 || probe.UntilMet != 3 {
		t.Errorf("counters: %+v", r.Counters)
	}
	if runs[1].Final || runs[1].Verdict != verdict.Infra {
		t.Errorf("run 1: %+v", runs[1])
	}
	sum := Summarize(c2, plan2, runs)
	if sum.Finished != 1 || sum.Cases[0].Reproduced != 1 || sum.Cases[0].MedianFirstCrash != 12.3457 || sum.RunsPerHour != 40 {
		t.Errorf("summary: %+v %+v", sum, sum.Cases[0])
	}
	crashes, _ := s.Crashes()
	if len(crashes) != 1 || crashes[0].Count != 1 || crashes[0].Kernel != "k1" {
		t.Errorf("crashes: %+v", crashes)
	}
	var junit, html strings.Builder
	if err := WriteJUnit(&junit, "c", runs); err != nil || !strings.Contains(junit.String(), `failures="1"`) {
		t.Errorf("junit: %v\n%s", err, junit.String())
	}
	if err := WriteHTML(&html, sum, runs, crashes); err != nil || !strings.Contains(html.String(), "<svg") || !strings.Contains(html.String(), "WARNING in ext4_dirty_folio") {
		t.Errorf("html: %v", err)
	}
	// The probe's row: 9 hits, 8 fired, min 9, no run with 0, 80ms held, 1 budget skip, 3 ended early.
	if want := `<td class="num">9</td><td class="num">8</td><td class="num">9</td><td class="num">0</td><td class="num">80ms</td><td class="num">1</td><td class="num">3</td>`; !strings.Contains(html.String(), want) {
		t.Errorf("html: no probe row %s", want)
	}
}

// TestStoreOldCounters opens a store whose counters table predates the
// delay columns: the columns are added, the old rows kept with zeros, and
// new runs record them.
func TestStoreOldCounters(t *testing.T) {
	dir := t.TempDir()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, StoreFile))
	if err != nil {
		t.Fatal(err)
	}
	old := `CREATE TABLE counters (run INTEGER NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL, hits INTEGER, fired INTEGER, filtered INTEGER,
  per_second REAL, attached INTEGER, reason TEXT, PRIMARY KEY (run, kind, name));
INSERT INTO counters VALUES (7, 'probe', 'count:f', 42, 42, 0, 1.5, 1, '');`
	if _, err := db.Exec(old); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for range 2 { // the second open finds the columns there
		s, err := OpenStore(dir)
		if err != nil {
			t.Fatal(err)
		}
		var hits, delay, skips, met int64
		if err := s.db.QueryRow(`SELECT hits, delay_ns, budget_skips, until_met FROM counters WHERE run = 7`).Scan(&hits, &delay, &skips, &met); err != nil {
			t.Fatal(err)
		}
		if hits != 42 || delay != 0 || skips != 0 || met != 0 {
			t.Errorf("old row: hits %d delay %d skips %d met %d", hits, delay, skips, met)
		}
		s.Close()
	}
}

// warnLog is seed D's WARNING as 6.1 prints it.
var warnLog = func() string {
	b, err := os.ReadFile("../oops/testdata/warning-ext4-dirty-folio.log")
	if err != nil {
		panic(err)
	}
	return string(b)
}()
