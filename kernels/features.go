package kernels

// Feature is a kernel config option that faultline's features depend on,
// with its value in a kernel's config ("n" when unset).
type Feature struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// FeatureOptions are the config options faultline's features depend on:
// BTF and kprobes for probes, error injection and the kprobe override for
// fail injections, the filesystems, cgroup writeback, NUMA, and BTRFS_ASSERT
// and KASAN for what the seed mutants show.
var FeatureOptions = []string{
	"CONFIG_DEBUG_INFO_BTF", "CONFIG_KPROBES", "CONFIG_BPF_SYSCALL", "CONFIG_FUNCTION_ERROR_INJECTION",
	"CONFIG_BPF_KPROBE_OVERRIDE", "CONFIG_BTRFS_FS", "CONFIG_BTRFS_ASSERT", "CONFIG_EXT4_FS",
	"CONFIG_MEMCG", "CONFIG_CGROUP_WRITEBACK", "CONFIG_NUMA", "CONFIG_KASAN",
}

// Features returns FeatureOptions' values in the kernel's config.
func (k *Kernel) Features() ([]Feature, error) {
	opts, err := k.ConfigOptions()
	if err != nil {
		return nil, err
	}
	out := []Feature{}
	for _, name := range FeatureOptions {
		v := opts[name]
		if v == "" {
			v = "n"
		}
		out = append(out, Feature{Name: name, Value: v})
	}
	return out, nil
}
