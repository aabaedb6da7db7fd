package gate

import (
	"fmt"
	"sort"
	"strings"

	"faultline/campaign"
)

// area is a part of the kernel tree and the cases a change there can
// affect: those on one filesystem, or all.
type area struct {
	prefix string
	fs     string // "" = every case
	why    string
}

// areas map paths to the cases that exercise them, most specific first.
// Paths no area covers (drivers, other architectures, documentation) select
// nothing: faultline's workloads do not reach them.
var areas = []area{
	{"fs/btrfs/", "btrfs", "btrfs"},
	{"fs/ext4/", "ext4", "ext4"},
	{"fs/jbd2/", "ext4", "ext4's journal"},
	{"fs/iomap/", "", "iomap, under every filesystem's direct I/O"},
	{"fs/", "", "the VFS and generic filesystem code"},
	{"mm/", "", "memory management"},
	{"block/", "", "the block layer"},
	{"include/linux/", "", "a kernel-wide header"},
	{"include/trace/", "", "tracepoints"},
	{"kernel/locking/", "", "locking"},
	{"kernel/sched/", "", "the scheduler"},
	{"lib/", "", "library code"},
	{"arch/x86/", "", "the guest's architecture"},
}

// Choice is a case chosen to gate a series, and why.
type Choice struct {
	Case   string   `json:"case"`
	Reason string   `json:"reason"`
	Files  []string `json:"files"`
}

// Select chooses, among the scenarios' cases, those the files can affect,
// each with the reason (the first file that chose it); filesystem areas
// choose the cases on that filesystem, generic areas every case.
func Select(scens []*campaign.Scenario, files []string) []Choice {
	type hit struct {
		why   string
		files []string
	}
	all := map[string]*hit{}
	var order []string
	add := func(name, why, file string) {
		h, ok := all[name]
		if !ok {
			h = &hit{why: why}
			all[name] = h
			order = append(order, name)
		}
		h.files = append(h.files, file)
	}
	for _, f := range files {
		a, ok := areaOf(f)
		if !ok {
			continue
		}
		for _, s := range scens {
			for _, c := range s.Cases(0) {
				if a.fs == "" || c.FS == a.fs {
					add(c.Name, fmt.Sprintf("%s touches %s", f, a.why), f)
				}
			}
		}
	}
	sort.Strings(order)
	var out []Choice
	for _, n := range order {
		out = append(out, Choice{Case: n, Reason: all[n].why, Files: all[n].files})
	}
	return out
}

// areaOf returns the first area whose prefix f has.
func areaOf(f string) (area, bool) {
	for _, a := range areas {
		if strings.HasPrefix(f, a.prefix) {
			return a, true
		}
	}
	return area{}, false
}
