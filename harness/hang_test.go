package harness

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"faultline/kernels"
)

// TestWatchdogHang boots the stock kernel, runs a long command and then
// freezes the whole guest through QMP ("stop"): the console goes silent and
// the agent stops answering, so the watchdog must declare a hang, stop
// QEMU and keep the console.
func TestWatchdogHang(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a VM")
	}
	k, agent := testKernelAndAgent(t)
	vm, err := New(Options{Kernel: k, Agent: agent, CPUs: 1, MemoryMB: 512, NUMANodes: 1, Accel: "tcg", BootTimeout: 60 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	ctx := context.Background()
	if err := vm.Boot(ctx); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(2 * time.Second)
		_, _ = vm.mon.Run([]byte(`{"execute":"stop"}`))
	}()
	start := time.Now()
	code, err := vm.Run(ctx, &Command{Shell: "sleep 300", HangAfter: 4 * time.Second})
	if !errors.Is(err, ErrHang) {
		t.Fatalf("Run = %d, %v; want ErrHang", code, err)
	}
	if d := time.Since(start); d > 60*time.Second {
		t.Errorf("hang declared after %v", d)
	}
	if err := vm.Close(); err != nil {
		t.Fatal(err)
	}
	if !vm.Kept() {
		t.Fatal("console of a hung guest not kept")
	}
	b, err := os.ReadFile(vm.Console())
	if err != nil || !strings.Contains(string(b), "faultline-agent: ready") {
		t.Errorf("kept console %s lacks the boot (err %v)", vm.Console(), err)
	}
	os.Remove(vm.Console())
}

// testKernelAndAgent returns the stock kernel (skipping the test when it is
// not fetched) and a static agent binary built for the test.
func testKernelAndAgent(t *testing.T) (*kernels.Kernel, string) {
	t.Helper()
	store, err := kernels.NewStore()
	if err != nil {
		t.Skip(err)
	}
	k, err := store.Resolve("debian:6.1-cloud", false, nil)
	if err != nil {
		t.Skipf("kernel not fetched: %v", err)
	}
	agent := filepath.Join(t.TempDir(), "faultline")
	build := exec.Command("go", "build", "-o", agent, "faultline/cmd/faultline")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build agent: %v\n%s", err, out)
	}
	return k, agent
}
