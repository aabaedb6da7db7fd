package workloads

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

func init() {
	register(&Entry{
		Info: Info{Name: "mmap-dio", Timed: true,
			Words: []string{"mmap", "direct i/o", "direct io", "o direct", "dio", "pinned", "pin user pages", "get user pages", "gup", "msync", "reclaim", "compaction", "migrat"},
			Doc: `mmap MAP_SHARED + O_DIRECT reads into the mapping, with msync,
memory.reclaim and compaction (seeds C and D)`},
		Flags: func(fs *flag.FlagSet, c *Common) func() (Workload, error) {
			size := fs.String("size", "64M", "file size")
			chunk := fs.String("chunk", "1M", "O_DIRECT read size")
			reclaimB := fs.String("reclaim", "8M", "bytes to write to memory.reclaim in a loop (0: none)")
			reclaimEvery := fs.Duration("reclaim-every", 0, "pause between two memory.reclaim writes (0: a tight loop)")
			beforeReclaim := fs.String("before-reclaim", "", "steps before each memory.reclaim, in order, comma-separated: sync (write the mapped file back, waiting), clear-refs (clear the pages' accessed bits, /proc/self/clear_refs), pageout (madvise MADV_PAGEOUT the whole mapping)")
			cold := fs.Bool("cold", false, "drop both files from the page cache once written (POSIX_FADV_DONTNEED), so the race starts with no clean cache for reclaim to take first")
			stagger := fs.Bool("stagger", false, "start each reader at a random point of its --pause and the reclaimer at a random point of its --reclaim-every (from the seed), so the first reclaim does not meet the first reads by construction")
			pin := fs.String("pin", "", "where the threads run: apart (readers on the last CPU, reclaim and compaction on CPU 0; needs 2 CPUs) or together (all on CPU 0); default: the scheduler decides")
			compactEvery := fs.Duration("compact-every", 0, "pause between two compactions (0: 100ms)")
			pause := fs.Duration("pause", 0, "each reader sleeps this long between two O_DIRECT reads (0: none)")
			compact := fs.Bool("compact", true, "trigger compaction (page migration) in a loop")
			return func() (Workload, error) {
				sz, err1 := ParseSize(*size)
				ch, err2 := ParseSize(*chunk)
				rc, err3 := ParseSize(*reclaimB)
				if err := errors.Join(err1, err2, err3); err != nil {
					return nil, fmt.Errorf("mmap-dio: %w", err)
				}
				return &MmapDIO{Dir: c.Dir, Duration: c.Duration, Threads: c.Threads, Seed: c.Seed,
					FileSize: sz, ChunkSize: ch, ReclaimBytes: rc, ReclaimEvery: *reclaimEvery, Pause: *pause, CompactEvery: *compactEvery,
					BeforeReclaim: splitList(*beforeReclaim), Compact: *compact, Limits: c.Limits, Cold: *cold, Stagger: *stagger, Pin: *pin}, nil
			}
		},
	})
}

