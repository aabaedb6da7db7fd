package probes

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	ms := time.Millisecond
	for spec, want := range map[string]Injection{
		"count:read_extent_buffer_pages": {Kind: Count, Symbol: "read_extent_buffer_pages", Probability: 1},
		"count:btrfs_sync_file+0x1a":     {Kind: Count, Symbol: "btrfs_sync_file", Offset: 0x1a, Probability: 1},
		"delay:try_release_extent_buffer:100us-2ms@0.3": {Kind: Delay, Symbol: "try_release_extent_buffer",
			DelayMin: 100 * time.Microsecond, DelayMax: 2 * ms, Probability: 0.3, Budget: DefaultBudget},
		"delay:f:1ms@50%,comm=fsync,pid=7,budget=100ms": {Kind: Delay, Symbol: "f", DelayMin: ms, DelayMax: ms,
			Probability: 0.5, Comm: "fsync", PID: 7, Budget: 100 * ms},
		"delay:f:10ms,caller=do_fsync,cgroup=/x": {Kind: Delay, Symbol: "f", DelayMin: 10 * ms, DelayMax: 10 * ms,
			Probability: 1, Caller: "do_fsync", Cgroup: "/x", Budget: DefaultBudget},
		"fail-return:should_failslab:ENOMEM@0.01": {Kind: FailReturn, Symbol: "should_failslab", Return: -12, Probability: 0.01},
		"fail-return:btrfs_search_slot:-EIO":      {Kind: FailReturn, Symbol: "btrfs_search_slot", Return: -5, Probability: 1},
		"fail-return:should_fail_bio:1,optional":  {Kind: FailReturn, Symbol: "should_fail_bio", Return: 1, Probability: 1, Optional: true},
		"fail-trylock:eb-readahead@0.5":           {Kind: FailTrylock, Symbol: TrylockHook, Site: "eb-readahead", Return: 1, Probability: 0.5},
		"fail-trylock:global@0.01,caller=shrink_folio_list": {Kind: FailTrylock, Symbol: TrylockHook, Site: "global",
			Return: 1, Probability: 0.01, Caller: "shrink_folio_list"},
		"delay:try_release_extent_buffer+0x18a:1ms@0.5,if-clear=rbx+0x10:0": {Kind: Delay, Symbol: "try_release_extent_buffer",
			Offset: 0x18a, DelayMin: ms, DelayMax: ms, Probability: 0.5, Budget: DefaultBudget,
			Field: FieldTest{Reg: "rbx", Offset: 0x10, Clear: 1}},
		"count:f,if-set=rdi:63": {Kind: Count, Symbol: "f", Probability: 1, Field: FieldTest{Reg: "rdi", Set: 1 << 63}},
		"delay:bio_set_pages_dirty:10ms,while=try_to_free_mem_cgroup_pages": {Kind: Delay, Symbol: "bio_set_pages_dirty",
			DelayMin: 10 * ms, DelayMax: 10 * ms, Probability: 1, Budget: DefaultBudget, While: "try_to_free_mem_cgroup_pages"},
		"delay:f:10ms,while=__x64_sys_sync_file_range|memory_reclaim": {Kind: Delay, Symbol: "f",
			DelayMin: 10 * ms, DelayMax: 10 * ms, Probability: 1, Budget: DefaultBudget, While: "__x64_sys_sync_file_range|memory_reclaim"},
		"delay:f:10ms,until-clear=rdi+0x18:63,until-set=rdi+0x18:2,if-clear=rdi:0": {Kind: Delay, Symbol: "f",
			DelayMin: 10 * ms, DelayMax: 10 * ms, Probability: 1, Budget: DefaultBudget,
			Field: FieldTest{Reg: "rdi", Clear: 1}, Until: FieldTest{Reg: "rdi", Offset: 0x18, Clear: 1 << 63, Set: 4}},
		"delay:memory_reclaim:10ms,until-in=iomap_dio_bio_iter|f2": {Kind: Delay, Symbol: "memory_reclaim",
			DelayMin: 10 * ms, DelayMax: 10 * ms, Probability: 1, Budget: DefaultBudget, UntilIn: "iomap_dio_bio_iter|f2"},
		"count:f+0x19a,insn=F0480FBA731004": {Kind: Count, Symbol: "f", Offset: 0x19a, Probability: 1, Insn: "f0480fba731004"},
		"count:f+0x19a,if-set=rbx+0x10:4,if-clear=rbx+16:0": {Kind: Count, Symbol: "f", Offset: 0x19a, Probability: 1,
			Field: FieldTest{Reg: "rbx", Offset: 0x10, Set: 0x10, Clear: 1}},
	} {
		got, err := Parse(spec)
		if err != nil {
			t.Errorf("Parse(%q): %v", spec, err)
			continue
		}
		want.Spec = spec
		if got != want {
			t.Errorf("Parse(%q) =\n %+v, want\n %+v", spec, got, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for spec, want := range map[string]string{
		"":                                    "want KIND:TARGET",
		"count":                               "want KIND:TARGET",
		"nap:f":                               `unknown kind "nap"`,
		"count:f:1ms":                         "count takes no argument",
		"delay:f":                             "delay needs a duration",
		"delay:f:20ms":                        "over the 10ms limit",
		"delay:f:2ms-1ms":                     "backwards",
		"delay:f:0s":                          "must be positive",
		"delay:f:fast":                        `bad duration "fast"`,
		"delay:f:1ms@2":                       "not in (0, 1]",
		"delay:f:1ms@0":                       "not in (0, 1]",
		"delay:f:1ms@often":                   "bad probability",
		"delay:f+8:1ms,caller=g":              "only known at the function entry",
		"delay:f:1ms,budget=1s":               "budget=",
		"delay:f:5ms,budget=1ms":              "budget=",
		"count:f,budget=1ms":                  "delay only",
		"count:f,comm=":                       "comm=",
		"count:f,comm=a-very-long-name":       "comm=",
		"count:f,pid=-1":                      "pid=",
		"count:f,cgroup=rel":                  "cgroup=",
		"count:f,colour=red":                  `unknown option "colour=red"`,
		"count:f,while=":                      "while=",
		"count:f,while=a||b":                  "while=",
		"count:f,while=a|b+0x10":              "while=",
		"count:f,while=g+0x8":                 "no +offset",
		"count:f,until-in=g":                  "delay only",
		"delay:f:1ms,until-in=":               "until-in=",
		"delay:f:1ms,until-in=g+0x8":          "until-in=",
		"count:f+zz":                          "bad offset",
		"fail-return:f":                       "needs a value",
		"fail-return:f:EWHAT":                 "bad return value",
		"fail-return:f+4:ENOMEM":              "no +offset",
		"fail-trylock:nowhere":                `unknown trylock site "nowhere"; sites: eb-readahead, global`,
		"fail-trylock:global:1":               "takes no argument",
		"count:f,if-set=rsp+8:0":              `unknown register "rsp"`,
		"count:f,if-clear=rbx+0x10":           "want REG[+OFF]:BIT",
		"count:f,if-clear=rbx+x:1":            "bad offset",
		"count:f,if-clear=rbx:64":             "bad bit",
		"count:f,if-set=rdi:0,if-clear=rsi:1": "test the same word",
		"count:f,if-set=rdi:0,if-clear=rdi:0": "bit 0 is already tested",
		"count:f,until-set=rdi:0":             "delay only",
		"delay:f:1ms,until-set=rdi:0,until-clear=rsi:1":   "all until-set=/until-clear= of one injection test the same word",
		"delay:f:1ms,until-clear=rdi":                     "want REG[+OFF]:BIT",
		"count:f+1,insn=zz":                               "want the instruction's 1 to 15 bytes in hex",
		"count:f+1,insn=":                                 "want the instruction's 1 to 15 bytes in hex",
		"count:f+1,insn=00112233445566778899aabbccddeeff": "1 to 15 bytes",
	} {
		_, err := Parse(spec)
		if !errors.Is(err, ErrBadInjection) || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) error = %v, want ErrBadInjection containing %q", spec, err, want)
		}
	}
}

