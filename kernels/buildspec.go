package kernels

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// embedded holds the shipped build specs, config fragments and patches.
//
//go:embed specs/*.yaml configs/*.config patches/*.patch
var embedded embed.FS

// ErrBadSpec is returned for a build spec that cannot be used as written.
var ErrBadSpec = errors.New("bad build spec")

// ErrNotBuilt is returned when a build spec's kernel is not in the cache.
var ErrNotBuilt = errors.New("kernel not built")

// BuildSpec describes a kernel that faultline builds itself: a source, a
// config recipe and a patch series. Shipped specs live in kernels/specs/;
// a user's spec is any YAML file with the same fields.
type BuildSpec struct {
	// Name is how the built kernel is named (faultline vm --kernel NAME).
	Name string `yaml:"name"`
	// Description says what the kernel is for.
	Description string `yaml:"description"`
	// Source is debian-source:SERIES (the linux-source-SERIES package),
	// tree:PATH (a local kernel tree, built out of tree, no patches) or
	// git:REPO@REF (a commit of a local git repository, checked out in a
	// persistent clone per repository and config recipe, so a build of
	// another commit rebuilds only what differs).
	Source string `yaml:"source"`
	// Config is the config recipe.
	Config ConfigRecipe `yaml:"config"`
	// Patches are applied in order (paths relative to the spec file, or
	// names of shipped patches in kernels/patches/).
	Patches []string `yaml:"patches"`
	// Linker links vmlinux: bfd (GNU ld, the default; only kbuild's link
	// for pahole goes to ld.lld where it is installed) or lld
	// (LLVM's ld.lld for every link: a one-patch rebuild's links take 1-3
	// s each instead of 2.5-6.5 s, a switch 28-33 s against 46-47 s). The
	// compiler is gcc either way and the objects are the same, but the
	// data is laid out differently, and seed A's plan never fired on an
	// lld-linked mutant (docs/kernels.md): lld is not the default.
	Linker string `yaml:"linker"`

	// file is where the spec was read from; dir resolves relative paths
	// ("" for shipped specs, which resolve against the embedded files).
	file, dir string
}

// ConfigRecipe is a base config plus fragments applied in order.
type ConfigRecipe struct {
	// Base is the make target that writes the base config: defconfig or
	// tinyconfig.
	Base string `yaml:"base"`
	// Fragments are applied in order, later lines winning. A name found in
	// the source tree (kernel/configs/, arch/x86/configs/) is an upstream
	// fragment such as kvm_guest.config, applied but not checked (it lists
	// options of other architectures). Any other name is a faultline
	// fragment (kernels/configs/NAME.config, or a path relative to the
	// spec file) and every option in it is checked after olddefconfig.
	Fragments []string `yaml:"fragments"`
}

var specNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.+_-]*$`)

// IsBuildSpec reports whether spec names a build spec: a shipped one or a
// YAML file.
func IsBuildSpec(spec string) bool {
	if strings.HasSuffix(spec, ".yaml") || strings.HasSuffix(spec, ".yml") {
		return true
	}
	_, err := fs.Stat(embedded, "specs/"+spec+".yaml")
	return err == nil
}

// ShippedSpecs returns the names of the build specs shipped in
// kernels/specs/.
func ShippedSpecs() []string {
	ents, _ := fs.ReadDir(embedded, "specs")
	var names []string
	for _, e := range ents {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(names)
	return names
}

// LoadBuildSpec reads a build spec: the name of a shipped spec
// (6.1-harness) or the path of a YAML file.
func LoadBuildSpec(spec string) (*BuildSpec, error) {
	var data []byte
	var err error
	s := &BuildSpec{}
	if strings.HasSuffix(spec, ".yaml") || strings.HasSuffix(spec, ".yml") {
		data, err = os.ReadFile(spec)
		if err != nil {
			return nil, fmt.Errorf("read build spec: %w", err)
		}
		s.file = spec
		s.dir = filepath.Dir(spec)
	} else {
		data, err = fs.ReadFile(embedded, "specs/"+spec+".yaml")
		if err != nil {
			return nil, fmt.Errorf("%w %q: shipped build specs are %s, or give a .yaml file",
				ErrUnknownSpec, spec, strings.Join(ShippedSpecs(), ", "))
		}
		s.file = "kernels/specs/" + spec + ".yaml"
	}
	return parseBuildSpec(s, data)
}

func parseBuildSpec(s *BuildSpec, data []byte) (*BuildSpec, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(s); err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrBadSpec, s.file, err)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %s: %s", ErrBadSpec, s.file, fmt.Sprintf(format, args...))
	}
	switch {
	case s.Name == "":
		return nil, bad("name is missing")
	case !specNameRE.MatchString(s.Name):
		return nil, bad("name %q: use lower-case letters, digits and .+_-", s.Name)
	case s.Source == "":
		return nil, bad("source is missing: debian-source:6.1, tree:PATH or git:REPO@REF")
	}
	if _, err := parseSource(s.Source, s.dir); err != nil {
		return nil, bad("%v", err)
	}
	switch s.Config.Base {
	case "":
		s.Config.Base = "defconfig"
	case "defconfig", "tinyconfig":
	default:
		return nil, bad("config.base %q: want defconfig or tinyconfig", s.Config.Base)
	}
	switch s.Linker {
	case "":
		s.Linker = "bfd"
	case "lld", "bfd":
	default:
		return nil, bad("linker %q: want bfd (the default) or lld", s.Linker)
	}
	if strings.HasPrefix(s.Source, "tree:") && len(s.Patches) > 0 {
		return nil, bad("a tree: source is built as it is; apply the patches in the tree, or use git:REPO@REF")
	}
	for _, p := range s.Patches {
		if _, err := s.readPatch(p); err != nil {
			return nil, bad("%v", err)
		}
	}
	return s, nil
}

// besideSpec reads name relative to a user's spec file (absolute paths as
// they are); shipped specs have no directory.
func (s *BuildSpec) besideSpec(name string) ([]byte, bool) {
	if s.dir == "" {
		return nil, false
	}
	p := name
	if !filepath.IsAbs(p) {
		p = filepath.Join(s.dir, name)
	}
	b, err := os.ReadFile(p)
	return b, err == nil
}

// readPatch returns the content of a patch named in the spec.
func (s *BuildSpec) readPatch(name string) ([]byte, error) {
	if b, ok := s.besideSpec(name); ok {
		return b, nil
	}
	b, err := fs.ReadFile(embedded, "patches/"+filepath.Base(name))
	if err != nil {
		return nil, fmt.Errorf("patch %q not found (next to the spec or in kernels/patches/)", name)
	}
	return b, nil
}

// fragment is a config fragment of a recipe.
type fragment struct {
	name     string // kvm_guest.config, harness
	upstream bool   // from the source tree: applied, not checked
	content  []byte
}

// fragments resolves the recipe's fragments: faultline's own (kernels/configs
// or next to the spec) first, else upstream ones from the source tree. With
// tree "" upstream fragments come back without content (enough for the
// cache key, which covers them through the source identity).
func (s *BuildSpec) fragments(tree string) ([]fragment, error) {
	var out []fragment
	for _, name := range s.Config.Fragments {
		f := fragment{name: name}
		if b, err := s.ownFragment(name); err == nil {
			f.content = b
		} else {
			f.upstream = true
			if tree != "" {
				for _, d := range []string{"kernel/configs", "arch/x86/configs"} {
					if b, err := os.ReadFile(filepath.Join(tree, d, name)); err == nil {
						f.content = b
						break
					}
				}
				if f.content == nil {
					return nil, fmt.Errorf("%w %s: config fragment %q is neither next to the spec, in kernels/configs/, nor in the source tree (kernel/configs, arch/x86/configs)", ErrBadSpec, s.file, name)
				}
			}
		}
		out = append(out, f)
	}
	return out, nil
}

func (s *BuildSpec) ownFragment(name string) ([]byte, error) {
	if b, ok := s.besideSpec(name); ok {
		return b, nil
	}
	base := strings.TrimSuffix(filepath.Base(name), ".config")
	b, err := fs.ReadFile(embedded, "configs/"+base+".config")
	if err != nil {
		return nil, fmt.Errorf("config fragment %q not found", name)
	}
	return b, nil
}

// recipeName names the config recipe in build tree paths:
// defconfig+kvm_guest+harness+trim.
func (s *BuildSpec) recipeName() string {
	parts := []string{s.Config.Base}
	for _, f := range s.Config.Fragments {
		parts = append(parts, strings.TrimSuffix(filepath.Base(f), ".config"))
	}
	return strings.Join(parts, "+")
}

// configRequest is one option a fragment asks for: value "" means
// "is not set".
type configRequest struct {
	option, value, fragment string
}

var notSetRE = regexp.MustCompile(`^# (CONFIG_[A-Za-z0-9_]+) is not set$`)

