package workloads

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

func init() {
	register(&Entry{
		Info: Info{Name: "compressed-writeback", FS: "btrfs", MountOpt: "compress", MountWhy: "it races compressed writeback", MountExample: "compress-force=zstd", Timed: true,
			Words: []string{"compress", "writeback", "truncat", "fsync", "sync file range", "async chunk", "delalloc"},
			Doc: `btrfs with compress(-force): ranges over 512K of mixed compressible and
incompressible data, fsync/sync_file_range/background writeback,
truncate/unlink/rewrite churn, in a cgroup with memory+io controllers
(seed A)`},
		Flags: func(fs *flag.FlagSet, c *Common) func() (Workload, error) {
			size := fs.String("size", "16M", "largest file")
			files := fs.Int("files", 4, "files per thread")
			chaseAfter := fs.Duration("chase-after", 0, "wait this long after starting writeback before the truncate that chases it (0: at once)")
			flusher := fs.Bool("flusher", false, "start the sync_file_range writebacks that a truncate chases from a separate thread, so the truncate races them (seed A's interleaving)")
			kernelDefaults := fs.Bool("kernel-defaults", false, "leave the kernel's dirty_expire/dirty_writeback intervals (30s/5s) instead of 1s/0.5s, so the kernel's flusher rarely races a truncate")
			return func() (Workload, error) {
				sz, err := ParseSize(*size)
				if err != nil {
					return nil, fmt.Errorf("compressed-writeback: %w", err)
				}
				return &CompressedWriteback{Dir: c.Dir, Duration: c.Duration, Threads: c.Threads, Seed: c.Seed,
					Files: orInt(*files, 4), MaxSize: sz, ChaseAfter: *chaseAfter, Flusher: *flusher, KernelDefaults: *kernelDefaults, Limits: c.Limits}, nil
			}
		},
	})
}

// CompressedWriteback is the compressed-writeback workload (seed A): on
// btrfs with compress or compress-force, writers build delalloc ranges over
// 512 KiB (so writeback splits one range into several async chunks), mixing
// compressible and incompressible 128 KiB segments (so some chunks fall back
// to uncompressed writeback), flush them with fsync, sync_file_range or
// background writeback, and churn the same inodes with truncate, unlink and
// rewrite, all inside a cgroup with the memory and io controllers enabled
// (cgroup writeback accounting active).
type CompressedWriteback struct {
	Dir      string
	Duration time.Duration
	Threads  int
	Seed     int64
	// Files per thread, each at most MaxSize bytes.
	Files   int
	MaxSize int64
	// ChaseAfter is how long the truncate that chases a writeback started
	// with sync_file_range waits first (0: at once). With Flusher, the
	// later it comes the likelier the range's async chunks have finished,
	// so seed A's window is rare: a paced variant in which an injected hold
	// must supply the overlap.
	ChaseAfter time.Duration
	// Flusher starts those sync_file_range writebacks from a separate
	// thread, so the chasing truncate (by the writer) runs while another
	// task's writeback is in flight: seed A's interleaving, writeback by one
	// task and truncate by another. A writer's own sync_file_range returns
	// only once every async chunk of the range has submitted (it waits on
	// their page locks), so without it the chase cannot meet the chunks.
	// The writer waits for the flusher's system call to return before its
	// next operation, so only the chase races that writeback.
	Flusher bool
	// KernelDefaults leaves the kernel's dirty_expire_centisecs and
	// dirty_writeback_centisecs alone (30 s, 5 s by default) instead of
	// 1 s and 0.5 s, so the kernel's flusher rarely writes a range while
	// a writer truncates it: with Flusher and ChaseAfter, a paced variant
	// in which the chase is the only frequent meeting of writeback and
	// truncate.
	KernelDefaults bool
	// Limits are cgroup interface files to set (KEY=VALUE).
	Limits []string
}

