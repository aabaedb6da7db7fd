package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/digitalocean/go-qemu/qmp"
	"golang.org/x/crypto/ssh"

	"faultline/guest"
	"faultline/guest/pid1"
	"faultline/kernels"
	"faultline/verdict"
)

// Instance is a VM as the rest of faultline sees it.
type Instance interface {
	// Boot starts the VM and returns once its agent answers. Its errors
	// are *Error values (the fault, the detail, the console tail) or
	// harness set-up errors.
	Boot(ctx context.Context) error
	// Run runs a shell command in the guest and returns its exit status.
	Run(ctx context.Context, cmd *Command) (int, error)
	// Timings returns the phases of the VM's life measured so far.
	Timings() Timings
	// Console returns the path of the console log.
	Console() string
	// ConsoleErr returns the first error writing the console log, or nil.
	ConsoleErr() error
	// Kept reports whether Close keeps the console (asked for, or the
	// guest crashed or the run failed).
	Kept() bool
	// Close powers the guest off (killing QEMU if it must) and cleans up.
	Close() error
}

// Pool hands out instances. The campaign's executor takes one, so that a
// test can hand it fake instances and a user real ones.
type Pool interface {
	// Create validates opts and prepares an instance; Boot starts it.
	Create(opts Options) (Instance, error)
}

// QEMU is the Pool of real QEMU virtual machines.
type QEMU struct{}

// Create returns a new QEMU VM (New).
func (QEMU) Create(opts Options) (Instance, error) { return New(opts) }

// Options configure a VM.
type Options struct {
	// Kernel is the kernel to boot.
	Kernel *kernels.Kernel
	// FS is the scratch filesystem ("btrfs", "ext4"), or "" for no disk.
	FS string
	// MkfsOpts are extra mkfs arguments; MountOpts the mount options.
	MkfsOpts  []string
	MountOpts string
	// DiskSize is the scratch image size in bytes (sparse).
	DiskSize int64
	// CPUs and MemoryMB size the guest; NUMANodes > 1 splits it.
	CPUs, MemoryMB, NUMANodes int
	// Accel is "auto", "tcg" or "kvm".
	Accel string
	// CPUModel is QEMU's -cpu model under TCG ("max" if empty), with
	// optional feature switches, e.g. "max,erms=off,fsrm=off".
	CPUModel string
	// BootTimeout bounds the time to the agent's first answer.
	BootTimeout time.Duration
	// Cmdline holds extra kernel command line arguments.
	Cmdline []string
	// ConsolePath, if set, is where the console log is written and kept;
	// otherwise it lives in the VM's temporary directory and is kept only
	// when the guest crashed.
	ConsolePath string
	// Echo, if set, receives a copy of the console as it arrives.
	Echo io.Writer
	// Agent is the static faultline binary to run as the guest's /init.
	Agent string
	// Progress, if set, receives short progress lines.
	Progress func(string)
	// Net gives the guest a user-mode network (eth0, 10.0.2.15/24, a
	// default route). Without it the guest has none: the agent's
	// connection rides a virtio-serial port either way.
	Net bool
	// Baseline boots the same VM (the same QEMU command line: devices,
	// disk, network, QMP) with an initramfs whose /init powers off at once
	// instead of the agent's, and Boot returns when QEMU has exited: the
	// boot benchmark's baseline.
	Baseline bool
}

