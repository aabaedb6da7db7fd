//go:build !faultline_agent

package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"faultline/agentctl"
	"faultline/harness"
	"faultline/kernels"
	"faultline/probes"
	"faultline/termline"
)

const kernelsUsage = `Usage:
  faultline kernels fetch SPEC...
  faultline kernels build [--jobs N] [--json] BUILDSPEC...
  faultline kernels list [--json] [--available]
  faultline kernels show SPEC [--json] [--probe]
  faultline kernels prune [--dry-run] [--json]

fetch downloads Debian's prebuilt kernels. build builds a kernel from a build
spec: a shipped one (kernels/specs: 6.1-harness, 6.1-mutant-seed-a..d,
6.1-debug) or a YAML file with name, source (debian-source:6.1, tree:PATH,
git:REPO@REF), config (base + fragments) and patches. A build already in the
cache costs nothing; a changed patch series rebuilds only what it touches.
Built kernels are used by name: faultline vm --kernel 6.1-harness. When a
spec, a patch or a fragment changes, the next build makes a new kernel and
the old one is superseded (list marks it); prune removes superseded builds.

Examples:
  faultline kernels fetch debian:6.1-cloud debian:6.12-cloud
  faultline kernels build 6.1-harness 6.1-mutant-seed-a
  faultline kernels build ./my-series.yaml --jobs 4
  faultline kernels show 6.1-harness --json
  faultline kernels show debian:6.1-cloud --probe    # boot it, ask cilium/ebpf's features package
  faultline kernels prune --dry-run                  # what prune would remove
`

func cmdKernels(ctx context.Context, args []string) int {
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" {
		fmt.Fprint(os.Stderr, kernelsUsage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	fs := flag.NewFlagSet("kernels "+args[0], flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, kernelsUsage) }
	asJSON := fs.Bool("json", false, "machine-readable output")
	jobs := fs.Int("jobs", runtime.NumCPU(), "build: make -j")
	probe := fs.Bool("probe", false, "show: boot the kernel and probe its BPF features in the guest (cached beside the kernel)")
	dryRun := fs.Bool("dry-run", false, "prune: list what would be removed, remove nothing")
	available := fs.Bool("available", false, "list: every Debian kernel in the apt lists, oldest first (what a bisect range walks)")
	if code, ok := parseFlags(fs, reorder(fs, args[1:])); !ok {
		return code
	}
	argsOK := map[string]bool{"fetch": fs.NArg() > 0, "build": fs.NArg() > 0, "list": fs.NArg() == 0, "prune": fs.NArg() == 0, "show": fs.NArg() == 1}
	if ok, known := argsOK[args[0]]; known && !ok {
		fmt.Fprint(os.Stderr, kernelsUsage)
		return exitUsage
	}
	store, err := kernels.NewStore()
	if err != nil {
		return fail(err)
	}
	switch args[0] {
	case "fetch":
		store.RefreshApt()
		for _, spec := range fs.Args() {
			k, err := store.Resolve(spec, true, progress)
			if err != nil {
				return fail(err)
			}
			fmt.Printf("%s\t%s\t%s\n", spec, k.Name, k.Release)
		}
		return exitOK
	case "build":
		return cmdKernelsBuild(ctx, store, fs.Args(), *jobs, *asJSON)
	case "list":
		if *available {
			names, err := store.AvailableDebian()
			if err != nil {
				return fail(err)
			}
			fmt.Println(strings.Join(names, "\n"))
			return exitOK
		}
		ks, err := store.List()
		if err != nil {
			return fail(err)
		}
		b, err := kernels.NewBuilder(store)
		if err != nil {
			return fail(err)
		}
		out := b.Listing(ks)
		u, uerr := kernels.CacheUsage()
		if *asJSON {
			return printJSON(map[string]any{"kernels": out, "specs": kernels.DebianSpecs, "build_specs": kernels.ShippedSpecs(), "cache": u})
		}
		fmt.Println("Cached kernels:")
		if len(ks) == 0 {
			fmt.Println("  (none; faultline kernels fetch debian:6.1-cloud)")
		}
		for _, k := range out {
			fmt.Printf("  %-50s %-26s %8s%s\n", k.Name, k.Release, kernels.GiB(k.Bytes), k.Note())
		}
		if uerr == nil {
			fmt.Printf("Cache %s: %s (kernels %s, build trees %s, other %s), %s free; faultline kernels prune removes superseded builds\n",
				u.Dir, kernels.GiB(u.Total()), kernels.GiB(u.Kernels), kernels.GiB(u.BuildTrees), kernels.GiB(u.Other), kernels.GiB(u.Free))
		}
		fmt.Printf("Specs: %s, file:PATH[,modules=DIR]\nBuild specs: %s, FILE.yaml\n", strings.Join(kernels.DebianSpecs, ", "), strings.Join(kernels.ShippedSpecs(), ", "))
		return exitOK
	case "prune":
		b, err := kernels.NewBuilder(store)
		if err != nil {
			return fail(err)
		}
		gone, err := b.Prune(*dryRun)
		if err != nil {
			return fail(err)
		}
		if *asJSON {
			if gone == nil {
				gone = []*kernels.Kernel{}
			}
			return printJSON(map[string]any{"removed": gone, "dry_run": *dryRun})
		}
		verb := "removed"
		if *dryRun {
			verb = "would remove"
		}
		for _, k := range gone {
			fmt.Printf("%s %s (built %s, superseded)\t%s\n", verb, k.Name, k.Version, k.Dir)
		}
		if len(gone) == 0 {
			fmt.Println("nothing to prune: every cached build is what its spec builds today")
		}
		return exitOK
	case "show":
		k, err := store.Resolve(fs.Arg(0), false, progress)
		if err != nil {
			return fail(err)
		}
		info := &kernelInfo{Kernel: k, BPF: agentctl.CachedFeatures(k)}
		if info.Features, err = k.Features(); err != nil {
			return fail(err)
		}
		if *probe {
			vf := harness.VMFlags{Kernel: fs.Arg(0), FS: "none", DiskSize: "64M", O: harness.Options{CPUs: 1, MemoryMB: 512, NUMANodes: 1, Accel: "auto", BootTimeout: 90 * time.Second}}
			opts, err := vf.Options(progress)
			if err != nil {
				return fail(err)
			}
			if info.BPF, err = agentctl.ProbeFeatures(ctx, harness.QEMU{}, opts, os.Stderr); err != nil {
				return fail(err)
			}
		}
		if *asJSON {
			return printJSON(info)
		}
		fmt.Printf("name:       %s\nrelease:    %s\nvmlinuz:    %s\nSystem.map: %s\nconfig:     %s\nmodules:    %s (%d)\n",
			k.Name, k.Release, k.Vmlinuz, k.SystemMap, k.Config, k.ModulesDir, k.ModuleCount)
		for _, f := range info.Features {
			fmt.Printf("feature:    %-28s %v\n", f.Name, f.Value)
		}
		if info.BPF == nil {
			fmt.Println("bpf:        not probed yet (faultline kernels show --probe " + fs.Arg(0) + ")")
		}
		for _, f := range info.BPF {
			yes := "yes"
			if !f.Supported {
				yes = "no (" + f.Detail + ")"
			}
			fmt.Printf("bpf:        %-28s %s  [%s]\n", f.Name, yes, f.Needed)
		}
		return exitOK
	}
	fmt.Fprintf(os.Stderr, "faultline kernels: unknown subcommand %q\n%s", args[0], kernelsUsage)
	return exitUsage
}

