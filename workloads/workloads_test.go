package workloads

import (
	"bytes"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPatternDistinguishes(t *testing.T) {
	a, b := make([]byte, 4096), make([]byte, 4096)
	fillPattern(a, 1, 1, 0)
	fillPattern(b, 1, 1, 0)
	if !bytes.Equal(a, b) {
		t.Fatal("same seed, file and offset give different data")
	}
	for _, other := range []struct {
		seed int64
		file uint32
		off  int64
	}{{2, 1, 0}, {1, 2, 0}, {1, 1, 4096}} {
		fillPattern(b, other.seed, other.file, other.off)
		if bytes.Equal(a, b) {
			t.Errorf("pattern for %+v equals (1,1,0)", other)
		}
	}
	// Within a block every word differs: a shifted block is caught.
	if bytes.Equal(a[0:8], a[8:16]) {
		t.Error("consecutive words are equal")
	}
}

func TestMmapDIOValidate(t *testing.T) {
	dir := t.TempDir()
	ok := MmapDIO{Dir: dir, Duration: time.Second, Threads: 1, FileSize: 1 << 20, ChunkSize: 1 << 20}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid parameters refused: %v", err)
	}
	for want, w := range map[string]MmapDIO{
		"--threads":  {Dir: dir, Duration: time.Second, Threads: 0, FileSize: 1 << 20, ChunkSize: 1 << 20},
		"--chunk":    {Dir: dir, Duration: time.Second, Threads: 1, FileSize: 1 << 20, ChunkSize: 1000},
		"--size":     {Dir: dir, Duration: time.Second, Threads: 1, FileSize: 3 << 19, ChunkSize: 1 << 20},
		"--duration": {Dir: dir, Threads: 1, FileSize: 1 << 20, ChunkSize: 1 << 20},
		"free":       {Dir: dir, Duration: time.Second, Threads: 1, FileSize: 1 << 50, ChunkSize: 1 << 20},
		"no such":    {Dir: dir + "/missing", Duration: time.Second, Threads: 1, FileSize: 1 << 20, ChunkSize: 1 << 20},
		"--pause":    {Dir: dir, Duration: time.Second, Threads: 1, FileSize: 1 << 20, ChunkSize: 1 << 20, Pause: -time.Second},
	} {
		if err := w.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate(%+v) = %v, want an error naming %q", w, err, want)
		}
	}
}

// TestParseCompactDefault: --compact is on by default for mmap-dio only;
// readahead-reclaim compacts only when asked.
func TestParseCompactDefault(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want bool
	}{
		{"mmap-dio", nil, true},
		{"mmap-dio", []string{"--compact=false"}, false},
		{"readahead-reclaim", nil, false},
		{"readahead-reclaim", []string{"--compact"}, true},
		{"readahead-reclaim", []string{"--compact=false"}, false},
	} {
		w, err := Parse(c.name, c.args, t.TempDir(), io.Discard)
		if err != nil {
			t.Fatalf("%s %v: %v", c.name, c.args, err)
		}
		var got bool
		switch w := w.(type) {
		case *MmapDIO:
			got = w.Compact
		case *ReadaheadReclaim:
			got = w.Compact
		}
		if got != c.want {
			t.Errorf("%s %v: Compact = %v, want %v", c.name, c.args, got, c.want)
		}
	}
}

// TestReadaheadHotEveryParams: --hot-every is checked against --files and
// the other search modes.
func TestReadaheadHotEveryParams(t *testing.T) {
	base := ReadaheadReclaim{Threads: 1, Dirs: 2, Files: 64, Duration: time.Second, MemoryMax: 64 << 20, Hog: 0}
	for _, c := range []struct {
		mod  func(w *ReadaheadReclaim)
		want string
	}{
		{func(w *ReadaheadReclaim) { w.HotEvery = 16 }, ""},
		{func(w *ReadaheadReclaim) { w.HotEvery = 64 }, ""},
		{func(w *ReadaheadReclaim) { w.HotEvery = 4 }, "--hot-every"},
		{func(w *ReadaheadReclaim) { w.HotEvery = 65 }, "--hot-every"},
		{func(w *ReadaheadReclaim) { w.HotEvery = -1 }, "--hot-every"},
		{func(w *ReadaheadReclaim) { w.HotEvery, w.Storm = 16, true }, "does not go with"},
		{func(w *ReadaheadReclaim) { w.HotEvery, w.PartialReaddir = 16, true }, "does not go with"},
	} {
		w := base
		c.mod(&w)
		err := w.CheckParams()
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("HotEvery %d storm %v partial %v: CheckParams() = %v, want %q", w.HotEvery, w.Storm, w.PartialReaddir, err, c.want)
		}
	}
}

