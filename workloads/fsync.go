package workloads

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"golang.org/x/sys/unix"
)

func init() {
	register(&Entry{
		Info: Info{Name: "fsync", Doc: `write 4 KiB + fsync, --ops times, with per-fsync latency: a
calibration target for injections`},
		Flags: func(fs *flag.FlagSet, c *Common) func() (Workload, error) {
			ops := fs.Int("ops", 200, "number of fsyncs")
			clean := fs.Bool("clean", false, "write once, then fsync a clean file (cheap fsyncs; an injected delay dominates)")
			return func() (Workload, error) {
				return &FsyncLoop{Dir: c.Dir, Ops: *ops, Seed: c.Seed, Clean: *clean}, nil
			}
		},
	})
}

// FsyncLoop writes a 4 KiB block and fsyncs it, Ops times, timing each
// fsync from user space: a calibration workload for injections (a delay on
// the fsync path must show up in its latency, a count must equal Ops).
type FsyncLoop struct {
	Dir  string
	Ops  int
	Seed int64
	// Clean fsyncs a clean file (one write first, then fsync only): the
	// fsync itself is then cheap, so an injected delay dominates.
	Clean bool
}

// Latency summarises per-operation latencies, in microseconds.
type Latency struct {
	MeanUS   float64 `json:"mean_us"`
	MedianUS float64 `json:"median_us"`
	P90US    float64 `json:"p90_us"`
	MinUS    float64 `json:"min_us"`
}

// CheckParams checks the parameters alone (no filesystem needed).
func (w *FsyncLoop) CheckParams() error {
	if w.Ops <= 0 || w.Ops > 1_000_000 {
		return fmt.Errorf("fsync: --ops %d: want 1 to 1000000", w.Ops)
	}
	return nil
}

// Validate checks the parameters before anything runs.
func (w *FsyncLoop) Validate() error {
	if err := w.CheckParams(); err != nil {
		return err
	}
	if st, err := os.Stat(w.Dir); err != nil || !st.IsDir() {
		return fmt.Errorf("fsync: --dir %s: not a directory", w.Dir)
	}
	return nil
}

// Run does the loop, then reads the file back after dropping caches.
func (w *FsyncLoop) Run(ctx context.Context) (*Summary, error) {
	path := filepath.Join(w.Dir, "fsync-loop")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("fsync: %w", err)
	}
	defer f.Close()
	sum := &Summary{Workload: "fsync", Params: map[string]string{"ops": fmt.Sprint(w.Ops), "seed": fmt.Sprint(w.Seed), "clean": fmt.Sprint(w.Clean)}}
	buf := make([]byte, 4096)
	lat := make([]time.Duration, 0, w.Ops)
	start := time.Now()
	for i := 0; i < w.Ops && ctx.Err() == nil; i++ {
		off := int64(i%256) * 4096
		fillPattern(buf, w.Seed+int64(i/256), 2, off)
		if w.Clean && i > 0 {
			// nothing to write back
		} else if _, err := f.WriteAt(buf, off); err != nil {
			sum.Errors++
			continue
		}
		t := time.Now()
		if err := f.Sync(); err != nil {
			sum.Errors++
			continue
		}
		lat = append(lat, time.Since(t))
		sum.Ops++
	}
	sum.Seconds = time.Since(start).Seconds()
	sum.OpsPerSec = float64(sum.Ops) / sum.Seconds
	sum.Latency = summarise(lat)
	// Integrity: every block holds its last write.
	unix.Sync()
	if err := writeKernfs("/proc/sys/vm/drop_caches", "3"); err != nil && !errors.Is(err, os.ErrPermission) {
		return nil, fmt.Errorf("fsync: drop caches: %w", err)
	}
	got := make([]byte, 4096)
	blocks := min(256, w.Ops)
	if w.Clean {
		blocks = 1
	}
	for b := 0; b < blocks; b++ {
		last := b + ((w.Ops-1-b)/256)*256 // last op that wrote block b
		if w.Clean {
			last = 0
		}
		fillPattern(buf, w.Seed+int64(last/256), 2, int64(b)*4096)
		sum.Integrity.CheckedBytes += 4096
		if _, err := f.ReadAt(got, int64(b)*4096); err != nil || !bytes.Equal(got, buf) {
			sum.Integrity.BadBlocks++
			sum.Integrity.Bad = appendBad(sum.Integrity.Bad, BadBlock{path, int64(b) * 4096, "not the last write"})
		}
	}
	sum.Integrity.OK = sum.Integrity.BadBlocks == 0 && sum.Errors == 0
	return sum, nil
}

func summarise(l []time.Duration) *Latency {
	if len(l) == 0 {
		return nil
	}
	s := append([]time.Duration(nil), l...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	var tot time.Duration
	for _, d := range s {
		tot += d
	}
	us := func(d time.Duration) float64 { return float64(d) / 1e3 }
	return &Latency{MeanUS: us(tot / time.Duration(len(s))), MedianUS: us(s[len(s)/2]), P90US: us(s[len(s)*9/10]), MinUS: us(s[0])}
}
