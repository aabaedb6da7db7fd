//go:build !faultline_agent

package guest

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/cavaliergopher/cpio"

	"faultline/guest/pid1"
	"faultline/kernels"
)

// WithConfig writes to out the initramfs base followed by a second cpio
// archive that holds config at pid1.ConfigPath (mode 0600). The kernel unpacks
// concatenated archives in order, so the guest sees both.
func WithConfig(base, out string, config []byte) error {
	src, err := os.Open(base)
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	defer src.Close()
	dst, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("initramfs with config: %w", err)
	}
	n, err := io.Copy(dst, src)
	if err == nil && n%4 != 0 {
		// newc archives start 4-byte aligned.
		_, err = dst.Write(make([]byte, 4-n%4))
	}
	if err == nil {
		cw := cpio.NewWriter(dst)
		name := strings.TrimPrefix(pid1.ConfigPath, "/")
		for _, d := range []string{filepath.Dir(filepath.Dir(name)), filepath.Dir(name)} {
			if err = cw.WriteHeader(&cpio.Header{Name: d, Mode: cpio.TypeDir | 0o755}); err != nil {
				break
			}
		}
		if err == nil {
			err = cw.WriteHeader(&cpio.Header{Name: name, Mode: cpio.TypeReg | 0o600, Size: int64(len(config))})
		}
		if err == nil {
			_, err = cw.Write(config)
		}
		if err == nil {
			err = cw.Close()
		}
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("initramfs with config %s: %w", out, err)
	}
	return nil
}

// ErrNotStatic is returned when a binary meant for the initramfs is
// dynamically linked.
var ErrNotStatic = errors.New("binary is not statically linked")

// CheckStatic returns ErrNotStatic if the ELF file at path asks for a dynamic
// loader.
func CheckStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s: %w", path, ErrNotStatic)
		}
	}
	return nil
}

// Initramfs describes the initramfs a VM boots from.
type Initramfs struct {
	// Agent is the static faultline binary that becomes /init (PID 1,
	// guest/pid1) and the guest's faultline and workload commands.
	Agent string
	// Busybox is a static busybox (Debian's busybox-static) for the shell
	// and standard tools.
	Busybox string
	// Modules are loaded by the agent in this order.
	Modules []*kernels.Module
	// ModulesDir is the directory the module paths are relative to.
	ModulesDir string
	// Requires maps a module name to the modules it must wait for
	// (kernels.ModuleIndex.Requires); the agent loads the rest in parallel.
	Requires map[string][]string
}

// Build writes the initramfs (newc cpio, uncompressed: under TCG unpacking is
// cheaper than decompressing) into cacheDir, named by a hash of its inputs,
// and returns its path. An existing archive with the same inputs is reused.
func (ir *Initramfs) Build(cacheDir string) (string, error) {
	key, err := ir.key()
	if err != nil {
		return "", err
	}
	out := filepath.Join(cacheDir, "initramfs-"+key+".cpio")
	if _, err := os.Stat(out); err == nil {
		// Its modification time is its last use (PruneInitramfs).
		now := time.Now()
		_ = os.Chtimes(out, now, now)
		return out, nil
	}
	PruneInitramfs(cacheDir, InitramfsMaxAge, InitramfsMaxBytes)
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("initramfs cache: %w", err)
	}
	tmp, err := os.CreateTemp(cacheDir, ".initramfs-")
	if err != nil {
		return "", fmt.Errorf("initramfs cache: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := ir.write(tmp); err != nil {
		tmp.Close()
		return "", fmt.Errorf("write initramfs: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("write initramfs: %w", err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return "", fmt.Errorf("write initramfs: %w", err)
	}
	return out, nil
}

// InitramfsMaxAge is how long a cached initramfs is kept after its last use.
// Every build of the agent makes new ones (one per kernel and filesystem),
// so without pruning the cache grows by 9-28 MB per build and kernel.
const InitramfsMaxAge = 7 * 24 * time.Hour

// InitramfsMaxBytes caps the cache: past it, the least recently used
// archives go first (a developer rebuilding the agent all day otherwise
// fills gigabytes within the week).
const InitramfsMaxBytes = 2 << 30

// PruneInitramfs removes the cached initramfs files in cacheDir last used
// more than maxAge ago, then the least recently used ones until the rest
// take at most maxBytes, and returns how many it removed. A VM that booted
// from one keeps its own copy (WithConfig), so removing is always safe.
func PruneInitramfs(cacheDir string, maxAge time.Duration, maxBytes int64) int {
	ents, err := os.ReadDir(cacheDir)
	if err != nil {
		return 0
	}
	type file struct {
		name string
		size int64
		used time.Time
	}
	var keep []file
	var total int64
	n := 0
	remove := func(name string) {
		if os.Remove(filepath.Join(cacheDir, name)) == nil {
			n++
		}
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "initramfs-") || !strings.HasSuffix(e.Name(), ".cpio") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		if time.Since(info.ModTime()) >= maxAge {
			remove(e.Name())
			continue
		}
		keep = append(keep, file{e.Name(), info.Size(), info.ModTime()})
		total += info.Size()
	}
	// Oldest use first.
	sort.Slice(keep, func(a, b int) bool { return keep[a].used.Before(keep[b].used) })
	for _, f := range keep {
		if total <= maxBytes {
			break
		}
		remove(f.name)
		total -= f.size
	}
	return n
}

