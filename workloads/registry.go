package workloads

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Workload is a race workload ready to run in the guest.
type Workload interface {
	// CheckParams checks the parameters alone; it needs no filesystem, so
	// the host can call it when it validates a scenario.
	CheckParams() error
	// Validate checks the parameters and the filesystem it will run on.
	Validate() error
	// Run runs the workload and returns its summary.
	Run(ctx context.Context) (*Summary, error)
}

// Info describes a workload for the scenario validator and the help text.
type Info struct {
	Name string
	// FS is the filesystem it needs ("" for any).
	FS string
	// MountOpt is a substring the scratch mount options must contain
	// ("" for none), with the reason in MountWhy.
	MountOpt, MountWhy string
	// Timed is false for workloads that run a fixed number of operations
	// (no --duration).
	Timed bool
}

// Known lists the workloads by name.
var Known = map[string]Info{
	"compressed-writeback": {Name: "compressed-writeback", FS: "btrfs", MountOpt: "compress", MountWhy: "it races compressed writeback", Timed: true},
	"mmap-dio":             {Name: "mmap-dio", Timed: true},
	"readahead-reclaim":    {Name: "readahead-reclaim", FS: "btrfs", Timed: true},
	"fsync":                {Name: "fsync"},
}

// Names returns the known workloads, sorted.
func Names() []string {
	var n []string
	for k := range Known {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// ErrUnknown is returned for a workload name faultline does not know.
var ErrUnknown = errors.New("unknown workload")

// ParseSize parses a byte size with an optional K, M or G suffix.
func ParseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	}
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q: want a number with optional K, M or G", s)
	}
	return n * mult, nil
}

type listFlag []string

func (m *listFlag) String() string     { return strings.Join(*m, ",") }
func (m *listFlag) Set(v string) error { *m = append(*m, v); return nil }

