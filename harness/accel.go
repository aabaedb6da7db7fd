package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"faultline/kernels"
)

// kvmProbe is the cached outcome of a KVM probe on this host boot.
type kvmProbe struct {
	BootID string `json:"boot_id"`
	Works  bool   `json:"works"`
	Detail string `json:"detail"`
}

// KVMUsable tells whether /dev/kvm can run this kernel: the device must
// open and answer KVM_GET_API_VERSION, and a real boot of the kernel with a
// minimal init must power off within a few seconds (some paravirtual KVMs
// answer every ioctl and then hang a stock kernel). The answer is cached
// per host boot.
func KVMUsable(ctx context.Context, qemu string, k *kernels.Kernel, progress func(string)) (bool, string) {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return false, fmt.Sprintf("/dev/kvm: %v", err)
	}
	v, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), 0xAE00 /* KVM_GET_API_VERSION */, 0)
	f.Close()
	if errno != 0 || v != 12 {
		return false, fmt.Sprintf("KVM_GET_API_VERSION: %d (%v)", v, errno)
	}
	bootID, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	cache, err := kernels.CacheDir()
	if err != nil {
		return false, err.Error()
	}
	path := filepath.Join(cache, "kvm-probe.json")
	var p kvmProbe
	if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &p) == nil && p.BootID == strings.TrimSpace(string(bootID)) {
		return p.Works, p.Detail
	}
	p = kvmProbe{BootID: strings.TrimSpace(string(bootID))}
	if progress != nil {
		progress("probing KVM with a real boot (once per host boot)")
	}
	elapsed, err := BootMinimal(ctx, qemu, k, "kvm", 10*time.Second)
	if err != nil {
		p.Detail = "a kvm boot of " + k.Name + " did not power off: " + err.Error()
	} else {
		p.Works, p.Detail = true, fmt.Sprintf("a kvm boot of %s powered off in %v", k.Name, elapsed.Round(time.Millisecond))
	}
	if b, err := json.Marshal(p); err == nil {
		_ = os.MkdirAll(cache, 0o755)
		_ = os.WriteFile(path, b, 0o644)
	}
	return p.Works, p.Detail
}

func (v *VM) accel(ctx context.Context, qemu string) (string, error) {
	return ResolveAccel(ctx, qemu, v.opts.Accel, v.opts.Kernel, v.opts.Progress)
}

// ResolveAccel turns an accelerator choice ("auto", "tcg" or "kvm") into
// the one to use for kernel k: auto is KVM when /dev/kvm really boots the
// kernel (KVMUsable, cached per host boot), else TCG; kvm is an error
// where KVM does not work.
func ResolveAccel(ctx context.Context, qemu, accel string, k *kernels.Kernel, progress func(string)) (string, error) {
	if progress == nil {
		progress = func(string) {}
	}
	switch accel {
	case "tcg":
		return "tcg", nil
	case "kvm":
		if ok, why := KVMUsable(ctx, qemu, k, progress); !ok {
			return "", fmt.Errorf("--accel kvm: KVM does not work here (%s): %w; use --accel tcg", why, ErrNotSupported)
		}
		return "kvm", nil
	}
	if _, err := os.Stat("/dev/kvm"); err != nil {
		return "tcg", nil
	}
	if ok, why := KVMUsable(ctx, qemu, k, progress); ok {
		return "kvm", nil
	} else if accel == "auto" {
		progress("using TCG: KVM is unusable here (" + firstLine(why) + ")")
	}
	return "tcg", nil
}

// BootMinimal boots k with an init that powers off at once (busybox
// poweroff -f), no devices, and returns how long QEMU ran. It is the KVM
// probe. (The boot benchmark's baseline is a VM with Options.Baseline: the
// same command line as faultline's VMs.)
func BootMinimal(ctx context.Context, qemu string, k *kernels.Kernel, accel string, timeout time.Duration) (time.Duration, error) {
	initrd, err := minimalInitramfs()
	if err != nil {
		return 0, err
	}
	qc := &QEMUConfig{Kernel: k.Vmlinuz, Initrd: initrd, Accel: accel, CPUs: 2, MemoryMB: 1024,
		Cmdline: BaseCmdline}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, qemu, qc.Args()...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	elapsed := time.Since(start)
	if ctx.Err() != nil {
		return elapsed, fmt.Errorf("no power-off within %v", timeout)
	}
	if err != nil {
		return elapsed, fmt.Errorf("qemu: %w: %s", err, lastLines(out.String(), 5))
	}
	if !strings.Contains(out.String(), "reboot: Power down") {
		return elapsed, fmt.Errorf("guest did not power down: %s", lastLines(out.String(), 5))
	}
	return elapsed, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 160 {
		s = s[:160] + "..."
	}
	return s
}
