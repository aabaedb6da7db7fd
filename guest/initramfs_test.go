//go:build !faultline_agent

package guest

import (
	"bytes"
	"debug/elf"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cavaliergopher/cpio"

	"faultline/guest/pid1"
	"faultline/kernels"
)

func TestInitramfs(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ir := &Initramfs{
		Agent:      write("agent", "AGENT"),
		Busybox:    write("busybox", "#!/bin/sh\necho bin/sh usr/bin/env linuxrc ../etc/passwd bin/busybox\n"),
		ModulesDir: filepath.Join(dir, "mods"),
		Modules:    []*kernels.Module{{Name: "virtio_ring", Path: "a/virtio_ring.ko"}, {Name: "virtio_blk", Path: "b/virtio_blk.ko"}},
		Requires:   map[string][]string{"virtio_blk": {"virtio_ring", "not_in_image"}},
	}
	write("mods/a/virtio_ring.ko", "RING")
	write("mods/b/virtio_blk.ko", "BLK")
	cache := filepath.Join(dir, "cache")
	path, err := ir.Build(cache)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := cpio.NewReader(f)
	for {
		h, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		files[h.Name] = string(b)
		if h.Mode&cpio.ModeType == cpio.TypeSymlink {
			files[h.Name] = h.Linkname
		}
	}
	for name, want := range map[string]string{
		"init":                           "AGENT",
		"bin/sh":                         "../bin/busybox",
		"usr/bin/env":                    "../../bin/busybox",
		"lib/modules/000-virtio_ring.ko": "RING",
		"lib/modules/001-virtio_blk.ko":  "BLK",
		"lib/modules/order":              "/lib/modules/000-virtio_ring.ko virtio_ring \n/lib/modules/001-virtio_blk.ko virtio_blk virtio_ring\n",
	} {
		if files[name] != want {
			t.Errorf("%s = %q, want %q", name, files[name], want)
		}
	}
	for _, bad := range []string{"linuxrc", "../etc/passwd"} {
		if _, ok := files[bad]; ok {
			t.Errorf("applet link %s made", bad)
		}
	}
	if !strings.HasPrefix(files["bin/busybox"], "#!/bin/sh") {
		t.Errorf("bin/busybox = %q", files["bin/busybox"])
	}
	if _, ok := files["mnt/scratch"]; !ok {
		t.Error("no mnt/scratch directory")
	}
	// Same inputs: same archive, not rebuilt.
	again, err := ir.Build(cache)
	if err != nil || again != path {
		t.Errorf("rebuild = %s, %v; want cached %s", again, err, path)
	}
	// A changed input: a new archive.
	write("agent", "AGENT2")
	if changed, _ := ir.Build(cache); changed == path {
		t.Error("changed agent did not change the archive key")
	}
}

func TestCheckStatic(t *testing.T) {
	if err := CheckStatic("/bin/sh"); err == nil {
		t.Skip("/bin/sh is static here")
	} else if !errors.Is(err, ErrNotStatic) {
		t.Errorf("CheckStatic(/bin/sh) = %v, want ErrNotStatic", err)
	}
}

func TestWithConfig(t *testing.T) {
	dir := t.TempDir()
	for _, baseLen := range []int{512, 513} { // aligned, and a base that needs padding
		base := filepath.Join(dir, "base.cpio")
		baseData := []byte(strings.Repeat("B", baseLen))
		if err := os.WriteFile(base, baseData, 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "vm.cpio")
		cfg := []byte(`{"ip":"10.0.2.15/24"}`)
		if err := WithConfig(base, out, cfg); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if string(b[:baseLen]) != string(baseData) {
			t.Fatalf("base %d: output does not start with the base archive", baseLen)
		}
		start := (baseLen + 3) &^ 3
		for _, c := range b[baseLen:start] {
			if c != 0 {
				t.Fatalf("base %d: padding is not zeros: %q", baseLen, b[baseLen:start])
			}
		}
		r := cpio.NewReader(strings.NewReader(string(b[start:])))
		found := map[string]*cpio.Header{}
		for {
			h, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("base %d: appended archive: %v", baseLen, err)
			}
			found[h.Name] = h
			if "/"+h.Name == pid1.ConfigPath {
				data, _ := io.ReadAll(r)
				if string(data) != string(cfg) {
					t.Errorf("config = %q, want %q", data, cfg)
				}
			}
		}
		h := found[strings.TrimPrefix(pid1.ConfigPath, "/")]
		if h == nil {
			t.Fatalf("base %d: no %s in the appended archive (have %v)", baseLen, pid1.ConfigPath, found)
		}
		if h.Mode.Perm() != 0o600 {
			t.Errorf("config mode %v, want 0600 (it holds the host key)", h.Mode.Perm())
		}
		for _, d := range []string{"etc", "etc/faultline"} {
			if found[d] == nil || !found[d].Mode.IsDir() {
				t.Errorf("base %d: no directory %s before the config", baseLen, d)
			}
		}
	}
	if err := WithConfig(filepath.Join(dir, "missing.cpio"), filepath.Join(dir, "x"), nil); err == nil {
		t.Error("a missing base archive was accepted")
	}
}

