package nightly

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"faultline/bisect"
	"faultline/kernels"
)

// Debian is a series of Debian kernel releases (debian:6.1-cloud): the
// newest in the apt lists is tonight's, and a bisection walks every
// release between two nights' kernels.
type Debian struct {
	Store *kernels.Store
	// Spec is the series (debian:6.1-cloud); AsOf, if set, a release
	// (debian:6.1.0-50-cloud) that stands for the newest: a replay of an
	// earlier night.
	Spec, AsOf string
}

// Describe names the series.
func (d *Debian) Describe() string { return d.Spec }

// Newest returns the series' newest release, or AsOf.
func (d *Debian) Newest(context.Context, string) (Point, error) {
	var pkg string
	if d.AsOf != "" {
		ks, err := d.Store.DebianRange(d.AsOf, d.AsOf)
		if err != nil {
			return Point{}, fmt.Errorf("%w: --as-of: %w", ErrInput, err)
		}
		pkg = ks[0]
	} else {
		var err error
		if pkg, err = d.Store.ResolveDebian(d.Spec); err != nil {
			return Point{}, fmt.Errorf("%w: --kernels: %w", ErrInput, err)
		}
	}
	return Point{Spec: pkg, ID: pkg, Label: debianRelease(pkg)}, nil
}

// Between returns the releases from good to bad.
func (d *Debian) Between(good, bad Point, _ string) ([]string, map[string]string, error) {
	ks, err := d.Store.DebianRange("debian:"+good.Label, "debian:"+bad.Label)
	if err != nil {
		return nil, nil, err
	}
	labels := map[string]string{}
	for _, k := range ks {
		labels[k] = debianRelease(k)
	}
	return ks, labels, nil
}

// debianRelease turns linux-image-6.1.0-56-cloud-amd64-unsigned into
// 6.1.0-56-cloud.
func debianRelease(pkg string) string {
	return strings.TrimSuffix(strings.TrimPrefix(pkg, "linux-image-"), "-amd64-unsigned")
}

// Git is a branch of a kernel git repository: its head is tonight's
// kernel, built with Recipe's config; a bisection walks the commits
// between two nights' heads.
type Git struct {
	Tree, Branch string
	// Recipe is the build spec whose config recipe each commit is built
	// with; AsOf, if set, a commit that stands for the branch's head (a
	// replay of an earlier night).
	Recipe, AsOf string
}

// Describe names the series.
func (g *Git) Describe() string { return g.Tree + " " + g.Branch }

// Newest returns the branch's head (or AsOf) as a build spec in dir.
func (g *Git) Newest(_ context.Context, dir string) (Point, error) {
	ref := g.Branch
	if g.AsOf != "" {
		ref = g.AsOf
	}
	out, err := exec.Command("git", "-C", g.Tree, "log", "-1", "--format=%H %s", ref+"^{commit}", "--").Output()
	if err != nil {
		return Point{}, fmt.Errorf("%w: %s in %s is not a commit (%v)", ErrInput, ref, g.Tree, err)
	}
	sha, subj, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	abs, err := filepath.Abs(g.Tree)
	if err != nil {
		return Point{}, err
	}
	base, err := kernels.LoadBuildSpec(g.Recipe)
	if err != nil {
		return Point{}, fmt.Errorf("%w: --config: %w", ErrInput, err)
	}
	text, err := base.DeriveSource(strings.ToLower(filepath.Base(abs))+"-"+sha[:12], subj, "git:"+abs+"@"+sha)
	if err != nil {
		return Point{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Point{}, err
	}
	spec := filepath.Join(dir, sha[:12]+".yaml")
	if err := os.WriteFile(spec, text, 0o644); err != nil {
		return Point{}, err
	}
	return Point{Spec: spec, ID: sha, Label: sha[:12] + " " + subj}, nil
}

// Between returns the commits from good to bad.
func (g *Git) Between(good, bad Point, dir string) ([]string, map[string]string, error) {
	cs, err := bisect.GitKernels(g.Tree, good.ID, bad.ID, g.Recipe, dir)
	if err != nil {
		return nil, nil, err
	}
	var ks []string
	labels := map[string]string{}
	for _, c := range cs {
		ks = append(ks, c.Spec)
		labels[c.Spec] = c.SHA[:12] + " " + c.Subject
	}
	return ks, labels, nil
}