// MmapDIO is the mmap + O_DIRECT workload (seeds C and D): a file is
// mapped MAP_SHARED and another file is read into the mapping with
// O_DIRECT, so the kernel dirties the mapped page cache pages through
// get_user_pages after the read, while writeback (msync) and reclaim
// (memory.reclaim of its cgroup) run against the same pages. On ext4 a
// page whose buffers reclaim stripped is then dirtied without them; its
// data is dropped at writeback ("does not have buffers attached").
type MmapDIO struct {
	// Dir is where the files go (the scratch filesystem).
	Dir string
	// Duration is how long the racing runs.
	Duration time.Duration
	// Threads is the number of mmap + O_DIRECT readers.
	Threads int
	// Seed fixes the sequence of chunks each thread works on.
	Seed int64
	// FileSize and ChunkSize size the files and each O_DIRECT read
	// (multiples of 4096).
	FileSize, ChunkSize int64
	// ReclaimBytes is written to memory.reclaim in a loop (0: no reclaim).
	ReclaimBytes int64
	// ReclaimEvery is the pause between two memory.reclaim writes (0: none,
	// a tight loop).
	ReclaimEvery time.Duration
	// BeforeReclaim are steps the reclaim thread takes, in order, before
	// each memory.reclaim: "sync" writes the mapped file back
	// (sync_file_range WAIT_BEFORE|WRITE|WAIT_AFTER), so reclaim finds the
	// pages just written back clean; "clear-refs" clears the accessed bits
	// of the workload's pages (/proc/self/clear_refs, as a working-set
	// estimator does), so reclaim takes pages the readers touched since the
	// last pass instead of keeping them; "pageout" reclaims the whole
	// mapping at once (madvise MADV_PAGEOUT, Linux >= 5.4, as Android does
	// to background apps), referenced or not. They put the cleaning and
	// the stripping of seed D's window in one place, once per reclaim,
	// rather than whenever the kernel's flusher and LRU aging happen to.
	// Each step runs once before the race: one the kernel refuses stops the
	// workload with an error naming it; later failures count in the
	// summary's errors. The summary's stats give each step's mean time.
	BeforeReclaim []string
	// Pause is how long each reader sleeps between two O_DIRECT reads (0:
	// none). With a pause the direct I/O is in flight only a small part of
	// the time, as in a service that reads now and then, rather than a loop.
	Pause time.Duration
	// Compact, if set, also triggers compaction (page migration).
	Compact bool
	// CompactEvery is the pause between two compactions (0: 100 ms).
	CompactEvery time.Duration
	// Limits are cgroup interface files to set (KEY=VALUE).
	Limits []string
	// Cold, if set, drops both files from the page cache once they are
	// written (POSIX_FADV_DONTNEED), so the race starts with no clean cache
	// that reclaim takes first: otherwise the first passes (8 MiB each by
	// default) spend themselves on the 2 x size just written.
	Cold bool
	// Stagger, if set, starts each reader at a random point of its pause
	// and the reclaimer at a random point of its period (from the seed), so
	// the first pass does not meet the first reads by construction: with
	// both started at once, and periods that stay close, the start is a
	// meeting built into the workload rather than one the race makes.
	Stagger bool
	// Pin places the threads: "" leaves them to the scheduler; "apart" runs
	// the readers on the last CPU and the reclaim and compaction threads on
	// CPU 0 (at least 2 CPUs), so a reclaim pass always runs alongside the
	// reads; "together" runs all of them on CPU 0, so a pass and a read
	// overlap only when one preempts the other.
	Pin string
}

// MmapDIOReach are the functions the workload must reach, by the
// filesystem they belong to ("" for any).
var MmapDIOReach = map[string][]string{
	"":      {"iomap_dio_rw", "migrate_pages"},
	"ext4":  {"ext4_dirty_folio", "mpage_prepare_extent_to_map"},
	"btrfs": {"btrfs_writepage_fixup_worker"},
}

// CheckParams checks the parameters alone (no filesystem needed).
func (w *MmapDIO) CheckParams() error {
	switch {
	case w.Threads < 1:
		return fmt.Errorf("mmap-dio: --threads must be >= 1, got %d", w.Threads)
	case w.ChunkSize < 4096 || w.ChunkSize%4096 != 0:
		return fmt.Errorf("mmap-dio: --chunk must be a multiple of 4096, got %d", w.ChunkSize)
	case w.FileSize < w.ChunkSize || w.FileSize%w.ChunkSize != 0:
		return fmt.Errorf("mmap-dio: --size must be a multiple of --chunk (%d), got %d", w.ChunkSize, w.FileSize)
	case w.FileSize/w.ChunkSize < int64(w.Threads):
		return fmt.Errorf("mmap-dio: --threads %d needs at least that many chunks; --size/--chunk = %d", w.Threads, w.FileSize/w.ChunkSize)
	case w.Duration <= 0:
		return fmt.Errorf("mmap-dio: --duration must be > 0")
	case w.Pause < 0 || w.ReclaimEvery < 0 || w.CompactEvery < 0:
		return fmt.Errorf("mmap-dio: --pause, --reclaim-every and --compact-every must be >= 0")
	case w.Pin != "" && w.Pin != "apart" && w.Pin != "together":
		return fmt.Errorf("mmap-dio: --pin %q: want apart (readers on the last CPU, reclaim and compaction on CPU 0) or together (all on CPU 0)", w.Pin)
	case w.Stagger && w.Pause == 0 && w.ReclaimEvery == 0:
		return fmt.Errorf("mmap-dio: --stagger needs a period to stagger in: --pause or --reclaim-every > 0")
	case len(w.BeforeReclaim) > 0 && w.ReclaimBytes == 0:
		return fmt.Errorf("mmap-dio: --before-reclaim needs reclaim (--reclaim > 0)")
	}
	for _, step := range w.BeforeReclaim {
		if step != "sync" && step != "clear-refs" && step != "pageout" {
			return fmt.Errorf("mmap-dio: --before-reclaim: unknown step %q; steps: sync, clear-refs, pageout (comma-separated, in order)", step)
		}
	}
	return nil
}

