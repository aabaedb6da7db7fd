//go:build !faultline_agent

package main

import (
	"encoding/json"
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
// the readahead-reclaim workload: the hook site is reached and failures are
// forced there, and the workload still reads everything back intact (a
// failed readahead trylock is allowed; the fixed kernel copes).
func TestHarnessKernelFailTrylock(t *testing.T) {
	k := harnessKernel(t)
	tmp := t.TempDir()
	rep := tmp + "/run.json"
	r := faultline(t, tmp, "", "vm", "--kernel", k, "--fs", "btrfs", "--report", rep, "--timeout", "300s",
		"--inject", "fail-trylock:eb-readahead@0.5", "--inject", "count:read_extent_buffer_pages",
		"--", "workload", "readahead-reclaim", "--duration", "10s", "--dirs", "16")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	b, _ := os.ReadFile(rep)
	var rec runRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	for _, x := range rec.Injections {
		if x.Kind == probes.FailTrylock && (x.Hits == 0 || x.Fired == 0 || x.Fired >= x.Hits) {
			t.Errorf("fail-trylock: %+v; want hits, and about half of them failed", x)
		}
		t.Logf("%s: hits %d, filtered %d, fired %d", x.Spec, x.Hits, x.Filtered, x.Fired)
	}
	noQEMULeft(t, tmp)
}
