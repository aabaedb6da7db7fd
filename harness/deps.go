// Package harness is faultline's controller: it boots a kernel in QEMU with
// the guest agent, talks to the agent over SSH and to QEMU over QMP, captures
// the console, and always leaves no QEMU process behind.
package harness

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
)

// ErrMissingTool is returned when a host program faultline needs is not
// installed.
var ErrMissingTool = errors.New("missing tool")

// Tool is a host program and the Debian package that provides it.
type Tool struct {
	// Name is the program name looked up in PATH (or an absolute path).
	Name string
	// Package is the Debian package that installs it.
	Package string
	// Paths are extra absolute paths to try when Name is not in PATH.
	Paths []string
}

// Well-known tools.
var (
	ToolQEMU     = Tool{Name: "qemu-system-x86_64", Package: "qemu-system-x86"}
	ToolMkfsBtrf = Tool{Name: "mkfs.btrfs", Package: "btrfs-progs", Paths: []string{"/usr/sbin/mkfs.btrfs", "/sbin/mkfs.btrfs"}}
	ToolMkfsExt4 = Tool{Name: "mkfs.ext4", Package: "e2fsprogs", Paths: []string{"/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4"}}
	ToolBusybox  = Tool{Name: "/bin/busybox", Package: "busybox-static", Paths: []string{"/usr/bin/busybox"}}
)

// InstallHint is the command that installs pkgs on a Debian host.
func InstallHint(pkgs ...string) string {
	cmd := "apt-get install -y"
	if os.Geteuid() != 0 {
		cmd = "sudo " + cmd
	}
	for _, p := range pkgs {
		cmd += " " + p
	}
	return cmd
}

// Find returns the tool's path, or an ErrMissingTool error naming the
// package and the install command.
func (t Tool) Find() (string, error) {
	if p, err := exec.LookPath(t.Name); err == nil {
		return p, nil
	}
	for _, p := range t.Paths {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: %s not found; it is in Debian's %s package: %s", ErrMissingTool, t.Name, t.Package, InstallHint(t.Package))
}