// Validate checks the parameters and the filesystem before anything runs.
func (w *MmapDIO) Validate() error {
	if err := w.CheckParams(); err != nil {
		return err
	}
	var st unix.Statfs_t
	if err := unix.Statfs(w.Dir, &st); err != nil {
		return fmt.Errorf("mmap-dio: %s: %w", w.Dir, err)
	}
	if w.Pin != "" {
		var set unix.CPUSet
		if err := unix.SchedGetaffinity(0, &set); err != nil {
			return fmt.Errorf("mmap-dio: --pin: %w", err)
		}
		if w.Pin == "apart" && set.Count() < 2 {
			return fmt.Errorf("mmap-dio: --pin apart needs at least 2 CPUs, this process may use %d (--pin together needs one)", set.Count())
		}
		for _, cpu := range []int{0, w.readerCPU()} {
			if !set.IsSet(cpu) {
				return fmt.Errorf("mmap-dio: --pin %s: CPU %d is not among the CPUs this process may use", w.Pin, cpu)
			}
		}
	}
	if free := int64(st.Bavail) * st.Bsize; free < 3*w.FileSize {
		return fmt.Errorf("mmap-dio: --size %d needs %d bytes free in %s, there are %d", w.FileSize, 3*w.FileSize, w.Dir, free)
	}
	return nil
}

