package campaign

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"faultline/agentctl"
	"faultline/harness"
	"faultline/probes"
	"faultline/verdict"
	"faultline/workloads"
)

// ErrBadScenario is wrapped by every scenario validation error.
var ErrBadScenario = errors.New("bad scenario")

// ExpectClean is the expectation that a run ends with no crash, no data
// loss and no hang. Any other expectation is a signature id: the run is a
// positive control that must crash with that signature.
const ExpectClean = verdict.ExpectClean

// Scenario is a scenario file: what to boot, what to run in it, what to
// inject, how long, how often, and what to expect. Variants run the same
// scenario with some fields replaced (another kernel, no injection, a longer
// cap), each as its own case.
type Scenario struct {
	Name        string        `yaml:"name"`
	Description string        `yaml:"description"`
	Kernel      string        `yaml:"kernel"`
	VM          VMSpec        `yaml:"vm"`
	FS          FSSpec        `yaml:"fs"`
	Cgroup      yaml.Node     `yaml:"cgroup"`
	Workload    WorkloadSpec  `yaml:"workload"`
	Inject      []string      `yaml:"inject"`
	Duration    time.Duration `yaml:"duration"`
	Runs        int           `yaml:"runs"`
	Timeout     time.Duration `yaml:"timeout"`
	HangTimeout time.Duration `yaml:"hang_timeout"`
	Expect      string        `yaml:"expect"`
	Variants    []Variant     `yaml:"variants"`

	// Path is the file it was read from; Source its text; Hash the first
	// 12 hex digits of the text's sha256.
	Path   string `yaml:"-"`
	Source []byte `yaml:"-"`
	Hash   string `yaml:"-"`
	limits []string
}

// VMSpec sizes the guest.
type VMSpec struct {
	CPUs int `yaml:"cpus"`
	// Memory and Disk are sizes with K, M or G ("1G").
	Memory string `yaml:"memory"`
	// NUMA is the number of NUMA nodes (1 or 2).
	NUMA   int      `yaml:"numa"`
	Disk   string   `yaml:"disk"`
	Append []string `yaml:"append"`
	// CPU is QEMU's -cpu model under TCG ("max" if empty), e.g.
	// "max,erms=off,fsrm=off".
	CPU string `yaml:"cpu"`
	// Net gives the guest a user-mode network (none by default).
	Net bool `yaml:"net"`
}

// FSSpec is the scratch filesystem.
type FSSpec struct {
	Type  string   `yaml:"type"`
	Mkfs  []string `yaml:"mkfs"`
	Mount []string `yaml:"mount"`
}

// WorkloadSpec is either a faultline workload with its parameters (the
// workload's flags without "--") or a shell command.
type WorkloadSpec struct {
	Name    string    `yaml:"name"`
	Params  yaml.Node `yaml:"params"`
	Command string    `yaml:"command"`
	params  []string
}

// Variant replaces fields of its scenario. Inject, when present (even
// empty), replaces the scenario's injections.
type Variant struct {
	Name     string        `yaml:"name"`
	Kernel   string        `yaml:"kernel"`
	Inject   *[]string     `yaml:"inject"`
	Duration time.Duration `yaml:"duration"`
	Runs     int           `yaml:"runs"`
	Timeout  time.Duration `yaml:"timeout"`
	Expect   string        `yaml:"expect"`
}

// Case is one runnable form of a scenario (the scenario itself or one of its
// variants), all defaults filled in.
type Case struct {
	// Name is "SCENARIO" or "SCENARIO/VARIANT".
	Name        string
	Scenario    *Scenario
	Kernel      string
	CPUs        int
	MemoryMB    int
	NUMA        int
	Net         bool
	CPUModel    string
	DiskSize    int64
	Append      []string
	FS          string
	Mkfs        []string
	Mount       []string
	Workload    string
	Params      []string
	Command     string
	Limits      []string
	Inject      []string
	Duration    time.Duration
	Runs        int
	Timeout     time.Duration
	HangTimeout time.Duration
	Expect      string
}

var (
	nameRE       = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
	cgroupFileRE = regexp.MustCompile(`^[a-z]+\.[a-z_.]+$`)
)

// LoadScenario reads and validates a scenario file. signatures are the known
// signature ids an expectation may name. Errors wrap ErrBadScenario and give
// the file and line.
func LoadScenario(path string, signatures []string) (*Scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadScenario, err)
	}
	return ParseScenario(path, b, signatures)
}

