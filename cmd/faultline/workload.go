package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"faultline/guest"
	"faultline/workloads"
)

const workloadUsage = `Usage (in the guest): workload NAME [flags]

Runs a race workload on the scratch filesystem and prints a JSON summary:
operations, errors, the integrity check (data read back after dropping
caches), and how often each targeted kernel function was reached.

Workloads:
  compressed-writeback
             btrfs with compress(-force): ranges over 512K of mixed
             compressible and incompressible data, fsync/sync_file_range/
             background writeback, truncate/unlink/rewrite churn, in a
             cgroup with memory+io controllers (seed A)
  mmap-dio   mmap MAP_SHARED + O_DIRECT reads into the mapping, with msync,
             memory.reclaim and compaction (seeds C and D)
  readahead-reclaim
             btrfs: a tree of small files with xattrs searched at random
             (readdir, stat, getxattr, read) under memory.max, a memory
             hog, memory.reclaim and drop_caches, plus an xattr writer (seed B)
  fsync      write 4 KiB + fsync, --ops times, with per-fsync latency: a
             calibration target for injections

Example (from the host):
  faultline vm --kernel debian:6.1-cloud --fs ext4 -- workload mmap-dio --duration 10s

Exit status: 0 clean, 1 integrity failure, 2 bad parameters.

Flags:
`

func cmdWorkload(ctx context.Context, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(os.Stderr, workloadUsage)
		return exitUsage
	}
	name := args[0]
	fs := flag.NewFlagSet("workload "+name, flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, workloadUsage); fs.PrintDefaults() }
	dir := fs.String("dir", guest.ScratchDir, "directory to work in")
	duration := fs.Duration("duration", 30*time.Second, "how long to race")
	threads := fs.Int("threads", 2, "racing threads")
	seed := fs.Int64("seed", 1, "seed: the same seed gives the same sequence of operations")
	size := fs.String("size", "", "file size (mmap-dio: 64M; compressed-writeback: largest file, 16M)")
	files := fs.Int("files", 0, "compressed-writeback: files per thread (4); readahead-reclaim: files per directory (128)")
	dirs := fs.Int("dirs", 32, "readahead-reclaim: directories")
	memMax := fs.String("memory-max", "96M", "readahead-reclaim: the cgroup's memory.max")
	hogSize := fs.String("hog", "40M", "readahead-reclaim: anonymous memory held inside the cgroup")
	chunk := fs.String("chunk", "1M", "O_DIRECT read size")
	reclaim := fs.String("reclaim", "8M", "bytes to write to memory.reclaim in a loop (0: none)")
	compact := fs.Bool("compact", true, "trigger compaction (page migration) in a loop")
	ops := fs.Int("ops", 200, "fsync: number of fsyncs")
	clean := fs.Bool("clean", false, "fsync: write once, then fsync a clean file (cheap fsyncs; an injected delay dominates)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	var w interface {
		Run(context.Context) (*workloads.Summary, error)
	}
	sizeOr := func(def string) string {
		if *size == "" {
			return def
		}
		return *size
	}
	switch name {
	case "mmap-dio":
		sz, err1 := parseSize(sizeOr("64M"))
		ch, err2 := parseSize(*chunk)
		rc, err3 := parseSize(*reclaim)
		if *reclaim == "0" {
			rc, err3 = 0, nil
		}
		if err := errors.Join(err1, err2, err3); err != nil {
			fmt.Fprintln(os.Stderr, "workload: "+err.Error())
			return exitUsage
		}
		m := &workloads.MmapDIO{Dir: *dir, Duration: *duration, Threads: *threads, Seed: *seed,
			FileSize: sz, ChunkSize: ch, ReclaimBytes: rc, Compact: *compact}
		if err := m.Validate(); err != nil {
			fmt.Fprintln(os.Stderr, "workload: "+err.Error())
			return exitUsage
		}
		w = m
	case "compressed-writeback":
		sz, err := parseSize(sizeOr("16M"))
		if err != nil {
			fmt.Fprintln(os.Stderr, "workload: "+err.Error())
			return exitUsage
		}
		c := &workloads.CompressedWriteback{Dir: *dir, Duration: *duration, Threads: *threads, Seed: *seed, Files: orInt(*files, 4), MaxSize: sz}
		if err := c.Validate(); err != nil {
			fmt.Fprintln(os.Stderr, "workload: "+err.Error())
			return exitUsage
		}
		w = c
	case "readahead-reclaim":
		mm, err1 := parseSize(*memMax)
		hg, err2 := parseSize(*hogSize)
		if err := errors.Join(err1, err2); err != nil {
			fmt.Fprintln(os.Stderr, "workload: "+err.Error())
			return exitUsage
		}
		r := &workloads.ReadaheadReclaim{Dir: *dir, Duration: *duration, Threads: *threads, Seed: *seed,
			Dirs: *dirs, Files: orInt(*files, 128), MemoryMax: mm, Hog: hg}
		if err := r.Validate(); err != nil {
			fmt.Fprintln(os.Stderr, "workload: "+err.Error())
			return exitUsage
		}
		w = r
	case "fsync":
		f := &workloads.FsyncLoop{Dir: *dir, Ops: *ops, Seed: *seed, Clean: *clean}
		if err := f.Validate(); err != nil {
			fmt.Fprintln(os.Stderr, "workload: "+err.Error())
			return exitUsage
		}
		w = f
	default:
		fmt.Fprintf(os.Stderr, "workload: unknown workload %q (known: mmap-dio, compressed-writeback, readahead-reclaim, fsync)\n", name)
		return exitUsage
	}
	sum, err := w.Run(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "workload: "+err.Error())
		return exitError
	}
	b, _ := json.MarshalIndent(sum, "", "  ")
	fmt.Println(string(b))
	if !sum.Integrity.OK {
		return 1
	}
	return exitOK
}

func orInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}