// Run runs the workload and checks the data.
func (w *MmapDIO) Run(ctx context.Context) (*Summary, error) {
	if err := w.Validate(); err != nil {
		return nil, err
	}
	// Enter the cgroup first, so the files' page cache is charged to it
	// and memory.reclaim reclaims it.
	if err := enterCgroup("faultline-mmap-dio", w.Limits); err != nil && w.ReclaimBytes > 0 {
		return nil, err
	}
	src, dst := filepath.Join(w.Dir, "mmap-dio.src"), filepath.Join(w.Dir, "mmap-dio.dst")
	if err := w.prepare(src, dst); err != nil {
		return nil, err
	}
	if w.Cold {
		if err := dropCache(src, dst); err != nil {
			return nil, err
		}
	}
	reach := newReachCounter(reachFor(w.Dir, MmapDIOReach))
	defer reach.close()

	srcFD, err := unix.Open(src, unix.O_RDONLY|unix.O_DIRECT, 0)
	if err != nil {
		return nil, fmt.Errorf("mmap-dio: open %s O_DIRECT: %w", src, err)
	}
	defer unix.Close(srcFD)
	dstF, err := os.OpenFile(dst, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("mmap-dio: %w", err)
	}
	mem, err := unix.Mmap(int(dstF.Fd()), 0, int(w.FileSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		dstF.Close()
		return nil, fmt.Errorf("mmap-dio: mmap: %w", err)
	}

	// Each reclaim step once before the race, so one this kernel refuses
	// is a named error rather than a count of errors.
	for _, step := range w.BeforeReclaim {
		if err := reclaimStep(step, dstF, mem); err != nil {
			_ = unix.Munmap(mem)
			dstF.Close()
			return nil, fmt.Errorf("mmap-dio: --before-reclaim %s: %w", step, err)
		}
	}
	if w.CompactEvery == 0 {
		w.CompactEvery = 100 * time.Millisecond // the default, as reported
	}
	ctx, cancel := startTimed(ctx, "mmap-dio", w.Duration)
	defer cancel()
	start := time.Now()
	var ops, errs atomic.Int64
	stepTime := make([]atomic.Int64, len(w.BeforeReclaim)) // total ns of each before-reclaim step
	var reclaims reclaimStats
	touched := make([]atomic.Bool, w.FileSize/w.ChunkSize)
	// pin puts the calling goroutine's thread on cpu (--pin; Validate
	// checked the CPUs are usable, so a failure here only counts).
	pin := func(cpu int) {
		if w.Pin != "" && pinThread(cpu) != nil {
			errs.Add(1)
		}
	}
	var wg sync.WaitGroup
	for t := 0; t < w.Threads; t++ {
		wg.Add(1)
		go func(t int) {
			defer wg.Done()
			pin(w.readerCPU())
			rng := rand.New(rand.NewSource(w.Seed + int64(t)))
			// Each thread owns the chunks c with c % Threads == t: no
			// thread writes into a buffer another thread's O_DIRECT read
			// is landing in (btrfs verifies direct-read checksums on the
			// user buffer, and would report that as "csum failed").
			chunks := w.FileSize / w.ChunkSize
			mine := (chunks - int64(t) + int64(w.Threads) - 1) / int64(w.Threads)
			if w.Stagger && w.Pause > 0 {
				sleepCtx(ctx, time.Duration(rng.Int63n(int64(w.Pause))))
			}
			for ctx.Err() == nil && mine > 0 {
				c := int64(t) + rng.Int63n(mine)*int64(w.Threads)
				off := c * w.ChunkSize
				region := mem[off : off+w.ChunkSize]
				// Fault the pages in writable (page_mkwrite attaches
				// buffers), then let O_DIRECT dirty them via GUP.
				for p := int64(0); p < w.ChunkSize; p += 4096 {
					region[p] = 0xA5
				}
				n, err := unix.Pread(srcFD, region, off)
				if err != nil || int64(n) != w.ChunkSize {
					errs.Add(1)
				}
				touched[c].Store(true)
				if rng.Intn(4) == 0 {
					_ = unix.Msync(region, unix.MS_ASYNC)
				}
				ops.Add(1)
				if w.Pause > 0 {
					sleepCtx(ctx, w.Pause)
				}
			}
		}(t)
	}
	if w.ReclaimBytes > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pin(0)
			before := func() {
				for i, step := range w.BeforeReclaim {
					t0 := time.Now()
					err := reclaimStep(step, dstF, mem)
					stepTime[i].Add(int64(time.Since(t0)))
					if err != nil {
						errs.Add(1)
					}
				}
			}
			if w.Stagger && w.ReclaimEvery > 0 {
				// Its own source: the readers' are Seed+t, t >= 0.
				rng := rand.New(rand.NewSource(w.Seed - 1))
				sleepCtx(ctx, time.Duration(rng.Int63n(int64(w.ReclaimEvery))))
			}
			reclaims = reclaim(ctx, "faultline-mmap-dio", w.ReclaimBytes, w.ReclaimEvery, before)
		}()
	}
	if w.Compact {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pin(0)
			compact(ctx, w.CompactEvery)
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()

	// Everything written through the mapping must reach the disk.
	if err := unix.Msync(mem, unix.MS_SYNC); err != nil {
		errs.Add(1)
	}
	_ = unix.Munmap(mem)
	_ = dstF.Sync()
	dstF.Close()
	sum := &Summary{
		Workload: "mmap-dio", Seconds: secs, Ops: ops.Load(), OpsPerSec: float64(ops.Load()) / secs,
		Errors: errs.Load(), Reach: reach.counts(secs),
		Params: map[string]string{
			"threads": strconv.Itoa(w.Threads), "seed": strconv.FormatInt(w.Seed, 10),
			"size": strconv.FormatInt(w.FileSize, 10), "chunk": strconv.FormatInt(w.ChunkSize, 10),
			"reclaim": strconv.FormatInt(w.ReclaimBytes, 10), "compact": strconv.FormatBool(w.Compact),
			"pause": w.Pause.String(), "reclaim-every": w.ReclaimEvery.String(), "compact-every": w.CompactEvery.String(),
			"before-reclaim": strings.Join(w.BeforeReclaim, ","), "cold": strconv.FormatBool(w.Cold), "stagger": strconv.FormatBool(w.Stagger), "pin": w.Pin,
		},
	}
	if reclaims.passes > 0 {
		n := float64(reclaims.passes)
		sum.Stats = map[string]float64{"reclaim_passes": n, "reclaim_ms": reclaims.total.Seconds() * 1e3 / n}
		for i, step := range w.BeforeReclaim {
			sum.Stats["before_reclaim_"+step+"_ms"] = float64(stepTime[i].Load()) / 1e6 / n
		}
	}
	isTouched := func(c int64) bool { return touched[c].Load() }
	sum.Integrity, err = w.verify(dst, isTouched)
	return sum, err
}

