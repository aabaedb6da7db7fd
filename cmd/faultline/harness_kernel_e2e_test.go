//go:build !faultline_agent

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"faultline/probes"
)

// harnessKernel returns the harness-built kernel to test (make test-kernels
// sets FAULTLINE_HARNESS_KERNEL after building it), or skips.
func harnessKernel(t *testing.T) string {
	k := os.Getenv("FAULTLINE_HARNESS_KERNEL")
	if k == "" {
		t.Skip("needs a faultline-built kernel: make test-kernels")
	}
	return k
}

// TestHarnessKernelFeatures boots the harness kernel and checks in the guest
// everything the injector needs: BTF, bpf_loop, bpf_override_return, the
// error-injection list and the trylock hook.
func TestHarnessKernelFeatures(t *testing.T) {
	k := harnessKernel(t)
	tmp := t.TempDir()
	r := faultline(t, tmp, "", "vm", "--kernel", k, "--fs", "none", "--", "faultline", "features")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	var f struct{ Features []probes.Feature }
	if err := json.Unmarshal([]byte(r.stdout), &f); err != nil {
		t.Fatal(err)
	}
	for _, x := range f.Features {
		if !x.Supported {
			t.Errorf("%s not supported on %s: %s", x.Name, k, x.Detail)
		}
	}
	noQEMULeft(t, tmp)
}

// TestHarnessKernelFailReturn forces -ENOMEM from should_failslab for mkdir
// only, and only for allocations from kmem_cache_alloc_lru (dentries and
// inodes; exec's own allocations would otherwise kill mkdir before its
// syscall): mkdir(2) fails with ENOMEM, and the same command without the
// injection succeeds.
func TestHarnessKernelFailReturn(t *testing.T) {
	k := harnessKernel(t)
	tmp := t.TempDir()
	script := `faultline inject --inject 'fail-return:should_failslab:ENOMEM,comm=mkdir,caller=kmem_cache_alloc_lru' -- mkdir /tmp/a 2>&1; echo "with: $?"
mkdir /tmp/b; echo "without: $?"`
	r := faultline(t, tmp, "", "vm", "--kernel", k, "--fs", "none", "--", "sh", "-c", script)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"Cannot allocate memory", "with: 1", "without: 0"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s\n%s", want, r.stdout, r.stderr)
		}
	}
	noQEMULeft(t, tmp)
}

// TestHarnessKernelFailTrylock makes the btree readahead trylock fail under
// the readahead-reclaim workload and checks that the failures take effect:
// read_extent_buffer_pages calls the hook once per page until a trylock
// fails, so with every readahead trylock failing the hook runs once per
// readahead read, never more often than btrfs_readahead_tree_block runs;
// a failure that did not take effect lets the read go on to the block's
// other 3 pages (4 hook calls a read, nearly every readahead here reads).
// The workload still reads everything back intact (a failed readahead
// trylock is allowed; the fixed kernel copes).
func TestHarnessKernelFailTrylock(t *testing.T) {
	k := harnessKernel(t)
	tmp := t.TempDir()
	rep := tmp + "/run.json"
	r := faultline(t, tmp, "", "vm", "--kernel", k, "--fs", "btrfs", "--report", rep, "--timeout", "300s",
		"--inject", "fail-trylock:eb-readahead", "--inject", "count:btrfs_readahead_tree_block",
		"--", "workload", "readahead-reclaim", "--duration", "15s", "--dirs", "4", "--files", "2048",
		"--hot-every", "512", "--memory-max", "64M", "--read-only", "--compact")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	var failed, readaheads uint64
	for _, x := range readInjections(t, rep) {
		t.Logf("%s: hits %d, filtered %d, fired %d", x.Spec, x.Hits, x.Filtered, x.Fired)
		switch x.Kind {
		case probes.FailTrylock:
			failed = x.Fired
		case probes.Count:
			readaheads = x.Hits
		}
	}
	if failed < 100 || failed > readaheads {
		t.Errorf("fail-trylock fired %d times, btrfs_readahead_tree_block ran %d times: want at least 100 failures, "+
			"at most one a readahead (more means the failures did not stop the reads)", failed, readaheads)
	}
	noQEMULeft(t, tmp)
}

// TestHarnessKernelDIOPins checks the harness's fix for seed D's bug class:
// O_DIRECT reads and writes on ext4 pin their user pages (FOLL_PIN), so
// /proc/vmstat's nr_foll_pin_acquired grows by at least one pin per page
// moved, and every pin is released (the counters are folded first).
func TestHarnessKernelDIOPins(t *testing.T) {
	k := harnessKernel(t)
	tmp := t.TempDir()
	script := `pins() { echo 1 > /proc/sys/vm/stat_refresh; awk '/^nr_foll_pin_(acquired|released)/ {printf "%s=%s ", $1, $2}' /proc/vmstat; echo; }
pins
dd if=/dev/zero of=/mnt/scratch/f bs=1M count=4 oflag=direct 2>/dev/null || echo "dd write failed"
dd if=/mnt/scratch/f of=/dev/null bs=64k iflag=direct 2>/dev/null || echo "dd read failed"
pins`
	r := faultline(t, tmp, "", "vm", "--kernel", k, "--fs", "ext4", "--", "sh", "-c", script)
	if r.code != 0 || strings.Contains(r.stdout, "failed") {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("want two counter lines, got:\n%s", r.stdout)
	}
	var acq, rel [2]int
	for i, l := range lines {
		if _, err := fmt.Sscanf(l, "nr_foll_pin_acquired=%d nr_foll_pin_released=%d", &acq[i], &rel[i]); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
	}
	// 4 MiB written and read back: 2 x 1,024 pages.
	if got := acq[1] - acq[0]; got < 2048 {
		t.Errorf("direct I/O took %d pins, want >= 2048 (one per page): pages are not pinned on %s", got, k)
	}
	if acq[1]-rel[1] != acq[0]-rel[0] {
		t.Errorf("pins leaked: acquired %d -> %d, released %d -> %d", acq[0], acq[1], rel[0], rel[1])
	}
	noQEMULeft(t, tmp)
}