func TestThreshold(t *testing.T) {
	if th, always := threshold(1); !always || th != math.MaxUint32 {
		t.Errorf("threshold(1) = %d, %v", th, always)
	}
	if th, always := threshold(0.25); always || th != math.MaxUint32/4 {
		t.Errorf("threshold(0.25) = %d, %v", th, always)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"count:f", "delay:f:1ms-2ms@0.5,comm=x", "fail-return:g:ENOMEM", "fail-trylock:global@1%", "delay:f+0x10:10ms,budget=900ms"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		inj, err := Parse(s)
		if err != nil {
			return
		}
		if inj.Probability <= 0 || inj.Probability > 1 || inj.DelayMax > MaxDelay || inj.DelayMin > inj.DelayMax || inj.Symbol == "" {
			t.Fatalf("Parse(%q) accepted %+v", s, inj)
		}
		if inj.Kind == Delay && (inj.DelayMin <= 0 || inj.Budget < inj.DelayMax) {
			t.Fatalf("Parse(%q) accepted delay %+v", s, inj)
		}
	})
}

func TestReportsFromLog(t *testing.T) {
	inj, _ := Parse("delay:compress_file_range:1ms@0.5")
	cnt, _ := Parse("count:btrfs_evict_inode,comm=workload")
	r0 := Report{Injection: inj, Attached: true, Hits: 10, Fired: 5, Delay: 5 * time.Millisecond, Seconds: 2}
	r1 := Report{Injection: cnt, Attached: true, Hits: 3, Fired: 3, Seconds: 2}
	log := "[    9.000000] " + KmsgLine(0, r0) + "\n[    9.000001] " + KmsgLine(1, r1) + "\n"
	r0.Hits, r0.Fired, r0.UntilMet, r0.Seconds = 20, 11, 7, 4
	log += "[   11.000000] " + KmsgLine(0, r0) + "\n[   11.5] BUG: kernel NULL pointer dereference\n"
	got := ReportsFromLog([]byte(log))
	if len(got) != 2 || got[0].Hits != 20 || got[0].Fired != 11 || got[0].UntilMet != 7 || got[0].Delay != 5*time.Millisecond ||
		!got[0].Snapshot || got[0].Spec != inj.Spec || got[1].Hits != 3 || got[1].Spec != cnt.Spec {
		t.Errorf("got %+v", got)
	}
	// A line written before met= existed (consoles of older campaigns).
	old := "[ 5.1] faultline-inject: 0 hits=4 filtered=1 fired=3 delay_ns=3000000 skips=0 secs=2.0 attached=true spec=" + inj.Spec + "\n"
	if got := ReportsFromLog([]byte(old)); len(got) != 1 || got[0].Hits != 4 || got[0].Fired != 3 || got[0].Delay != 3*time.Millisecond {
		t.Errorf("old line: got %+v", got)
	}
	if ReportsFromLog([]byte("nothing\n")) != nil {
		t.Error("reports from a log without lines")
	}
}

// TestMatchInsn: the instruction check passes on the expected bytes and
// otherwise names the point, both byte strings and the way out.
func TestMatchInsn(t *testing.T) {
	inj, err := Parse("delay:try_release_extent_buffer+0x19a:1ms,insn=f0480fba731004")
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0xf0, 0x48, 0x0f, 0xba, 0x73, 0x10, 0x04}
	if err := matchInsn(inj, want, want); err != nil {
		t.Errorf("same bytes: %v", err)
	}
	got := []byte{0x48, 0x8b, 0x7d, 0x18, 0x48, 0x81, 0xc7}
	err = matchInsn(inj, want, got)
	if !errors.Is(err, ErrBadInjection) {
		t.Fatalf("other bytes: %v, want ErrBadInjection", err)
	}
	for _, s := range []string{"try_release_extent_buffer+0x19a", "48 8b 7d 18 48 81 c7", "f0 48 0f ba 73 10 04", "objdump"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}
