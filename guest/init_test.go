package guest

import (
	"slices"
	"testing"
)

func TestOrderFirst(t *testing.T) {
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
	orderFirst(mods, []string{"virtio_net", "virtio_pci", "qemu_fw_cfg"})
	deps := map[string][]string{}
	for _, m := range mods {
		deps[m.name] = m.deps
	}
	want := map[string][]string{
		"virtio_ring":  nil,
		"virtio":       {"virtio_ring"},
		"failover":     nil,
		"net_failover": {"failover"},
		"virtio_net":   {"virtio", "net_failover"},
		"virtio_pci":   {"virtio", "virtio_net"},               // after the one before it
		"virtio_blk":   {"virtio", "virtio_net", "virtio_pci"}, // after the first ones
		"crc16":        {"virtio_net", "virtio_pci"},           // even without dependencies
	}
	for n, w := range want {
		if !slices.Equal(deps[n], w) {
			t.Errorf("%s: deps %v, want %v", n, deps[n], w)
		}
	}
}

func TestOrderFirstNoCycle(t *testing.T) {
	// b needs a; asking for b before a must not make a wait for b.
	mods := parseOrder("a.ko a\nb.ko b a\nc.ko c\n")
	orderFirst(mods, []string{"b", "a"})
	if !slices.Equal(mods[0].deps, nil) || !slices.Equal(mods[1].deps, []string{"a"}) || !slices.Equal(mods[2].deps, []string{"b", "a"}) {
		t.Errorf("deps: a %v, b %v, c %v", mods[0].deps, mods[1].deps, mods[2].deps)
	}
	none := parseOrder("a.ko a\n")
	orderFirst(none, []string{"virtio_net"})
	if none[0].deps != nil {
		t.Errorf("modules that are not present added deps: %v", none[0].deps)
	}
}