// CompressedWritebackReach are the functions it must reach.
// cow_file_range_async is inlined into btrfs_run_delalloc_range on Debian's
// 6.1, so the async chunk work functions it queues stand for it.
var CompressedWritebackReach = []string{"btrfs_run_delalloc_range", "async_cow_start", "compress_file_range",
	"submit_compressed_extents", "async_cow_submit", "btrfs_evict_inode"}

const btrfsMagic = 0x9123683E

// CheckParams checks the parameters alone (no filesystem needed).
func (w *CompressedWriteback) CheckParams() error {
	switch {
	case w.Threads < 1:
		return errors.New("compressed-writeback: --threads must be >= 1")
	case w.Files < 1:
		return errors.New("compressed-writeback: --files must be >= 1")
	case w.MaxSize < 1<<20:
		return errors.New("compressed-writeback: --size must be at least 1M (ranges over 512K are the point)")
	case w.Duration <= 0:
		return errors.New("compressed-writeback: --duration must be positive")
	case w.ChaseAfter < 0 || w.ChaseAfter > time.Second:
		return errors.New("compressed-writeback: --chase-after must be from 0 to 1s")
	}
	return nil
}

// Validate checks the parameters and the filesystem before anything runs.
func (w *CompressedWriteback) Validate() error {
	if err := w.CheckParams(); err != nil {
		return err
	}
	opts, err := needBtrfs(w.Dir, "compressed-writeback")
	if err != nil {
		return err
	}
	if !strings.Contains(opts, "compress") {
		return fmt.Errorf("compressed-writeback: %s is btrfs mounted without compression (%s): use --mount-opt compress=zstd or compress-force=zstd", w.Dir, opts)
	}
	return checkSpace(w.Dir, int64(w.Threads*w.Files)*w.MaxSize, "compressed-writeback")
}

// needBtrfs checks that dir is on btrfs and returns its mount options.
func needBtrfs(dir, name string) (string, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "", fmt.Errorf("%s: --dir %s: %w", name, dir, err)
	}
	if uint32(st.Type) != btrfsMagic {
		return "", fmt.Errorf("%s: %s is not btrfs: this workload needs btrfs (faultline vm --fs btrfs)", name, dir)
	}
	return mountOptions(dir), nil
}

// mountOptions returns the options of the mount at (or above) dir.
func mountOptions(dir string) string {
	f, err := os.Open("/proc/mounts")
	if err != nil {
		return ""
	}
	defer f.Close()
	best, opts := "", ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) >= 4 && strings.HasPrefix(dir, fs[1]) && len(fs[1]) >= len(best) {
			best, opts = fs[1], fs[3]
		}
	}
	return opts
}

// checkSpace refuses sizes bigger than the filesystem's free space.
func checkSpace(dir string, need int64, name string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	free := int64(st.Bavail) * st.Bsize
	if need > free*9/10 {
		return fmt.Errorf("%s: the files need up to %d MiB but %s has %d MiB free: use a smaller --size or --files, or a bigger --disk-size",
			name, need>>20, dir, free>>20)
	}
	return nil
}

// cwbFile is the model of one file: its size and, per 4 KiB block, the
// generation last written there (0: a hole, reads as zeros). Odd
// generations are incompressible data, even ones compressible.
type cwbFile struct {
	path string
	id   uint32
	size int64
	gen  []uint32
}

// compressibleBlock fills b (4 KiB) with a 32-character hex string
// repeated: zstd shrinks it to almost nothing, btrfs's compression
// heuristic sees few distinct byte values (random bytes, even repeated,
// look incompressible to its sampling), and it differs per file, block and
// generation.
func compressibleBlock(b []byte, seed int64, file uint32, block int64, gen uint32) {
	var key [24]byte
	binary.LittleEndian.PutUint64(key[0:], uint64(seed))
	binary.LittleEndian.PutUint32(key[8:], file)
	binary.LittleEndian.PutUint64(key[12:], uint64(block))
	binary.LittleEndian.PutUint32(key[20:], gen)
	var raw [16]byte
	for i := 0; i < 2; i++ {
		h := fnv.New64a()
		h.Write(key[:])
		h.Write([]byte{byte(i)})
		binary.LittleEndian.PutUint64(raw[i*8:], h.Sum64())
	}
	var unit [32]byte
	hex.Encode(unit[:], raw[:])
	for i := 0; i < len(b); i += 32 {
		copy(b[i:], unit[:])
	}
}