// TestParseMmapDIOPacing: the pacing flags reach the workload.
func TestParseMmapDIOPacing(t *testing.T) {
	w, err := Parse("mmap-dio", []string{"--pause", "200ms", "--reclaim-every", "1s", "--compact-every", "2s", "--before-reclaim", "sync,clear-refs,pageout", "--cold", "--stagger", "--pin", "together"}, t.TempDir(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	m := w.(*MmapDIO)
	if !m.Cold || !m.Stagger || m.Pin != "together" {
		t.Errorf("Cold, Stagger, Pin = %v, %v, %q; want true, true, together", m.Cold, m.Stagger, m.Pin)
	}
	if !slices.Equal(m.BeforeReclaim, []string{"sync", "clear-refs", "pageout"}) {
		t.Errorf("BeforeReclaim = %q, want [sync clear-refs pageout]", m.BeforeReclaim)
	}
	if err := m.CheckParams(); err != nil {
		t.Errorf("CheckParams: %v", err)
	}
	m.BeforeReclaim = []string{"sync", "drop"}
	if err := m.CheckParams(); err == nil || !strings.Contains(err.Error(), `unknown step "drop"`) {
		t.Errorf("CheckParams with step drop = %v, want unknown step", err)
	}
	if m.Pause != 200*time.Millisecond || m.ReclaimEvery != time.Second || m.CompactEvery != 2*time.Second {
		t.Errorf("Pause, ReclaimEvery, CompactEvery = %v, %v, %v; want 200ms, 1s, 2s", m.Pause, m.ReclaimEvery, m.CompactEvery)
	}
	if _, err := Parse("mmap-dio", []string{"--pause", "soon"}, t.TempDir(), io.Discard); err == nil {
		t.Error("--pause soon accepted")
	}
	m.Pin = "near"
	if err := m.CheckParams(); err == nil || !strings.Contains(err.Error(), `--pin "near"`) {
		t.Errorf("CheckParams with --pin near = %v, want an error naming it", err)
	}
	m.Pin, m.Pause, m.ReclaimEvery = "", 0, 0
	if err := m.CheckParams(); err == nil || !strings.Contains(err.Error(), "--stagger needs") {
		t.Errorf("CheckParams with --stagger and no pacing = %v, want --stagger needs", err)
	}
}

func TestParseCWBChase(t *testing.T) {
	w, err := Parse("compressed-writeback", []string{"--flusher", "--chase-after", "20ms"}, t.TempDir(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c := w.(*CompressedWriteback)
	if !c.Flusher || c.ChaseAfter != 20*time.Millisecond {
		t.Errorf("Flusher, ChaseAfter = %v, %v; want true, 20ms", c.Flusher, c.ChaseAfter)
	}
	c.ChaseAfter = 2 * time.Second
	if err := c.CheckParams(); err == nil || !strings.Contains(err.Error(), "--chase-after") {
		t.Errorf("--chase-after 2s: %v", err)
	}
}

// TestReclaimStepErrors: a --before-reclaim step the kernel refuses names
// the step's system call (madvise on an unaligned address: EINVAL).
func TestReclaimStepErrors(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "step")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 8192)
	if err := reclaimStep("pageout", f, buf[1:]); err == nil || !strings.Contains(err.Error(), "MADV_PAGEOUT") {
		t.Errorf("pageout on an unaligned buffer: %v, want an error naming MADV_PAGEOUT", err)
	}
	if err := reclaimStep("drop", f, nil); err == nil || !strings.Contains(err.Error(), `unknown step "drop"`) {
		t.Errorf("step drop: %v, want unknown step", err)
	}
	if err := reclaimStep("sync", f, nil); err != nil {
		t.Errorf("sync of a plain file: %v", err)
	}
}

// TestParseOwnFlagsOnly: each workload takes the common flags and its own,
// not another workload's; an untimed one takes no --duration.
func TestParseOwnFlagsOnly(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		ok   bool
	}{
		{"mmap-dio", []string{"--chunk=64K", "--duration=1s", "--cgroup=memory.max=64M"}, true},
		{"readahead-reclaim", []string{"--chunk=64K"}, false},
		{"compressed-writeback", []string{"--hot-every=4"}, false},
		{"fsync", []string{"--ops=3", "--seed=2"}, true},
		{"fsync", []string{"--duration=1s"}, false},
		{"readahead-reclaim", []string{"--files=8", "--dirs=2"}, true},
	} {
		_, err := Parse(c.name, c.args, t.TempDir(), io.Discard)
		if (err == nil) != c.ok {
			t.Errorf("Parse(%s, %v) = %v, want ok=%v", c.name, c.args, err, c.ok)
		}
	}
}

// TestUsageListsEveryWorkload: the help comes from the registry.
func TestUsageListsEveryWorkload(t *testing.T) {
	var b bytes.Buffer
	Usage(&b)
	for _, n := range Names() {
		if !strings.Contains(b.String(), n+"\n") {
			t.Errorf("usage lacks %s", n)
		}
	}
	if !strings.Contains(b.String(), "-before-reclaim") || !strings.Contains(b.String(), "-hot-every") {
		t.Errorf("usage lacks workload flags:\n%s", b.String())
	}
}

// TestSettings: every workload's named settings are flags it takes, with
// values it accepts.
func TestSettings(t *testing.T) {
	for _, name := range Names() {
		for _, st := range Known[name].Settings {
			var args []string
			for k, v := range st.Params {
				args = append(args, "--"+k+"="+v)
			}
			w, err := Parse(name, args, t.TempDir(), nil)
			if err == nil {
				err = w.CheckParams()
			}
			if err != nil || st.Doc == "" {
				t.Errorf("%s setting %s: %v (doc %q)", name, st.Name, err, st.Doc)
			}
		}
	}
}
