package guest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ServeArg is the argument with which PID 1 starts the SSH server as its
// child: os.Args[1] of the agent binary.
const ServeArg = "__faultline-agent-serve"

// logf writes an agent message to the console.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "faultline-agent: "+format+"\n", args...)
}

// Init is the agent's PID 1: it prepares the guest, starts the SSH server as
// a child, reaps every orphan, and powers the guest off when the server ends.
// It never returns.
func Init() {
	start := time.Now()
	if err := setup(); err != nil {
		logf("setup failed: %v", err)
		poweroff()
	}
	cmd := exec.Command("/init", ServeArg)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		logf("start server: %v", err)
		poweroff()
	}
	logf("setup took %v", time.Since(start).Round(time.Millisecond))
	// PID 1 reaps every child, including the orphans of guest commands; the
	// server is a separate process so that its own exec.Cmd.Wait calls are
	// not raced by this loop.
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			logf("wait: %v", err)
			time.Sleep(time.Second)
			continue
		}
		if pid == cmd.Process.Pid {
			logf("server exited (%v); powering off", ws)
			poweroff()
		}
	}
}

func poweroff() {
	unix.Sync()
	_ = unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	for {
		time.Sleep(time.Hour)
	}
}

type mount struct {
	src, target, fstype, data string
	flags                     uintptr
	optional                  bool
}

var baseMounts = []mount{
	{"proc", "/proc", "proc", "", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, false},
	{"sysfs", "/sys", "sysfs", "", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, false},
	{"devtmpfs", "/dev", "devtmpfs", "mode=0755", unix.MS_NOSUID, false},
	{"devpts", "/dev/pts", "devpts", "gid=5,mode=620,ptmxmode=666", unix.MS_NOSUID | unix.MS_NOEXEC, false},
	{"tmpfs", "/dev/shm", "tmpfs", "mode=1777", unix.MS_NOSUID | unix.MS_NODEV, false},
	{"tmpfs", "/tmp", "tmpfs", "mode=1777", unix.MS_NOSUID | unix.MS_NODEV, false},
	{"tmpfs", "/run", "tmpfs", "mode=0755", unix.MS_NOSUID | unix.MS_NODEV, false},
	{"debugfs", "/sys/kernel/debug", "debugfs", "", 0, true},
	{"tracefs", "/sys/kernel/tracing", "tracefs", "", 0, true},
	{"bpf", "/sys/fs/bpf", "bpf", "mode=0700", 0, true},
	{"cgroup2", "/sys/fs/cgroup", "cgroup2", "nsdelegate", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, true},
}

func setup() error {
	for _, m := range baseMounts {
		if err := os.MkdirAll(m.target, 0o755); err != nil && !m.optional {
			return fmt.Errorf("mkdir %s: %w", m.target, err)
		}
		if err := unix.Mount(m.src, m.target, m.fstype, m.flags, m.data); err != nil {
			if m.optional {
				logf("mount %s: %v (continuing)", m.target, err)
				continue
			}
			return fmt.Errorf("mount %s on %s: %w", m.fstype, m.target, err)
		}
		if m.target == "/dev" {
			openConsole()
		}
	}
	if err := loadModules("/lib/modules/order"); err != nil {
		return err
	}
	cfg, err := readConfig()
	if err != nil {
		return err
	}
	if out, err := exec.Command("/bin/busybox", "--install", "-s", "/bin").CombinedOutput(); err != nil {
		return fmt.Errorf("busybox --install: %w: %s", err, out)
	}
	_ = os.WriteFile("/proc/sys/kernel/hostname", []byte("faultline"), 0o644)
	// Let user space in the guest see everything the kernel does.
	_ = os.WriteFile("/proc/sys/kernel/kptr_restrict", []byte("0"), 0o644)
	_ = os.WriteFile("/proc/sys/kernel/dmesg_restrict", []byte("0"), 0o644)
	if err := network(cfg); err != nil {
		return err
	}
	if cfg.FS != "" {
		if err := mountScratch(cfg); err != nil {
			return err
		}
	}
	return nil
}

// openConsole makes /dev/console the agent's stdin, stdout and stderr: the
// initramfs has no device nodes, so the kernel could not do it.
func openConsole() {
	f, err := os.OpenFile("/dev/console", os.O_RDWR, 0)
	if err != nil {
		return
	}
	for fd := 0; fd <= 2; fd++ {
		_ = unix.Dup2(int(f.Fd()), fd)
	}
}

func loadModules(orderFile string) error {
	b, err := os.ReadFile(orderFile)
	if err != nil {
		return fmt.Errorf("module order: %w", err)
	}
	for _, path := range strings.Fields(string(b)) {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("load module: %w", err)
		}
		err = unix.FinitModule(int(f.Fd()), "", 0)
		f.Close()
		if err != nil && !errors.Is(err, unix.EEXIST) {
			// A module that fails to load is reported, not fatal: the
			// step that needs it names what is missing.
			logf("load module %s: %v", path, err)
		}
	}
	return nil
}

func readConfig() (*Config, error) {
	b, err := os.ReadFile(ConfigPath)
	if err != nil {
		return nil, fmt.Errorf("read agent config (kernel needs CONFIG_FW_CFG_SYSFS): %w", err)
	}
	var cfg Config
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("parse agent config: %w", err)
	}
	// The server (a child) reads it from here: fw_cfg is read once.
	if err := os.WriteFile("/run/faultline-config.json", b, 0o600); err != nil {
		return nil, err
	}
	return &cfg, nil
}

func network(cfg *Config) error {
	cmds := [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"ip", "link", "set", "eth0", "up"},
		{"ip", "addr", "add", cfg.IP, "dev", "eth0"},
		{"ip", "route", "add", "default", "via", cfg.Gateway},
	}
	for _, c := range cmds {
		if out, err := exec.Command("/bin/busybox", c...).CombinedOutput(); err != nil {
			return fmt.Errorf("network: %s: %w: %s", strings.Join(c, " "), err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

func mountScratch(cfg *Config) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(cfg.ScratchDev); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("scratch disk %s did not appear (virtio_blk loaded?)", cfg.ScratchDev)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !fsSupported(cfg.FS) {
		return fmt.Errorf("kernel does not support filesystem %q (not in /proc/filesystems)", cfg.FS)
	}
	if err := unix.Mount(cfg.ScratchDev, ScratchDir, cfg.FS, 0, cfg.MountOpts); err != nil {
		return fmt.Errorf("mount %s (%s, -o %q) on %s: %w", cfg.ScratchDev, cfg.FS, cfg.MountOpts, ScratchDir, err)
	}
	return nil
}

func fsSupported(fs string) bool {
	f, err := os.Open("/proc/filesystems")
	if err != nil {
		return true // let mount say what is wrong
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 0 && fields[len(fields)-1] == fs {
			return true
		}
	}
	return false
}
