package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"faultline/harness"
	"faultline/kernels"
)

var (
	errUsage   = errors.New("usage")
	errCrash   = harness.ErrKernelCrashed
	errBoot    = harness.ErrBootFailure
	errTimeout = harness.ErrTimeout
)

const kernelsUsage = `Usage:
  faultline kernels fetch SPEC...
  faultline kernels list [--json]
  faultline kernels show SPEC [--json]

Examples:
  faultline kernels fetch debian:6.1-cloud debian:6.12-cloud
  faultline kernels show debian:6.1-cloud --json
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
	if err := fs.Parse(reorder(args[1:])); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	store, err := kernels.NewStore()
	if err != nil {
		return fail(err)
	}
	switch args[0] {
	case "fetch":
		if fs.NArg() == 0 {
			fmt.Fprint(os.Stderr, kernelsUsage)
			return exitUsage
		}
		for _, spec := range fs.Args() {
			k, err := store.Resolve(spec, true, progress)
			if err != nil {
				return fail(err)
			}
			fmt.Printf("%s\t%s\t%s\n", spec, k.Name, k.Release)
		}
		return exitOK
	case "list":
		ks, err := store.List()
		if err != nil {
			return fail(err)
		}
		if *asJSON {
			if ks == nil {
				ks = []*kernels.Kernel{}
			}
			return printJSON(map[string]any{"kernels": ks, "specs": kernels.DebianSpecs})
		}
		fmt.Println("Cached kernels:")
		if len(ks) == 0 {
			fmt.Println("  (none; faultline kernels fetch debian:6.1-cloud)")
		}
		for _, k := range ks {
			fmt.Printf("  %-50s %s\n", k.Name, k.Release)
		}
		fmt.Println("Specs: " + strings.Join(kernels.DebianSpecs, ", ") + ", file:PATH[,modules=DIR]")
		return exitOK
	case "show":
		if fs.NArg() != 1 {
			fmt.Fprint(os.Stderr, kernelsUsage)
			return exitUsage
		}
		k, err := store.Resolve(fs.Arg(0), false, progress)
		if err != nil {
			return fail(err)
		}
		info, err := describeKernel(k)
		if err != nil {
			return fail(err)
		}
		if *asJSON {
			return printJSON(info)
		}
		fmt.Printf("name:       %s\nrelease:    %s\nvmlinuz:    %s\nSystem.map: %s\nconfig:     %s\nmodules:    %s (%d)\n",
			k.Name, k.Release, k.Vmlinuz, k.SystemMap, k.Config, k.ModulesDir, k.ModuleCount)
		for _, f := range info.Features {
			fmt.Printf("feature:    %-28s %v\n", f.Name, f.Value)
		}
		return exitOK
	}
	fmt.Fprintf(os.Stderr, "faultline kernels: unknown subcommand %q\n%s", args[0], kernelsUsage)
	return exitUsage
}

// feature is one kernel feature read from the kernel's config.
type feature struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type kernelInfo struct {
	*kernels.Kernel
	Features []feature `json:"features"`
}

// configFeatures are the config options faultline's features depend on.
var configFeatures = []string{
	"CONFIG_DEBUG_INFO_BTF", "CONFIG_KPROBES", "CONFIG_BPF_SYSCALL", "CONFIG_FUNCTION_ERROR_INJECTION",
	"CONFIG_BPF_KPROBE_OVERRIDE", "CONFIG_BTRFS_FS", "CONFIG_BTRFS_ASSERT", "CONFIG_EXT4_FS",
	"CONFIG_FW_CFG_SYSFS", "CONFIG_MEMCG", "CONFIG_CGROUP_WRITEBACK", "CONFIG_NUMA", "CONFIG_KASAN",
}

func describeKernel(k *kernels.Kernel) (*kernelInfo, error) {
	opts, err := k.ConfigOptions()
	if err != nil {
		return nil, err
	}
	info := &kernelInfo{Kernel: k, Features: []feature{}}
	for _, name := range configFeatures {
		v := opts[name]
		if v == "" {
			v = "n"
		}
		info.Features = append(info.Features, feature{Name: name, Value: v})
	}
	return info, nil
}

func printJSON(v any) int {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fail(err)
	}
	return exitOK
}

// reorder moves flags before positional arguments so that
// "show SPEC --json" parses like "show --json SPEC". Everything after "--"
// stays positional.
func reorder(args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if strings.HasPrefix(a, "-") && len(a) > 1 {
			flags = append(flags, a)
			continue
		}
		pos = append(pos, a)
	}
	return append(flags, pos...)
}
