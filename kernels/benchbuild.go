package kernels

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// BaseFragments are the fragments that go with each base config when the
// build benchmark compares bases (--vs-base): the minimal guest recipe the
// shipped specs use, and the defconfig recipe they used before.
var BaseFragments = map[string][]string{
	"tinyconfig": {"guest", "harness"},
	"defconfig":  {"kvm_guest.config", "harness", "trim"},
}

// BuildPhase is one timed build of the build benchmark.
type BuildPhase struct {
	// Name says what the phase is ("full build, fresh tree, cold ccache").
	Name string `json:"name"`
	// Spec and Recipe name the kernel built and its config recipe.
	Spec   string `json:"spec"`
	Recipe string `json:"recipe"`
	// Duration is the build's wall time, Compiled its make steps.
	Duration time.Duration `json:"duration_ns"`
	Compiled int           `json:"compiled"`
	// CCache and Cache: whether ccache was used, its hits and misses.
	CCache bool       `json:"ccache"`
	Cache  CacheStats `json:"ccache_stats"`
}

// BuildBench is the build benchmark's result.
type BuildBench struct {
	Spec   string       `json:"spec"`
	Switch string       `json:"switch"`
	Jobs   int          `json:"jobs"`
	Phases []BuildPhase `json:"phases"`
}

// BenchBuild times, in one run and in fresh directories under dir (the
// user's build trees, compiler cache and kernel cache are not touched):
//  1. a full build of spec in a fresh tree, through an empty compiler cache;
//  2. the switch to other (the same recipe with one patch more or less) in
//     that tree, and 3. the switch back;
//  4. a full build of spec in another fresh tree with the compiler cache of
//     1 (what a tree lost to make clean costs);
//  5. with vsBase, a full build of spec on that base config (and its
//     fragments, BaseFragments) in a fresh tree through an empty cache.
//
// Without ccache installed, 4 is skipped and the others compile directly.
func (b *Builder) BenchBuild(ctx context.Context, spec, other *BuildSpec, vsBase string, dir string) (*BuildBench, error) {
	if d := patchDistance(spec.Patches, other.Patches); spec.Source != other.Source || !slices.Equal(spec.Config.Fragments, other.Config.Fragments) ||
		spec.Config.Base != other.Config.Base || d != 1 {
		return nil, fmt.Errorf("%w: %s and %s are not one patch apart on the same source and config (the switch measures a one-patch change)", ErrBadSpec, spec.Name, other.Name)
	}
	var vs *BuildSpec
	if vsBase != "" {
		frags, ok := BaseFragments[vsBase]
		if !ok {
			return nil, fmt.Errorf("%w: --vs-base %q: want defconfig or tinyconfig", ErrBadSpec, vsBase)
		}
		c := *spec
		c.Name = spec.Name + "-" + vsBase
		c.Config = ConfigRecipe{Base: vsBase, Fragments: frags}
		vs = &c
	}
	jobs := b.Jobs
	res := &BuildBench{Spec: spec.Name, Switch: other.Name, Jobs: jobs}
	run := func(name string, s *BuildSpec, trees, ccache string, noCC bool) error {
		w := *b
		w.Store = &Store{Root: filepath.Join(dir, "kernels"), Apt: b.Store.Apt}
		w.TreeRoot, w.CCacheDir, w.NoCCache, w.Rebuild = filepath.Join(dir, trees), filepath.Join(dir, ccache), noCC, true
		// Configurations are kept with the compiler cache they were
		// built with: a fresh tree on a warm ccache is a lost tree.
		w.ConfigDir = filepath.Join(dir, strings.Replace(ccache, "ccache", "configs", 1))
		b.progress("bench: %s: %s (%s)", name, s.Name, s.recipeName())
		r, err := w.Build(ctx, s)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		res.Phases = append(res.Phases, BuildPhase{Name: name, Spec: s.Name, Recipe: s.recipeName(), Duration: r.Duration,
			Compiled: r.Compiled, CCache: r.CCache, Cache: r.Cache})
		b.progress("bench: %s: %s in %s, %d objects", name, s.Name, r.Duration.Round(time.Second), r.Compiled)
		return nil
	}
	hasCC := b.findCCache() != nil
	steps := []struct {
		name          string
		s             *BuildSpec
		trees, ccache string
		skip          bool
	}{
		{"full build, fresh tree, empty ccache", spec, "trees-1", "ccache-1", false},
		{"switch: one patch more or less", other, "trees-1", "ccache-1", false},
		{"switch back", spec, "trees-1", "ccache-1", false},
		{"full build, fresh tree, warm ccache", spec, "trees-2", "ccache-1", !hasCC},
	}
	if vs != nil {
		steps = append(steps, struct {
			name          string
			s             *BuildSpec
			trees, ccache string
			skip          bool
		}{"full build, fresh tree, empty ccache, base " + vsBase, vs, "trees-3", "ccache-3", false})
	}
	for _, st := range steps {
		if st.skip {
			continue
		}
		if err := run(st.name, st.s, st.trees, st.ccache, !hasCC); err != nil {
			return res, err
		}
		if st.trees == "trees-2" || st.trees == "trees-3" {
			os.RemoveAll(filepath.Join(dir, st.trees)) // a tree is gigabytes
		}
	}
	return res, nil
}

// patchDistance is how many patches one series has beyond the other when
// one is a prefix of the other, else -1.
func patchDistance(a, b []string) int {
	if len(a) > len(b) {
		a, b = b, a
	}
	if !slices.Equal(a, b[:len(a)]) {
		return -1
	}
	return len(b) - len(a)
}

// WriteText writes one line per phase.
func (r *BuildBench) WriteText(w io.Writer) {
	fmt.Fprintf(w, "build benchmark: %s (switch %s), make -j%d\n", r.Spec, r.Switch, r.Jobs)
	for _, p := range r.Phases {
		cc := "no ccache"
		if p.CCache {
			cc = fmt.Sprintf("ccache %d hits, %d misses (%.0f%%)", p.Cache.Hits, p.Cache.Misses, 100*p.Cache.HitRate())
		}
		fmt.Fprintf(w, "%-52s %8s  %5d objects  %s  [%s]\n", p.Name+":", p.Duration.Round(time.Second), p.Compiled, cc, p.Recipe)
	}
}

// SwitchPartner returns a shipped spec one patch away from spec on the same
// source and config (the first by name), for the build benchmark's switch.
func SwitchPartner(spec *BuildSpec) (*BuildSpec, error) {
	for _, n := range ShippedSpecs() {
		o, err := LoadBuildSpec(n)
		if err != nil || o.Name == spec.Name {
			continue
		}
		if o.Source == spec.Source && o.Config.Base == spec.Config.Base && slices.Equal(o.Config.Fragments, spec.Config.Fragments) &&
			patchDistance(spec.Patches, o.Patches) == 1 {
			return o, nil
		}
	}
	return nil, fmt.Errorf("%w: no shipped spec is one patch away from %s: name one with --switch", ErrBadSpec, spec.Name)
}
