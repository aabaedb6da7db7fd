package harness

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSerialTransport boots the stock kernel without a network and checks
// the agent's transport: QEMU has no TCP listener (nothing another local
// user could connect to), the port's socket lives in a directory only the
// user can enter, several commands share the one SSH connection, PID 1
// reaps orphans without taking a command's own status, and 8 MiB cross the
// port intact in both directions.
func TestSerialTransport(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a VM")
	}
	k, agent := testKernelAndAgent(t)
	vm, err := New(Options{Kernel: k, Agent: agent, CPUs: 1, MemoryMB: 512, Accel: "tcg"})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	ctx := context.Background()
	if err := vm.Boot(ctx); err != nil {
		t.Fatal(err)
	}
	if l := tcpListeners(t, vm.cmd.Process.Pid); len(l) > 0 {
		t.Errorf("QEMU listens on TCP: %v", l)
	}
	st, err := os.Stat(filepath.Dir(filepath.Join(vm.dir, "agent.sock")))
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("VM directory %s: %v, mode %v; want 0700", vm.dir, err, st.Mode().Perm())
	}
	var out bytes.Buffer
	if code, err := vm.Run(ctx, &Command{Shell: "ls /sys/class/net; test ! -e /sys/class/net/eth0", Stdout: &out, Stderr: &out}); err != nil || code != 0 {
		t.Errorf("guest without --net: %d, %v: %s", code, err, out.String())
	}
	// PID 1 serves SSH and reaps orphans: the orphans of a command are
	// reaped, and each command's own status still reaches its session
	// (the reaper never takes a child the server waits for).
	for i, want := range []int{0, 3, 0, 7} {
		out.Reset()
		cmd := "(sleep 0.2; exit 1) & (true &); sleep 0.05; exit " + strconv.Itoa(want)
		if i == 3 {
			cmd = "sleep 0.5; ps -o pid,ppid,stat,comm | awk '$3 ~ /^Z/' | grep . && exit 9; exit 7"
		}
		if code, err := vm.Run(ctx, &Command{Shell: cmd, Stdout: &out, Stderr: &out}); err != nil || code != want {
			t.Errorf("command %d: exit %d, %v (want %d): %s", i, code, err, want, out.String())
		}
	}
	// A command on a pseudo-terminal (faultline vm's interactive shell):
	// it runs on a terminal, its output arrives (one buffer for both
	// streams), and its status comes back through the same reaping rules.
	for i := 0; i < 3; i++ {
		out.Reset()
		code, err := vm.Run(ctx, &Command{Shell: "test -t 0 || exit 9; tty; echo hello; exit 5", Term: "xterm", Rows: 24, Cols: 80,
			Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out})
		if err != nil || code != 5 || !strings.Contains(out.String(), "/dev/pts/") || !strings.HasSuffix(out.String(), "hello\r\n") {
			t.Errorf("command on a pty: exit %d, %v (want 5): %q", code, err, out.String())
		}
	}
	data := make([]byte, 8<<20)
	for i := range data {
		data[i] = byte(i*7 + i>>11)
	}
	sum := sha256.Sum256(data)
	out.Reset()
	code, err := vm.Run(ctx, &Command{Shell: "sha256sum | cut -d' ' -f1", Stdin: bytes.NewReader(data), Stdout: &out, Stderr: os.Stderr})
	if err != nil || code != 0 || strings.TrimSpace(out.String()) != hex.EncodeToString(sum[:]) {
		t.Errorf("8 MiB to the guest: %d, %v, sum %q, want %x", code, err, out.String(), sum)
	}
	out.Reset()
	code, err = vm.Run(ctx, &Command{Shell: "head -c 8388608 /dev/zero", Stdout: &out, Stderr: os.Stderr, Timeout: time.Minute})
	if err != nil || code != 0 || out.Len() != 8<<20 || bytes.Count(out.Bytes(), []byte{0}) != 8<<20 {
		t.Errorf("8 MiB from the guest: %d, %v, %d bytes", code, err, out.Len())
	}
}

// tcpListeners returns the listening TCP sockets pid holds, as lines of
// /proc/net/tcp{,6}.
func tcpListeners(t *testing.T, pid int) []string {
	t.Helper()
	inodes := map[string]bool{}
	fds, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "fd"))
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		l, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "fd", fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var found []string
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// sl local rem st tx:rx tr:when retrnsmt uid timeout inode
			fields := strings.Fields(sc.Text())
			if len(fields) > 9 && fields[3] == "0A" && inodes[fields[9]] {
				found = append(found, sc.Text())
			}
		}
		f.Close()
	}
	return found
}
