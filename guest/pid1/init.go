package pid1

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// logf writes an agent message to the console.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "faultline-agent: "+format+"\n", args...)
}

// Init is the agent's PID 1: it prepares the guest, serves SSH on the
// agent's port (in this process: the guest starts one Go runtime at boot,
// not two), reaps every orphan, and powers the guest off when asked or when
// the server fails. It never returns.
func Init() {
	start := time.Now()
	steps := []string{}
	step := func(name string, t0 time.Time) {
		steps = append(steps, fmt.Sprintf("%s %dms", name, time.Since(t0).Milliseconds()))
		trace("init: " + name + " done")
	}
	t := time.Now()
	// devtmpfs first, for the console; then the modules start loading
	// (the virtio drivers, then the PCI transport, whose probe brings up
	// the agent's port first; the filesystem's at once); /proc and /sys,
	// which the server needs to find the port; the server; and the other
	// mounts overlap the loading.
	if err := mountAll(baseMounts[:1]); err != nil {
		failSetup(err)
	}
	trace("init: main")
	cfg, err := readConfig()
	if err != nil {
		failSetup(err)
	}
	// Module loads block in finit_module: with more Ps than CPUs, a load
	// that is ready starts at once instead of when the scheduler takes a
	// blocked one's P back (tens of ms under TCG). Back to one per CPU once
	// the guest is ready.
	procs := runtime.GOMAXPROCS(0)
	runtime.GOMAXPROCS(max(procs, 8))
	waitModules := loadModules("/lib/modules/order", virtioDrivers, virtioBus)
	if err := mountAll(baseMounts[1:3]); err != nil {
		failSetup(err)
	}
	go serve(cfg)
	go reap()
	if err := mountAll(baseMounts[3:]); err != nil {
		failSetup(err)
	}
	step("mounts", t)
	if cfg.IP != "" {
		t = time.Now()
		waitModules("virtio_net", virtioBus)
		step("net modules", t)
	}
	t = time.Now()
	if err := setupSystem(cfg); err != nil {
		failSetup(err)
	}
	step("system", t)
	t = time.Now()
	waitModules()
	step("other modules", t)
	t = time.Now()
	if cfg.FS != "" {
		if err := mountScratch(cfg); err != nil {
			failSetup(err)
		}
	}
	step("disk", t)
	logf("setup took %dms (%s)", time.Since(start).Milliseconds(), strings.Join(steps, ", "))
	runtime.GOMAXPROCS(procs)
	statusLine(ReadyLine)
	select {}
}

// children are the processes this process started and waits for itself
// (exec.Cmd.Wait): the reaper leaves them to their Wait.
var children = struct {
	sync.Mutex
	pids map[int]bool
}{pids: map[int]bool{}}

// startChild starts cmd with start (cmd.Start, or pty's) and records it, both
// under the lock the reaper takes to decide: the reaper cannot see it exited
// before it is known.
func startChild(cmd *exec.Cmd, start func() error) error {
	children.Lock()
	defer children.Unlock()
	if err := start(); err != nil {
		return err
	}
	children.pids[cmd.Process.Pid] = true
	return nil
}

// waitChild waits for a command startChild started, and forgets it.
func waitChild(cmd *exec.Cmd) error {
	err := cmd.Wait()
	children.Lock()
	delete(children.pids, cmd.Process.Pid)
	children.Unlock()
	return err
}

// reap reaps the orphans the kernel hands to PID 1 (a guest command's
// background processes), and never a child a Wait waits for.
func reap() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, unix.SIGCHLD)
	for {
		if reapOrphans() {
			// One of ours exited and hides the others until its Wait
			// collects it: look again shortly.
			select {
			case <-sig:
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}
		<-sig
	}
}

// siginfo is the start of the kernel's siginfo_t for SIGCHLD (128 bytes on
// every Linux architecture).
type siginfo struct {
	signo, errno, code, _ int32
	pid, uid, status      int32
	_                     [100]byte
}