// key hashes the identity of every input: path, size and modification time
// of each file (the kernel cache is immutable; the agent changes with every
// build and so does its mtime).
func (ir *Initramfs) key() (string, error) {
	h := sha256.New()
	add := func(p string) error {
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("initramfs input: %w", err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00%d\n", p, st.Size(), st.ModTime().UnixNano())
		return nil
	}
	fmt.Fprintf(h, "layout 5\n")
	if err := add(ir.Agent); err != nil {
		return "", err
	}
	if err := add(ir.Busybox); err != nil {
		return "", err
	}
	for _, m := range ir.Modules {
		if err := add(filepath.Join(ir.ModulesDir, m.Path)); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:24], nil
}

func (ir *Initramfs) write(w io.Writer) error {
	cw := cpio.NewWriter(w)
	dir := func(name string) error {
		return cw.WriteHeader(&cpio.Header{Name: name, Mode: cpio.TypeDir | 0o755})
	}
	file := func(name string, mode cpio.FileMode, data []byte) error {
		if err := cw.WriteHeader(&cpio.Header{Name: name, Mode: cpio.TypeReg | mode, Size: int64(len(data))}); err != nil {
			return err
		}
		_, err := cw.Write(data)
		return err
	}
	for _, d := range []string{"bin", "sbin", "dev", "etc", "lib", "lib/modules", "mnt", "mnt/scratch",
		"proc", "root", "run", "sys", "tmp", "usr", "usr/bin", "usr/sbin", "var"} {
		if err := dir(d); err != nil {
			return err
		}
	}
	// No /dev/console node: the cpio writer cannot record device numbers, so
	// the agent opens the console itself once devtmpfs is mounted.
	agent, err := os.ReadFile(ir.Agent)
	if err != nil {
		return err
	}
	if err := file("init", 0o755, agent); err != nil {
		return err
	}
	// The agent binary is also the guest's "workload" command.
	for _, l := range []string{"bin/workload", "bin/faultline"} {
		if err := cw.WriteHeader(&cpio.Header{Name: l, Mode: cpio.TypeSymlink | 0o777, Size: int64(len("../init"))}); err != nil {
			return err
		}
		if _, err := cw.Write([]byte("../init")); err != nil {
			return err
		}
	}
	bb, err := os.ReadFile(ir.Busybox)
	if err != nil {
		return err
	}
	if err := file("bin/busybox", 0o755, bb); err != nil {
		return err
	}
	// One symlink per applet, made here rather than by "busybox --install"
	// at every boot.
	applets, err := exec.Command(ir.Busybox, "--list-full").Output()
	if err != nil {
		return fmt.Errorf("%s --list-full: %w", ir.Busybox, err)
	}
	seen := map[string]bool{"bin/busybox": true}
	for _, a := range strings.Fields(string(applets)) {
		dir := filepath.Dir(a)
		if seen[a] || strings.Contains(a, "..") || (dir != "bin" && dir != "sbin" && dir != "usr/bin" && dir != "usr/sbin") {
			continue
		}
		seen[a] = true
		target := strings.Repeat("../", strings.Count(a, "/")) + "bin/busybox"
		if err := cw.WriteHeader(&cpio.Header{Name: a, Mode: cpio.TypeSymlink | 0o777, Size: int64(len(target))}); err != nil {
			return err
		}
		if _, err := cw.Write([]byte(target)); err != nil {
			return err
		}
	}
	if err := file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\n")); err != nil {
		return err
	}
	if err := file("etc/group", 0o644, []byte("root:x:0:\n")); err != nil {
		return err
	}
	// The order file lists one module a line, dependencies first, with the
	// names of the modules it must wait for: "PATH NAME DEP,DEP".
	var order strings.Builder
	in := map[string]bool{}
	for _, m := range ir.Modules {
		in[m.Name] = true
	}
	for i, m := range ir.Modules {
		data, err := kernels.ReadModuleFile(filepath.Join(ir.ModulesDir, m.Path))
		if err != nil {
			return err
		}
		data = stripSignature(data)
		name := fmt.Sprintf("lib/modules/%03d-%s.ko", i, m.Name)
		if err := file(name, 0o644, data); err != nil {
			return err
		}
		var deps []string
		for _, d := range ir.Requires[m.Name] {
			if in[d] && d != m.Name {
				deps = append(deps, d)
			}
		}
		fmt.Fprintf(&order, "/%s %s %s\n", name, m.Name, strings.Join(deps, ","))
	}
	if err := file("lib/modules/order", 0o644, []byte(order.String())); err != nil {
		return err
	}
	return cw.Close()
}

