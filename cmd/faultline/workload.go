package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"

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
             hog, memory.reclaim and drop_caches, plus an xattr writer;
             --hot-every N reads only files 0-3 of every N, page cache
             dropped before each read, so btree readahead fetches leaves
             no search reads (seed B)
  fsync      write 4 KiB + fsync, --ops times, with per-fsync latency: a
             calibration target for injections

Example (from the host):
  faultline vm --kernel debian:6.1-cloud --fs ext4 -- workload mmap-dio --duration 10s

Flags common to all (each workload uses those that apply to it):
  --duration D --threads N --seed S --dir DIR --cgroup FILE=VALUE (repeatable)
  mmap-dio: --size 64M --chunk 1M --reclaim 8M --compact=true
            --pause 200ms --reclaim-every 1s --compact-every 1s (paced; default: loops)
            --before-reclaim sync,clear-refs,pageout (steps before each reclaim)
            --cold (start with both files out of the page cache)
            --stagger (readers and reclaimer start at random points of their periods)
            --pin apart|together (readers on the last CPU and the rest on CPU 0, or all on CPU 0)
  compressed-writeback: --size 16M --files 4
  readahead-reclaim: --dirs 32 --files 128 --memory-max 96M --hog 40M --storm --read-only
                     --compact --partial-readdir --hot-every 512
  fsync: --ops 200 --clean

Exit status: 0 clean, 1 integrity failure, 2 bad parameters, 125 error.
`

func cmdWorkload(ctx context.Context, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(os.Stderr, workloadUsage)
		return exitUsage
	}
	w, err := workloads.Parse(args[0], args[1:], guest.ScratchDir, os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(os.Stderr, workloadUsage)
			return exitOK
		}
		fmt.Fprintln(os.Stderr, "workload: "+err.Error())
		return exitUsage
	}
	if err := w.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, "workload: "+err.Error())
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