// parseFragment returns the options a fragment sets, in order.
func parseFragment(name string, content []byte) ([]configRequest, error) {
	var reqs []configRequest
	for i, line := range strings.Split(string(content), "\n") {
		line = strings.TrimSpace(line)
		if m := notSetRE.FindStringSubmatch(line); m != nil {
			reqs = append(reqs, configRequest{m[1], "", name})
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || !strings.HasPrefix(k, "CONFIG_") || v == "" {
			return nil, fmt.Errorf("%w: config fragment %s line %d: %q is not CONFIG_X=value or '# CONFIG_X is not set'", ErrBadSpec, name, i+1, line)
		}
		if v == "n" {
			v = ""
		}
		reqs = append(reqs, configRequest{k, v, name})
	}
	return reqs, nil
}

// checkConfig verifies that every option the checked fragments request has
// the requested value in the final .config (later fragments win). It
// returns one error naming every option that did not stick.
func checkConfig(frags []fragment, final []byte) error {
	want := map[string]configRequest{}
	var order []string
	for _, f := range frags {
		if f.upstream {
			continue
		}
		reqs, err := parseFragment(f.name, f.content)
		if err != nil {
			return err
		}
		for _, r := range reqs {
			if _, ok := want[r.option]; !ok {
				order = append(order, r.option)
			}
			want[r.option] = r
		}
	}
	got := map[string]string{}
	for _, line := range strings.Split(string(final), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "CONFIG_") {
			got[k] = v
		}
	}
	var bad []string
	for _, opt := range order {
		r := want[opt]
		if got[opt] == r.value {
			continue
		}
		show := func(v string) string {
			if v == "" {
				return "not set"
			}
			return v
		}
		bad = append(bad, fmt.Sprintf("%s=%s (asked %s by %s)", opt, show(got[opt]), show(r.value), r.fragment))
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: config options did not stick after olddefconfig (a dependency is missing or the option does not exist in this tree): %s",
			ErrBadSpec, strings.Join(bad, "; "))
	}
	return nil
}

// cacheKey hashes everything that determines the built kernel.
func cacheKey(sourceID string, s *BuildSpec, frags []fragment, patches [][]byte, cc string) string {
	h := sha256.New()
	fmt.Fprintf(h, "faultline-build 1\nsource %s\nbase %s\n", sourceID, s.Config.Base)
	for _, f := range frags {
		if f.upstream {
			fmt.Fprintf(h, "fragment %s upstream\n", f.name) // part of the source
		} else {
			fmt.Fprintf(h, "fragment %s %x\n", f.name, sha256.Sum256(f.content))
		}
	}
	for i, p := range patches {
		fmt.Fprintf(h, "patch %s %x\n", s.Patches[i], sha256.Sum256(p))
	}
	fmt.Fprintf(h, "cc %s\n", cc)
	return hex.EncodeToString(h.Sum(nil))
}

// Derive returns the text of a build spec file: s under a new name with
// the patches extra (absolute paths) applied after its own. The base's own
// fragments and patches that live beside its spec file are named by
// absolute path, so the new file can live anywhere.
func (s *BuildSpec) Derive(name, description string, extra []string) ([]byte, error) {
	return s.derive(name, description, s.Source, s.Patches, extra)
}

// DeriveSource returns the YAML of a spec with s's config recipe on another
// source (a git commit: git:REPO@SHA) and no patches, paths made absolute.
func (s *BuildSpec) DeriveSource(name, description, source string) ([]byte, error) {
	if _, err := parseSource(source, ""); err != nil {
		return nil, fmt.Errorf("derive %s: %w", name, err)
	}
	return s.derive(name, description, source, nil, nil)
}

func (s *BuildSpec) derive(name, description, source string, patches, extra []string) ([]byte, error) {
	d := BuildSpec{Name: name, Description: description, Source: source, Config: s.Config, Linker: s.Linker}
	abs := func(n string) string {
		if s.dir == "" || filepath.IsAbs(n) {
			return n
		}
		if _, err := os.Stat(filepath.Join(s.dir, n)); err == nil {
			return filepath.Join(s.dir, n)
		}
		return n
	}
	d.Config.Fragments = nil
	for _, f := range s.Config.Fragments {
		d.Config.Fragments = append(d.Config.Fragments, abs(f))
	}
	for _, p := range patches {
		d.Patches = append(d.Patches, abs(p))
	}
	for _, p := range extra {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("derive %s: patch path %q is not absolute", name, p)
		}
		d.Patches = append(d.Patches, p)
	}
	if strings.HasPrefix(d.Source, "tree:") || strings.HasPrefix(d.Source, "git:") {
		kind, rest, _ := strings.Cut(d.Source, ":")
		if s.dir != "" && !filepath.IsAbs(rest) {
			d.Source = kind + ":" + filepath.Join(s.dir, rest)
		}
	}
	return yaml.Marshal(&d)
}