// ParseScenario validates a scenario's text; path names it in errors.
func ParseScenario(path string, b []byte, signatures []string) (*Scenario, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadScenario, path, err)
	}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("%w: %s: empty file", ErrBadScenario, path)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	s := &Scenario{Path: path, Source: b}
	if err := dec.Decode(s); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadScenario, path, err)
	}
	sum := sha256.Sum256(b)
	s.Hash = hex.EncodeToString(sum[:])[:12]
	doc := root.Content[0]
	bad := func(keys []string, format string, a ...any) error {
		return fmt.Errorf("%w: %s:%d: %s: %s", ErrBadScenario, path, keyLine(doc, keys...), strings.Join(keys, "."), fmt.Sprintf(format, a...))
	}
	if s.Name == "" {
		s.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	if !nameRE.MatchString(s.Name) {
		return nil, bad([]string{"name"}, "%q: use lower-case letters, digits, '.', '_' and '-'", s.Name)
	}
	if s.Kernel == "" {
		return nil, bad([]string{"kernel"}, "missing: a kernel spec such as debian:6.1-cloud or 6.1-harness (faultline kernels list)")
	}
	if s.VM.NUMA != 0 && s.VM.NUMA != 1 && s.VM.NUMA != 2 {
		return nil, bad([]string{"vm", "numa"}, "%d: want 1 or 2 nodes", s.VM.NUMA)
	}
	if s.VM.CPUs < 0 || s.VM.CPUs > 64 {
		return nil, bad([]string{"vm", "cpus"}, "%d: want 1 to 64", s.VM.CPUs)
	}
	if strings.ContainsAny(s.VM.CPU, " \t") {
		return nil, bad([]string{"vm", "cpu"}, "%q: a QEMU CPU model such as max or max,erms=off", s.VM.CPU)
	}
	if s.VM.NUMA == 2 && s.VM.CPUs == 1 {
		return nil, bad([]string{"vm", "cpus"}, "two NUMA nodes need at least 2 CPUs")
	}
	for _, f := range []struct {
		key, v string
		min    int64
	}{{"memory", s.VM.Memory, 128 << 20}, {"disk", s.VM.Disk, 64 << 20}} {
		if f.v == "" {
			continue
		}
		n, err := workloads.ParseSize(f.v)
		if err != nil {
			return nil, bad([]string{"vm", f.key}, "%v", err)
		}
		if n < f.min {
			return nil, bad([]string{"vm", f.key}, "%s is too small (at least %dM)", f.v, f.min>>20)
		}
	}
	if s.FS.Type == "" {
		return nil, bad([]string{"fs", "type"}, "missing: btrfs, ext4 or none")
	}
	if s.FS.Type != "none" && !slices.Contains(harness.Filesystems, s.FS.Type) {
		return nil, bad([]string{"fs", "type"}, "%q: want btrfs, ext4 or none", s.FS.Type)
	}
	if s.Cgroup.Kind != 0 {
		if s.Cgroup.Kind != yaml.MappingNode {
			return nil, bad([]string{"cgroup"}, "want a map of cgroup files to values, e.g. memory.max: 256M")
		}
		for i := 0; i+1 < len(s.Cgroup.Content); i += 2 {
			k, v := s.Cgroup.Content[i], s.Cgroup.Content[i+1]
			if !cgroupFileRE.MatchString(k.Value) || v.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("%w: %s:%d: cgroup.%s: want a cgroup interface file (memory.max, io.max, ...) and a value", ErrBadScenario, path, k.Line, k.Value)
			}
			s.limits = append(s.limits, k.Value+"="+v.Value)
		}
	}
	w := &s.Workload
	switch {
	case w.Name != "" && w.Command != "":
		return nil, bad([]string{"workload"}, "name and command both given: a workload is one or the other")
	case w.Name == "" && w.Command == "":
		return nil, bad([]string{"workload"}, "missing: name (one of %s) or command", strings.Join(workloads.Names(), ", "))
	case w.Command != "" && len(s.limits) > 0:
		return nil, bad([]string{"cgroup"}, "cgroup limits apply to faultline workloads, not to a command")
	case w.Name != "":
		info, ok := workloads.Known[w.Name]
		if !ok {
			return nil, bad([]string{"workload", "name"}, "unknown workload %q (known: %s)", w.Name, strings.Join(workloads.Names(), ", "))
		}
		if info.FS != "" && s.FS.Type != info.FS {
			return nil, bad([]string{"fs", "type"}, "workload %s needs %s, not %s", w.Name, info.FS, s.FS.Type)
		}
		if info.MountOpt != "" && !strings.Contains(strings.Join(s.FS.Mount, ","), info.MountOpt) {
			return nil, bad([]string{"fs", "mount"}, "workload %s needs a %s mount option (%s), e.g. %s", w.Name, info.MountOpt, info.MountWhy, info.MountExample)
		}
		if w.Params.Kind != 0 && w.Params.Kind != yaml.MappingNode {
			return nil, bad([]string{"workload", "params"}, "want a map of the workload's flags, e.g. threads: 2")
		}
		for i := 0; i+1 < len(w.Params.Content); i += 2 {
			k, v := w.Params.Content[i], w.Params.Content[i+1]
			switch k.Value {
			case "duration", "seed", "dir", "cgroup":
				return nil, fmt.Errorf("%w: %s:%d: workload.params.%s: set by the scenario (duration, runs' seeds, cgroup), not as a parameter", ErrBadScenario, path, k.Line, k.Value)
			}
			if v.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("%w: %s:%d: workload.params.%s: want a single value", ErrBadScenario, path, k.Line, k.Value)
			}
			w.params = append(w.params, "--"+k.Value+"="+v.Value)
			if _, err := workloads.Parse(w.Name, []string{"--" + k.Value + "=" + v.Value}, "/", nil); err != nil {
				return nil, fmt.Errorf("%w: %s:%d: workload.params.%s: %v (see faultline workload --help)", ErrBadScenario, path, k.Line, k.Value, err)
			}
		}
		args := append([]string{}, w.params...)
		if info.Timed {
			args = append(args, "--duration=1s")
			for _, l := range s.limits {
				args = append(args, "--cgroup="+l)
			}
		} else if len(s.limits) > 0 {
			return nil, bad([]string{"cgroup"}, "workload %s runs no cgroup of its own: drop the cgroup limits", w.Name)
		}
		wl, err := workloads.Parse(w.Name, args, "/", nil)
		if err == nil {
			err = wl.CheckParams()
		}
		if err != nil {
			return nil, bad([]string{"workload", "params"}, "%v", err)
		}
	}
	for i, in := range s.Inject {
		if _, err := probes.Parse(in); err != nil {
			return nil, fmt.Errorf("%w: %s:%d: inject[%d]: %v", ErrBadScenario, path, seqLine(doc, "inject", i), i, err)
		}
	}
	timed := w.Command != "" || workloads.Known[w.Name].Timed
	if s.Duration < 0 || (timed && s.Duration == 0) {
		return nil, bad([]string{"duration"}, "missing or negative: how long the workload races, e.g. 30s")
	}
	if s.Runs < 0 || s.Runs > 10000 {
		return nil, bad([]string{"runs"}, "%d: want 1 to 10000", s.Runs)
	}
	if s.Timeout < 0 || (s.Timeout > 0 && s.Timeout <= s.Duration) {
		return nil, bad([]string{"timeout"}, "%v must be longer than duration %v", s.Timeout, s.Duration)
	}
	if s.HangTimeout < 0 || (s.HangTimeout > 0 && s.HangTimeout < 5*time.Second) {
		return nil, bad([]string{"hang_timeout"}, "%v: want at least 5s", s.HangTimeout)
	}
	checkExpect := func(keys []string, e string) error {
		if e == "" || e == ExpectClean || slices.Contains(signatures, e) {
			return nil
		}
		return bad(keys, "%q: want clean or a signature id (%s)", e, strings.Join(signatures, ", "))
	}
	if err := checkExpect([]string{"expect"}, s.Expect); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for i, v := range s.Variants {
		line := seqLine(doc, "variants", i)
		at := func(key string) int { return itemKeyLine(doc, "variants", i, key) }
		switch {
		case !nameRE.MatchString(v.Name):
			return nil, fmt.Errorf("%w: %s:%d: variants[%d].name: %q: want a name of lower-case letters, digits, '.', '_', '-'", ErrBadScenario, path, at("name"), i, v.Name)
		case seen[v.Name]:
			return nil, fmt.Errorf("%w: %s:%d: variants[%d].name: %q used twice", ErrBadScenario, path, at("name"), i, v.Name)
		case v.Duration < 0 || v.Runs < 0 || v.Timeout < 0:
			return nil, fmt.Errorf("%w: %s:%d: variants[%d]: negative duration, runs or timeout", ErrBadScenario, path, line, i)
		}
		seen[v.Name] = true
		if v.Inject != nil {
			for j, in := range *v.Inject {
				if _, err := probes.Parse(in); err != nil {
					return nil, fmt.Errorf("%w: %s:%d: variants[%d].inject[%d]: %v", ErrBadScenario, path, at("inject"), i, j, err)
				}
			}
		}
		if e := v.Expect; e != "" && e != ExpectClean && !slices.Contains(signatures, e) {
			return nil, fmt.Errorf("%w: %s:%d: variants[%d].expect: %q: want clean or a signature id (%s)", ErrBadScenario, path, at("expect"), i, e, strings.Join(signatures, ", "))
		}
	}
	return s, nil
}

