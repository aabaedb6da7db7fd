package kernels

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/ulikunitz/xz"
)

const moduleIndexName = "modules.json"

// Module is one loadable kernel module, as its .modinfo describes it.
type Module struct {
	// Name is the module name with '-' folded to '_'.
	Name string `json:"name"`
	// Path is relative to the modules directory (kernel/fs/btrfs/btrfs.ko.xz).
	Path string `json:"path"`
	// Depends lists the modules this one needs (depends=).
	Depends []string `json:"depends,omitempty"`
	// SoftPre lists modules or aliases to load first (softdep=pre:).
	SoftPre []string `json:"softdep_pre,omitempty"`
	// Aliases are the module's alias= entries.
	Aliases []string `json:"aliases,omitempty"`
}

// ModuleIndex describes a modules directory: its loadable modules and the
// names of modules built into the kernel.
type ModuleIndex struct {
	// Dir is the modules directory (lib/modules/RELEASE).
	Dir string `json:"-"`
	// Modules maps module names to modules.
	Modules map[string]*Module `json:"modules"`
	// Builtin holds the names of modules built into the kernel image.
	Builtin map[string]bool `json:"builtin"`
}

// ModName folds a module name the way the kernel does ('-' is '_').
func ModName(s string) string { return strings.ReplaceAll(s, "-", "_") }

func modNameFromPath(p string) string {
	b := filepath.Base(p)
	if i := strings.Index(b, ".ko"); i >= 0 {
		b = b[:i]
	}
	return ModName(b)
}

// IndexModules reads the .modinfo of every module (.ko, .ko.xz) under dir.
func IndexModules(dir string) (*ModuleIndex, error) {
	idx := &ModuleIndex{Dir: dir, Modules: map[string]*Module{}, Builtin: map[string]bool{}}
	if f, err := os.Open(filepath.Join(dir, "modules.builtin")); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); l != "" {
				idx.Builtin[modNameFromPath(l)] = true
			}
		}
		f.Close()
	}
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".ko") || strings.HasSuffix(p, ".ko.xz")) {
			rel, _ := filepath.Rel(dir, p)
			paths = append(paths, rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("index modules in %s: %w", dir, err)
	}
	mods := make([]*Module, len(paths))
	errs := make([]error, len(paths))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.NumCPU())
	for i, p := range paths {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			data, err := ReadModuleFile(filepath.Join(dir, p))
			if err == nil {
				mods[i], err = parseModinfo(p, data)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, m := range mods {
		if errs[i] != nil {
			return nil, fmt.Errorf("index module %s: %w", paths[i], errs[i])
		}
		idx.Modules[m.Name] = m
	}
	return idx, nil
}

// ReadModuleFile returns a module's ELF bytes, decompressing .ko.xz.
func ReadModuleFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if !strings.HasSuffix(path, ".xz") {
		return io.ReadAll(f)
	}
	r, err := xz.NewReader(bufio.NewReaderSize(f, 1<<16))
	if err != nil {
		return nil, fmt.Errorf("xz %s: %w", path, err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("xz %s: %w", path, err)
	}
	return b, nil
}

// parseModinfo reads the .modinfo section of a module's ELF image.
func parseModinfo(rel string, data []byte) (*Module, error) {
	ef, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("not an ELF module: %w", err)
	}
	sec := ef.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("no .modinfo section")
	}
	info, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("read .modinfo: %w", err)
	}
	m := &Module{Name: modNameFromPath(rel), Path: rel}
	for _, kv := range bytes.Split(info, []byte{0}) {
		k, v, ok := strings.Cut(string(kv), "=")
		if !ok {
			continue
		}
		switch k {
		case "name":
			m.Name = ModName(v)
		case "depends":
			for _, d := range strings.Split(v, ",") {
				if d = strings.TrimSpace(d); d != "" {
					m.Depends = append(m.Depends, ModName(d))
				}
			}
		case "softdep":
			m.SoftPre = append(m.SoftPre, parseSoftdepPre(v)...)
		case "alias":
			m.Aliases = append(m.Aliases, v)
		}
	}
	return m, nil
}

// parseSoftdepPre returns the pre: names of a softdep value
// ("pre: crc32c sha256 post: foo").
func parseSoftdepPre(v string) []string {
	var out []string
	pre := false
	for _, f := range strings.Fields(v) {
		switch f {
		case "pre:":
			pre = true
		case "post:":
			pre = false
		default:
			if pre {
				out = append(out, f)
			}
		}
	}
	return out
}

// Save writes the index as JSON.
func (idx *ModuleIndex) Save(path string) error {
	b, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("save module index: %w", err)
	}
	return nil
}

// Modules returns the kernel's module index: the one saved at fetch time, or
// a fresh scan of its modules directory. A kernel without modules has an
// empty index.
func (k *Kernel) Modules() (*ModuleIndex, error) {
	if k.ModulesDir == "" {
		return &ModuleIndex{Modules: map[string]*Module{}, Builtin: map[string]bool{}}, nil
	}
	if k.Dir != "" {
		if b, err := os.ReadFile(filepath.Join(k.Dir, moduleIndexName)); err == nil {
			idx := &ModuleIndex{Dir: k.ModulesDir}
			if err := json.Unmarshal(b, idx); err != nil {
				return nil, fmt.Errorf("read module index of %s: %w", k.Name, err)
			}
			return idx, nil
		}
	}
	return IndexModules(k.ModulesDir)
}

// resolve finds the modules a name stands for: the module of that name, or
// the modules that declare it as an alias.
func (idx *ModuleIndex) resolve(name string) []*Module {
	if m, ok := idx.Modules[ModName(name)]; ok {
		return []*Module{m}
	}
	var out []*Module
	for _, m := range idx.Modules {
		for _, a := range m.Aliases {
			if a == name || a == "crypto-"+name {
				out = append(out, m)
				break
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Requires returns the names of the modules m needs loaded first: its
// depends= and the modules its soft dependencies resolve to.
func (idx *ModuleIndex) Requires(m *Module) []string {
	var out []string
	for _, d := range m.Depends {
		if _, ok := idx.Modules[d]; ok {
			out = append(out, d)
		}
	}
	for _, s := range m.SoftPre {
		for _, sm := range idx.resolve(s) {
			out = append(out, sm.Name)
		}
	}
	return out
}

// LoadOrder returns the modules to load, dependencies first, so that every
// wanted name is available: names built into the kernel need nothing, names
// neither built in nor loadable are returned in missing. Soft dependencies
// (softdep=pre:) are followed where they resolve; an unresolved one is
// skipped, as modprobe does.
func (idx *ModuleIndex) LoadOrder(wanted []string) (order []*Module, missing []string) {
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(m *Module)
	visit = func(m *Module) {
		if state[m.Name] != 0 {
			return // done, or a cycle: break it
		}
		state[m.Name] = 1
		for _, d := range idx.Requires(m) {
			visit(idx.Modules[d])
		}
		state[m.Name] = 2
		order = append(order, m)
	}
	for _, w := range wanted {
		if idx.Builtin[ModName(w)] {
			continue
		}
		ms := idx.resolve(w)
		if len(ms) == 0 {
			missing = append(missing, w)
			continue
		}
		for _, m := range ms {
			visit(m)
		}
	}
	return order, missing
}
