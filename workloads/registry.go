package workloads

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Workload is a race workload ready to run in the guest.
type Workload interface {
	// CheckParams checks the parameters alone; it needs no filesystem, so
	// the host can call it when it validates a scenario.
	CheckParams() error
	// Validate checks the parameters and the filesystem it will run on.
	Validate() error
	// Run runs the workload and returns its summary.
	Run(ctx context.Context) (*Summary, error)
}

// Info describes a workload for the scenario validator and the help text.
type Info struct {
	Name string
	// Doc says in a few lines what it does, for workload --help.
	Doc string
	// FS is the filesystem it needs ("" for any).
	FS string
	// MountOpt is a substring the scratch mount options must contain
	// ("" for none), with the reason in MountWhy and an option that has
	// it in MountExample.
	MountOpt, MountWhy, MountExample string
	// Timed is false for workloads that run a fixed number of operations:
	// they take no --duration, --threads or --cgroup.
	Timed bool
	// Words are what the workload makes the kernel do, in the words a bug
	// report uses for it ("readahead", "reclaim", "direct i/o"), each
	// matched case-insensitively at the start of a word, with '_' and '-'
	// read as spaces: repro tries first the workloads a report describes.
	Words []string
	// Settings are named sets of the workload's flags that drive a path
	// harder than its defaults (repro calibrates each as a workload of its
	// own).
	Settings []Setting
}

// Setting is a named set of a workload's flags, with what it does.
type Setting struct {
	Name string
	// Params are flag values by flag name, as a scenario's params hold them.
	Params map[string]string
	// Doc says what the setting makes the kernel do.
	Doc string
}

// Common are the flags every workload takes (Dir, Seed) and those every
// timed one takes (Duration, Threads, Limits).
type Common struct {
	Dir      string
	Seed     int64
	Duration time.Duration
	Threads  int
	Limits   []string
}

// Entry is a workload's one registry entry: what it is and needs, and its
// flags. Flags registers the workload's own flags on fs and returns the
// constructor that builds it from them, and from the common ones, once fs
// is parsed.
type Entry struct {
	Info
	Flags func(fs *flag.FlagSet, c *Common) func() (Workload, error)
}

var registry = map[string]*Entry{}

// Known lists the workloads by name.
var Known = map[string]Info{}

// register adds a workload; each workload's file calls it from init.
func register(e *Entry) {
	registry[e.Name] = e
	Known[e.Name] = e.Info
}

// Names returns the known workloads, sorted.
func Names() []string {
	var n []string
	for k := range Known {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// ErrUnknown is returned for a workload name faultline does not know.
var ErrUnknown = errors.New("unknown workload")

// ParseSize parses a byte size with an optional K, M or G suffix.
func ParseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	}
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q: want a number with optional K, M or G", s)
	}
	return n * mult, nil
}

type listFlag []string

func (m *listFlag) String() string     { return strings.Join(*m, ",") }
func (m *listFlag) Set(v string) error { *m = append(*m, v); return nil }

// flagSet returns workload name's flag set: the common flags it takes and
// its own, with the constructor.
func flagSet(e *Entry, dir string, out io.Writer) (*flag.FlagSet, func() (Workload, error)) {
	fs := flag.NewFlagSet("workload "+e.Name, flag.ContinueOnError)
	fs.SetOutput(out)
	c := &Common{Dir: dir}
	fs.Int64Var(&c.Seed, "seed", 1, "seed: the same seed gives the same sequence of operations")
	fs.StringVar(&c.Dir, "dir", dir, "directory to work in")
	if e.Timed {
		fs.DurationVar(&c.Duration, "duration", 30*time.Second, "how long to race")
		fs.IntVar(&c.Threads, "threads", 2, "racing threads")
		fs.Var((*listFlag)(&c.Limits), "cgroup", "cgroup interface file to set for the workload's cgroup, FILE=VALUE (repeatable), e.g. memory.max=256M")
	}
	return fs, e.Flags(fs, c)
}

// Parse builds workload name from its command-line flags (args, without
// the name): the common ones and its own, no other workload's. Flag errors
// go to out (nil: discarded); the returned error names the bad flag.
// flag.ErrHelp is returned for -h.
func Parse(name string, args []string, dir string, out io.Writer) (Workload, error) {
	e, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknown, name, strings.Join(Names(), ", "))
	}
	if out == nil {
		out = io.Discard
	}
	fs, build := flagSet(e, dir, out)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("workload %s: unexpected argument %q", name, fs.Arg(0))
	}
	return build()
}

// Usage writes every workload's description and flags, from the registry.
func Usage(w io.Writer) {
	for _, name := range Names() {
		e := registry[name]
		fmt.Fprintf(w, "%s\n", name)
		for _, l := range strings.Split(strings.TrimSpace(e.Doc), "\n") {
			fmt.Fprintf(w, "    %s\n", l)
		}
		fs, _ := flagSet(e, "/mnt/scratch", w)
		fs.PrintDefaults()
		fmt.Fprintln(w)
	}
}

func orInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