// blockContent is what block holds at generation gen.
func blockContent(b []byte, seed int64, file uint32, block int64, gen uint32) {
	switch {
	case gen == 0:
		clear(b)
	case gen%2 == 0:
		compressibleBlock(b, seed, file, block, gen)
	default:
		fillPattern(b, seed^int64(gen)<<32, file, block*4096)
	}
}

// Run runs the workload and checks every file at the end.
func (w *CompressedWriteback) Run(ctx context.Context) (*Summary, error) {
	if err := w.Validate(); err != nil {
		return nil, err
	}
	if err := enterCgroup("faultline-cwb", w.Limits); err != nil {
		return nil, err
	}
	// Frequent background writeback, so unflushed ranges are written by the
	// kernel's flusher threads too (unless KernelDefaults).
	if !w.KernelDefaults {
		_ = writeKernfs("/proc/sys/vm/dirty_expire_centisecs", "100")
		_ = writeKernfs("/proc/sys/vm/dirty_writeback_centisecs", "50")
	}
	reach := newReachCounter(CompressedWritebackReach)
	defer reach.close()

	ctx, cancel := startTimed(ctx, "compressed-writeback", w.Duration)
	defer cancel()
	start := time.Now()
	var ops, errs atomic.Int64
	files := make([][]*cwbFile, w.Threads)
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for t := 0; t < w.Threads; t++ {
		for i := 0; i < w.Files; i++ {
			id := uint32(t*w.Files + i + 1)
			files[t] = append(files[t], &cwbFile{path: filepath.Join(w.Dir, fmt.Sprintf("cwb-%d-%d", t, i)), id: id,
				gen: make([]uint32, w.MaxSize/4096)})
		}
		wg.Add(1)
		go func(t int) {
			defer wg.Done()
			if err := w.writer(ctx, t, files[t], &ops, &errs); err != nil {
				firstErr.CompareAndSwap(nil, err)
			}
		}(t)
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	if err, _ := firstErr.Load().(error); err != nil {
		return nil, err
	}
	sum := &Summary{Workload: "compressed-writeback", Seconds: secs, Ops: ops.Load(), OpsPerSec: float64(ops.Load()) / secs,
		Errors: errs.Load(), Reach: reach.counts(secs), Params: map[string]string{
			"threads": fmt.Sprint(w.Threads), "files": fmt.Sprint(w.Files), "size": fmt.Sprint(w.MaxSize),
			"seed": fmt.Sprint(w.Seed), "mount": mountOptions(w.Dir), "chase-after": w.ChaseAfter.String(), "flusher": fmt.Sprint(w.Flusher), "kernel-defaults": fmt.Sprint(w.KernelDefaults)}}
	in, err := w.verify(files)
	if err != nil {
		return nil, err
	}
	sum.Integrity = in
	return sum, nil
}

func (w *CompressedWriteback) writer(ctx context.Context, t int, files []*cwbFile, ops, errs *atomic.Int64) error {
	rng := rand.New(rand.NewSource(w.Seed*1000 + int64(t)))
	gen := uint32(0)
	nextGen := func(compressible bool) uint32 {
		gen++
		g := gen*2 + 1
		if compressible {
			g--
		}
		return g
	}
	buf := make([]byte, 2<<20)
	var fl *cwbFlusher
	if w.Flusher {
		fl = newCWBFlusher()
		defer fl.close()
	}
	for _, f := range files {
		fd, err := os.Create(f.path)
		if err != nil {
			return fmt.Errorf("compressed-writeback: %w", err)
		}
		fd.Close()
	}
	for ctx.Err() == nil {
		f := files[rng.Intn(len(files))]
		op := rng.Intn(100)
		var err error
		switch {
		case op < 60: // a range of 640K..2M, several async chunks
			blocks := int64(160 + rng.Intn(353))
			maxStart := int64(len(f.gen)) - blocks
			first := rng.Int63n(maxStart + 1)
			gens := make([]uint32, blocks)
			for seg := int64(0); seg < blocks; seg += 32 { // 128 KiB segments
				g := nextGen(seg == 0 || rng.Intn(2) == 0)
				for b := seg; b < seg+32 && b < blocks; b++ {
					gens[b] = g
					blockContent(buf[b*4096:(b+1)*4096], w.Seed, f.id, first+b, g)
				}
			}
			var started bool
			if started, err = w.write(f, first, buf[:blocks*4096], gens, rng, fl); err == nil && started && rng.Intn(3) == 0 {
				// Chase the writeback just started: truncate the range
				// away (seed A's window: a later chunk touching the
				// first one's page). Only with Flusher can it meet the
				// async chunks in flight; a writer's own
				// sync_file_range has waited for them to submit.
				if w.ChaseAfter > 0 {
					time.Sleep(w.ChaseAfter)
				}
				if err = os.Truncate(f.path, first*4096); err == nil {
					for b := first; b < int64(len(f.gen)); b++ {
						f.gen[b] = 0
					}
					f.size = min(f.size, first*4096)
				}
			}
		case op < 75: // small rewrite: one chunk, incompressible
			blocks := int64(1 + rng.Intn(16))
			first := rng.Int63n(int64(len(f.gen)) - blocks + 1)
			gens := make([]uint32, blocks)
			g := nextGen(false)
			for b := int64(0); b < blocks; b++ {
				gens[b] = g
				blockContent(buf[b*4096:(b+1)*4096], w.Seed, f.id, first+b, g)
			}
			_, err = w.write(f, first, buf[:blocks*4096], gens, rng, fl)
		case op < 90: // truncate down to a block boundary
			nb := rng.Int63n(f.size/4096 + 1)
			if err = os.Truncate(f.path, nb*4096); err == nil {
				for b := nb; b < int64(len(f.gen)); b++ {
					f.gen[b] = 0
				}
				f.size = nb * 4096
			}
		default: // unlink and recreate: the inode is evicted
			if err = os.Remove(f.path); err == nil {
				var fd *os.File
				if fd, err = os.Create(f.path); err == nil {
					fd.Close()
					clear(f.gen)
					f.size = 0
				}
			}
		}
		// Only the chase races the flusher's writeback; its error counts
		// like the writer's own.
		if ferr := fl.wait(); err == nil && ferr != nil {
			err = fmt.Errorf("flusher: sync_file_range %s: %w", f.path, ferr)
		}
		if err != nil {
			errs.Add(1)
			if errors.Is(err, unix.ENOSPC) {
				return fmt.Errorf("compressed-writeback: %s: %w (use a bigger --disk-size or smaller --size)", f.path, err)
			}
		}
		ops.Add(1)
	}
	return nil
}

// cwbFlusher runs sync_file_range for a writer on its own thread.
type cwbFlusher struct {
	req  chan cwbFlush
	done chan struct{}
	last chan error // the latest request's finished, until wait reads it
}

// cwbFlush asks for writeback of n bytes at off; started is closed just
// before the system call, and finished gets its error after it.
type cwbFlush struct {
	path     string
	off, n   int64
	started  chan struct{}
	finished chan error // buffered: the flusher never blocks on it
}

func newCWBFlusher() *cwbFlusher {
	fl := &cwbFlusher{req: make(chan cwbFlush), done: make(chan struct{})}
	go func() {
		defer close(fl.done)
		runtime.LockOSThread()
		for r := range fl.req {
			fd, err := os.Open(r.path)
			close(r.started)
			if err != nil { // unlinked meanwhile: nothing to write back
				r.finished <- nil
				continue
			}
			r.finished <- unix.SyncFileRange(int(fd.Fd()), r.off, r.n, unix.SYNC_FILE_RANGE_WRITE)
			fd.Close()
		}
	}()
	return fl
}

// start hands a writeback to the flusher thread and returns once that
// thread is about to start it.
func (fl *cwbFlusher) start(path string, off, n int64) {
	r := cwbFlush{path: path, off: off, n: n, started: make(chan struct{}), finished: make(chan error, 1)}
	fl.req <- r
	fl.last = r.finished
	<-r.started
}

// wait waits for the latest writeback to have been started in full (the
// system call returned), so that the writer's next operation does not race
// it: only the chase does. It returns that system call's error.
func (fl *cwbFlusher) wait() error {
	if fl == nil || fl.last == nil {
		return nil
	}
	err := <-fl.last
	fl.last = nil
	return err
}

func (fl *cwbFlusher) close() {
	close(fl.req)
	<-fl.done
}

// write writes data at block first and flushes it one of three ways; it
// reports whether it started writeback without waiting for it
// (sync_file_range, by the writer or by fl if not nil).
func (w *CompressedWriteback) write(f *cwbFile, first int64, data []byte, gens []uint32, rng *rand.Rand, fl *cwbFlusher) (bool, error) {
	fd, err := os.OpenFile(f.path, os.O_WRONLY, 0)
	if err != nil {
		return false, err
	}
	defer fd.Close()
	if _, err := fd.WriteAt(data, first*4096); err != nil {
		return false, err
	}
	copy(f.gen[first:], gens)
	if end := first*4096 + int64(len(data)); end > f.size {
		f.size = end
	}
	switch r := rng.Intn(10); {
	case r < 4:
		return false, fd.Sync()
	case r < 7:
		if fl != nil {
			fl.start(f.path, first*4096, int64(len(data)))
			return true, nil
		}
		return true, unix.SyncFileRange(int(fd.Fd()), first*4096, int64(len(data)), unix.SYNC_FILE_RANGE_WRITE)
	}
	return false, nil // background writeback
}

// verify syncs, drops caches and reads every file back against the model.
func (w *CompressedWriteback) verify(files [][]*cwbFile) (Integrity, error) {
	var in Integrity
	unix.Sync()
	if err := writeKernfs("/proc/sys/vm/drop_caches", "3"); err != nil {
		return in, fmt.Errorf("compressed-writeback: drop caches: %w", err)
	}
	got, want := make([]byte, 4096), make([]byte, 4096)
	for _, fs := range files {
		for _, f := range fs {
			fd, err := os.Open(f.path)
			if err != nil {
				in.BadBlocks++
				in.Bad = appendBad(in.Bad, BadBlock{f.path, 0, "open: " + err.Error()})
				continue
			}
			if st, err := fd.Stat(); err == nil && st.Size() != f.size {
				in.BadBlocks++
				in.Bad = appendBad(in.Bad, BadBlock{f.path, f.size, fmt.Sprintf("size %d, want %d", st.Size(), f.size)})
			}
			for b := int64(0); b < f.size/4096; b++ {
				in.CheckedBytes += 4096
				blockContent(want, w.Seed, f.id, b, f.gen[b])
				if _, err := fd.ReadAt(got, b*4096); err != nil {
					in.BadBlocks++
					in.Bad = appendBad(in.Bad, BadBlock{f.path, b * 4096, "read error: " + err.Error()})
					continue
				}
				if bytes.Equal(got, want) {
					continue
				}
				in.BadBlocks++
				what := "wrong data (stale or from elsewhere)"
				if bytes.Equal(got, make([]byte, 4096)) {
					what = "lost write: zeros"
				}
				in.Bad = appendBad(in.Bad, BadBlock{f.path, b * 4096, what})
			}
			fd.Close()
		}
	}
	in.OK = in.BadBlocks == 0
	return in, nil
}
