package harness

import (
	"testing"
	"time"
)

func TestGuestInitAt(t *testing.T) {
	for _, tc := range []struct {
		console string
		want    time.Duration
		ok      bool
	}{
		{"[    2.485059] Run /init as init process\n", 2485059 * time.Microsecond, true},
		{"noise\r\n[   12.000001] Run /init as init process\r\n[   12.1] x\n", 12*time.Second + time.Microsecond, true},
		{"[    0.000000] Linux version 6.1\n[    1.5] Run /init as init process\n", 0, false}, // not printk's 6 digits
		{"Run /init as init process\n", 0, false},                                             // printk.time off
		{"", 0, false},
	} {
		got, ok := guestInitAt(tc.console)
		if got != tc.want || ok != tc.ok {
			t.Errorf("guestInitAt(%q) = %v, %v; want %v, %v", tc.console, got, ok, tc.want, tc.ok)
		}
	}
}