func (o *Options) defaults() {
	if o.CPUs == 0 {
		o.CPUs = 2
	}
	if o.MemoryMB == 0 {
		o.MemoryMB = 1024
	}
	if o.DiskSize == 0 {
		o.DiskSize = 4 << 30
	}
	if o.BootTimeout == 0 {
		o.BootTimeout = 60 * time.Second
	}
	if o.Accel == "" {
		o.Accel = "auto"
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
}

// GuestModules are the modules the agent loads when the kernel has them as
// modules: virtio transport, the agent's port and the disk (and virtio_net
// when the guest has a network).
var GuestModules = []string{"virtio_pci", "virtio_console", "virtio_blk"}

// VM is a QEMU virtual machine running the faultline agent.
type VM struct {
	opts    Options
	dir     string
	console string

	cmd      *exec.Cmd
	qemuErr  bytes.Buffer
	exited   chan struct{}
	waitErr  error
	consoleW *consoleWriter
	mon      *qmp.SocketMonitor
	client   *ssh.Client
	closed   bool
	powerReq bool

	mu     sync.Mutex
	events []string

	timings Timings
	// failed is set when the run did not end cleanly (boot failure,
	// timeout, lost connection): the console is then kept.
	failed bool
}

// Timings are the wall-clock phases of a VM's life, measured on the host.
type Timings struct {
	// Prepare is initramfs, keys and scratch disk, before QEMU starts.
	Prepare time.Duration `json:"prepare_ns"`
	// Listening is QEMU start to the agent's SSH server listening.
	Listening time.Duration `json:"listening_ns"`
	// Connected is listening to the SSH handshake done.
	Connected time.Duration `json:"connected_ns"`
	// Ready is connected to the guest ready (scratch disk mounted).
	Ready time.Duration `json:"ready_ns"`
	// Shutdown is the power-off request to QEMU's exit.
	Shutdown time.Duration `json:"shutdown_ns"`
}

// Timings returns the phases measured so far.
func (v *VM) Timings() Timings { return v.timings }

// New validates options and prepares a VM; Boot starts it.
func New(opts Options) (*VM, error) {
	opts.defaults()
	if opts.Kernel == nil {
		return nil, errors.New("no kernel given")
	}
	if opts.FS != "" && opts.FS != "btrfs" && opts.FS != "ext4" {
		return nil, fmt.Errorf("unknown filesystem %q: want btrfs, ext4 or none", opts.FS)
	}
	if opts.CPUs < 1 || opts.MemoryMB < 128 {
		return nil, fmt.Errorf("VM too small: %d CPUs, %d MiB (want >= 1 CPU and >= 128 MiB)", opts.CPUs, opts.MemoryMB)
	}
	switch opts.Accel {
	case "auto", "tcg", "kvm":
	default:
		return nil, fmt.Errorf("unknown accelerator %q: want auto, tcg or kvm", opts.Accel)
	}
	if strings.ContainsAny(opts.CPUModel, " \t\n") {
		return nil, fmt.Errorf("bad CPU model %q: one QEMU -cpu argument such as max or max,erms=off,fsrm=off", opts.CPUModel)
	}
	for _, a := range opts.Cmdline {
		lvl, isLevel := strings.CutPrefix(a, "loglevel=")
		if n, err := strconv.Atoi(lvl); a == "quiet" || (isLevel && err == nil && n < 6) {
			return nil, fmt.Errorf("kernel argument %q hides the agent's KERN_NOTICE status lines that the controller waits for on the console: drop it (use dmesg -n in the guest to quiet the console instead)", a)
		}
	}
	return &VM{opts: opts}, nil
}

var _ Instance = (*VM)(nil)

// Console returns the path of the console log.
func (v *VM) Console() string { return v.console }

// Events returns the QMP events seen so far.
func (v *VM) Events() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.events...)
}

