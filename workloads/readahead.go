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
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

func init() {
	register(&Entry{
		Info: Info{Name: "readahead-reclaim", FS: "btrfs", Timed: true,
			Words: []string{"readahead", "read ahead", "reclaim", "drop caches", "memory pressure", "xattr", "readdir", "btree", "tree block", "metadata", "extent buffer", "compaction", "migrat"},
			Settings: []Setting{{Name: "cold-leaves",
				Params: map[string]string{"threads": "3", "dirs": "4", "files": "2048", "hot-every": "512", "memory-max": "64M", "hog": "40M", "read-only": "true", "compact": "true"},
				Doc:    "a few hot files far apart in large directories, their pages dropped before each read, so each read searches the btree and readahead fetches leaves no one reads, which reclaim and compaction release while their reads may be in flight (the settings of seed B's scenario)"}},
			Doc: `btrfs: a tree of small files with xattrs searched at random (readdir,
stat, getxattr, read) under memory.max, a memory hog, memory.reclaim and
drop_caches, plus an xattr writer (seed B)`},
		Flags: func(fs *flag.FlagSet, c *Common) func() (Workload, error) {
			files := fs.Int("files", 128, "files per directory")
			dirs := fs.Int("dirs", 32, "directories")
			memMax := fs.String("memory-max", "96M", "the cgroup's memory.max")
			hogSize := fs.String("hog", "40M", "anonymous memory held inside the cgroup")
			compact := fs.Bool("compact", false, "trigger compaction (page migration) in a loop")
			storm := fs.Bool("storm", false, "all searchers readdir the same directory at once while caches are dropped every ~20 ms")
			partial := fs.Bool("partial-readdir", false, "readdir starts at a random entry and reads one 4 KiB buffer, so btree readahead fetches leaves the search never reads")
			hotEvery := fs.Int("hot-every", 0, "read only files 0-3 of every N per directory, page cache dropped before each read, so each read searches the btree and readahead fetches leaves no one reads (0: off)")
			readOnly := fs.Bool("read-only", false, "no xattr writer, so the tree stays as built, its leaves contiguous on disk (btree readahead only reads siblings within 64 KiB of the block it needs)")
			return func() (Workload, error) {
				mm, err1 := ParseSize(*memMax)
				hg, err2 := ParseSize(*hogSize)
				if err := errors.Join(err1, err2); err != nil {
					return nil, fmt.Errorf("readahead-reclaim: %w", err)
				}
				return &ReadaheadReclaim{Dir: c.Dir, Duration: c.Duration, Threads: c.Threads, Seed: c.Seed,
					Dirs: *dirs, Files: orInt(*files, 128), MemoryMax: mm, Hog: hg, Storm: *storm, ReadOnly: *readOnly,
					Compact: *compact, PartialReaddir: *partial, HotEvery: *hotEvery, Limits: c.Limits}, nil
			}
		},
	})
}

// ReadaheadReclaim is the readahead-under-reclaim workload (seed B): a
// metadata-heavy btrfs tree (directories, small inline files, xattrs) is
// searched in random order (readdir, stat, getxattr, read), so btree
// readahead issues extent-buffer reads (read_extent_buffer_pages with
// WAIT_NONE), while the searchers' memory cgroup is squeezed: a memory.max
// limit, an anonymous memory hog inside it, memory.reclaim in a loop and
// periodic drop_caches, so btree pages are released (try_release_extent_buffer)
// while readahead is in flight. A writer updates xattrs meanwhile; everything
// is read back at the end.
type ReadaheadReclaim struct {
	Dir      string
	Duration time.Duration
	Threads  int
	Seed     int64
	// Dirs x Files small files, each with two xattrs.
	Dirs, Files int
	// MemoryMax is the cgroup's memory.max; Hog is the anonymous memory
	// held inside it.
	MemoryMax, Hog int64
	// Storm makes every searcher readdir the same directory at the same
	// time (the directory changes every 200 ms) while caches are dropped
	// every ~20 ms: concurrent readahead of the same just-evicted tree
	// blocks, against their release.
	Storm bool
	// ReadOnly leaves out the xattr writer: the tree stays as it was built,
	// its leaves contiguous on disk, and btree readahead (which reads only
	// siblings within 64 KiB of the block a search needs) finds them.
	ReadOnly bool
	// Compact triggers compaction (/proc/sys/vm/compact_memory) in a loop.
	// Migrating a tree block's page releases its extent buffer
	// (btree_migrate_folio -> try_release_extent_buffer) with the page
	// locked, whatever the page's age, where reclaim takes the oldest pages
	// first: compaction reaches the buffer a failed readahead just left.
	Compact bool
	// PartialReaddir makes readdir start at a random entry (lseek to a
	// directory index) and read one 4 KiB getdents64 buffer (about 100
	// entries): btree readahead then fetches leaves beyond the one it
	// needs that this search never reads, so the tree blocks of a failed
	// readahead stay not uptodate until reclaim or a later readahead meets
	// them.
	PartialReaddir bool
	// HotEvery, if > 0, makes every searcher read only files 0-3 of every
	// HotEvery files of each directory (the hot files, kept open), each
	// time with its cached page dropped first (POSIX_FADV_DONTNEED), so
	// every read searches the btree for its inline extent
	// (btrfs_get_extent, READA_FORWARD). When the hot files' leaf was
	// released, that search reads ahead the next leaves, which hold files
	// no one reads: a failed readahead leaves them not uptodate until
	// reclaim or migration releases them, and every later search of the
	// hot leaf that finds it released reads them ahead again.
	HotEvery int
	// Limits are cgroup interface files to set (KEY=VALUE).
	Limits []string
}

