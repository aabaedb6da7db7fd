package pid1

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestOrderBus(t *testing.T) {
	mods := parseOrder(`
/lib/modules/virtio_ring.ko virtio_ring
/lib/modules/virtio.ko virtio virtio_ring
/lib/modules/failover.ko failover
/lib/modules/net_failover.ko net_failover failover
/lib/modules/virtio_net.ko virtio_net virtio,net_failover
/lib/modules/virtio_pci.ko virtio_pci virtio
/lib/modules/virtio_blk.ko virtio_blk virtio
/lib/modules/crc16.ko crc16
`)
	if len(mods) != 8 || mods[4].path != "/lib/modules/virtio_net.ko" || !slices.Equal(mods[4].deps, []string{"virtio", "net_failover"}) {
		t.Fatalf("parseOrder: %+v", mods)
	}
	orderBus(mods, []string{"virtio_console", "virtio_net", "virtio_blk", "qemu_fw_cfg"}, "virtio_pci")
	deps := map[string][]string{}
	for _, m := range mods {
		deps[m.name] = append(append([]string{}, m.deps...), m.after...)
		if m.name != "virtio_pci" && m.after != nil {
			t.Errorf("%s: loads after %v, want only its own dependencies", m.name, m.after)
		}
	}
	want := map[string][]string{
		"virtio_ring":  {},
		"virtio":       {"virtio_ring"},
		"failover":     {},
		"net_failover": {"failover"},
		"virtio_net":   {"virtio", "net_failover"},
		"virtio_pci":   {"virtio", "virtio_net", "virtio_blk"}, // after the drivers that are there (loaded, not only started)
		"virtio_blk":   {"virtio"},                             // a driver: before the bus
		"crc16":        {},                                     // the rest: in parallel from the start
	}
	for n, w := range want {
		if !slices.Equal(deps[n], w) {
			t.Errorf("%s: deps %v, want %v", n, deps[n], w)
		}
	}
	if i := slices.IndexFunc(mods, func(m orderEntry) bool { return m.name == "virtio_pci" }); !slices.Equal(mods[i].after, []string{"virtio_net", "virtio_blk"}) {
		t.Errorf("virtio_pci loads after %v, want the drivers", mods[i].after)
	}
}

func TestOrderBusNoCycle(t *testing.T) {
	// A driver that needs the bus stays after it; no bus, no change.
	mods := parseOrder("bus.ko bus\nd.ko d bus\nc.ko c\n")
	orderBus(mods, []string{"d"}, "bus")
	if mods[0].deps != nil || mods[0].after != nil || !slices.Equal(mods[1].deps, []string{"bus"}) || mods[2].deps != nil {
		t.Errorf("deps: bus %v after %v, d %v, c %v", mods[0].deps, mods[0].after, mods[1].deps, mods[2].deps)
	}
	none := parseOrder("a.ko a\n")
	orderBus(none, []string{"virtio_net"}, "virtio_pci")
	if none[0].deps != nil || none[0].after != nil {
		t.Errorf("modules that are not present added deps: %v %v", none[0].deps, none[0].after)
	}
}

// TestWaitComing: a module that needs another starts once the other is in
// /sys/module (being initialised) or its load has ended, whichever is first.
func TestWaitComing(t *testing.T) {
	sysModule = t.TempDir()
	defer func() { sysModule = "/sys/module" }()
	done := make(chan struct{})
	returned := make(chan struct{})
	go func() { waitComing("raid6_pq", done); close(returned) }()
	select {
	case <-returned:
		t.Fatal("returned before the module was in /sys/module or done")
	case <-time.After(20 * time.Millisecond):
	}
	if err := os.Mkdir(filepath.Join(sysModule, "raid6_pq"), 0o755); err != nil {
		t.Fatal(err)
	}
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("did not return once the module was in /sys/module")
	}
	closed := make(chan struct{})
	close(closed)
	waitComing("never_there", closed) // returns at once: the load ended
}

// TestOpenPort: a port still busy from its previous open is tried again;
// other errors, and a port busy for longer than the patience, are not.
func TestOpenPort(t *testing.T) {
	defer func(f func(string, int, os.FileMode) (*os.File, error)) { openFile = f }(openFile)
	busy := &os.PathError{Op: "open", Path: "/dev/vport0p1", Err: unix.EBUSY}
	missing := &os.PathError{Op: "open", Path: "/dev/vport0p1", Err: unix.ENOENT}
	for _, tc := range []struct {
		name     string
		errs     []error // open's answers in turn; nil opens
		patience time.Duration
		tries    int
		want     error
	}{
		{"free", []error{nil}, time.Second, 1, nil},
		{"busy twice, then free", []error{busy, busy, nil}, time.Second, 3, nil},
		{"missing: no retry", []error{missing, nil}, time.Second, 1, unix.ENOENT},
		{"busy past the patience", []error{busy, nil}, 0, 1, unix.EBUSY},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tries := 0
			openFile = func(string, int, os.FileMode) (*os.File, error) {
				err := tc.errs[tries]
				tries++
				if err != nil {
					return nil, err
				}
				return os.Stdin, nil
			}
			f, err := openPort("/dev/vport0p1", tc.patience)
			if tries != tc.tries || (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) || (err == nil) != (f != nil) {
				t.Errorf("%d tries, %v, %v; want %d tries and %v", tries, f, err, tc.tries, tc.want)
			}
		})
	}
}

// TestLoadRetriesInterruptedWait: a load that started while a dependency
// was being initialised, and failed with EBUSY because a signal ended the
// kernel's wait, is tried again once the dependency is loaded.
func TestLoadRetriesInterruptedWait(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a.ko", "b.ko"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	order := filepath.Join(dir, "order")
	os.WriteFile(order, []byte(dir+"/a.ko a\n"+dir+"/b.ko b a\n"), 0o644)
	defer func(s string) { sysModule = s }(sysModule)
	sysModule = t.TempDir()
	os.Mkdir(filepath.Join(sysModule, "a"), 0o755) // a is coming at once
	defer func(f func(int, string, int) error) { finitModule = f }(finitModule)
	var mu sync.Mutex
	var aLoaded bool
	var bTries []bool // was a loaded at each of b's tries
	finitModule = func(fd int, _ string, _ int) error {
		path, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
		if filepath.Base(path) == "a.ko" {
			time.Sleep(50 * time.Millisecond)
			mu.Lock()
			aLoaded = true
			mu.Unlock()
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		bTries = append(bTries, aLoaded)
		if !aLoaded {
			return unix.EBUSY
		}
		return nil
	}
	loadModules(order, nil, "")()
	if !slices.Equal(bTries, []bool{false, true}) {
		t.Errorf("b's tries saw a loaded: %v; want a first try while a was coming, then one after", bTries)
	}
}