// Boot starts QEMU and waits for the agent's SSH server.
func (v *VM) Boot(ctx context.Context) error {
	if v.cmd != nil {
		return errors.New("VM already booted")
	}
	qemu, err := ToolQEMU.Find()
	if err != nil {
		return err
	}
	build := v.buildInitramfs
	if v.opts.Baseline {
		build = minimalInitramfs
	}
	initrd, err := build()
	if err != nil {
		return err
	}
	accel, err := v.accel(ctx, qemu)
	if err != nil {
		return err
	}
	v.dir, err = os.MkdirTemp("", "faultline-vm-")
	if err != nil {
		return fmt.Errorf("create VM directory: %w", err)
	}
	v.console = v.opts.ConsolePath
	if v.console != "" {
		// Never overwrite a console someone kept.
		if st, err := os.Stat(v.console); err == nil && st.Size() > 0 {
			return fmt.Errorf("console file %s exists and is not empty: choose another path or remove it", v.console)
		}
	}
	if v.console == "" {
		v.console = filepath.Join(v.dir, "console.log")
	}
	prepStart := time.Now()
	hostKey, err := NewKeyPair()
	if err != nil {
		return err
	}
	clientKey, err := NewKeyPair()
	if err != nil {
		return err
	}
	gcfg := pid1.Config{HostKey: string(hostKey.PEM), AuthorizedKey: clientKey.Public(), Port: pid1.PortName}
	qc := &QEMUConfig{
		Kernel: v.opts.Kernel.Vmlinuz, Initrd: initrd, Accel: accel, CPUModel: v.opts.CPUModel,
		CPUs: v.opts.CPUs, MemoryMB: v.opts.MemoryMB, NUMANodes: v.opts.NUMANodes,
		QMPSocket:   filepath.Join(v.dir, "qmp.sock"),
		AgentSocket: filepath.Join(v.dir, "agent.sock"),
		Net:         v.opts.Net,
		Cmdline:     append(append([]string{}, BaseCmdline...), v.opts.Cmdline...),
	}
	if v.opts.Net {
		gcfg.IP = "10.0.2.15/24"
	}
	if v.opts.FS != "" {
		v.opts.Progress("making " + v.opts.FS + " scratch disk")
		img := filepath.Join(v.dir, "scratch.img")
		if err := MakeScratch(img, v.opts.FS, v.opts.DiskSize, v.opts.MkfsOpts); err != nil {
			return err
		}
		qc.Disks = []string{img}
		gcfg.FS, gcfg.MountOpts, gcfg.ScratchDev = v.opts.FS, v.opts.MountOpts, "/dev/vda"
	}
	b, _ := json.Marshal(gcfg)
	qc.Initrd = filepath.Join(v.dir, "initramfs.cpio")
	if err := guest.WithConfig(initrd, qc.Initrd, b); err != nil {
		return err
	}
	v.timings.Prepare = time.Since(prepStart)
	v.opts.Progress(fmt.Sprintf("booting %s (%s, %d CPUs, %d MiB)", v.opts.Kernel.Name, accel, qc.CPUs, qc.MemoryMB))
	if err := v.start(qemu, qc); err != nil {
		return err
	}
	if v.opts.Baseline {
		return v.waitPowerOff(ctx)
	}
	return v.waitReady(ctx, qc.AgentSocket, ClientConfig(clientKey, hostKey.Signer.PublicKey(), 10*time.Second))
}

// minimalInitramfs returns the cached initramfs whose /init powers off at
// once (guest.MinimalInitramfs): the baseline's and the KVM probe's.
func minimalInitramfs() (string, error) {
	bb, err := ToolBusybox.Find()
	if err != nil {
		return "", err
	}
	cache, err := kernels.CacheDir()
	if err != nil {
		return "", err
	}
	return guest.MinimalInitramfs(filepath.Join(cache, "initramfs"), bb)
}

// waitPowerOff waits, within the boot timeout, for a baseline guest to
// power off and QEMU to exit.
func (v *VM) waitPowerOff(ctx context.Context) error {
	select {
	case <-v.exited:
		if !strings.Contains(v.consoleW.tail(5), "reboot: Power down") {
			return v.bootFailure("baseline guest did not power down")
		}
		return nil
	case <-time.After(v.opts.BootTimeout):
		return v.bootFailure(fmt.Sprintf("baseline guest did not power off within %v", v.opts.BootTimeout))
	case <-ctx.Done():
		v.failed = true
		return ctx.Err()
	}
}

// BaseCmdline is the kernel command line faultline always passes: serial
// console, an oops is a panic (a BUG or fault ends the run as a crash at
// once, instead of leaving a half-dead guest to time out), reboot (hence
// QEMU exit) at once on panic, printk timestamps, no rate limit on user
// space's /dev/kmsg lines (the agent's status lines, injection counters),
// no crypto self-tests. Warnings do not panic; --append oops=continue undoes
// the oops rule.
//
// cryptomgr.notests: kernels built without CRYPTO_MANAGER_DISABLE_TESTS
// (Debian's) test every crypto algorithm as it registers, at boot and at
// each module load (btrfs's checksums). Under TCG that is a quarter to half
// a second before /init on Debian's 6.1; faultline's own kernels are built
// without the tests. --append cryptomgr.notests=0 brings them back (the last
// value on the command line wins). FIPS mode runs them regardless.
var BaseCmdline = []string{"console=ttyS0", "oops=panic", "panic=-1", "printk.time=1", "printk.devkmsg=on", "mitigations=off", "random.trust_cpu=on", "cryptomgr.notests"}