// ReadaheadReclaimReach are the functions it must reach.
var ReadaheadReclaimReach = []string{"btrfs_readahead_tree_block", "btrfs_readahead_node_child", "read_extent_buffer_pages",
	"btree_release_folio", "try_release_extent_buffer", "btrfs_search_slot"}

// CheckParams checks the parameters alone (no filesystem needed).
func (w *ReadaheadReclaim) CheckParams() error {
	switch {
	case w.Threads < 1:
		return errors.New("readahead-reclaim: --threads must be >= 1")
	case w.Dirs < 1 || w.Files < 1 || w.Dirs*w.Files > 1_000_000:
		return errors.New("readahead-reclaim: --dirs and --files must be >= 1, at most a million files")
	case w.Duration <= 0:
		return errors.New("readahead-reclaim: --duration must be positive")
	case w.MemoryMax < 16<<20:
		return errors.New("readahead-reclaim: --memory-max must be at least 16M")
	case w.Hog < 0 || w.Hog > w.MemoryMax-8<<20:
		return errors.New("readahead-reclaim: --hog must leave at least 8M of --memory-max for the page cache")
	case w.HotEvery < 0 || w.HotEvery > 0 && (w.HotEvery < 8 || w.HotEvery > w.Files):
		return errors.New("readahead-reclaim: --hot-every must be 0 (off) or from 8 up to --files")
	case w.HotEvery > 0 && (w.Storm || w.PartialReaddir):
		return errors.New("readahead-reclaim: --hot-every replaces the searches; it does not go with --storm or --partial-readdir")
	}
	return nil
}

// Validate checks the parameters and the filesystem before anything runs.
func (w *ReadaheadReclaim) Validate() error {
	if err := w.CheckParams(); err != nil {
		return err
	}
	if _, err := needBtrfs(w.Dir, "readahead-reclaim"); err != nil {
		return err
	}
	return checkSpace(w.Dir, int64(w.Dirs*w.Files)*8192, "readahead-reclaim")
}

func (w *ReadaheadReclaim) path(d, f int) string {
	return filepath.Join(w.Dir, "ra", fmt.Sprintf("d%03d", d), fmt.Sprintf("f%05d", f))
}

// raContent is file (d, f)'s content: 100..1100 bytes, inline in the btree.
func (w *ReadaheadReclaim) raContent(d, f int) []byte {
	n := 100 + (d*7919+f*104729)%1000
	b := make([]byte, n+7)
	fillPattern(b, w.Seed, uint32(d), int64(f)*8192)
	return b[:n]
}

func raXattr(seed int64, d, f int, gen uint32) []byte {
	return []byte(fmt.Sprintf("seed=%d dir=%d file=%d gen=%d ........................................", seed, d, f, gen))
}