// reapOrphans reaps exited children that are not ours until none is left,
// and reports whether it stopped at one of ours.
func reapOrphans() (oursPending bool) {
	for {
		children.Lock()
		var si siginfo
		// WNOWAIT: look without reaping, so that a child of ours stays
		// for its Wait.
		_, _, e := unix.Syscall6(unix.SYS_WAITID, unix.P_ALL, 0, uintptr(unsafe.Pointer(&si)),
			unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, 0, 0)
		if e != 0 || si.pid == 0 {
			children.Unlock()
			return false
		}
		if children.pids[int(si.pid)] {
			children.Unlock()
			return true
		}
		var ws unix.WaitStatus
		_, _ = unix.Wait4(int(si.pid), &ws, unix.WNOHANG, nil)
		children.Unlock()
	}
}

// statusLine prints one of the lines the controller watches the console for
// (listening, ready, setup failed, server exited). It goes through the
// kernel log as one record, so that kernel messages printed at the same
// moment (a mount, a module's init) cannot split it on the console as they
// can split a plain write to /dev/console. KERN_NOTICE: shown at the default
// console log level (the controller refuses "quiet").
func statusLine(s string) {
	if f, err := os.OpenFile("/dev/kmsg", os.O_WRONLY, 0); err == nil {
		_, err = f.WriteString("<5>" + s + "\n")
		f.Close()
		if err == nil {
			return
		}
	}
	fmt.Fprintln(os.Stderr, s)
}

// traceOn is set by faultline_trace=1 on the kernel command line (the
// kernel passes it to PID 1 as an environment variable): each start-up step
// then leaves a kernel log record, whose timestamp places it on the boot's
// time line.
var traceOn = os.Getenv("faultline_trace") == "1"

// trace records a start-up step when tracing is on.
func trace(s string) {
	if traceOn {
		statusLine("faultline-agent: trace: " + s)
	}
}

// ServerExitedPrefix starts the console line PID 1 prints when the SSH
// server failed (it cannot serve, or a session's handler panicked); it
// powers off right after.
const ServerExitedPrefix = "faultline-agent: server exited"

// SetupFailedPrefix starts the console line the agent prints when the guest
// cannot be set up; it powers off right after.
const SetupFailedPrefix = "faultline-agent: setup failed: "

func failSetup(err error) {
	statusLine(SetupFailedPrefix + err.Error())
	poweroff()
}

// poweringOff is set once the guest is being powered off.
var poweringOff atomic.Bool