func (v *VM) buildInitramfs() (string, error) {
	bb, err := ToolBusybox.Find()
	if err != nil {
		return "", err
	}
	if err := guest.CheckStatic(bb); err != nil {
		return "", fmt.Errorf("%w: Debian's busybox package is dynamic; %s", err, InstallHint("busybox-static"))
	}
	if v.opts.Agent == "" {
		return "", errors.New("no agent binary given")
	}
	if err := guest.CheckStatic(v.opts.Agent); err != nil {
		return "", fmt.Errorf("%w: build faultline with CGO_ENABLED=0 (make build)", err)
	}
	k := v.opts.Kernel
	idx, err := k.Modules()
	if err != nil {
		return "", err
	}
	wanted := append([]string{}, GuestModules...)
	if v.opts.Net {
		wanted = append(wanted, "virtio_net")
	}
	if v.opts.FS != "" {
		wanted = append(wanted, v.opts.FS)
	}
	order, _ := idx.LoadOrder(wanted)
	cache, err := kernels.CacheDir()
	if err != nil {
		return "", err
	}
	ir := &guest.Initramfs{Agent: v.opts.Agent, Busybox: bb, Modules: order, ModulesDir: idx.Dir, Requires: map[string][]string{}}
	for _, m := range order {
		ir.Requires[m.Name] = idx.Requires(m)
	}
	return ir.Build(filepath.Join(cache, "initramfs"))
}

// ErrNotSupported is returned when the kernel or host lacks a feature.
var ErrNotSupported = errors.New("not supported")

func (v *VM) start(qemu string, qc *QEMUConfig) error {
	v.cmd = exec.Command(qemu, qc.Args()...)
	// Own process group: a terminal's Ctrl-C reaches faultline, which then
	// shuts the guest down; the guest dies with faultline in any case.
	v.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	v.qemuErr.Reset()
	v.cmd.Stderr = &v.qemuErr
	out, err := v.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(v.console, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("console log: %w", err)
	}
	v.consoleW = newConsoleWriter(f, v.opts.Echo)
	if err := v.cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", qemu, err)
	}
	v.exited = make(chan struct{})
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(v.consoleW, out)
		close(copied)
	}()
	go func() {
		<-copied
		v.waitErr = v.cmd.Wait()
		v.consoleW.close()
		close(v.exited)
	}()
	return v.connectQMP(qc.QMPSocket)
}