func TestPruneInitramfs(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-8 * 24 * time.Hour)
	for name, mtime := range map[string]time.Time{
		"initramfs-old.cpio":   old,
		"initramfs-new.cpio":   time.Now(),
		"minimal-1-2.cpio":     old, // not an agent initramfs
		"initramfs-old.cpio.x": old,
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	if n := PruneInitramfs(dir, InitramfsMaxAge, InitramfsMaxBytes); n != 1 {
		t.Errorf("removed %d files, want 1", n)
	}
	for name, want := range map[string]bool{"initramfs-old.cpio": false, "initramfs-new.cpio": true, "minimal-1-2.cpio": true, "initramfs-old.cpio.x": true} {
		if _, err := os.Stat(filepath.Join(dir, name)); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", name, err == nil, want)
		}
	}
}

// TestPruneInitramfsSize: over the size cap, the least recently used go
// first, until the rest fit.
func TestPruneInitramfsSize(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	for i, name := range []string{"initramfs-a.cpio", "initramfs-b.cpio", "initramfs-c.cpio", "initramfs-d.cpio"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, make([]byte, 100), 0o644); err != nil {
			t.Fatal(err)
		}
		used := now.Add(time.Duration(i-4) * time.Hour) // a oldest, d newest
		if err := os.Chtimes(p, used, used); err != nil {
			t.Fatal(err)
		}
	}
	if n := PruneInitramfs(dir, InitramfsMaxAge, 250); n != 2 {
		t.Errorf("removed %d files, want 2", n)
	}
	for name, want := range map[string]bool{"initramfs-a.cpio": false, "initramfs-b.cpio": false, "initramfs-c.cpio": true, "initramfs-d.cpio": true} {
		if _, err := os.Stat(filepath.Join(dir, name)); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", name, err == nil, want)
		}
	}
}

func TestStripSignature(t *testing.T) {
	mod := []byte("\x7fELF module body")
	signed := func(sig []byte, sigLen uint32) []byte {
		b := append(append([]byte{}, mod...), sig...)
		b = append(b, 0, 0, 2, 0, 0, 0, 0, 0, byte(sigLen>>24), byte(sigLen>>16), byte(sigLen>>8), byte(sigLen))
		return append(b, moduleSigMarker...)
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want []byte
	}{
		{"signed", signed([]byte("PKCS#7 blob"), 11), mod},
		{"unsigned", mod, mod},
		{"length past the start", signed([]byte("PKCS#7 blob"), 1000), nil},
		{"zero length", signed(nil, 0), nil},
		{"marker alone", []byte(moduleSigMarker), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.want
			if want == nil {
				want = tc.in // left as it is
			}
			if got := stripSignature(tc.in); !bytes.Equal(got, want) {
				t.Errorf("stripSignature = %q, want %q", got, want)
			}
		})
	}
	// A real signed module from the kernel cache, when there is one: what
	// is left is the ELF image, and stripping again changes nothing.
	paths, _ := filepath.Glob(filepath.Join(os.Getenv("HOME"), ".cache/faultline/kernels/linux-image-*/lib/modules/*/kernel/lib/libcrc32c.ko"))
	if len(paths) == 0 {
		t.Skip("no Debian kernel in the cache")
	}
	data, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(data, []byte(moduleSigMarker)) {
		t.Skipf("%s is not signed", paths[0])
	}
	got := stripSignature(data)
	if len(got) >= len(data) || bytes.Contains(got, []byte(moduleSigMarker)) || !bytes.Equal(stripSignature(got), got) {
		t.Fatalf("%s: %d bytes left of %d", paths[0], len(got), len(data))
	}
	if _, err := elf.NewFile(bytes.NewReader(got)); err != nil {
		t.Errorf("%s stripped is not an ELF file: %v", paths[0], err)
	}
}
