package pid1

import (
	"slices"
	"testing"
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
		deps[m.name] = m.deps
	}
	want := map[string][]string{
		"virtio_ring":  nil,
		"virtio":       {"virtio_ring"},
		"failover":     nil,
		"net_failover": {"failover"},
		"virtio_net":   {"virtio", "net_failover"},
		"virtio_pci":   {"virtio", "virtio_net", "virtio_blk"}, // after the drivers that are there
		"virtio_blk":   {"virtio"},                             // a driver: before the bus
		"crc16":        nil,                                    // the rest: in parallel from the start
	}
	for n, w := range want {
		if !slices.Equal(deps[n], w) {
			t.Errorf("%s: deps %v, want %v", n, deps[n], w)
		}
	}
}

func TestOrderBusNoCycle(t *testing.T) {
	// A driver that needs the bus stays after it; no bus, no change.
	mods := parseOrder("bus.ko bus\nd.ko d bus\nc.ko c\n")
	orderBus(mods, []string{"d"}, "bus")
	if !slices.Equal(mods[0].deps, nil) || !slices.Equal(mods[1].deps, []string{"bus"}) || !slices.Equal(mods[2].deps, nil) {
		t.Errorf("deps: bus %v, d %v, c %v", mods[0].deps, mods[1].deps, mods[2].deps)
	}
	none := parseOrder("a.ko a\n")
	orderBus(none, []string{"virtio_net"}, "virtio_pci")
	if none[0].deps != nil {
		t.Errorf("modules that are not present added deps: %v", none[0].deps)
	}
}
