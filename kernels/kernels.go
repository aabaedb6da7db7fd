// Package kernels resolves kernel specs (debian:6.1-cloud, an exact Debian
// package name, file:PATH) to kernels in a per-user cache: vmlinuz, System.map,
// config and modules, with a module index from which a load order is computed.
package kernels

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// ErrUnknownSpec is returned when a kernel spec names nothing faultline knows.
var ErrUnknownSpec = errors.New("unknown kernel spec")

// ErrNotFetched is returned when a spec resolves to a kernel that is not in
// the cache yet.
var ErrNotFetched = errors.New("kernel not fetched")

// Kernel is a kernel ready to boot: the manifest kept beside its files in the
// cache (kernel.json), or built on the fly for a file: spec.
type Kernel struct {
	// Name identifies the kernel in the cache: the Debian package name, or
	// file:PATH.
	Name string `json:"name"`
	// Source is how the kernel was obtained: "debian", "file" or "build".
	Source string `json:"source"`
	// Release is the kernel release string (uname -r), if known.
	Release string `json:"release"`
	// Version is the package version for Debian kernels.
	Version string `json:"version,omitempty"`
	// Dir is the cache directory holding the kernel's files.
	Dir string `json:"dir,omitempty"`
	// Vmlinuz is the bootable kernel image (bzImage).
	Vmlinuz string `json:"vmlinuz"`
	// SystemMap is the kernel's System.map, if known.
	SystemMap string `json:"system_map,omitempty"`
	// Config is the kernel's .config, if known.
	Config string `json:"config,omitempty"`
	// ModulesDir is the directory holding the kernel's modules
	// (lib/modules/RELEASE), if it has any.
	ModulesDir string `json:"modules_dir,omitempty"`
	// ModuleCount is the number of loadable modules indexed.
	ModuleCount int `json:"module_count"`
	// Spec is the build spec a built kernel came from.
	Spec string `json:"spec,omitempty"`
	// Key is a built kernel's cache key: a hash of source identity, config
	// recipe, patches and compiler.
	Key string `json:"key,omitempty"`
	// BuiltFrom is a built kernel's source identity
	// (linux-source-6.1_6.1.192-2, git-SHA, tree-PATH-DESCRIBE).
	BuiltFrom string `json:"built_from,omitempty"`
	// Patches is a built kernel's patch series, in order.
	Patches []string `json:"patches,omitempty"`
	// BuildLog is a built kernel's full build log.
	BuildLog string `json:"build_log,omitempty"`
	// TextSHA256 is the SHA-256 of a built kernel's .text section: two
	// builds with the same value run the same code (builds keep time, host
	// and BTF numbering out of the image, so the same source gives the same
	// value).
	TextSHA256 string `json:"text_sha256,omitempty"`
}

// CacheDir returns faultline's per-user cache directory:
// $XDG_CACHE_HOME/faultline, else ~/.cache/faultline.
func CacheDir() (string, error) {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "faultline"), nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("locate cache directory (set XDG_CACHE_HOME): %w", err)
	}
	return filepath.Join(d, "faultline"), nil
}

// Store is the kernel cache: one directory per kernel under Root.
type Store struct {
	// Root is the directory holding one subdirectory per kernel.
	Root string
	// Apt looks up and downloads Debian packages.
	Apt Apt
}

// NewStore returns the store in the default cache directory, using the
// system's apt through a cache of its answers (CachedApt).
func NewStore() (*Store, error) {
	c, err := CacheDir()
	if err != nil {
		return nil, err
	}
	return &Store{Root: filepath.Join(c, "kernels"), Apt: &CachedApt{Apt: SystemApt{}, Path: filepath.Join(c, "apt.json")}}, nil
}

// RefreshApt makes the store ask apt again instead of using cached answers
// (kernels fetch does, so that a fetch always sees the current lists).
func (s *Store) RefreshApt() {
	if c, ok := s.Apt.(*CachedApt); ok {
		c.Refresh = true
	}
}

const manifestName = "kernel.json"