func poweroff() {
	poweringOff.Store(true)
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

// baseMounts are the guest's filesystems; devtmpfs comes first (Init
// mounts it alone, before anything else, for the console).
var baseMounts = []mount{
	{"devtmpfs", "/dev", "devtmpfs", "mode=0755", unix.MS_NOSUID, false},
	{"proc", "/proc", "proc", "", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, false},
	{"sysfs", "/sys", "sysfs", "", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, false},
	{"devpts", "/dev/pts", "devpts", "gid=5,mode=620,ptmxmode=666", unix.MS_NOSUID | unix.MS_NOEXEC, false},
	{"tmpfs", "/dev/shm", "tmpfs", "mode=1777", unix.MS_NOSUID | unix.MS_NODEV, false},
	{"tmpfs", "/tmp", "tmpfs", "mode=1777", unix.MS_NOSUID | unix.MS_NODEV, false},
	{"tmpfs", "/run", "tmpfs", "mode=0755", unix.MS_NOSUID | unix.MS_NODEV, false},
	{"debugfs", "/sys/kernel/debug", "debugfs", "", 0, true},
	{"tracefs", "/sys/kernel/tracing", "tracefs", "", 0, true},
	{"bpf", "/sys/fs/bpf", "bpf", "mode=0700", 0, true},
	{"cgroup2", "/sys/fs/cgroup", "cgroup2", "nsdelegate", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, true},
}

// mountAll mounts ms in order; an optional one that fails is reported.
func mountAll(ms []mount) error {
	for _, m := range ms {
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
		trace("mounted " + m.target)
	}
	return nil
}

func setupSystem(cfg *Config) error {
	_ = os.WriteFile("/proc/sys/kernel/hostname", []byte("faultline"), 0o644)
	// Let user space in the guest see everything the kernel does.
	_ = os.WriteFile("/proc/sys/kernel/kptr_restrict", []byte("0"), 0o644)
	_ = os.WriteFile("/proc/sys/kernel/dmesg_restrict", []byte("0"), 0o644)
	if cfg.IP == "" {
		return nil
	}
	return network(cfg)
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

// virtioDrivers are the drivers of the virtio devices the controller
// attaches (the agent's port, the disk, the network), and virtioBus the PCI
// transport that finds those devices. The drivers load first, in parallel;
// the transport after them, so that its probe binds every device to its
// driver at once, the agent's port first (its device has the lowest PCI
// slot). The other modules (the scratch filesystem's) load in parallel from
// the start: btrfs with its dependencies decides when a Debian guest is
// ready (raid6_pq benchmarks its algorithms for about 0.3 s under TCG, and
// btrfs.ko is 3.9 MB), so each module starts as soon as the modules it
// needs are being initialised (waitComing). Built-in ones are simply not in
// the order file.
var (
	virtioDrivers = []string{"virtio_console", "virtio_blk", "virtio_net"}
	virtioBus     = "virtio_pci"
)

// loadModules starts loading the modules the order file lists ("PATH NAME
// DEPS"), each as soon as the modules it needs are loaded, in parallel
// otherwise, and returns a function that waits until the named modules (all
// of them if none is named) have been tried. The drivers load before the
// bus (orderBus). A module that fails to load is reported, not fatal: the
// step that needs it names what is missing.
func loadModules(orderFile string, drivers []string, bus string) func(names ...string) {
	b, err := os.ReadFile(orderFile)
	if err != nil {
		logf("module order: %v", err)
		return func(...string) {}
	}
	mods := parseOrder(string(b))
	orderBus(mods, drivers, bus)
	done := map[string]chan struct{}{}
	for _, m := range mods {
		done[m.name] = make(chan struct{})
	}
	var wg sync.WaitGroup
	for _, m := range mods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[m.name])
			for _, d := range m.deps {
				if ch, ok := done[d]; ok {
					waitComing(d, ch)
				}
			}
			for _, d := range m.after {
				if ch, ok := done[d]; ok {
					<-ch
				}
			}
			f, err := os.Open(m.path)
			if err != nil {
				logf("load module %s: %v", m.path, err)
				return
			}
			defer f.Close()
			trace("load " + m.name)
			defer trace("loaded " + m.name)
			err = finitModule(int(f.Fd()), "", 0)
			if errors.Is(err, unix.EBUSY) && len(m.deps) > 0 {
				// The kernel waits for a dependency's init in an
				// interruptible sleep; a signal to this thread (the
				// Go runtime sends some) ends that wait and the load
				// fails with EBUSY ("gave up waiting for init of
				// module"). Once the dependencies are loaded there is
				// nothing left to wait for: load it again.
				for _, d := range m.deps {
					if ch, ok := done[d]; ok {
						<-ch
					}
				}
				err = finitModule(int(f.Fd()), "", 0)
			}
			switch {
			case errors.Is(err, unix.EKEYREJECTED):
				// The initramfs carries the modules without their
				// signatures (guest.stripSignature): a kernel that
				// enforces them cannot be set up. Say so now, not
				// when a device fails to appear.
				failSetup(fmt.Errorf("module %s refused: the kernel enforces module signatures (module.sig_enforce=1 or lockdown), and faultline's initramfs holds the modules without their signatures; boot without that option", m.name))
			case err != nil && !errors.Is(err, unix.EEXIST):
				logf("load module %s: %v", m.path, err)
			}
		}()
	}
	return func(names ...string) {
		if len(names) == 0 {
			wg.Wait()
			return
		}
		for _, n := range names {
			if ch, ok := done[n]; ok {
				<-ch
			}
		}
	}
}

// finitModule is unix.FinitModule; tests replace it.
var finitModule = unix.FinitModule

// waitComing returns once module name is at least being initialised (its
// /sys/module directory exists) or its load has ended (done is closed). A
// module that needs it can start loading then: the kernel reads it and
// lays it out meanwhile, and waits for name's init to end
// before it resolves name's symbols. btrfs's load overlaps raid6_pq's
// algorithm benchmark that way.
func waitComing(name string, done <-chan struct{}) {
	dir := filepath.Join(sysModule, name)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
			if _, err := os.Stat(dir); err == nil {
				return
			}
		}
	}
}