// Run builds the tree, races for Duration, and checks everything.
func (w *ReadaheadReclaim) Run(ctx context.Context) (*Summary, error) {
	if err := w.Validate(); err != nil {
		return nil, err
	}
	const cg = "faultline-readahead"
	if err := enterCgroup(cg, w.Limits); err != nil {
		return nil, err
	}
	gens := make([]atomic.Uint32, w.Dirs*w.Files)
	setupStart := time.Now()
	for d := 0; d < w.Dirs; d++ {
		if err := os.MkdirAll(filepath.Dir(w.path(d, 0)), 0o755); err != nil {
			return nil, fmt.Errorf("readahead-reclaim: %w", err)
		}
		for f := 0; f < w.Files; f++ {
			p := w.path(d, f)
			if err := os.WriteFile(p, w.raContent(d, f), 0o644); err != nil {
				return nil, fmt.Errorf("readahead-reclaim: build tree: %w", err)
			}
			if err := unix.Setxattr(p, "user.faultline", raXattr(w.Seed, d, f, 0), 0); err != nil {
				return nil, fmt.Errorf("readahead-reclaim: setxattr %s: %w", p, err)
			}
			if err := unix.Setxattr(p, "user.faultline.static", []byte(strconv.Itoa(d*w.Files+f)), 0); err != nil {
				return nil, fmt.Errorf("readahead-reclaim: setxattr %s: %w", p, err)
			}
		}
	}
	unix.Sync()
	setup := time.Since(setupStart)
	// Limit the cgroup only now: building the tree is not the race.
	if err := writeKernfs(filepath.Join(cgroupRoot, cg, "memory.max"), strconv.FormatInt(w.MemoryMax, 10)); err != nil {
		return nil, fmt.Errorf("readahead-reclaim: memory.max: %w", err)
	}
	defer writeKernfs(filepath.Join(cgroupRoot, cg, "memory.max"), "max")
	hog, err := unix.Mmap(-1, 0, int(max(w.Hog, 4096)), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("readahead-reclaim: memory hog of %d MiB: %w", w.Hog>>20, err)
	}
	defer unix.Munmap(hog)
	for i := 0; i < len(hog); i += 4096 {
		hog[i] = 1
	}
	reach := newReachCounter(ReadaheadReclaimReach)
	defer reach.close()

	ctx, cancel := startTimed(ctx, "readahead-reclaim", w.Duration)
	defer cancel()
	start := time.Now()
	var ops, errs atomic.Int64
	var wg sync.WaitGroup
	var hot []hotFile
	if w.HotEvery > 0 {
		if hot, err = w.openHot(); err != nil {
			return nil, err
		}
		defer closeHot(hot)
	}
	for t := 0; t < w.Threads; t++ {
		wg.Add(1)
		go func(t int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(w.Seed*1000 + int64(t)))
			if hot != nil {
				w.readHot(ctx, rng, hot, &ops, &errs)
				return
			}
			w.search(ctx, rng, gens, &ops, &errs)
		}(t)
	}
	if w.Compact {
		wg.Add(1)
		go func() {
			defer wg.Done()
			compact(ctx, 10*time.Millisecond)
		}()
	}
	wg.Add(2)
	go func() { // xattr writer
		defer wg.Done()
		rng := rand.New(rand.NewSource(w.Seed*1000 - 1))
		for ctx.Err() == nil && !w.ReadOnly {
			i := rng.Intn(len(gens))
			d, f := i/w.Files, i%w.Files
			g := gens[i].Load() + 1
			if err := unix.Setxattr(w.path(d, f), "user.faultline", raXattr(w.Seed, d, f, g), 0); err != nil {
				errs.Add(1)
			} else {
				gens[i].Store(g)
			}
			ops.Add(1)
		}
	}()
	go func() { // reclaim pressure
		defer wg.Done()
		every := 50
		if w.Storm {
			every = 10
		}
		for i := 0; ctx.Err() == nil; i++ {
			_ = writeKernfs(filepath.Join(cgroupRoot, cg, "memory.reclaim"), "4194304")
			if i%every == every-1 {
				_ = writeKernfs("/proc/sys/vm/drop_caches", "3")
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	wg.Wait()
	secs := time.Since(start).Seconds()
	sum := &Summary{Workload: "readahead-reclaim", Seconds: secs, Ops: ops.Load(), OpsPerSec: float64(ops.Load()) / secs,
		Errors: errs.Load(), Reach: reach.counts(secs), Params: map[string]string{
			"threads": fmt.Sprint(w.Threads), "dirs": fmt.Sprint(w.Dirs), "files": fmt.Sprint(w.Files),
			"memory_max": fmt.Sprint(w.MemoryMax), "hog": fmt.Sprint(w.Hog), "seed": fmt.Sprint(w.Seed), "storm": fmt.Sprint(w.Storm), "read_only": fmt.Sprint(w.ReadOnly),
			"compact":         fmt.Sprint(w.Compact),
			"partial_readdir": fmt.Sprint(w.PartialReaddir),
			"hot_every":       fmt.Sprint(w.HotEvery),
			"hot_files":       fmt.Sprint(len(hot)),
			"setup_seconds":   fmt.Sprintf("%.1f", setup.Seconds())}}
	sum.Integrity, err = w.verify(gens)
	return sum, err
}

// search does random lookups: readdir (btree readahead), stat, getxattr and
// read, checking what it reads as it goes.
func (w *ReadaheadReclaim) search(ctx context.Context, rng *rand.Rand, gens []atomic.Uint32, ops, errs *atomic.Int64) {
	buf, dbuf := make([]byte, 256), make([]byte, 4096)
	for ctx.Err() == nil {
		d, f := rng.Intn(w.Dirs), rng.Intn(w.Files)
		op := rng.Intn(4)
		if w.Storm {
			d, op = int(time.Now().UnixNano()/int64(200*time.Millisecond))%w.Dirs, 0
		}
		p := w.path(d, f)
		var err error
		switch op {
		case 0:
			if w.PartialReaddir {
				err = partialReaddir(filepath.Dir(p), int64(rng.Intn(w.Files)), dbuf)
				break
			}
			var ents []os.DirEntry
			if ents, err = os.ReadDir(filepath.Dir(p)); err == nil && len(ents) != w.Files {
				err = fmt.Errorf("readdir %s: %d entries, want %d", filepath.Dir(p), len(ents), w.Files)
			}
		case 1:
			var st unix.Stat_t
			if err = unix.Stat(p, &st); err == nil && st.Size != int64(len(w.raContent(d, f))) {
				err = fmt.Errorf("stat %s: size %d", p, st.Size)
			}
		case 2:
			_, err = unix.Getxattr(p, "user.faultline", buf)
		case 3:
			var b []byte
			if b, err = os.ReadFile(p); err == nil && !bytes.Equal(b, w.raContent(d, f)) {
				err = fmt.Errorf("read %s: wrong content", p)
			}
		}
		if err != nil {
			errs.Add(1)
		}
		ops.Add(1)
	}
}

// hotFile is one of the files HotEvery reads, open, with its content.
type hotFile struct {
	f    *os.File
	want []byte
}

// openHot opens files 0-3 of every HotEvery of each directory.
func (w *ReadaheadReclaim) openHot() ([]hotFile, error) {
	var hot []hotFile
	for d := 0; d < w.Dirs; d++ {
		for f := 0; f < w.Files; f++ {
			if f%w.HotEvery >= 4 {
				continue
			}
			fh, err := os.Open(w.path(d, f))
			if err != nil {
				closeHot(hot)
				return nil, fmt.Errorf("readahead-reclaim: open hot file: %w", err)
			}
			hot = append(hot, hotFile{fh, w.raContent(d, f)})
		}
	}
	return hot, nil
}

func closeHot(hot []hotFile) {
	for _, h := range hot {
		h.f.Close()
	}
}

// readHot reads the hot files in random order, each with its page cache
// dropped first, so that each read searches the btree.
func (w *ReadaheadReclaim) readHot(ctx context.Context, rng *rand.Rand, hot []hotFile, ops, errs *atomic.Int64) {
	buf := make([]byte, 4096)
	for ctx.Err() == nil {
		h := hot[rng.Intn(len(hot))]
		fd := int(h.f.Fd())
		err := unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED)
		if err == nil {
			var n int
			n, err = unix.Pread(fd, buf, 0)
			if err == nil && !bytes.Equal(buf[:n], h.want) {
				err = fmt.Errorf("read %s: wrong content", h.f.Name())
			}
		}
		if err != nil {
			errs.Add(1)
		}
		ops.Add(1)
	}
}

// verify drops caches and checks every file and xattr.
func (w *ReadaheadReclaim) verify(gens []atomic.Uint32) (Integrity, error) {
	var in Integrity
	unix.Sync()
	if err := writeKernfs("/proc/sys/vm/drop_caches", "3"); err != nil {
		return in, fmt.Errorf("readahead-reclaim: drop caches: %w", err)
	}
	buf := make([]byte, 256)
	for d := 0; d < w.Dirs; d++ {
		for f := 0; f < w.Files; f++ {
			p := w.path(d, f)
			want := w.raContent(d, f)
			in.CheckedBytes += int64(len(want))
			if b, err := os.ReadFile(p); err != nil || !bytes.Equal(b, want) {
				in.BadBlocks++
				in.Bad = appendBad(in.Bad, BadBlock{p, 0, fmt.Sprintf("content wrong or unreadable (%v)", err)})
				continue
			}
			x := raXattr(w.Seed, d, f, gens[d*w.Files+f].Load())
			n, err := unix.Getxattr(p, "user.faultline", buf)
			if err != nil || !bytes.Equal(buf[:n], x) {
				in.BadBlocks++
				in.Bad = appendBad(in.Bad, BadBlock{p, 0, fmt.Sprintf("xattr user.faultline is %q, want %q (%v)", buf[:max(n, 0)], x, err)})
			}
		}
	}
	in.OK = in.BadBlocks == 0
	return in, nil
}

// partialReaddir reads one getdents64 buffer of dir from its entry skip
// (btrfs's directory offsets are directory indexes, from 2) and checks that
// it holds entries.
func partialReaddir(dir string, skip int64, buf []byte) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if _, err := unix.Seek(fd, 2+skip, 0); err != nil {
		return fmt.Errorf("seek %s: %w", dir, err)
	}
	n, err := unix.Getdents(fd, buf)
	if err != nil {
		return fmt.Errorf("getdents %s: %w", dir, err)
	}
	if n == 0 {
		return fmt.Errorf("getdents %s: no entries", dir)
	}
	return nil
}
