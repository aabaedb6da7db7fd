// Package workloads holds the race workloads faultline runs inside the guest
// (as "workload NAME" through the agent binary). Each drives the kernel code
// where a seed race lives, keeps a verifiable data pattern, checks it at the
// end, and counts how often it reached the functions it targets.
package workloads

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"time"

	"faultline/probes"

	"golang.org/x/sys/unix"
)

// Summary is what a workload prints (as JSON) when it ends.
type Summary struct {
	Workload  string            `json:"workload"`
	Seconds   float64           `json:"seconds"`
	Ops       int64             `json:"ops"`
	OpsPerSec float64           `json:"ops_per_sec"`
	Errors    int64             `json:"errors"`
	Integrity Integrity         `json:"integrity"`
	Reach     map[string]Reach  `json:"reach"`
	Params    map[string]string `json:"params"`
	// Latency is set by workloads that time their operations.
	Latency *Latency `json:"latency,omitempty"`
	// Stats are other measured figures, by name (mmap-dio: the reclaim
	// passes and the mean milliseconds of each step before and of the
	// reclaim itself).
	Stats map[string]float64 `json:"stats,omitempty"`
}

// Integrity is the result of reading everything back.
type Integrity struct {
	CheckedBytes int64 `json:"checked_bytes"`
	BadBlocks    int64 `json:"bad_blocks"`
	// Bad lists the first bad blocks: file and offset.
	Bad []BadBlock `json:"bad,omitempty"`
	OK  bool       `json:"ok"`
}

// BadBlock is a block whose content is not what was written last.
type BadBlock struct {
	File   string `json:"file"`
	Offset int64  `json:"offset"`
	What   string `json:"what"`
}

// Reach is how often a kernel function ran during the workload.
type Reach struct {
	Hits      int64   `json:"hits"`
	PerSecond float64 `json:"per_second"`
	// Error says why the function could not be counted.
	Error string `json:"error,omitempty"`
}

// fillPattern writes the pattern for (seed, file id, offset) into b: each
// 8-byte word is a hash of the three and the word's offset, so a block that
// is stale, shifted or from another file is told apart.
func fillPattern(b []byte, seed int64, file uint32, off int64) {
	var key [20]byte
	binary.LittleEndian.PutUint64(key[0:], uint64(seed))
	binary.LittleEndian.PutUint32(key[8:], file)
	for i := 0; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(key[12:], uint64(off+int64(i)))
		h := fnv.New64a()
		h.Write(key[:])
		binary.LittleEndian.PutUint64(b[i:], h.Sum64())
	}
}

// fsMagic are the statfs magic numbers of the filesystems workloads know.
var fsMagic = map[int64]string{0x9123683e: "btrfs", 0xef53: "ext4"}

// reachFor returns the functions to count on the filesystem holding dir:
// those of any filesystem ("") and those of dir's own, not another's (a
// btrfs function is not in an ext4 guest's kernel and would only show as
// an unknown symbol).
func reachFor(dir string, byFS map[string][]string) []string {
	var st unix.Statfs_t
	fs := ""
	if unix.Statfs(dir, &st) == nil {
		fs = fsMagic[int64(st.Type)]
	}
	out := append([]string(nil), byFS[""]...)
	for name, funcs := range byFS {
		if name != "" && (fs == "" || name == fs) {
			out = append(out, funcs...)
		}
	}
	return out
}

// reachCounter counts function hits with the probes package's BPF count
// programs (one kprobe per function, detached by close).
type reachCounter struct {
	set  *probes.Set
	errs map[string]string
}

func newReachCounter(funcs []string) *reachCounter {
	rc := &reachCounter{errs: map[string]string{}}
	var injs []probes.Injection
	for _, fn := range funcs {
		inj, err := probes.Parse("count:" + fn + ",optional")
		if err != nil {
			rc.errs[fn] = err.Error()
			continue
		}
		injs = append(injs, inj)
	}
	set, err := probes.Attach(injs)
	if err != nil {
		for _, fn := range funcs {
			rc.errs[fn] = err.Error()
		}
		return rc
	}
	rc.set = set
	return rc
}

// counts returns the hits of every probe so far.
func (rc *reachCounter) counts(seconds float64) map[string]Reach {
	out := map[string]Reach{}
	if rc.set != nil {
		for _, r := range rc.set.Reports() {
			if !r.Attached {
				out[r.Symbol] = Reach{Error: r.Reason}
				continue
			}
			out[r.Symbol] = Reach{Hits: int64(r.Hits), PerSecond: float64(r.Hits) / seconds}
		}
	}
	for fn, e := range rc.errs {
		out[fn] = Reach{Error: e}
	}
	return out
}

// close detaches the probes.
func (rc *reachCounter) close() {
	if rc.set != nil {
		rc.set.Close()
	}
}

// TimedMarker starts the kernel log line a timed workload writes when its
// timed phase begins (after its setup): a crash's printk time against this
// line's is how far into the timed phase it came.
const TimedMarker = "faultline-workload: timed phase"

// startTimed begins a timed workload's timed phase: it writes the marker
// to the kernel log (where it can: /dev/kmsg needs root, and outside a
// guest nothing reads it) and returns ctx with the duration as its timeout.
func startTimed(ctx context.Context, name string, d time.Duration) (context.Context, context.CancelFunc) {
	_ = writeKernfs("/dev/kmsg", fmt.Sprintf("%s of %s, %s\n", TimedMarker, name, d))
	return context.WithTimeout(ctx, d)
}
