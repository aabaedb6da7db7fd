package probes

import (
	"errors"
	"os"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
)

// Feature is one BPF capability of the running kernel, as the injector
// needs it.
type Feature struct {
	Name      string `json:"name"`
	Supported bool   `json:"supported"`
	// Needed says which injections depend on it.
	Needed string `json:"needed_by"`
	// Detail says why it is missing.
	Detail string `json:"detail,omitempty"`
}

// Features probes the running kernel (run it in the guest) with cilium/ebpf's
// features package and the files the injector reads.
func Features() []Feature {
	check := func(name, needed string, err error) Feature {
		f := Feature{Name: name, Needed: needed, Supported: err == nil}
		if err != nil {
			f.Detail = err.Error()
		}
		return f
	}
	out := []Feature{
		check("kprobe_programs", "all", features.HaveProgramType(ebpf.Kprobe)),
		check("bpf_loop", "delay (kernel >= 5.17)", features.HaveProgramHelper(ebpf.Kprobe, asm.FnLoop)),
		check("bpf_override_return", "fail-return, fail-trylock (CONFIG_BPF_KPROBE_OVERRIDE)", features.HaveProgramHelper(ebpf.Kprobe, asm.FnOverrideReturn)),
		check("bpf_get_current_cgroup_id", "cgroup= filters", features.HaveProgramHelper(ebpf.Kprobe, asm.FnGetCurrentCgroupId)),
	}
	_, err := btf.LoadKernelSpec()
	out = append(out, check("btf", "CO-RE programs (CONFIG_DEBUG_INFO_BTF); faultline's own need none", err))
	_, err = errorInjectable()
	out = append(out, check("error_injection_list", "fail-return (CONFIG_FUNCTION_ERROR_INJECTION)", err))
	syms := &kallsyms{}
	_, _, err = syms.funcRange(TrylockHook)
	if err != nil && !errors.Is(err, os.ErrPermission) {
		err = errors.New("no " + TrylockHook + " in kallsyms: not a faultline-built kernel (kernels/patches/faultline-hooks.patch)")
	}
	out = append(out, check("trylock_hook", "fail-trylock", err))
	return out
}