// cmdKernelsBuild builds each spec in turn, printing one line per kernel.
func cmdKernelsBuild(ctx context.Context, store *kernels.Store, specs []string, jobs int, asJSON bool) int {
	b, _, err := newBuilder(store, jobs)
	if err != nil {
		return fail(err)
	}
	var results []*kernels.BuildResult
	for _, arg := range specs {
		spec, err := kernels.LoadBuildSpec(arg)
		if err != nil {
			return fail(err)
		}
		r, err := b.Build(ctx, spec)
		b.Progress("")
		if err != nil {
			return fail(err)
		}
		results = append(results, r)
		if !asJSON {
			how := "cached"
			if !r.Cached {
				how = fmt.Sprintf("built in %s (%d objects", r.Duration.Round(time.Second), r.Compiled)
				if r.CCache {
					how += fmt.Sprintf(", ccache %.0f%% hits", 100*r.Cache.HitRate())
				}
				how += ")"
			}
			fmt.Printf("%s\t%s\t%s\t%s\n", spec.Name, r.Kernel.Release, how, r.Kernel.Dir)
		}
	}
	if asJSON {
		return printJSON(map[string]any{"builds": results})
	}
	return exitOK
}

type kernelInfo struct {
	*kernels.Kernel
	Features []kernels.Feature `json:"features"`
	BPF      []probes.Feature  `json:"bpf_features"` // from kernels show --probe; null until probed
}

// reorder moves flags before positional arguments ("show SPEC --json"); all after "--" stays.
func reorder(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if strings.HasPrefix(a, "-") && len(a) > 1 {
			flags = append(flags, a)
			// A flag that takes a value as the next argument (--vs-base
			// defconfig) keeps it.
			name := strings.TrimLeft(a, "-")
			if f := fs.Lookup(name); f != nil && !strings.Contains(name, "=") && !isBoolFlag(f) && i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
			continue
		}
		pos = append(pos, a)
	}
	return append(flags, pos...)
}

// isBoolFlag reports whether f is a flag that takes no value (--json).
func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// newBuilder returns a kernel builder on store whose progress goes to a
// status line on stderr: the object counts as a status updated at most every
// 15 s, everything else as lines. The returned function clears the status.
func newBuilder(store *kernels.Store, jobs int) (*kernels.Builder, func(), error) {
	b, err := kernels.NewBuilder(store)
	if err != nil {
		return nil, nil, err
	}
	if jobs > 0 {
		b.Jobs = jobs
	}
	tl := termline.New(os.Stderr, false)
	tl.Every = 15 * time.Second
	b.Progress = func(msg string) {
		if msg == "" || strings.Contains(msg, " objects, ") || strings.Contains(msg, " objects (") {
			tl.Status(msg)
		} else {
			tl.Line(msg)
		}
	}
	return b, func() { tl.Status("") }, nil
}