// List returns the kernels in the cache, sorted by name.
func (s *Store) List() ([]*Kernel, error) {
	ents, err := os.ReadDir(s.Root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list kernel cache: %w", err)
	}
	var ks []*Kernel
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		k, err := readManifest(filepath.Join(s.Root, e.Name()))
		if err != nil {
			continue // a partial or foreign directory: not a kernel
		}
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].Name < ks[j].Name })
	return ks, nil
}

// Lookup returns the cached kernel named name, or ErrNotFetched.
func (s *Store) Lookup(name string) (*Kernel, error) {
	k, err := readManifest(filepath.Join(s.Root, name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", name, ErrNotFetched)
	}
	return k, err
}

func readManifest(dir string) (*Kernel, error) {
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		return nil, err
	}
	var k Kernel
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(dir, manifestName), err)
	}
	return &k, nil
}

// writeManifest writes k's manifest into dir (k.Dir may name where dir will be moved).
func writeManifest(k *Kernel, dir string) error {
	b, err := json.MarshalIndent(k, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, manifestName), append(b, '\n'), 0o644)
}

// Resolve turns a spec into a kernel in the cache, fetching it when fetch is
// true. Specs:
//
//	debian:SERIES[-FLAVOUR]   newest linux-image-SERIES*-[FLAVOUR-]amd64-unsigned
//	                          package (debian:6.1, debian:6.1-cloud, debian:6.12-cloud)
//	linux-image-...-unsigned  that exact Debian package
//	file:PATH[,modules=DIR]   a local bzImage, with an optional modules directory
//	NAME                      a shipped build spec (6.1-harness), once built
//	FILE.yaml                 a build spec file, once built
//	NAME                      a kernel already in the cache (kernels list)
//	DIR                       a kernel's directory in the cache, as kernels
//	                          build and kernels list print it
func (s *Store) Resolve(spec string, fetch bool, progress func(string)) (*Kernel, error) {
	if progress == nil {
		progress = func(string) {}
	}
	switch {
	case strings.HasPrefix(spec, "file:"):
		return fileKernel(spec)
	case IsBuildSpec(spec):
		bs, err := LoadBuildSpec(spec)
		if err != nil {
			return nil, err
		}
		b := &Builder{Store: s, Cache: filepath.Dir(s.Root)}
		return b.Lookup(bs)
	case strings.HasPrefix(spec, "debian:"):
		pkg, err := s.ResolveDebian(spec)
		if err != nil {
			// Offline or no apt lists: fall back to the newest cached match.
			if k := s.newestCached(spec); k != nil {
				return k, nil
			}
			return nil, err
		}
		return s.debianPackage(pkg, fetch, progress)
	case strings.HasPrefix(spec, "linux-image-"):
		return s.debianPackage(spec, fetch, progress)
	}
	if dir := filepath.Clean(spec); filepath.IsAbs(dir) && filepath.Dir(dir) == filepath.Clean(s.Root) {
		spec = filepath.Base(dir)
	}
	if k, err := s.Lookup(spec); err == nil {
		return k, nil
	}
	if k, err := s.builtNamed(spec); k != nil || err != nil {
		return k, err
	}
	return nil, fmt.Errorf("%w %q; valid specs: %s", ErrUnknownSpec, spec, s.validSpecs())
}

// builtNamed returns the cached build named name (the name in its spec
// file): the one its spec file builds today when that file is still there,
// else the only one. It returns nil, nil when no build has that name.
func (s *Store) builtNamed(name string) (*Kernel, error) {
	ks, _ := s.List()
	b := &Builder{Store: s, Cache: filepath.Dir(s.Root)}
	var superseded, unknown []*Kernel
	for _, k := range ks {
		if k.Source != "build" || k.Name != name {
			continue
		}
		switch b.State(k) {
		case BuildCurrent:
			return k, nil
		case BuildSuperseded:
			superseded = append(superseded, k)
		default:
			unknown = append(unknown, k)
		}
	}
	switch {
	case len(superseded) > 0:
		return nil, fmt.Errorf("%w %q: no current build of it (its spec %s changed since); build it again: faultline kernels build %s",
			ErrUnknownSpec, name, superseded[0].Spec, superseded[0].Spec)
	case len(unknown) == 1:
		return unknown[0], nil
	case len(unknown) > 1:
		var dirs []string
		for _, k := range unknown {
			dirs = append(dirs, filepath.Base(k.Dir))
		}
		return nil, fmt.Errorf("%w %q: %d cached builds of it and its spec file is gone; name one by its directory: %s",
			ErrUnknownSpec, name, len(unknown), strings.Join(dirs, ", "))
	}
	return nil, nil
}