// sysModule is where the kernel lists the modules it holds.
var sysModule = "/sys/module"

// orderEntry is one line of the initramfs's module order file.
type orderEntry struct {
	path, name string
	deps       []string // the modules whose symbols it uses
	after      []string // the modules that must be loaded before it starts (orderBus)
}

// parseOrder reads the module order file: "PATH NAME [DEP,DEP...]" lines.
func parseOrder(text string) []orderEntry {
	var mods []orderEntry
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		m := orderEntry{path: f[0], name: f[1]}
		if len(f) > 2 {
			m.deps = strings.Split(f[2], ",")
		}
		mods = append(mods, m)
	}
	return mods
}

// orderBus adds the dependencies that make bus load after every driver in
// drivers that is in mods and does not itself need bus. Without bus in mods
// nothing changes.
func orderBus(mods []orderEntry, drivers []string, bus string) {
	byName := map[string]int{}
	for i, m := range mods {
		byName[m.name] = i
	}
	b, ok := byName[bus]
	if !ok {
		return
	}
	// needs reports whether n needs (itself or through others) target.
	var needs func(n, target string, seen map[string]bool) bool
	needs = func(n, target string, seen map[string]bool) bool {
		i, ok := byName[n]
		if !ok || seen[n] {
			return false
		}
		seen[n] = true
		for _, d := range mods[i].deps {
			if d == target || needs(d, target, seen) {
				return true
			}
		}
		return false
	}
	for _, d := range drivers {
		if _, ok := byName[d]; !ok || slices.Contains(mods[b].deps, d) || needs(d, bus, map[string]bool{}) {
			continue
		}
		mods[b].after = append(mods[b].after, d)
	}
}

// readConfig reads the configuration the controller put into the
// initramfs (WithConfig).
func readConfig() (*Config, error) {
	b, err := os.ReadFile(ConfigPath)
	if err != nil {
		return nil, fmt.Errorf("read agent config (the initramfs lacks the controller's appended archive): %w", err)
	}
	var cfg Config
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("parse agent config %s: %w", ConfigPath, err)
	}
	return &cfg, nil
}

// network brings up lo and eth0 with the guest's address, and a default
// route through the user-mode network's gateway, by ioctl: no process to
// start.
func network(cfg *Config) error {
	ip, ipnet, err := net.ParseCIDR(cfg.IP)
	if err != nil {
		return fmt.Errorf("network: bad address %q: %w", cfg.IP, err)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("network: %w", err)
	}
	defer unix.Close(fd)
	sockaddr := func(ifr *unix.Ifreq, a net.IP) error {
		return ifr.SetInet4Addr(a.To4())
	}
	if err := ifUp(fd, "lo"); err != nil {
		return err
	}
	for _, set := range []struct {
		req  uint
		addr net.IP
	}{{unix.SIOCSIFADDR, ip}, {unix.SIOCSIFNETMASK, net.IP(ipnet.Mask)}} {
		ifr, err := unix.NewIfreq("eth0")
		if err != nil {
			return err
		}
		if err := sockaddr(ifr, set.addr); err != nil {
			return err
		}
		if err := unix.IoctlIfreq(fd, set.req, ifr); err != nil {
			return fmt.Errorf("network: set eth0 address %s: %w (virtio_net loaded?)", cfg.IP, err)
		}
	}
	if err := ifUp(fd, "eth0"); err != nil {
		return err
	}
	// The user-mode network's gateway is the host's side: the first
	// address of the subnet ending in .2 (QEMU's default layout).
	gw := ipnet.IP.To4()
	gw = net.IPv4(gw[0], gw[1], gw[2], 2)
	cmd := exec.Command("/bin/busybox", "ip", "route", "add", "default", "via", gw.String())
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	err = startChild(cmd, cmd.Start)
	if err == nil {
		err = waitChild(cmd)
	}
	if err != nil {
		return fmt.Errorf("network: default route via %s: %w: %s", gw, err, strings.TrimSpace(out.String()))
	}
	return nil
}

func ifUp(fd int, name string) error {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("network: %s: %w", name, err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("network: bring up %s: %w", name, err)
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