// Cases expands the scenario into its cases: the scenario itself, then each
// variant, defaults filled in. runs, if > 0, overrides every case's runs.
func (s *Scenario) Cases(runs int) []*Case {
	base := &Case{
		Name: s.Name, Scenario: s, Kernel: s.Kernel,
		CPUs: orDefault(s.VM.CPUs, 2), MemoryMB: 1024, NUMA: orDefault(s.VM.NUMA, 1), Net: s.VM.Net, CPUModel: s.VM.CPU, DiskSize: 4 << 30,
		Append: s.VM.Append, FS: s.FS.Type, Mkfs: s.FS.Mkfs, Mount: s.FS.Mount,
		Workload: s.Workload.Name, Params: s.Workload.params, Command: s.Workload.Command, Limits: s.limits,
		Inject: s.Inject, Duration: s.Duration, Runs: orDefault(s.Runs, 1), Timeout: s.Timeout,
		HangTimeout: s.HangTimeout, Expect: s.Expect,
	}
	if base.FS == "none" {
		base.FS = ""
	}
	if n, err := workloads.ParseSize(s.VM.Memory); err == nil && n > 0 {
		base.MemoryMB = int(n >> 20)
	}
	if n, err := workloads.ParseSize(s.VM.Disk); err == nil && n > 0 {
		base.DiskSize = n
	}
	if base.Expect == "" {
		base.Expect = ExpectClean
	}
	if base.HangTimeout == 0 {
		base.HangTimeout = 2 * time.Minute
	}
	cases := []*Case{base}
	for _, v := range s.Variants {
		c := *base
		c.Name = s.Name + "/" + v.Name
		if v.Kernel != "" {
			c.Kernel = v.Kernel
		}
		if v.Inject != nil {
			c.Inject = *v.Inject
		}
		if v.Duration > 0 {
			c.Duration = v.Duration
			if v.Timeout == 0 {
				c.Timeout = 0 // derived from the new duration
			}
		}
		if v.Runs > 0 {
			c.Runs = v.Runs
		}
		if v.Timeout > 0 {
			c.Timeout = v.Timeout
		}
		if v.Expect != "" {
			c.Expect = v.Expect
		}
		cases = append(cases, &c)
	}
	for _, c := range cases {
		if runs > 0 {
			c.Runs = runs
		}
		if c.Timeout == 0 {
			// The workload's own set-up and read-back come on top of its
			// duration; under TCG they can take as long again.
			c.Timeout = 2*c.Duration + 3*time.Minute
		}
	}
	return cases
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Argv is the guest command line for one run of the case with seed.
func (c *Case) Argv(seed int64) []string {
	if c.Command != "" {
		return agentctl.Wrap(c.Inject, []string{"/bin/sh", "-c", c.Command})
	}
	argv := []string{"workload", c.Workload}
	if workloads.Known[c.Workload].Timed {
		argv = append(argv, "--duration="+c.Duration.String())
	}
	argv = append(argv, "--seed="+strconv.FormatInt(seed, 10))
	for _, l := range c.Limits {
		argv = append(argv, "--cgroup="+l)
	}
	return agentctl.Wrap(c.Inject, append(argv, c.Params...))
}

// keyLine returns the line of the node at keys under a mapping (the deepest
// key found), or the document's line.
func keyLine(n *yaml.Node, keys ...string) int {
	line := n.Line
	for _, k := range keys {
		if n.Kind != yaml.MappingNode {
			return line
		}
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				line, n, found = n.Content[i].Line, n.Content[i+1], true
				break
			}
		}
		if !found {
			return line
		}
	}
	return line
}

// itemKeyLine returns the line of key in item i of the sequence at seq.
func itemKeyLine(doc *yaml.Node, seq string, i int, key string) int {
	for j := 0; j+1 < len(doc.Content); j += 2 {
		if doc.Content[j].Value == seq {
			if s := doc.Content[j+1]; s.Kind == yaml.SequenceNode && i < len(s.Content) {
				return keyLine(s.Content[i], key)
			}
		}
	}
	return seqLine(doc, seq, i)
}

// seqLine returns the line of item i of the sequence at key.
func seqLine(doc *yaml.Node, key string, i int) int {
	for j := 0; j+1 < len(doc.Content); j += 2 {
		if doc.Content[j].Value == key {
			if seq := doc.Content[j+1]; seq.Kind == yaml.SequenceNode && i < len(seq.Content) {
				return seq.Content[i].Line
			}
			return doc.Content[j].Line
		}
	}
	return doc.Line
}