func (s *Store) validSpecs() string {
	specs := append([]string{}, DebianSpecs...)
	specs = append(specs, ShippedSpecs()...)
	specs = append(specs, "linux-image-<release>-<flavour>-amd64-unsigned", "file:PATH[,modules=DIR]", "SPEC.yaml")
	if ks, _ := s.List(); len(ks) > 0 {
		for _, k := range ks {
			if !slices.Contains(specs, k.Name) {
				specs = append(specs, k.Name)
			}
		}
	}
	return strings.Join(specs, ", ")
}

func (s *Store) debianPackage(pkg string, fetch bool, progress func(string)) (*Kernel, error) {
	k, err := s.Lookup(pkg)
	if err == nil {
		return k, nil
	}
	if !errors.Is(err, ErrNotFetched) {
		return nil, err
	}
	if !fetch {
		return nil, fmt.Errorf("%w: %s (run: faultline kernels fetch %s)", ErrNotFetched, pkg, pkg)
	}
	return s.FetchDebian(pkg, progress)
}

func (s *Store) newestCached(spec string) *Kernel {
	re, err := debianPattern(spec)
	if err != nil {
		return nil
	}
	ks, _ := s.List()
	var names []string
	for _, k := range ks {
		if re.MatchString(k.Name) {
			names = append(names, k.Name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	sortPackages(names)
	k, _ := s.Lookup(names[len(names)-1])
	return k
}

// fileKernel builds a Kernel for file:PATH[,modules=DIR].
func fileKernel(spec string) (*Kernel, error) {
	parts := strings.Split(strings.TrimPrefix(spec, "file:"), ",")
	k := &Kernel{Name: spec, Source: "file", Vmlinuz: parts[0]}
	for _, p := range parts[1:] {
		key, val, ok := strings.Cut(p, "=")
		switch {
		case ok && key == "modules":
			k.ModulesDir = val
		case ok && key == "config":
			k.Config = val
		case ok && key == "system-map":
			k.SystemMap = val
		default:
			return nil, fmt.Errorf("%w %q: option %q is not one of modules=DIR, config=FILE, system-map=FILE", ErrUnknownSpec, spec, p)
		}
	}
	if k.Vmlinuz == "" {
		return nil, fmt.Errorf("%w %q: file: needs a path to a bzImage", ErrUnknownSpec, spec)
	}
	if _, err := os.Stat(k.Vmlinuz); err != nil {
		return nil, fmt.Errorf("kernel image: %w", err)
	}
	if k.ModulesDir != "" {
		idx, err := IndexModules(k.ModulesDir)
		if err != nil {
			return nil, err
		}
		k.ModuleCount = len(idx.Modules)
	}
	return k, nil
}

// ConfigOptions reads the kernel's .config into a map of CONFIG_X -> value
// ("y", "m", a number or a quoted string). Options that are "not set" are
// absent. A kernel whose config is unknown gives an empty map and no error.
func (k *Kernel) ConfigOptions() (map[string]string, error) {
	opts := map[string]string{}
	if k.Config == "" {
		return opts, nil
	}
	f, err := os.Open(k.Config)
	if err != nil {
		return nil, fmt.Errorf("read kernel config: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "CONFIG_") {
			if key, val, ok := strings.Cut(l, "="); ok {
				opts[key] = val
			}
		}
	}
	return opts, sc.Err()
}
