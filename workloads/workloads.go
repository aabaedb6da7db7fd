// Package workloads holds the race workloads faultline runs inside the guest
// (as "workload NAME" through the agent binary). Each drives the kernel code
// where a seed race lives, keeps a verifiable data pattern, checks it at the
// end, and counts how often it reached the functions it targets.
package workloads

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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

// reachCounter counts function hits with tracefs kprobe events and their
// kprobe_profile, until the probes package replaces it.
type reachCounter struct {
	tracefs string
	group   string
	names   []string
	errs    map[string]string
}

func newReachCounter(group string, funcs []string) *reachCounter {
	rc := &reachCounter{tracefs: "/sys/kernel/tracing", group: group, errs: map[string]string{}}
	events := filepath.Join(rc.tracefs, "kprobe_events")
	for _, fn := range funcs {
		f, err := os.OpenFile(events, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			rc.errs[fn] = err.Error()
			continue
		}
		_, err = fmt.Fprintf(f, "p:%s/%s %s\n", group, fn, fn)
		f.Close()
		if err != nil {
			rc.errs[fn] = "no such kernel function to probe (inlined, renamed or not in this kernel): " + err.Error()
			continue
		}
		rc.names = append(rc.names, fn)
	}
	return rc
}

// counts reads the hits of every probe from kprobe_profile.
func (rc *reachCounter) counts(seconds float64) map[string]Reach {
	out := map[string]Reach{}
	b, err := os.ReadFile(filepath.Join(rc.tracefs, "kprobe_profile"))
	hits := map[string]int64{}
	if err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				hits[f[0]] = n
			}
		}
	}
	for _, fn := range rc.names {
		n := hits[fn]
		out[fn] = Reach{Hits: n, PerSecond: float64(n) / seconds}
	}
	for fn, e := range rc.errs {
		out[fn] = Reach{Error: e}
	}
	return out
}

// close disables and removes the probes (an enabled event cannot be
// removed).
func (rc *reachCounter) close() {
	events := filepath.Join(rc.tracefs, "kprobe_events")
	for _, fn := range rc.names {
		_ = writeKernfs(filepath.Join(rc.tracefs, "events", rc.group, fn, "enable"), "0")
		if f, err := os.OpenFile(events, os.O_WRONLY|os.O_APPEND, 0); err == nil {
			fmt.Fprintf(f, "-:%s/%s\n", rc.group, fn)
			f.Close()
		}
	}
}

// enable turns the probes on (they count only while enabled). Tracing
// itself is left as it is: the counts come from kprobe_profile, not the
// ring buffer.
func (rc *reachCounter) enable() {
	for _, fn := range rc.names {
		p := filepath.Join(rc.tracefs, "events", rc.group, fn, "enable")
		if err := writeKernfs(p, "1"); err != nil {
			rc.errs[fn] = "enable probe: " + err.Error()
		}
	}
}