func (v *VM) connectQMP(sock string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-v.exited:
			return vmError(verdict.FaultBoot, "qemu exited at start: "+v.qemuTail(), "")
		default:
		}
		mon, err := qmp.NewSocketMonitor("unix", sock, time.Second)
		if err == nil {
			if err = mon.Connect(); err == nil {
				v.mon = mon
				events, _ := mon.Events(context.Background())
				go v.drainEvents(events)
				return nil
			}
			_ = mon.Disconnect()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("connect to QMP at %s: %w", sock, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// drainEvents reads every QMP event, so QEMU never blocks on the monitor,
// and records them.
func (v *VM) drainEvents(events <-chan qmp.Event) {
	for e := range events {
		desc := e.Event
		if r, ok := e.Data["reason"].(string); ok {
			desc += " (" + r + ")"
		}
		v.mu.Lock()
		v.events = append(v.events, desc)
		v.mu.Unlock()
	}
}

func (v *VM) qemuTail() string {
	s := strings.TrimSpace(v.qemuErr.String())
	if len(s) > 2000 {
		s = s[len(s)-2000:]
	}
	if s == "" {
		return "(qemu printed nothing)"
	}
	return s
}

// waitReady connects to the agent's port as soon as QEMU serves it and
// starts the SSH handshake, which completes when the agent opens its end;
// then it waits for the guest to be ready. The handshake overlaps the
// guest's boot and its last setup steps.
func (v *VM) waitReady(ctx context.Context, sock string, cfg *ssh.ClientConfig) error {
	timer := time.NewTimer(v.opts.BootTimeout)
	defer timer.Stop()
	wait := func(ch <-chan struct{}, what string) error {
		select {
		case <-ch:
			return nil
		case <-v.exited:
			if f := v.consoleW.setupFailed(); f != "" {
				return v.bootFailure("guest setup failed: " + f)
			}
			if v.killedFromOutside() {
				v.failed = true
				return vmError(verdict.FaultQEMUDied, fmt.Sprintf("%v before %s", v.waitErr, what), v.consoleW.tail(20))
			}
			return v.bootFailure("qemu exited before " + what)
		case <-timer.C:
			return v.bootFailure(fmt.Sprintf("no %s after %v", what, v.opts.BootTimeout))
		case <-ctx.Done():
			v.failed = true
			return ctx.Err()
		}
	}
	t0 := time.Now()
	conn, err := net.Dial("unix", sock)
	if err != nil {
		v.failed = true
		return fmt.Errorf("connect to the agent's port at %s: %w", sock, err)
	}
	var (
		client    *ssh.Client
		handErr   error
		handshake = make(chan struct{})
	)
	go func() {
		defer close(handshake)
		sc, chans, reqs, err := ssh.NewClientConn(conn, agentAddr, cfg)
		if err != nil {
			handErr = err
			return
		}
		client = ssh.NewClient(sc, chans, reqs)
	}()
	if err := wait(v.consoleW.listening, "agent"); err != nil {
		conn.Close()
		<-handshake
		return err
	}
	v.timings.Listening = time.Since(t0)
	t0 = time.Now()
	if err := wait(handshake, "SSH"); err != nil {
		conn.Close()
		<-handshake
		return err
	}
	if handErr != nil {
		conn.Close()
		return v.bootFailure(fmt.Sprintf("agent listening but SSH failed: %v", handErr))
	}
	v.client = client
	v.timings.Connected = time.Since(t0)
	t0 = time.Now()
	err = wait(v.consoleW.ready, "ready guest")
	v.timings.Ready = time.Since(t0)
	return err
}

// agentAddr is the address the SSH client names the agent's port by.
const agentAddr = "faultline-agent"

func (v *VM) bootFailure(what string) error {
	v.failed = true
	if v.consoleW.panicked() {
		return vmError(verdict.FaultCrash, "during boot: "+what, v.consoleW.tail(30))
	}
	return vmError(verdict.FaultBoot, what, v.consoleW.tail(30))
}

// Command is a shell command to run in the guest.
type Command struct {
	// Shell is the command line, run with /bin/sh -c; empty for an
	// interactive login shell.
	Shell string
	// Stdin, Stdout and Stderr are connected to the command. When Stdout
	// and Stderr are the same writer, one write at a time reaches it.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Term, if set, asks for a pseudo-terminal of that type and size.
	Term       string
	Rows, Cols int
	// Resize, if set, delivers terminal size changes (rows, cols).
	Resize <-chan [2]int
	// Timeout, if non-zero, bounds the command's run time.
	Timeout time.Duration
	// HangAfter, if non-zero, is the watchdog: when the console has been
	// silent this long, the agent is pinged over SSH, and a guest that
	// does not answer either is declared hung (ErrHang).
	HangAfter time.Duration
}

// sameWriter reports whether a and b are the same writer (values of a type
// that cannot be compared are not).
func sameWriter(a, b io.Writer) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a != nil && a == b
}

// lockedWriter lets one Write at a time through to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Run runs cmd in the guest and returns its exit status.
func (v *VM) Run(ctx context.Context, cmd *Command) (int, error) {
	if v.client == nil {
		return -1, errors.New("VM not booted")
	}
	sess, err := v.client.NewSession()
	if err != nil {
		return -1, v.lost(fmt.Errorf("open session: %w", err))
	}
	defer sess.Close()
	sess.Stdin, sess.Stdout, sess.Stderr = cmd.Stdin, cmd.Stdout, cmd.Stderr
	if sameWriter(cmd.Stdout, cmd.Stderr) {
		// The session copies the two streams from two goroutines; a
		// bytes.Buffer given as both loses what one copy wrote while the
		// other grew it.
		w := &lockedWriter{w: cmd.Stdout}
		sess.Stdout, sess.Stderr = w, w
	}
	if cmd.Term != "" {
		if err := sess.RequestPty(cmd.Term, cmd.Rows, cmd.Cols, ssh.TerminalModes{ssh.ECHO: 1}); err != nil {
			return -1, v.lost(fmt.Errorf("request pty: %w", err))
		}
	}
	if cmd.Shell == "" {
		err = sess.Shell()
	} else {
		err = sess.Start(cmd.Shell)
	}
	if err != nil {
		return -1, v.lost(fmt.Errorf("start command: %w", err))
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	var timeout <-chan time.Time
	if cmd.Timeout > 0 {
		t := time.NewTimer(cmd.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	var watch <-chan time.Time
	if cmd.HangAfter > 0 {
		t := time.NewTicker(max(cmd.HangAfter/4, time.Second))
		defer t.Stop()
		watch = t.C
	}
	for {
		select {
		case <-watch:
			silent := v.consoleW.silentFor()
			if silent < cmd.HangAfter {
				continue
			}
			wait := min(30*time.Second, max(cmd.HangAfter/2, time.Second))
			if v.ping(wait) {
				continue
			}
			v.failed = true
			v.powerReq = true // stopping it is ours, not a guest crash
			v.kill()
			return -1, vmError(verdict.FaultHang, fmt.Sprintf("no console output for %v and no answer from the agent within %v",
				silent.Round(time.Second), wait), v.consoleW.tail(20))
		case err := <-done:
			var ee *ssh.ExitError
			switch {
			case err == nil:
				return 0, nil
			case errors.As(err, &ee):
				return ee.ExitStatus(), nil
			default:
				return -1, v.lost(err)
			}
		case sz := <-cmd.Resize:
			_ = sess.WindowChange(sz[0], sz[1])
		case <-timeout:
			v.failed = true
			_ = sess.Signal(ssh.SIGKILL)
			return -1, vmError(verdict.FaultTimeout, fmt.Sprintf("after %v: %q", cmd.Timeout, cmd.Shell), "")
		case <-ctx.Done():
			v.failed = true
			_ = sess.Signal(ssh.SIGKILL)
			return -1, ctx.Err()
		}
	}
}

// ping asks the agent for a reply over SSH and reports whether one came
// within wait.
func (v *VM) ping(wait time.Duration) bool {
	ok := make(chan bool, 1)
	go func() {
		_, _, err := v.client.SendRequest("keepalive@faultline", true, nil)
		ok <- err == nil
	}()
	select {
	case r := <-ok:
		return r
	case <-time.After(wait):
		return false
	}
}

// lost explains a broken session: a crashed guest, or a dropped connection.
func (v *VM) lost(err error) error {
	v.failed = true
	select {
	case <-v.exited:
	case <-time.After(3 * time.Second):
	}
	if v.Crashed() {
		return vmError(verdict.FaultCrash, "", v.consoleW.tail(40))
	}
	if d := v.consoleW.serverDied(); d != "" {
		return vmError(verdict.FaultLost, fmt.Sprintf("the agent's SSH server died (%q): %v", d, err), "")
	}
	select {
	case <-v.exited:
		if v.killedFromOutside() {
			return vmError(verdict.FaultQEMUDied, fmt.Sprintf("%v while a command ran, without a kernel panic on the console: %v", v.waitErr, err), "")
		}
		return vmError(verdict.FaultCrash, fmt.Sprintf("qemu exited (%v): %v", v.waitErr, err), "")
	default:
	}
	return vmError(verdict.FaultLost, err.Error(), "")
}

// Kept reports whether Close keeps the console: the guest crashed or the
// run failed.
func (v *VM) Kept() bool { return v.opts.ConsolePath != "" || v.failed || v.Crashed() }

// Crashed reports whether the guest kernel panicked, or reset or stopped
// without being asked to power off.
func (v *VM) Crashed() bool {
	if v.consoleW != nil && v.consoleW.panicked() {
		return true
	}
	if v.consoleW != nil && v.consoleW.agentPanicked() {
		return false // the kernel's panic and reset were for the agent's death
	}
	for _, e := range v.Events() {
		if strings.HasPrefix(e, "GUEST_PANICKED") || e == "SHUTDOWN (guest-reset)" {
			return true
		}
	}
	if v.exited != nil && !v.powerReq {
		select {
		case <-v.exited:
			return !v.killedFromOutside() && v.consoleW.serverDied() == ""
		default:
		}
	}
	return false
}

// killedFromOutside reports whether QEMU ended by a signal faultline did
// not send (after it exited).
func (v *VM) killedFromOutside() bool {
	var ee *exec.ExitError
	if v.powerReq || !errors.As(v.waitErr, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled()
}

// ConsoleErr returns the first error writing the console file (a full
// disk), or nil. The copy goes on regardless, so the guest never blocks.
func (v *VM) ConsoleErr() error {
	if v.consoleW == nil {
		return nil
	}
	return v.consoleW.err()
}

// Close powers the guest off and removes the VM's files; QEMU is always
// reaped, killed if it does not stop. The console is kept if the guest
// crashed, the run failed (boot failure, timeout, lost connection), or
// Options.ConsolePath named it.
func (v *VM) Close() error {
	if v.closed {
		return nil
	}
	v.closed = true
	if v.cmd != nil {
		v.stop()
	}
	if v.dir == "" {
		return nil
	}
	var kept error
	if v.opts.ConsolePath == "" && (v.failed || v.Crashed()) {
		dst := filepath.Join(os.TempDir(), "faultline-console-"+strconv.FormatInt(time.Now().UnixNano(), 36)+".log")
		if err := os.Rename(v.console, dst); err == nil {
			v.console = dst
		} else {
			kept = fmt.Errorf("keep console: %w", err)
		}
	}
	if err := os.RemoveAll(v.dir); err != nil && kept == nil {
		kept = fmt.Errorf("remove VM directory: %w", err)
	}
	return kept
}

// stop asks the agent to power off, then QMP to quit, then kills QEMU.
func (v *VM) stop() {
	t0 := time.Now()
	defer func() { v.timings.Shutdown = time.Since(t0) }()
	if v.client != nil {
		select {
		case <-v.exited:
		default:
			v.powerReq = true
			sent := make(chan error, 1)
			go func() { _, _, err := v.client.SendRequest(pid1.PoweroffRequest, true, nil); sent <- err }()
			// A dead connection fails the request at once: go to QMP
			// without waiting for a power-off that will not come.
			select {
			case err := <-sent:
				if err == nil && !v.waitExit(15*time.Second) {
					v.opts.Progress("guest did not power off; asking QEMU to quit")
				}
			case <-v.exited:
			case <-time.After(15 * time.Second):
				v.opts.Progress("agent did not answer the power-off request; asking QEMU to quit")
			}
		}
		v.client.Close()
	}
	if v.mon != nil {
		select {
		case <-v.exited:
		default:
			v.powerReq = true
			_, _ = v.mon.Run([]byte(`{"execute":"quit"}`))
			v.waitExit(5 * time.Second)
		}
		_ = v.mon.Disconnect()
	}
	v.kill()
}

func (v *VM) waitExit(d time.Duration) bool {
	select {
	case <-v.exited:
		return true
	case <-time.After(d):
		return false
	}
}

// kill ends QEMU for sure and waits for it.
func (v *VM) kill() {
	if v.cmd == nil || v.cmd.Process == nil {
		return
	}
	select {
	case <-v.exited:
		return
	default:
	}
	_ = syscall.Kill(-v.cmd.Process.Pid, syscall.SIGKILL)
	_ = v.cmd.Process.Kill()
	<-v.exited
}
