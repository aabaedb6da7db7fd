package pid1

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"
)

// PoweroffRequest is the SSH global request that asks the agent to sync and
// power the guest off.
const PoweroffRequest = "poweroff@faultline"

// serve runs the agent's SSH server until the guest is powered off. It opens
// the virtio-serial port as soon as it appears, says so on the console, and
// serves one SSH connection at a time on it (SSH multiplexes every channel
// the controller needs over that one connection). It runs in PID 1: when it
// cannot go on (or a handler it runs panics) it says why and powers off.
func serve(cfg *Config) {
	defer serverPanic()
	trace("server: start")
	srv, err := NewServerConfig(cfg)
	if err != nil {
		serverFailed(err)
	}
	dev, err := findPort(cfg.Port, 20*time.Second)
	if err != nil {
		failSetup(err)
	}
	announced := false
	for {
		f, err := openPort(dev, 2*time.Second)
		if poweringOff.Load() {
			select {} // the guest is going down: nothing more to serve
		}
		if err != nil {
			serverFailed(err) // names the port
		}
		if !announced {
			statusLine(ListeningLine)
			announced = true
		}
		// Reading a port whose host end is not connected returns EOF at
		// once: the handshake fails, and the port is opened again.
		if !serveConn(&portConn{f: f}, srv) {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// openPort opens the port's device. A port stays busy until the last
// reference to its previous open is gone, which can come just after Close
// returned (a read still in flight): a busy port is tried again for up to
// patience.
func openPort(dev string, patience time.Duration) (*os.File, error) {
	deadline := time.Now().Add(patience)
	for {
		f, err := openFile(dev, os.O_RDWR, 0)
		if err == nil || !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return f, err
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// openFile is os.OpenFile; tests replace it.
var openFile = os.OpenFile

// serverFailed says why the server stops, on the console, and powers off.
func serverFailed(err error) {
	statusLine(fmt.Sprintf("%s (%v); powering off", ServerExitedPrefix, err))
	poweroff()
}

// serverPanic, deferred at the top of each of the server's goroutines, turns
// a panic into the server's failure: without it, PID 1 would exit and the
// kernel panic, which would read as a kernel crash.
func serverPanic() {
	if r := recover(); r != nil {
		serverFailed(fmt.Errorf("panic: %v\n%s", r, debug.Stack()))
	}
}

// findPort waits for the virtio-serial port named name and returns its
// device node. Without udev the node is /dev/vportNpM; sysfs names it.
func findPort(name string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		ents, _ := os.ReadDir("/sys/class/virtio-ports")
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join("/sys/class/virtio-ports", e.Name(), "name"))
			if err == nil && strings.TrimSpace(string(b)) == name {
				return "/dev/" + e.Name(), nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("virtio-serial port %q did not appear within %v (the kernel needs virtio_console: CONFIG_VIRTIO_CONSOLE)", name, timeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// portConn is a virtio-serial port as a net.Conn for the SSH server.
type portConn struct{ f *os.File }

func (c *portConn) Read(b []byte) (int, error)         { return c.f.Read(b) }
func (c *portConn) Write(b []byte) (int, error)        { return c.f.Write(b) }
func (c *portConn) Close() error                       { return c.f.Close() }
func (c *portConn) LocalAddr() net.Addr                { return portAddr{} }
func (c *portConn) RemoteAddr() net.Addr               { return portAddr{} }
func (c *portConn) SetDeadline(t time.Time) error      { return c.f.SetDeadline(t) }
func (c *portConn) SetReadDeadline(t time.Time) error  { return c.f.SetReadDeadline(t) }
func (c *portConn) SetWriteDeadline(t time.Time) error { return c.f.SetWriteDeadline(t) }

type portAddr struct{}

func (portAddr) Network() string { return "virtio-serial" }
func (portAddr) String() string  { return PortName }

// NewServerConfig makes the SSH server configuration: the controller's host
// key, and public-key authentication with the one authorized key.
func NewServerConfig(cfg *Config) (*ssh.ServerConfig, error) {
	hostKey, err := ssh.ParsePrivateKey([]byte(cfg.HostKey))
	if err != nil {
		return nil, fmt.Errorf("parse host key: %w", err)
	}
	authorized, _, _, _, err := ssh.ParseAuthorizedKey([]byte(cfg.AuthorizedKey))
	if err != nil {
		return nil, fmt.Errorf("parse authorized key: %w", err)
	}
	want := authorized.Marshal()
	srv := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if bytes.Equal(key.Marshal(), want) {
				return &ssh.Permissions{}, nil
			}
			return nil, fmt.Errorf("key not authorized")
		},
	}
	srv.AddHostKey(hostKey)
	return srv, nil
}

// serveConn serves one SSH connection until it ends; false when the
// handshake failed.
func serveConn(c net.Conn, srv *ssh.ServerConfig) bool {
	conn, chans, reqs, err := ssh.NewServerConn(c, srv)
	if err != nil {
		c.Close()
		return false
	}
	trace("server: handshake done")
	defer conn.Close()
	go func() {
		defer serverPanic()
		for r := range reqs {
			if r.Type == PoweroffRequest {
				_ = r.Reply(true, nil)
				conn.Close()
				poweroff()
			}
			if r.WantReply {
				_ = r.Reply(false, nil)
			}
		}
	}()
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only session channels")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		go (&session{ch: ch}).serve(creqs)
	}
	return true
}

type session struct {
	ch   ssh.Channel
	env  []string
	term string
	rows uint16
	cols uint16
	pty  bool

	mu   sync.Mutex
	cmd  *exec.Cmd
	ptmx *os.File
	done atomic.Bool // the command has been waited for
}

var baseEnv = []string{
	"PATH=/bin:/sbin:/usr/bin:/usr/sbin",
	"HOME=/root",
	"SHELL=/bin/sh",
	"USER=root",
}

func (s *session) serve(reqs <-chan *ssh.Request) {
	defer serverPanic()
	defer s.kill()
	for r := range reqs {
		ok := false
		switch r.Type {
		case "pty-req":
			var p struct {
				Term                 string
				Cols, Rows, PxW, PxH uint32
				Modes                string
			}
			if ssh.Unmarshal(r.Payload, &p) == nil {
				s.pty, s.term, s.cols, s.rows, ok = true, p.Term, uint16(p.Cols), uint16(p.Rows), true
			}
		case "window-change":
			var p struct{ Cols, Rows, PxW, PxH uint32 }
			if ssh.Unmarshal(r.Payload, &p) == nil {
				s.mu.Lock()
				if s.ptmx != nil {
					_ = pty.Setsize(s.ptmx, &pty.Winsize{Rows: uint16(p.Rows), Cols: uint16(p.Cols)})
				}
				s.mu.Unlock()
				ok = true
			}
		case "env":
			var p struct{ Name, Value string }
			if ssh.Unmarshal(r.Payload, &p) == nil {
				s.env = append(s.env, p.Name+"="+p.Value)
				ok = true
			}
		case "signal":
			var p struct{ Signal string }
			if ssh.Unmarshal(r.Payload, &p) == nil {
				ok = s.signal(p.Signal)
			}
		case "exec", "shell":
			var p struct{ Command string }
			if r.Type == "exec" && ssh.Unmarshal(r.Payload, &p) != nil {
				break
			}
			ok = s.start(p.Command) == nil
		}
		if r.WantReply {
			_ = r.Reply(ok, nil)
		}
	}
}

func (s *session) start(command string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return fmt.Errorf("session already runs a command")
	}
	args := []string{"-l"}
	if command != "" {
		args = []string{"-c", command}
	}
	cmd := exec.Command("/bin/sh", args...)
	cmd.Env = append(append([]string{}, baseEnv...), s.env...)
	if s.term != "" {
		cmd.Env = append(cmd.Env, "TERM="+s.term)
	}
	if st, err := os.Stat(ScratchDir); err == nil && st.IsDir() {
		cmd.Dir = ScratchDir
	}
	s.cmd = cmd
	if s.pty {
		var ptmx *os.File
		err := startChild(cmd, func() (err error) {
			ptmx, err = pty.StartWithSize(cmd, &pty.Winsize{Rows: s.rows, Cols: s.cols})
			return err
		})
		if err != nil {
			s.exit(127)
			return err
		}
		s.ptmx = ptmx
		go func() { _, _ = io.Copy(ptmx, s.ch) }()
		go func() {
			defer serverPanic()
			_, _ = io.Copy(s.ch, ptmx) // ends with EIO once the shell and its children are gone
			err := waitChild(cmd)
			s.done.Store(true)
			s.exit(exitCode(err))
		}()
		return nil
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdout = s.ch
	cmd.Stderr = s.ch.Stderr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := startChild(cmd, cmd.Start); err != nil {
		s.exit(127)
		return err
	}
	// Not waited for: the client's stdin may never end.
	go func() { _, _ = io.Copy(stdin, s.ch); stdin.Close() }()
	go func() {
		defer serverPanic()
		err := waitChild(cmd)
		s.done.Store(true)
		s.exit(exitCode(err))
	}()
	return nil
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return 255
}

func (s *session) exit(code int) {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(code))
	_, _ = s.ch.SendRequest("exit-status", false, b[:])
	_ = s.ch.Close()
}

var signals = map[string]syscall.Signal{
	"ABRT": unix.SIGABRT, "ALRM": unix.SIGALRM, "FPE": unix.SIGFPE, "HUP": unix.SIGHUP,
	"ILL": unix.SIGILL, "INT": unix.SIGINT, "KILL": unix.SIGKILL, "PIPE": unix.SIGPIPE,
	"QUIT": unix.SIGQUIT, "SEGV": unix.SIGSEGV, "TERM": unix.SIGTERM, "USR1": unix.SIGUSR1,
	"USR2": unix.SIGUSR2,
}

func (s *session) signal(name string) bool {
	sig, ok := signals[name]
	s.mu.Lock()
	defer s.mu.Unlock()
	if !ok || s.cmd == nil || s.cmd.Process == nil {
		return false
	}
	return unix.Kill(-s.cmd.Process.Pid, sig) == nil
}

// kill ends the session's process group when the client goes away.
func (s *session) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil && s.cmd.Process != nil && !s.done.Load() {
		_ = unix.Kill(-s.cmd.Process.Pid, unix.SIGKILL)
	}
}
