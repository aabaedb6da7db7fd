package repro

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"faultline/campaign"
	"faultline/harness"
	"faultline/harness/fakevm"
	"faultline/kernels"
	"faultline/oops"
	"faultline/probes"
	"faultline/results"
	"faultline/workloads"
)

func sigs(t *testing.T) *oops.Signatures {
	s, err := oops.LoadSignatures()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func seed(t *testing.T, prefix string) []byte {
	m, _ := filepath.Glob("../../shared/seeds/" + prefix + "_*.txt")
	if len(m) == 0 {
		t.Skip("no seed reports in ../../shared/seeds")
	}
	b, err := os.ReadFile(m[0])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReadSeeds reads the seed reports as they were received.
func TestReadSeeds(t *testing.T) {
	s := sigs(t)
	d := Read(seed(t, "004"), s)
	if d.Title != "kernel BUG in ext4_writepage" || d.Signature != "seed-d-ext4-gup-dio-no-buffers" || d.FS != "ext4" {
		t.Errorf("seed D: %+v", d)
	}
	for _, fn := range []string{"ext4_writepage", "write_cache_pages", "set_page_dirty_lock", "dio_bio_complete"} {
		if !slices.Contains(d.Functions, fn) {
			t.Errorf("seed D: %s not among %v", fn, d.Functions)
		}
	}
	if slices.Contains(d.Functions, "_cond_resched") {
		t.Errorf("seed D: a generic frame among %v", d.Functions)
	}
	a := Read(seed(t, "000"), s)
	if a.Signature != "seed-a-btrfs-async-chunk-locked-page" || a.FS != "btrfs" {
		t.Errorf("seed A: %+v", a)
	}
	// Its call chains, written one function a line.
	for _, fn := range []string{"async_cow_submit", "cow_file_range", "__process_pages_contig", "compress_file_range"} {
		if !slices.Contains(a.Functions, fn) {
			t.Errorf("seed A: %s not among %v", fn, a.Functions)
		}
	}
	if c := Read(seed(t, "002"), s); len(c.Crashes) != 0 || !c.Corruption || c.FS != "btrfs" {
		t.Errorf("seed C's discussion holds no oops but says data was lost: read %d crashes, corruption %v, fs %q", len(c.Crashes), c.Corruption, c.FS)
	}
	if b := Read(seed(t, "001"), s); !b.Trylock || !slices.Contains(b.Functions, "read_extent_buffer_pages") {
		t.Errorf("seed B: trylock %v, functions %v", b.Trylock, b.Functions)
	}
}

const report = `[   10.000000] kernel BUG at fs/ext4/inode.c:99!
[   10.000001] invalid opcode: 0000 [#1] SMP
[   10.000002] RIP: 0010:ext4_victim+0x1/0x2
[   10.000003] Call Trace:
[   10.000004]  ext4_caller+0x1/0x2
[   10.000005]  vfs_write+0x1/0x2
[   10.000006]  ksys_write+0x1/0x2
The race: CPU0 runs ext4_window_open() while CPU1 is in ext4_window_close().
`

// setup: a fake kernel where a run crashes with the report's BUG only when
// a delay sits at ext4_window_open; the count probes see every report
// function reached.
func setup(t *testing.T, crashWith string) Config {
	return setupWith(t, report, crashWith)
}

// setupWith is setup for another report text (its functions named as in
// report).
func setupWith(t *testing.T, report, crashWith string) Config {
	dir := t.TempDir()
	var mu sync.Mutex
	pool := &fakevm.Pool{Script: func(o harness.Options) fakevm.Script {
		mu.Lock()
		defer mu.Unlock()
		var inj []probes.Report
		for _, fn := range []string{"ext4_victim", "ext4_caller", "ext4_window_open", "ext4_window_close", "btrfs_victim", "btrfs_caller", "read_extent_buffer_pages"} {
			if !strings.Contains(report, fn) {
				continue
			}
			inj = append(inj, probes.Report{Injection: probes.Injection{Spec: "count:" + fn + ",optional", Kind: probes.Count, Symbol: fn}, Attached: true, Hits: 40})
		}
		sc := fakevm.Script{Stdout: `{"workload":"mmap-dio","ops":10}`, Injections: inj}
		if strings.Contains(o.ConsolePath, crashWith) {
			sc.Console = strings.ReplaceAll(report, "The race", "")
			sc.RunFault = "crash"
			sc.Detail = "panic"
		}
		return sc
	}}
	return Config{
		Report: Read([]byte(report), sigs(t)), Kernel: "k", Out: filepath.Join(dir, "out"),
		Engine: campaign.Config{Executor: &campaign.Local{Pool: pool}, Parallel: 1, Signatures: sigs(t),
			Kernels: func(s string, _ func(string)) (*kernels.Kernel, error) { return &kernels.Kernel{Name: s}, nil }},
	}
}

// TestDerive: a report with no known signature is reproduced by the plan
// that delays the function its prose names, found by the search; the
// scenario written reruns that plan.
func TestDerive(t *testing.T) {
	cfg := setup(t, "delay-ext4_window_open")
	if !slices.Contains(cfg.Report.Functions, "ext4_window_open") || cfg.Report.FS != "ext4" {
		t.Fatalf("read %+v", cfg.Report)
	}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Reproduced || res.Best == nil || !strings.Contains(strings.Join(res.Best.Inject, " "), "delay:ext4_window_open:") {
		t.Fatalf("result %+v best %+v", res, res.Best)
	}
	if res.Best.Hits < 3 || res.Reach["ext4_window_open"] != 40 {
		t.Errorf("best %+v reach %v", res.Best, res.Reach)
	}
	b, err := os.ReadFile(res.Scenario)
	if err != nil || !strings.Contains(string(b), "delay:ext4_window_open:") || !strings.Contains(string(b), "count:ext4_victim,optional") {
		t.Errorf("scenario %s: %s %v", res.Scenario, b, err)
	}
	if _, err := campaign.LoadScenario(res.Scenario, cfg.Engine.Signatures.IDs()); err != nil {
		t.Errorf("the scenario written does not load: %v", err)
	}
	// The whole search: in the store, the report and repro.json.
	st, err := results.OpenExisting(cfg.Out)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rs, err := st.Repros()
	if err != nil || len(rs) != 1 || rs[0].Status != "reproduced" || len(rs[0].Trials) < 2 {
		t.Fatalf("stored: %+v %v", rs, err)
	}
	last := rs[0].Trials[len(rs[0].Trials)-1]
	if first := rs[0].Trials[0]; last.Plan != res.Best.Name || last.Hits == 0 || first.Reach != 4 || first.Runs != 1 {
		t.Errorf("trials %+v, best %s", rs[0].Trials, res.Best.Name)
	}
	html, err := os.ReadFile(filepath.Join(cfg.Out, "report.html"))
	if err != nil || !strings.Contains(string(html), "<b>reproduced</b>") || !strings.Contains(string(html), last.Dir+"/report.html") {
		t.Errorf("report.html: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.Out, "repro.json")); err != nil {
		t.Error(err)
	}
}

// TestHarnessTrouble: a search that cannot go on (the kernel stops
// resolving) returns the error; what ran stays in the store, repro.json
// and the report.
func TestHarnessTrouble(t *testing.T) {
	cfg := setup(t, "never")
	resolve, n := cfg.Engine.Kernels, 0
	cfg.Engine.Kernels = func(s string, p func(string)) (*kernels.Kernel, error) {
		if n++; n > 3 {
			return nil, errors.New("the kernel is gone")
		}
		return resolve(s, p)
	}
	if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "the kernel is gone") {
		t.Fatalf("err %v", err)
	}
	st, err := results.OpenExisting(cfg.Out)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rs, err := st.Repros()
	if err != nil || len(rs) != 1 || !strings.HasPrefix(rs[0].Status, "failed: ") || len(rs[0].Trials) == 0 {
		t.Errorf("stored: %+v %v", rs, err)
	}
	b, err := os.ReadFile(filepath.Join(cfg.Out, "repro.json"))
	if err != nil || !strings.Contains(string(b), "the kernel is gone") {
		t.Errorf("repro.json: %s %v", b, err)
	}
}

// TestNotReproduced: nothing crashes: the budget ends the search with the
// best plan, its reach and the list of what was tried.
func TestNotReproduced(t *testing.T) {
	cfg := setup(t, "never")
	cfg.Budget = 0
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Reproduced || res.Stopped == "" || len(res.Tried) < 3 || res.Best == nil {
		t.Errorf("%+v", res)
	}
	// Among what was tried: both sides at once, each way, and one side
	// held until the other has started.
	var both []string
	for _, p := range res.Tried {
		for _, in := range p.Inject {
			if strings.Contains(in, ",while=") || strings.Contains(in, ",until-in=") {
				both = append(both, in)
			}
		}
	}
	slices.Sort(both)
	both = slices.Compact(both)
	if want := []string{"delay:ext4_caller:10ms@0.5,until-in=ext4_window_close,budget=900ms", "delay:ext4_caller:5ms-10ms,while=ext4_window_close,budget=900ms",
		"delay:ext4_window_close:5ms-10ms,while=ext4_caller,budget=900ms"}; !slices.Equal(both, want) {
		t.Errorf("two-sided plans %q, want %q", both, want)
	}
}

func TestNoCrash(t *testing.T) {
	cfg := setup(t, "never")
	cfg.Report = Read([]byte("a discussion of a race, with no oops in it\n"), sigs(t))
	if _, err := Run(context.Background(), cfg); !errors.Is(err, ErrNoCrash) {
		t.Errorf("%v, want ErrNoCrash", err)
	}
}

func TestReadCorruption(t *testing.T) {
	for text, want := range map[string]bool{
		"ext4_window_open() drops the page, which leads to crc errors":         true,
		"we end up freeing the page without ever writing it":                   true,
		"btrfs reports csum failed for the range":                              true,
		"this silently corrupts data on the next mount":                        true,
		"the write is never written back":                                      true,
		"data corruption follows":                                              true,
		"a checksum of the superblock is computed in btrfs_check_super_csum()": false,
		"a race between two readers":                                           false,
	} {
		if got := Read([]byte(text), nil).Corruption; got != want {
			t.Errorf("%q: corruption %v, want %v", text, got, want)
		}
	}
}

// TestCorruption: a text with no crash that says data was lost targets
// integrity: a run whose data check fails, or whose file system reports a
// checksum error, shows it.
func TestCorruption(t *testing.T) {
	cfg := setup(t, "never")
	cfg.Report = Read([]byte("ext4_window_open() can skip the page, and ext4_window_close() frees it without ever writing it: crc errors follow.\n"), sigs(t))
	pool := cfg.Engine.Executor.(*campaign.Local).Pool.(*fakevm.Pool)
	inner := pool.Script
	pool.Script = func(o harness.Options) fakevm.Script {
		sc := inner(o)
		sc.Stdout = `{"workload":"mmap-dio","ops":10,"integrity":{"checked_bytes":8192,"bad_blocks":0,"ok":true}}`
		if strings.Contains(o.ConsolePath, "delay-ext4_window_close") {
			sc.Stdout = `{"workload":"mmap-dio","ops":10,"integrity":{"checked_bytes":8192,"bad_blocks":1,"ok":false}}`
		}
		return sc
	}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Target != "integrity" || !res.Reproduced || !strings.Contains(strings.Join(res.Best.Inject, " "), "delay:ext4_window_close:") {
		t.Errorf("target %s reproduced %v best %+v", res.Target, res.Reproduced, res.Best)
	}
}

// TestKernelChecks: a kernel without kprobes is refused, naming the option;
// a report whose trylock lost on a kernel without faultline's hooks gets no
// trylock plans and a note saying why; with the hooks, a plan fails the
// trylock at the hook site inside a function the report names.
func TestKernelChecks(t *testing.T) {
	dir := t.TempDir()
	cfgNo := filepath.Join(dir, "config-no")
	os.WriteFile(cfgNo, []byte("CONFIG_BPF_SYSCALL=y\nCONFIG_BPF_EVENTS=y\n# CONFIG_KPROBES is not set\n"), 0o644)
	cfgYes := filepath.Join(dir, "config-yes")
	os.WriteFile(cfgYes, []byte("CONFIG_BPF_SYSCALL=y\nCONFIG_BPF_EVENTS=y\nCONFIG_KPROBES=y\nCONFIG_BPF_KPROBE_OVERRIDE=y\n"), 0o644)
	plain := filepath.Join(dir, "System.map")
	const fns = "ffffffff81000000 T _stext\nffffffff81000100 T read_extent_buffer_pages\nffffffff81000200 t ext4_victim\n" +
		"ffffffff81000300 t ext4_caller.isra.0\nffffffff81000400 T vfs_write\nffffffff81000500 T ksys_write\nffffffff81000600 t ext4_window_open\n" +
		"ffffffff81000700 t ext4_window_close\n"
	os.WriteFile(plain, []byte(fns), 0o644)
	hooked := filepath.Join(dir, "System.map-hooked")
	os.WriteFile(hooked, []byte(fns+"ffffffff81000800 T "+probes.TrylockHook+"\n"), 0o644)

	cfg := setup(t, "never")
	cfg.Engine.Kernels = func(s string, _ func(string)) (*kernels.Kernel, error) {
		return &kernels.Kernel{Name: s, Config: cfgNo}, nil
	}
	var ke *KernelError
	if _, err := Run(context.Background(), cfg); !errors.As(err, &ke) || ke.Option != "CONFIG_KPROBES" || !errors.Is(err, ErrInput) {
		t.Errorf("no kprobes: %v", err)
	}

	for _, c := range []struct {
		sysmap    string
		wantSite  bool
		wantNotes int
	}{{plain, false, 1}, {hooked, true, 0}} {
		cfg := setup(t, "never")
		cfg.Report = Read([]byte(report+"The reader's trylock_page() fails in read_extent_buffer_pages().\n"), sigs(t))
		cfg.Budget = 0
		cfg.Engine.Kernels = func(s string, _ func(string)) (*kernels.Kernel, error) {
			return &kernels.Kernel{Name: s, Config: cfgYes, SystemMap: c.sysmap}, nil
		}
		// The fake workloads reach the site's function.
		pool := cfg.Engine.Executor.(*campaign.Local).Pool.(*fakevm.Pool)
		inner := pool.Script
		pool.Script = func(o harness.Options) fakevm.Script {
			sc := inner(o)
			sc.Injections = append(sc.Injections, probes.Report{Injection: probes.Injection{Spec: "count:read_extent_buffer_pages,optional", Kind: probes.Count, Symbol: "read_extent_buffer_pages"}, Attached: true, Hits: 9})
			return sc
		}
		if !cfg.Report.Trylock {
			t.Fatalf("trylock not read: %+v", cfg.Report)
		}
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		site, global := false, false
		for _, p := range res.Tried {
			site = site || slices.Contains(p.Inject, "fail-trylock:eb-readahead@0.5")
			global = global || slices.Contains(p.Inject, "fail-trylock:global@0.2")
		}
		hookNotes := 0
		for _, n := range res.Notes {
			if strings.Contains(n, "no faultline trylock hooks") {
				hookNotes++
			}
		}
		if site != c.wantSite || global != c.wantSite || hookNotes != c.wantNotes {
			t.Errorf("%s: site plan %v, global plan %v, notes %q", filepath.Base(c.sysmap), site, global, res.Notes)
		}
	}
}

// TestKnown: a known signature runs the shipped case written for the
// kernel asked for, not another kernel's plan, until 3 shows.
func TestKnown(t *testing.T) {
	dir := t.TempDir()
	warning, err := os.ReadFile("../oops/testdata/warning-ext4-dirty-folio.log")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var ran []string
	pool := &fakevm.Pool{Script: func(o harness.Options) fakevm.Script {
		mu.Lock()
		defer mu.Unlock()
		ran = append(ran, filepath.Base(filepath.Dir(o.ConsolePath)))
		return fakevm.Script{Console: string(warning), RunFault: "crash", Detail: "panic"}
	}}
	const sig = "seed-d-ext4-gup-dio-no-buffers"
	mutant := filepath.Join(dir, "a.yaml")
	os.WriteFile(mutant, []byte("name: on-mutant\nkernel: mutant\nfs: {type: ext4}\nworkload: {name: mmap-dio}\nduration: 10s\nexpect: "+sig+"\n"), 0o644)
	stock := filepath.Join(dir, "b.yaml")
	os.WriteFile(stock, []byte("name: on-stock\nkernel: other\nfs: {type: ext4}\nworkload: {name: mmap-dio}\nduration: 10s\nexpect: clean\nvariants:\n  - name: stock\n    kernel: k\n    expect: "+sig+"\n"), 0o644)
	cfg := Config{Report: Read(warning, sigs(t)), Kernel: "k", Known: []string{mutant, stock}, Out: filepath.Join(dir, "out"),
		Engine: campaign.Config{Executor: &campaign.Local{Pool: pool}, Parallel: 1, Signatures: sigs(t),
			Kernels: func(s string, _ func(string)) (*kernels.Kernel, error) { return &kernels.Kernel{Name: s}, nil }}}
	if cfg.Report.Signature != sig {
		t.Fatalf("read %+v", cfg.Report)
	}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Known != stock || !res.Reproduced || res.Best.Name != "on-stock/stock" || res.Best.Hits != 3 {
		t.Errorf("known %s, best %+v, reproduced %v (ran %v)", res.Known, res.Best, res.Reproduced, ran)
	}
}

// TestDeriveBothSides: a race that shows only when one side is held while
// the other runs is found by the plans that pair the crashing task's
// stack with the report's other functions (while=).
func TestDeriveBothSides(t *testing.T) {
	cfg := setup(t, "-while-")
	if !slices.Equal(cfg.Report.Stack, []string{"ext4_victim", "ext4_caller", "vfs_write", "ksys_write"}) {
		t.Fatalf("stack %v", cfg.Report.Stack)
	}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	inj := strings.Join(res.Best.Inject, " ")
	if !res.Reproduced || !strings.Contains(inj, ",while=ext4_window_close") || !strings.HasPrefix(inj, "delay:ext4_caller:") {
		t.Errorf("reproduced %v, best %+v", res.Reproduced, res.Best)
	}

}

// TestMatchSymbols: the report's functions against the kernel's System.map:
// a one-letter misspelling is read as the kernel's function, a function the
// kernel does not have is left out, and both are said.
func TestMatchSymbols(t *testing.T) {
	s := &searcher{cfg: Config{Kernel: "k", Report: &Report{
		Functions: []string{"ext4_victim", "ext4_windw_open", "__do_readpage", "ext4_window_closex", "vfs_write"},
		Stack:     []string{"ext4_victim", "__do_readpage"}}}, res: &Result{}}
	s.matchSymbols(kernels.ParseSystemMap([]byte("ffffffff81000000 T ext4_victim\nffffffff81000100 t ext4_window_open.cold\nffffffff81000200 T ext4_window_close\n" +
		"ffffffff81000300 T ext4_window_closed\nffffffff81000400 T vfs_write\nffffffff81000500 D ext4_data\n")))
	// ext4_window_closex is one letter off two kernel functions: left out.
	if want := []string{"ext4_victim", "ext4_window_open", "vfs_write"}; !slices.Equal(s.cfg.Report.Functions, want) {
		t.Errorf("functions %v, want %v", s.cfg.Report.Functions, want)
	}
	if !slices.Equal(s.cfg.Report.Stack, []string{"ext4_victim"}) || len(s.res.Notes) != 1 ||
		!strings.Contains(s.res.Notes[0], "__do_readpage, ext4_window_closex") {
		t.Errorf("stack %v, notes %q", s.cfg.Report.Stack, s.res.Notes)
	}
	for _, c := range []struct {
		a, b string
		want bool
	}{{"abc", "abd", true}, {"abc", "abcd", true}, {"abc", "ac", true}, {"abc", "abc", false}, {"abc", "bad", false}, {"nobufers", "nobuffers", true}} {
		if oneEdit(c.a, c.b) != c.want {
			t.Errorf("oneEdit(%q, %q) != %v", c.a, c.b, c.want)
		}
	}
}

// TestLongerRuns: a plan that shows the target too rarely for 3 in 10 runs
// goes on with runs twice as long, and reproduces there.
func TestLongerRuns(t *testing.T) {
	cfg := setup(t, "never")
	pool := cfg.Engine.Executor.(*campaign.Local).Pool.(*fakevm.Pool)
	inner := pool.Script
	var mu sync.Mutex
	n := 0
	pool.Script = func(o harness.Options) fakevm.Script {
		sc := inner(o)
		mu.Lock()
		defer mu.Unlock()
		alone := strings.Contains(o.ConsolePath, "-mmap-dio-ext4/") || strings.Contains(o.ConsolePath, "-mmap-dio-ext4-1m0s/")
		if alone {
			n++
		}
		// The workload alone: its 3rd run in 30 s runs shows it; in
		// 60 s runs every run does.
		if alone && (n == 3 || strings.Contains(o.ConsolePath, "-1m0s/")) {
			sc.Console = strings.ReplaceAll(report, "The race", "")
			sc.RunFault, sc.Detail = "crash", "panic"
		}
		return sc
	}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Reproduced || res.Best.Duration != time.Minute || len(res.Best.Inject) != 0 {
		t.Errorf("reproduced %v best %+v", res.Reproduced, res.Best)
	}
	// The 30 s runs' show (1 of 4, with calibration's) counts with the 60 s runs': 3 shows after two
	// 60 s runs.
	if res.Best.Runs != 2 || len(res.Notes) == 0 || !strings.Contains(res.Notes[len(res.Notes)-1], "3 of 6 runs") {
		t.Errorf("best runs %d, notes %q", res.Best.Runs, res.Notes)
	}
	b, err := os.ReadFile(res.Scenario)
	if err != nil || !strings.Contains(string(b), "duration: 1m0s") {
		t.Errorf("scenario: %s %v", b, err)
	}
}

// columns is a race drawn as two columns, the way mails lay them out.
const columns = `Consider the following race:

 > CPU0                               CPU1
 >
 > ext4_map_pages()
 >   lock_page(page)                  ext4_evict_range()
 >   ext4_attach_buffers()              truncate_pagecache()
 >                                      ext4_drop_buffers()
 >   unlock_page(page)
 >   ext4_writepage_io()

The writepage then finds no buffers.
`

func TestReadColumns(t *testing.T) {
	r := Read([]byte(report+columns), nil)
	want := [][]string{{"ext4_map_pages", "ext4_attach_buffers", "ext4_writepage_io"}, {"ext4_evict_range", "truncate_pagecache", "ext4_drop_buffers"}}
	if len(r.Sides) != 2 || !slices.Equal(r.Sides[0], want[0]) || !slices.Equal(r.Sides[1], want[1]) {
		t.Errorf("sides %q, want %q", r.Sides, want)
	}
	if !r.Columns || !slices.Contains(r.Functions, "ext4_drop_buffers") {
		t.Errorf("columns %v, functions %v", r.Columns, r.Functions)
	}
	// The crash's side is the column with its stack; the pair is one
	// function of each column, the most reached.
	r.Stack = append(r.Stack, "ext4_writepage_io")
	mine, theirs := sides(r, map[string]float64{"ext4_writepage_io": 5, "ext4_map_pages": 50, "ext4_drop_buffers": 7, "vfs_write": 900, "ext4_victim": 1000})
	if mine != "ext4_map_pages" || theirs != "ext4_drop_buffers" {
		t.Errorf("sides: %s, %s", mine, theirs)
	}
	if Read([]byte(strings.ReplaceAll(columns, "\n", " ")), nil).Sides != nil {
		t.Error("a layout whose line breaks are lost read as columns")
	}
}

// TestSays: words are found at the start of a word, whatever their case,
// with '_' and '-' read as spaces.
func TestSays(t *testing.T) {
	r := Read([]byte("Under Reclaim, the extent_buffer readahead (O_DIRECT) races; not premmap."), nil)
	for _, tc := range []struct {
		words []string
		want  []string
	}{
		{[]string{"reclaim"}, []string{"reclaim"}},
		{[]string{"extent buffer", "read ahead", "readahead"}, []string{"extent buffer", "readahead"}},
		{[]string{"o_direct", "mmap"}, []string{"o direct"}},
		{[]string{"direct"}, []string{"direct"}},
		{[]string{"ahead", "race"}, []string{"race"}},
	} {
		if got := r.Says(tc.words); !slices.Equal(got, tc.want) {
			t.Errorf("Says(%q) = %q, want %q", tc.words, got, tc.want)
		}
	}
}

// TestSeedWords: each seed text says most words of the workload that
// races the way it describes.
func TestSeedWords(t *testing.T) {
	for prefix, want := range map[string]string{"000": "compressed-writeback", "001": "readahead-reclaim", "004": "mmap-dio"} {
		r := Read(seed(t, prefix), nil)
		best, n := "", 0
		for _, name := range workloadNames() {
			if k := len(r.Says(workloads.Known[name].Words)); k > n {
				best, n = name, k
			}
		}
		if best != want {
			t.Errorf("%s: the report says most of %s's words (%d), want %s", prefix, best, n, want)
		}
	}
}

// TestAtomicSites: the locked instructions of a function's code, with
// their offsets and bytes.
func TestAtomicSites(t *testing.T) {
	code := []byte{
		0x48, 0x89, 0xdf, // mov %rbx,%rdi
		0xf0, 0x48, 0x0f, 0xba, 0x73, 0x10, 0x04, // lock btrq $0x4,0x10(%rbx)
		0x31, 0xd2, // xor %edx,%edx
		0xf0, 0xff, 0x4b, 0x28, // lock decl 0x28(%rbx)
		0xc3, // ret
	}
	got := atomicSites(code, 0xffffffff81000000)
	if len(got) != 2 || got[0].Off != 3 || got[0].Insn != "f0480fba731004" || got[1].Off != 12 || got[1].Insn != "f0ff4b28" {
		t.Fatalf("atomicSites = %+v", got)
	}
	if got[0].at("f") != "f+0x3" {
		t.Errorf("at = %s", got[0].at("f"))
	}
}

// TestDeriveAtomic: with the kernel's code known, a delay just before the
// other side's atomic instruction is among the plans, pinned to its bytes;
// the search finds it when that is the window.
func TestDeriveAtomic(t *testing.T) {
	cfg := setup(t, "delay-ext4_window_close-0x3-")
	code := make([]byte, 0x20)
	copy(code, []byte{0x48, 0x89, 0xdf, 0xf0, 0x48, 0x0f, 0xba, 0x73, 0x10, 0x04, 0xc3}) // ext4_window_close
	copy(code[0x10:], []byte{0x31, 0xd2, 0xc3})                                          // ext4_window_open: nothing locked
	cfg.Text = kernels.NewText(0x1000, code, map[string]uint64{"ext4_window_close": 0x1000, "ext4_window_open": 0x1010, "_etext_fn": 0x1020})
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Reproduced || res.Best == nil || !slices.Contains(res.Best.Inject, "delay:ext4_window_close+0x3:3ms-5ms@0.5,budget=900ms,insn=f0480fba731004") {
		t.Fatalf("result %+v best %+v", res, res.Best)
	}
	if !strings.Contains(res.Best.Why, "btrq") {
		t.Errorf("why: %s", res.Best.Why)
	}
}

// btrfsReport is report on btrfs: every workload that runs on btrfs is
// calibrated.
var btrfsReport = strings.ReplaceAll(strings.ReplaceAll(report, "ext4_", "btrfs_"), "fs/ext4/", "fs/btrfs/")

// TestSettingCalibrated: a workload's named settings are calibrated as
// workloads of their own, and the scenario written carries the setting's
// flags.
func TestSettingCalibrated(t *testing.T) {
	cfg := setupWith(t, btrfsReport, "readahead-reclaim-cold-leaves-btrfs")
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Reproduced || res.Best.Params["hot-every"] == "" {
		t.Fatalf("result %+v best %+v", res, res.Best)
	}
	sc, err := campaign.LoadScenario(res.Scenario, cfg.Engine.Signatures.IDs())
	if err != nil {
		t.Fatal(err)
	}
	if cs := sc.Cases(0); len(cs) == 0 || !slices.Contains(cs[0].Params, "--hot-every=512") {
		t.Errorf("scenario params: %v", cs)
	}
}

// TestDeriveCombined: a report whose trylock lost, on a kernel with the
// hooks and readable code, gets plans that do all it describes at once:
// the trylock, the other side's atomic site, and a delay on the way to the
// trylock.
func TestDeriveCombined(t *testing.T) {
	text := report + "If read_extent_buffer_pages() fails its trylock, ext4_window_close() wins.\n"
	cfg := setupWith(t, text, "-fail-trylock-eb-readahead-delay-ext4_wi")
	if !cfg.Report.Trylock {
		t.Fatal("the trylock was not read")
	}
	code := make([]byte, 0x20)
	copy(code, []byte{0x48, 0x89, 0xdf, 0xf0, 0x48, 0x0f, 0xba, 0x73, 0x10, 0x04, 0xc3})
	cfg.Text = kernels.NewText(0x1000, code, map[string]uint64{"ext4_window_close": 0x1000, "_etext_fn": 0x1010})
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"fail-trylock:eb-readahead@0.5", "delay:ext4_window_close+0x3:3ms-5ms@0.5,budget=900ms,insn=f0480fba731004", "delay:read_extent_buffer_pages:5ms-10ms@0.5,budget=900ms"}
	if !res.Reproduced || !slices.Equal(res.Best.Inject, want) {
		t.Fatalf("best %+v", res.Best)
	}
	// They run right after the workload alone.
	if len(res.Tried) < 2 || res.Tried[1].Name != res.Best.Name && res.Tried[0].Name != res.Best.Name {
		t.Errorf("tried first: %s, %s", res.Tried[0].Name, res.Tried[1].Name)
	}
}

// TestProseNames: identifiers of the prose written without parentheses
// (a race laid out in columns that lost its line breaks) are read as
// functions when the kernel has a function of that name.
func TestProseNames(t *testing.T) {
	r := Read([]byte(report+"CPU0 CPU1 ext4_window_open ext4_release_thing // io_pages set, ext4_not_a_function\n"), nil)
	s := &searcher{cfg: Config{Kernel: "k", Report: r}, res: &Result{}}
	s.matchSymbols(kernels.ParseSystemMap([]byte("ffffffff81000000 T ext4_victim\nffffffff81000100 T ext4_caller\nffffffff81000200 T ext4_window_open\n" +
		"ffffffff81000300 T ext4_release_thing\nffffffff81000400 T ext4_window_close\nffffffff81000500 D io_pages\n")))
	if !slices.Contains(r.Functions, "ext4_release_thing") || slices.Contains(r.Functions, "io_pages") || slices.Contains(r.Functions, "ext4_not_a_function") {
		t.Errorf("functions %v", r.Functions)
	}
	if slices.Contains(r.Stack, "ext4_release_thing") {
		t.Errorf("a prose name on the crash's stack: %v", r.Stack)
	}
	t.Run("seed B", testSeedBNames)
}

// testSeedBNames: seed B's text names the functions of its race in
// flattened columns.
func testSeedBNames(t *testing.T) {
	b := Read(seed(t, "001"), nil)
	for _, fn := range []string{"try_release_extent_buffer", "find_extent_buffer", "free_extent_buffer"} {
		if !slices.Contains(b.names, fn) {
			t.Errorf("seed B: %s not among the prose's names %v", fn, b.names)
		}
	}
	// Its unreliable frames ("? submit_extent_page+0xc4/0x1c0") are not.
	for _, fn := range []string{"submit_extent_page", "startup_64", "filemap_map_pages"} {
		if slices.Contains(b.names, fn) {
			t.Errorf("seed B: the unreliable frame %s among the prose's names", fn)
		}
	}
}

// TestWorkloadsTakeTurns: the first round alternates between the two
// best workloads' plans.
func TestWorkloadsTakeTurns(t *testing.T) {
	cfg := setupWith(t, btrfsReport, "no plan crashes")
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, p := range res.Tried {
		if strings.Contains(p.Name, "+") {
			order = append(order, p.Name[:strings.Index(p.Name, "+")])
		}
	}
	if len(order) < 4 || order[0] == order[1] || order[1] == order[2] || order[0] != order[2] {
		t.Errorf("first round's workloads: %v", order)
	}
}