// Parse builds workload name from its command-line flags (args, without
// the name). Flag errors go to out (nil: discarded); the returned error
// names the bad flag. flag.ErrHelp is returned for -h.
func Parse(name string, args []string, dir string, out io.Writer) (Workload, error) {
	if _, ok := Known[name]; !ok {
		return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknown, name, strings.Join(Names(), ", "))
	}
	fs := flag.NewFlagSet("workload "+name, flag.ContinueOnError)
	if out == nil {
		out = io.Discard
	}
	fs.SetOutput(out)
	duration := fs.Duration("duration", 30*time.Second, "how long to race")
	threads := fs.Int("threads", 2, "racing threads")
	seed := fs.Int64("seed", 1, "seed: the same seed gives the same sequence of operations")
	size := fs.String("size", "", "file size (mmap-dio: 64M; compressed-writeback: largest file, 16M)")
	files := fs.Int("files", 0, "compressed-writeback: files per thread (4); readahead-reclaim: files per directory (128)")
	dirs := fs.Int("dirs", 32, "readahead-reclaim: directories")
	memMax := fs.String("memory-max", "96M", "readahead-reclaim: the cgroup's memory.max")
	hogSize := fs.String("hog", "40M", "readahead-reclaim: anonymous memory held inside the cgroup")
	chunk := fs.String("chunk", "1M", "mmap-dio: O_DIRECT read size")
	reclaimB := fs.String("reclaim", "8M", "mmap-dio: bytes to write to memory.reclaim in a loop (0: none)")
	reclaimEvery := fs.Duration("reclaim-every", 0, "mmap-dio: pause between two memory.reclaim writes (0: a tight loop)")
	beforeReclaim := fs.String("before-reclaim", "", "mmap-dio: steps before each memory.reclaim, in order, comma-separated: sync (write the mapped file back, waiting), clear-refs (clear the pages' accessed bits, /proc/self/clear_refs), pageout (madvise MADV_PAGEOUT the whole mapping)")
	cold := fs.Bool("cold", false, "mmap-dio: drop both files from the page cache once written (POSIX_FADV_DONTNEED), so the race starts with no clean cache for reclaim to take first")
	stagger := fs.Bool("stagger", false, "mmap-dio: start each reader at a random point of its --pause and the reclaimer at a random point of its --reclaim-every (from the seed), so the first reclaim does not meet the first reads by construction")
	pin := fs.String("pin", "", "mmap-dio: where the threads run: apart (readers on the last CPU, reclaim and compaction on CPU 0; needs 2 CPUs) or together (all on CPU 0); default: the scheduler decides")
	compactEvery := fs.Duration("compact-every", 0, "mmap-dio: pause between two compactions (0: 100ms)")
	chaseAfter := fs.Duration("chase-after", 0, "compressed-writeback: wait this long after starting writeback before the truncate that chases it (0: at once)")
	flusher := fs.Bool("flusher", false, "compressed-writeback: start the sync_file_range writebacks that a truncate chases from a separate thread, so the truncate races them (seed A's interleaving)")
	kernelDefaults := fs.Bool("kernel-defaults", false, "compressed-writeback: leave the kernel's dirty_expire/dirty_writeback intervals (30s/5s) instead of 1s/0.5s, so the kernel's flusher rarely races a truncate")
	pause := fs.Duration("pause", 0, "mmap-dio: each reader sleeps this long between two O_DIRECT reads (0: none)")
	compact := fs.Bool("compact", true, "trigger compaction (page migration) in a loop; on by default for mmap-dio only, readahead-reclaim needs --compact=true (or compact: true)")
	storm := fs.Bool("storm", false, "readahead-reclaim: all searchers readdir the same directory at once while caches are dropped every ~20 ms")
	partial := fs.Bool("partial-readdir", false, "readahead-reclaim: readdir starts at a random entry and reads one 4 KiB buffer, so btree readahead fetches leaves the search never reads")
	hotEvery := fs.Int("hot-every", 0, "readahead-reclaim: read only files 0-3 of every N per directory, page cache dropped before each read, so each read searches the btree and readahead fetches leaves no one reads (0: off)")
	readOnly := fs.Bool("read-only", false, "readahead-reclaim: no xattr writer, so the tree stays as built, its leaves contiguous on disk (btree readahead only reads siblings within 64 KiB of the block it needs)")
	ops := fs.Int("ops", 200, "fsync: number of fsyncs")
	clean := fs.Bool("clean", false, "fsync: write once, then fsync a clean file (cheap fsyncs; an injected delay dominates)")
	var limits listFlag
	fs.Var(&limits, "cgroup", "cgroup interface file to set for the workload's cgroup, FILE=VALUE (repeatable), e.g. memory.max=256M")
	fs.StringVar(&dir, "dir", dir, "directory to work in")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("workload %s: unexpected argument %q", name, fs.Arg(0))
	}
	compactSet := false
	fs.Visit(func(f *flag.Flag) { compactSet = compactSet || f.Name == "compact" })
	sizeOr := func(def string) (int64, error) {
		if *size == "" {
			*size = def
		}
		return ParseSize(*size)
	}
	var w Workload
	switch name {
	case "mmap-dio":
		sz, err1 := sizeOr("64M")
		ch, err2 := ParseSize(*chunk)
		rc, err3 := ParseSize(*reclaimB)
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("mmap-dio: %w", err)
		}
		w = &MmapDIO{Dir: dir, Duration: *duration, Threads: *threads, Seed: *seed,
			FileSize: sz, ChunkSize: ch, ReclaimBytes: rc, ReclaimEvery: *reclaimEvery, Pause: *pause, CompactEvery: *compactEvery,
			BeforeReclaim: splitList(*beforeReclaim), Compact: *compact, Limits: limits, Cold: *cold, Stagger: *stagger, Pin: *pin}
	case "compressed-writeback":
		sz, err := sizeOr("16M")
		if err != nil {
			return nil, fmt.Errorf("compressed-writeback: %w", err)
		}
		w = &CompressedWriteback{Dir: dir, Duration: *duration, Threads: *threads, Seed: *seed,
			Files: orInt(*files, 4), MaxSize: sz, ChaseAfter: *chaseAfter, Flusher: *flusher, KernelDefaults: *kernelDefaults, Limits: limits}
	case "readahead-reclaim":
		mm, err1 := ParseSize(*memMax)
		hg, err2 := ParseSize(*hogSize)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("readahead-reclaim: %w", err)
		}
		w = &ReadaheadReclaim{Dir: dir, Duration: *duration, Threads: *threads, Seed: *seed,
			Dirs: *dirs, Files: orInt(*files, 128), MemoryMax: mm, Hog: hg, Storm: *storm, ReadOnly: *readOnly,
			Compact: compactSet && *compact, PartialReaddir: *partial, HotEvery: *hotEvery, Limits: limits}
	case "fsync":
		w = &FsyncLoop{Dir: dir, Ops: *ops, Seed: *seed, Clean: *clean}
	}
	return w, nil
}

func orInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