// prepare writes the source pattern and a destination of zeros (blocks
// allocated), both synced.
func (w *MmapDIO) prepare(src, dst string) error {
	buf := make([]byte, w.ChunkSize)
	sf, err := os.Create(src)
	if err != nil {
		return fmt.Errorf("mmap-dio: %w", err)
	}
	for off := int64(0); off < w.FileSize; off += w.ChunkSize {
		fillPattern(buf, w.Seed, 1, off)
		if _, err := sf.WriteAt(buf, off); err != nil {
			sf.Close()
			return fmt.Errorf("mmap-dio: write %s: %w", src, err)
		}
	}
	if err := sf.Sync(); err != nil {
		sf.Close()
		return fmt.Errorf("mmap-dio: sync %s: %w", src, err)
	}
	sf.Close()
	df, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("mmap-dio: %w", err)
	}
	defer df.Close()
	zero := make([]byte, w.ChunkSize)
	for off := int64(0); off < w.FileSize; off += w.ChunkSize {
		if _, err := df.WriteAt(zero, off); err != nil {
			return fmt.Errorf("mmap-dio: write %s: %w", dst, err)
		}
	}
	return df.Sync()
}

// readerCPU is the CPU --pin puts the readers on.
func (w *MmapDIO) readerCPU() int {
	if w.Pin == "apart" {
		return runtime.NumCPU() - 1
	}
	return 0
}

// pinThread locks the calling goroutine to its OS thread and that thread to
// one CPU. The thread ends with the goroutine (it is never unlocked).
func pinThread(cpu int) error {
	runtime.LockOSThread()
	var set unix.CPUSet
	set.Set(cpu)
	return unix.SchedSetaffinity(0, &set)
}

// dropCache drops the files' clean pages from the page cache.
func dropCache(paths ...string) error {
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("mmap-dio: --cold: %w", err)
		}
		err = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
		f.Close()
		if err != nil {
			return fmt.Errorf("mmap-dio: --cold: fadvise %s DONTNEED: %w", p, err)
		}
	}
	return nil
}

// verify drops the page cache and reads the destination back: a chunk that
// was read into must hold the source pattern, others zeros.
func (w *MmapDIO) verify(dst string, touched func(int64) bool) (Integrity, error) {
	var in Integrity
	unix.Sync()
	if err := writeKernfs("/proc/sys/vm/drop_caches", "3"); err != nil {
		return in, fmt.Errorf("mmap-dio: drop caches: %w", err)
	}
	f, err := os.Open(dst)
	if err != nil {
		return in, fmt.Errorf("mmap-dio: %w", err)
	}
	defer f.Close()
	got, want := make([]byte, w.ChunkSize), make([]byte, w.ChunkSize)
	zero := make([]byte, 4096)
	for c := int64(0); c < w.FileSize/w.ChunkSize; c++ {
		off := c * w.ChunkSize
		if _, err := f.ReadAt(got, off); err != nil {
			in.BadBlocks++
			in.Bad = appendBad(in.Bad, BadBlock{dst, off, "read error: " + err.Error()})
			continue
		}
		if touched(c) {
			fillPattern(want, w.Seed, 1, off)
		} else {
			clear(want)
		}
		for p := int64(0); p < w.ChunkSize; p += 4096 {
			g, x := got[p:p+4096], want[p:p+4096]
			in.CheckedBytes += 4096
			if bytes.Equal(g, x) {
				continue
			}
			in.BadBlocks++
			what := "wrong data"
			switch {
			case bytes.Equal(g, zero):
				what = "lost write: zeros (the data never reached the disk)"
			case g[0] == 0xA5:
				what = "lost write: the mapping's marker, not the O_DIRECT data"
			}
			in.Bad = appendBad(in.Bad, BadBlock{dst, off + p, what})
		}
	}
	in.OK = in.BadBlocks == 0
	return in, nil
}