// moduleSigMarker ends a module file that carries a signature (the
// kernel's MODULE_SIG_STRING).
const moduleSigMarker = "~Module signature appended~\n"

// stripSignature returns a module image without its appended signature, or
// data itself when it carries none or its trailer does not add up. A signed
// module ends with the signature, a 12-byte struct module_signature whose
// last four bytes are the signature's length (big-endian), and the marker.
//
// The guest kernel verifies every signed module it loads: a SHA-256 of the
// whole file, then an RSA check. Under TCG that is slow: without it, a
// Debian guest with btrfs is ready 0.14 s sooner after /init (1.03 -> 0.89
// s, 10 alternating boots each), one with ext4 0.04 s sooner. An unsigned
// module is loaded all the same when signatures are not enforced (Debian's
// kernels do not enforce them without Secure Boot or lockdown), and the
// kernel is tainted E ("unsigned module"), which oops headers show. The
// version checks stay: the module is not forced (no F taint).
func stripSignature(data []byte) []byte {
	const sigInfo = 12
	n := len(data) - len(moduleSigMarker)
	if n < sigInfo || string(data[n:]) != moduleSigMarker {
		return data
	}
	info := data[n-sigInfo : n]
	sigLen := int(info[8])<<24 | int(info[9])<<16 | int(info[10])<<8 | int(info[11])
	end := n - sigInfo - sigLen
	if sigLen <= 0 || end <= 0 {
		return data
	}
	return data[:end]
}

// MinimalInitramfs writes (once) an initramfs whose /init powers the guest
// off at once: the baseline for boot benchmarks and the KVM probe.
func MinimalInitramfs(cacheDir, busybox string) (string, error) {
	st, err := os.Stat(busybox)
	if err != nil {
		return "", fmt.Errorf("busybox: %w", err)
	}
	out := filepath.Join(cacheDir, fmt.Sprintf("minimal-%d-%d.cpio", st.Size(), st.ModTime().UnixNano()))
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	bb, err := os.ReadFile(busybox)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(cacheDir, ".minimal-")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	cw := cpio.NewWriter(tmp)
	script := []byte("#!/bin/busybox sh\n/bin/busybox poweroff -f\n")
	entries := []struct {
		name string
		mode cpio.FileMode
		data []byte
	}{
		{"bin", cpio.TypeDir | 0o755, nil},
		{"bin/busybox", cpio.TypeReg | 0o755, bb},
		{"init", cpio.TypeReg | 0o755, script},
	}
	for _, e := range entries {
		if err := cw.WriteHeader(&cpio.Header{Name: e.name, Mode: e.mode, Size: int64(len(e.data))}); err != nil {
			return "", err
		}
		if _, err := cw.Write(e.data); err != nil {
			return "", err
		}
	}
	if err := cw.Close(); err != nil {
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	return out, os.Rename(tmp.Name(), out)
}
