package harness

import (
	"faultline/kernels"

	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"faultline/guest/pid1"
)

func TestQEMUArgs(t *testing.T) {
	c := &QEMUConfig{
		Kernel: "/k/vmlinuz", Initrd: "/c/ir.cpio", Cmdline: []string{"console=ttyS0", "panic=-1"},
		Accel: "tcg", CPUs: 2, MemoryMB: 1024, Disks: []string{"/tmp/a,b.img"},
		AgentSocket: "/tmp/vm/agent.sock", QMPSocket: "/tmp/q.sock",
	}
	got := strings.Join(c.Args(), " ")
	for _, want := range []string{
		"-accel tcg,thread=multi -cpu max",
		"-smp 2 -m 1024M",
		"-kernel /k/vmlinuz -initrd /c/ir.cpio -append console=ttyS0 panic=-1",
		"-no-reboot",
		"-drive file=/tmp/a,,b.img,if=none,id=disk0,format=raw",
		"-device virtio-blk-pci,drive=disk0",
		"-device virtio-serial-pci,id=vser0 -chardev socket,id=agent,path=/tmp/vm/agent.sock,server=on,wait=off -device virtserialport,bus=vser0.0,chardev=agent,name=faultline.agent",
		"-chardev socket,id=qmp,path=/tmp/q.sock,server=on,wait=off -mon chardev=qmp,mode=control",
		"-serial chardev:con",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("args lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "netdev") || strings.Contains(got, "hostfwd") {
		t.Errorf("a guest without --net has a network device: %s", got)
	}
	// PCI slots follow the command line: the agent's port before the disk,
	// so the guest's virtio_pci brings it up first.
	if p, d := strings.Index(got, "virtio-serial-pci"), strings.Index(got, "virtio-blk-pci"); p < 0 || d < 0 || p > d {
		t.Errorf("the agent's port must come before the disk on the command line: %s", got)
	}
	c.Net = true
	if got := strings.Join(c.Args(), " "); !strings.Contains(got, "-netdev user,id=net0 -device virtio-net-pci,netdev=net0") || strings.Contains(got, "hostfwd") {
		t.Errorf("--net: want a user-mode network with nothing forwarded: %s", got)
	}
	c.CPUModel = "max,erms=off,fsrm=off"
	if got := strings.Join(c.Args(), " "); !strings.Contains(got, "-cpu max,erms=off,fsrm=off") {
		t.Errorf("cpu model not passed: %s", got)
	}
	c.Accel = "kvm"
	if a := c.Args(); !slices.Contains(a, "kvm") || slices.Contains(a, "tcg,thread=multi") || !slices.Contains(a, "host") {
		t.Errorf("kvm args (the cpu model is host under KVM): %v", a)
	}
	c.NUMANodes, c.CPUs, c.MemoryMB = 2, 2, 2048
	got = strings.Join(c.Args(), " ")
	for _, want := range []string{
		"-object memory-backend-ram,id=mem0,size=1024M -numa node,nodeid=0,memdev=mem0,cpus=0-0",
		"-numa node,nodeid=1,memdev=mem1,cpus=1-1",
		"-smp 2,sockets=2,cores=1,threads=1",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("numa args lack %q:\n%s", want, got)
		}
	}
}

// handshake runs the agent's SSH server config against a client config over
// an in-memory connection and returns the client's error.
func handshake(t *testing.T, serverHost, serverAuthorized, clientKey *KeyPair, pinned ssh.PublicKey) error {
	t.Helper()
	srv, err := pid1.NewServerConfig(&pid1.Config{HostKey: string(serverHost.PEM), AuthorizedKey: serverAuthorized.Public()})
	if err != nil {
		t.Fatal(err)
	}
	// A real socket: net.Pipe is unbuffered and both sides write their
	// version line first.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	b, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	a, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	go func() {
		if c, _, _, err := ssh.NewServerConn(a, srv); err == nil {
			c.Close()
		}
		a.Close()
	}()
	c, _, _, err := ssh.NewClientConn(b, "guest", ClientConfig(clientKey, pinned, 5*time.Second))
	if err == nil {
		c.Close()
	}
	return err
}

func TestSSHAuth(t *testing.T) {
	host, client, other := mustKey(t), mustKey(t), mustKey(t)
	if err := handshake(t, host, client, client, host.Signer.PublicKey()); err != nil {
		t.Fatalf("good keys refused: %v", err)
	}
	if err := handshake(t, host, client, client, other.Signer.PublicKey()); err == nil || !strings.Contains(err.Error(), "host key mismatch") {
		t.Errorf("wrong pinned host key accepted: %v", err)
	}
	if err := handshake(t, host, client, other, host.Signer.PublicKey()); err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Errorf("unauthorized client key accepted: %v", err)
	}
}