func appendBad(b []BadBlock, x BadBlock) []BadBlock {
	if len(b) < 20 {
		b = append(b, x)
	}
	return b
}

const cgroupRoot = "/sys/fs/cgroup"

// enterCgroup moves the calling process into a child cgroup with the
// memory and io controllers enabled, after setting limits (KEY=VALUE, the
// cgroup's interface files such as memory.max or io.max).
func enterCgroup(name string, limits []string) error {
	_ = writeKernfs(filepath.Join(cgroupRoot, "cgroup.subtree_control"), "+memory +io")
	dir := filepath.Join(cgroupRoot, name)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("cgroup %s: %w", dir, err)
	}
	for _, l := range limits {
		k, v, ok := strings.Cut(l, "=")
		if !ok || strings.ContainsAny(k, "/ ") {
			return fmt.Errorf("cgroup limit %q: want FILE=VALUE, e.g. memory.max=256M", l)
		}
		if err := writeKernfs(filepath.Join(dir, k), v); err != nil {
			return fmt.Errorf("cgroup limit %s in %s: %w", l, dir, err)
		}
	}
	if err := writeKernfs(filepath.Join(dir, "cgroup.procs"), strconv.Itoa(os.Getpid())); err != nil {
		return fmt.Errorf("enter cgroup %s: %w", dir, err)
	}
	return nil
}

// writeKernfs writes s to a sysfs/cgroupfs/procfs file with plain system
// calls. os.WriteFile would hand an EAGAIN (memory.reclaim's "could not
// reclaim that much") to Go's poller, which then waits for a writability
// event that kernfs never sends.
func writeKernfs(path, s string) error {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	_, err = unix.Write(fd, []byte(s))
	return err
}

// reclaimStep runs one --before-reclaim step on the mapped file f and its
// mapping mem.
func reclaimStep(step string, f *os.File, mem []byte) error {
	switch step {
	case "sync":
		const all = unix.SYNC_FILE_RANGE_WAIT_BEFORE | unix.SYNC_FILE_RANGE_WRITE | unix.SYNC_FILE_RANGE_WAIT_AFTER
		if err := unix.SyncFileRange(int(f.Fd()), 0, 0, all); err != nil {
			return fmt.Errorf("sync_file_range %s: %w", f.Name(), err)
		}
	case "clear-refs":
		if err := writeKernfs("/proc/self/clear_refs", "1"); err != nil {
			return fmt.Errorf("write 1 to /proc/self/clear_refs (needs CONFIG_PROC_PAGE_MONITOR): %w", err)
		}
	case "pageout":
		if err := unix.Madvise(mem, unix.MADV_PAGEOUT); err != nil {
			return fmt.Errorf("madvise MADV_PAGEOUT (Linux >= 5.4): %w", err)
		}
	default:
		return fmt.Errorf("unknown step %q", step)
	}
	return nil
}

// compact triggers compaction (page migration) of every zone, then waits
// every, until ctx ends.
func compact(ctx context.Context, every time.Duration) {
	for ctx.Err() == nil {
		_ = writeKernfs("/proc/sys/vm/compact_memory", "1")
		sleepCtx(ctx, every)
	}
}

// reclaimStats counts the memory.reclaim writes and their total time.
type reclaimStats struct {
	passes int
	total  time.Duration
}

// reclaim asks the kernel to reclaim n bytes from the cgroup, in a loop
// (memory.reclaim, Linux >= 5.19), calling before (if not nil) before each.
func reclaim(ctx context.Context, name string, n int64, every time.Duration, before func()) reclaimStats {
	var st reclaimStats
	path := filepath.Join(cgroupRoot, name, "memory.reclaim")
	for ctx.Err() == nil {
		if before != nil {
			before()
		}
		t0 := time.Now()
		err := writeKernfs(path, strconv.FormatInt(n, 10))
		st.passes++
		st.total += time.Since(t0)
		if err != nil {
			time.Sleep(time.Millisecond) // EAGAIN when nothing is left to reclaim
		}
		if every > 0 {
			sleepCtx(ctx, every)
		}
	}
	return st
}

// sleepCtx sleeps for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
