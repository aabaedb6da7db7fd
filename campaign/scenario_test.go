package campaign

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"faultline/agentctl"
)

var testSigs = []string{"seed-d-ext4-gup-dio-no-buffers"}

const goodScenario = `name: cwb
kernel: debian:6.1-cloud
vm: {cpus: 2, memory: 2G, numa: 2, cpu: "max,erms=off"}
fs: {type: btrfs, mount: [compress-force=zstd]}
cgroup: {memory.max: 256M}
workload:
  name: compressed-writeback
  params: {threads: 3, size: 4M}
inject: ["delay:compress_file_range:1ms@0.5"]
duration: 20s
runs: 3
variants:
  - name: fixed
    kernel: 6.1-harness
  - name: no-inject
    inject: []
    duration: 10m
    runs: 1
    expect: seed-d-ext4-gup-dio-no-buffers
`

func TestScenarioCases(t *testing.T) {
	s, err := ParseScenario("cwb.yaml", []byte(goodScenario), testSigs)
	if err != nil {
		t.Fatal(err)
	}
	cs := s.Cases(0)
	if len(cs) != 3 {
		t.Fatalf("%d cases", len(cs))
	}
	base, fixed, noinj := cs[0], cs[1], cs[2]
	if base.Name != "cwb" || base.MemoryMB != 2048 || base.NUMA != 2 || base.CPUModel != "max,erms=off" || base.Runs != 3 || base.Expect != "clean" || base.Timeout != 2*20*time.Second+3*time.Minute {
		t.Errorf("base case: %+v", base)
	}
	if fixed.Name != "cwb/fixed" || fixed.Kernel != "6.1-harness" || len(fixed.Inject) != 1 || fixed.Runs != 3 {
		t.Errorf("fixed: %+v", fixed)
	}
	if noinj.Kernel != "debian:6.1-cloud" || len(noinj.Inject) != 0 || noinj.Duration != 10*time.Minute || noinj.Runs != 1 ||
		noinj.Timeout != 2*10*time.Minute+3*time.Minute || noinj.Expect != "seed-d-ext4-gup-dio-no-buffers" {
		t.Errorf("no-inject: %+v", noinj)
	}
	want := []string{"/bin/faultline", "inject", "--report", agentctl.InjectReport, "--inject", "delay:compress_file_range:1ms@0.5", "--",
		"workload", "compressed-writeback", "--duration=20s", "--seed=7", "--cgroup=memory.max=256M", "--threads=3", "--size=4M"}
	if got := base.Argv(7); !slices.Equal(got, want) {
		t.Errorf("argv\n got %q\nwant %q", got, want)
	}
	if got := noinj.Argv(1); got[0] != "workload" {
		t.Errorf("no-inject argv starts %q", got[0])
	}
	if got := s.Cases(5); got[2].Runs != 5 {
		t.Errorf("--runs override: %d", got[2].Runs)
	}
}

func TestScenarioErrors(t *testing.T) {
	for _, tc := range []struct{ name, edit, want string }{
		{"unknown field", "runs: 3\n", "runs: 3\nrepeat: 2\n"},
		{"no kernel", "kernel: debian:6.1-cloud\n", "kernel: \"\"\n"},
		{"bad fs", "type: btrfs,", "type: xfs,"},
		{"wrong fs for workload", "type: btrfs, mount: [compress-force=zstd]", "type: ext4"},
		{"no compression", "mount: [compress-force=zstd]", "mount: [noatime]"},
		{"unknown workload", "name: compressed-writeback", "name: compressed-writback"},
		{"bad param", "threads: 3", "thread: 3"},
		{"bad param value", "size: 4M", "size: 100K"},
		{"reserved param", "threads: 3", "duration: 3s"},
		{"bad injection", "delay:compress_file_range:1ms@0.5", "delay:compress_file_range:1h"},
		{"bad expect", "expect: seed-d-ext4-gup-dio-no-buffers", "expect: seed-z"},
		{"bad variant injection", "    inject: []", "    inject: [\"bogus\"]"},
		{"duplicate variant", "name: no-inject", "name: fixed"},
		{"zero duration", "duration: 20s", "duration: 0s"},
		{"bad numa", "numa: 2", "numa: 3"},
		{"bad cpu model", `cpu: "max,erms=off"`, `cpu: "max erms"`},
		{"small memory", "memory: 2G", "memory: 64M"},
		{"bad cgroup", "memory.max: 256M", "../x: 1"},
	} {
		text := strings.Replace(goodScenario, tc.edit, tc.want, 1)
		if text == goodScenario {
			t.Fatalf("%s: edit %q not applied", tc.name, tc.edit)
		}
		_, err := ParseScenario("s.yaml", []byte(text), testSigs)
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		at := strings.Index(goodScenario, tc.edit)
		line := strings.Count(text[:at], "\n") + 1
		if tc.name == "unknown field" {
			line++ // the added line
		}
		if !strings.Contains(err.Error(), "s.yaml:") || !strings.Contains(err.Error(), "line "+strconv.Itoa(line)) && !strings.Contains(err.Error(), "s.yaml:"+strconv.Itoa(line)+":") {
			t.Errorf("%s: error %q does not name line %d", tc.name, err, line)
		}
	}
}

func TestShippedScenariosParse(t *testing.T) {
	files, _ := filepath.Glob("../scenarios/*.yaml")
	seeds, _ := filepath.Glob("../scenarios/seeds/*.yaml")
	experiments, _ := filepath.Glob("../scenarios/experiments/*.yaml")
	files = append(append(files, seeds...), experiments...)
	if len(files) < 4 {
		t.Fatalf("only %d shipped scenarios", len(files))
	}
	sigs := []string{"seed-a-btrfs-async-chunk-locked-page", "seed-b-btrfs-eb-tree-ref-releasepage", "seed-c-btrfs-fixup-worker-migration", "seed-d-ext4-gup-dio-no-buffers"}
	for _, f := range files {
		if _, err := LoadScenario(f, sigs); err != nil {
			t.Errorf("%v", err)
		}
	}
}