func mustKey(t *testing.T) *KeyPair {
	k, err := NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestMissingToolNamesPackage(t *testing.T) {
	_, err := Tool{Name: "no-such-tool-xyz", Package: "some-pkg"}.Find()
	if err == nil || !strings.Contains(err.Error(), "some-pkg") || !strings.Contains(err.Error(), "apt-get install") {
		t.Errorf("Find = %v; want the package and install command", err)
	}
}

func TestConsoleWriter(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "console")
	if err != nil {
		t.Fatal(err)
	}
	c := newConsoleWriter(f, nil)
	for _, chunk := range []string{"[ 1.0] boot\r\nfaultline-ag", "ent: ready\n[ 2.0] Kernel panic - not", " syncing: sysrq\n"} {
		if n, err := c.Write([]byte(chunk)); n != len(chunk) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	select {
	case <-c.ready:
	default:
		t.Error("ready line split over two writes not seen")
	}
	if !c.panicked() {
		t.Error("panic line not seen")
	}
	if tail := c.tail(1); !strings.Contains(tail, "Kernel panic") {
		t.Errorf("tail(1) = %q", tail)
	}
	c.close()
	b, _ := os.ReadFile(f.Name())
	if !strings.HasPrefix(string(b), "[ 1.0] boot") || !strings.HasSuffix(string(b), "sysrq\n") {
		t.Errorf("console file = %q", b)
	}
}

// TestConsoleAgentPanic: a Go panic in the agent (PID 1) makes the kernel
// panic for init's death; that is the agent's failure, not a kernel crash.
// A kernel panic before it, or a fault the kernel sent, stays a crash.
func TestConsoleAgentPanic(t *testing.T) {
	for _, tc := range []struct {
		name    string
		console string
		crash   bool
	}{
		{"agent panic", "panic: runtime error: index out of range [3] with length 3\r\n\r\ngoroutine 7 [running]:\r\n" +
			"[ 9.1] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000200\n[ 9.2] ---[ end Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000200 ]---\n", false},
		{"kernel fault in the agent", "fatal error: unexpected signal during runtime execution\r\n[signal SIGSEGV: segmentation violation]\r\n" +
			"[ 9.1] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000200\n", true},
		{"kernel panic first", "[ 8.0] Kernel panic - not syncing: Fatal exception\npanic: later\n[ 9.1] Kernel panic - not syncing: Attempted to kill init!\n", true},
		{"oops", "[ 8.0] BUG: kernel NULL pointer dereference, address: 0000000000000008\n[ 8.1] Kernel panic - not syncing: Fatal exception\n", true},
	} {
		f, err := os.CreateTemp(t.TempDir(), "console")
		if err != nil {
			t.Fatal(err)
		}
		c := newConsoleWriter(f, nil)
		_, _ = c.Write([]byte(tc.console))
		if c.panicked() != tc.crash || c.agentPanicked() == tc.crash {
			t.Errorf("%s: panicked %v, agent panicked %v; want a kernel crash: %v", tc.name, c.panicked(), c.agentPanicked(), tc.crash)
		}
		if !tc.crash && !strings.Contains(c.serverDied(), "index out of range") {
			t.Errorf("%s: serverDied %q does not name the panic", tc.name, c.serverDied())
		}
		c.close()
	}
}

// TestNewRefusesBadOptions checks that New names what is wrong with its
// options before anything is started.
func TestNewRefusesBadOptions(t *testing.T) {
	k := &kernels.Kernel{Name: "test"}
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"no kernel", Options{}, "no kernel"},
		{"bad fs", Options{Kernel: k, FS: "xfs"}, "unknown filesystem"},
		{"bad accel", Options{Kernel: k, Accel: "hvf"}, "unknown accelerator"},
		{"bad cpu model", Options{Kernel: k, CPUModel: "max erms=off"}, "bad CPU model"},
		{"quiet", Options{Kernel: k, Cmdline: []string{"quiet"}}, "hides the agent"},
	} {
		if _, err := New(tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want one naming %q", tc.name, err, tc.want)
		}
	}
	if _, err := New(Options{Kernel: k, CPUModel: "max,erms=off,fsrm=off"}); err != nil {
		t.Errorf("good options refused: %v", err)
	}
}
