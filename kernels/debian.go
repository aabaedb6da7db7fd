package kernels

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// DebianSpecs are the short specs for Debian's prebuilt kernels.
var DebianSpecs = []string{"debian:6.1", "debian:6.1-cloud", "debian:6.12", "debian:6.12-cloud"}

// Apt is the part of apt that faultline uses. It needs no root.
type Apt interface {
	// PackageNames returns the names of all known packages starting with prefix.
	PackageNames(prefix string) ([]string, error)
	// Download fetches the .deb of pkg into dir and returns its path.
	Download(pkg, dir string) (string, error)
	// CandidateVersion returns the version apt would install of pkg.
	CandidateVersion(pkg string) (string, error)
}

// CandidateVersion runs apt-cache policy.
func (SystemApt) CandidateVersion(pkg string) (string, error) {
	out, err := exec.Command("apt-cache", "policy", pkg).Output()
	if err != nil {
		return "", fmt.Errorf("apt-cache policy %s: %w", pkg, exitDetail(err))
	}
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "Candidate:"); ok {
			v = strings.TrimSpace(v)
			if v == "" || v == "(none)" {
				break
			}
			return v, nil
		}
	}
	return "", fmt.Errorf("%w: package %s is not in the apt lists (run apt-get update; is the Debian release right?)", ErrUnknownSpec, pkg)
}

// SystemApt runs the system's apt-cache and apt-get.
type SystemApt struct{}

// PackageNames runs apt-cache pkgnames.
func (SystemApt) PackageNames(prefix string) ([]string, error) {
	if _, err := exec.LookPath("apt-cache"); err != nil {
		return nil, fmt.Errorf("apt-cache not found: Debian kernels need a Debian or Ubuntu host with apt: %w", err)
	}
	out, err := exec.Command("apt-cache", "pkgnames", prefix).Output()
	if err != nil {
		return nil, fmt.Errorf("apt-cache pkgnames %s: %w", prefix, exitDetail(err))
	}
	return strings.Fields(string(out)), nil
}

// Download runs apt-get download in dir.
func (SystemApt) Download(pkg, dir string) (string, error) {
	cmd := exec.Command("apt-get", "download", "-q", pkg)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("apt-get download %s: %w: %s", pkg, err, strings.TrimSpace(stderr.String()))
	}
	m, _ := filepath.Glob(filepath.Join(dir, pkg+"_*.deb"))
	if len(m) != 1 {
		return "", fmt.Errorf("apt-get download %s: expected one .deb in %s, found %d", pkg, dir, len(m))
	}
	return m[0], nil
}

func exitDetail(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
	}
	return err
}

var debianSpecRE = regexp.MustCompile(`^debian:([0-9]+\.[0-9]+)(?:-([a-z]+))?$`)

// debianPattern returns the regexp that package names matching spec satisfy.
func debianPattern(spec string) (*regexp.Regexp, error) {
	m := debianSpecRE.FindStringSubmatch(spec)
	if m == nil {
		return nil, fmt.Errorf("%w %q: want debian:SERIES[-FLAVOUR], one of %s", ErrUnknownSpec, spec, strings.Join(DebianSpecs, ", "))
	}
	flavour := ""
	if m[2] != "" {
		flavour = regexp.QuoteMeta(m[2]) + "-"
	}
	// linux-image-6.1.0-56-cloud-amd64-unsigned, linux-image-6.12.117+deb12-amd64-unsigned
	return regexp.MustCompile(`^linux-image-` + regexp.QuoteMeta(m[1]) +
		`(\.[0-9]+)?(-[0-9]+)?(\+deb[0-9]+)?-` + flavour + `amd64-unsigned$`), nil
}

// ResolveDebian returns the newest package that a debian: spec names.
func (s *Store) ResolveDebian(spec string) (string, error) {
	re, err := debianPattern(spec)
	if err != nil {
		return "", err
	}
	names, err := s.Apt.PackageNames("linux-image-")
	if err != nil {
		return "", err
	}
	var match []string
	for _, n := range names {
		if re.MatchString(n) {
			match = append(match, n)
		}
	}
	if len(match) == 0 {
		return "", fmt.Errorf("%w %q: no package matches %s in the apt lists (run apt-get update if they are stale); valid specs: %s",
			ErrUnknownSpec, spec, re, s.validSpecs())
	}
	sortPackages(match)
	return match[len(match)-1], nil
}

var numRE = regexp.MustCompile(`[0-9]+`)

// sortPackages sorts kernel package names by the numbers in them, oldest first.
func sortPackages(names []string) {
	key := func(s string) []int {
		var k []int
		for _, n := range numRE.FindAllString(s, -1) {
			v, _ := strconv.Atoi(n)
			k = append(k, v)
		}
		return k
	}
	sort.SliceStable(names, func(i, j int) bool {
		a, b := key(names[i]), key(names[j])
		for x := 0; x < len(a) && x < len(b); x++ {
			if a[x] != b[x] {
				return a[x] < b[x]
			}
		}
		if len(a) != len(b) {
			return len(a) < len(b)
		}
		return names[i] < names[j]
	})
}

// FetchDebian downloads and unpacks a Debian kernel package into the cache.
// The kernel appears in the cache only once complete.
func (s *Store) FetchDebian(pkg string, progress func(string)) (*Kernel, error) {
	if progress == nil {
		progress = func(string) {}
	}
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		return nil, fmt.Errorf("dpkg-deb not found (install: apt-get install dpkg): %w", err)
	}
	if err := os.MkdirAll(s.Root, 0o755); err != nil {
		return nil, fmt.Errorf("create kernel cache: %w", err)
	}
	tmp, err := os.MkdirTemp(s.Root, ".fetch-")
	if err != nil {
		return nil, fmt.Errorf("create kernel cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	progress("downloading " + pkg)
	deb, err := s.Apt.Download(pkg, tmp)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(tmp, "k")
	progress("unpacking " + filepath.Base(deb))
	if out, err := exec.Command("dpkg-deb", "-x", deb, dir).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("dpkg-deb -x %s: %w: %s", deb, err, strings.TrimSpace(string(out)))
	}
	k := &Kernel{Name: pkg, Source: "debian"}
	if _, ver, ok := strings.Cut(strings.TrimSuffix(filepath.Base(deb), ".deb"), "_"); ok {
		k.Version, _, _ = strings.Cut(ver, "_")
	}
	vmlinuz, _ := filepath.Glob(filepath.Join(dir, "boot", "vmlinuz-*"))
	if len(vmlinuz) != 1 {
		return nil, fmt.Errorf("%s: expected one boot/vmlinuz-*, found %d: not a kernel image package", pkg, len(vmlinuz))
	}
	k.Release = strings.TrimPrefix(filepath.Base(vmlinuz[0]), "vmlinuz-")
	final := filepath.Join(s.Root, pkg)
	rel := func(p string) string { return filepath.Join(final, p) }
	k.Dir = final
	k.Vmlinuz = rel(filepath.Join("boot", "vmlinuz-"+k.Release))
	k.SystemMap = rel(filepath.Join("boot", "System.map-"+k.Release))
	k.Config = rel(filepath.Join("boot", "config-"+k.Release))
	if _, err := os.Stat(filepath.Join(dir, "lib", "modules", k.Release)); err == nil {
		progress("indexing modules of " + k.Release)
		idx, err := IndexModules(filepath.Join(dir, "lib", "modules", k.Release))
		if err != nil {
			return nil, err
		}
		if err := idx.Save(filepath.Join(dir, moduleIndexName)); err != nil {
			return nil, err
		}
		k.ModulesDir = rel(filepath.Join("lib", "modules", k.Release))
		k.ModuleCount = len(idx.Modules)
	}
	// Write the manifest into the unpacked tree, then move the tree into place.
	if err := writeManifest(k, dir); err != nil {
		return nil, err
	}
	if err := os.Rename(dir, final); err != nil {
		if _, statErr := os.Stat(filepath.Join(final, manifestName)); statErr == nil {
			return s.Lookup(pkg) // fetched concurrently by another faultline
		}
		return nil, fmt.Errorf("move kernel into cache: %w", err)
	}
	return k, nil
}

var debianExactRE = regexp.MustCompile(`^debian:([0-9]+\.[0-9]+[.0-9]*(?:-[0-9]+)?(?:\+deb[0-9]+)?)-([a-z]+)$`)

// DebianRange returns, oldest first, every kernel package of one flavour
// from from to to (both included): each end a series (debian:6.1-cloud:
// its oldest release for from, its newest for to) or a release
// (debian:6.1.0-47-cloud, debian:6.12.107+deb12-cloud).
func (s *Store) DebianRange(from, to string) ([]string, error) {
	names, err := s.Apt.PackageNames("linux-image-")
	if err != nil {
		return nil, err
	}
	end := func(spec string, last bool) (string, string, error) {
		if m := debianSpecRE.FindStringSubmatch(spec); m != nil && m[2] != "" {
			re, _ := debianPattern(spec)
			var match []string
			for _, n := range names {
				if re.MatchString(n) {
					match = append(match, n)
				}
			}
			if len(match) == 0 {
				return "", "", fmt.Errorf("%w %q: no package in the apt lists", ErrUnknownSpec, spec)
			}
			sortPackages(match)
			if last {
				return match[len(match)-1], m[2], nil
			}
			return match[0], m[2], nil
		}
		if m := debianExactRE.FindStringSubmatch(spec); m != nil {
			pkg := "linux-image-" + m[1] + "-" + m[2] + "-amd64-unsigned"
			for _, n := range names {
				if n == pkg {
					return pkg, m[2], nil
				}
			}
			return "", "", fmt.Errorf("%w %q: %s is not in the apt lists (faultline kernels list --available)", ErrUnknownSpec, spec, pkg)
		}
		return "", "", fmt.Errorf("%w %q: a range end is debian:SERIES-FLAVOUR (debian:6.1-cloud) or debian:RELEASE-FLAVOUR (debian:6.1.0-47-cloud)", ErrUnknownSpec, spec)
	}
	lo, fl1, err := end(from, false)
	if err != nil {
		return nil, err
	}
	hi, fl2, err := end(to, true)
	if err != nil {
		return nil, err
	}
	if fl1 != fl2 {
		return nil, fmt.Errorf("%w: range %s..%s mixes flavours %s and %s", ErrUnknownSpec, from, to, fl1, fl2)
	}
	flavourRE := regexp.MustCompile(`^linux-image-[0-9][0-9.]*(-[0-9]+)?(\+deb[0-9]+)?-` + regexp.QuoteMeta(fl1) + `-amd64-unsigned$`)
	var all []string
	for _, n := range names {
		if flavourRE.MatchString(n) {
			all = append(all, n)
		}
	}
	sortPackages(all)
	i, j := slices.Index(all, lo), slices.Index(all, hi)
	if i < 0 || j < 0 || i > j {
		return nil, fmt.Errorf("%w: range %s..%s is empty or backwards (%s comes after %s)", ErrUnknownSpec, from, to, lo, hi)
	}
	return all[i : j+1], nil
}

// AvailableDebian returns every Debian kernel package in the apt lists
// (fetched or not), oldest first: the releases a debian:FROM..TO range
// walks.
func (s *Store) AvailableDebian() ([]string, error) {
	names, err := s.Apt.PackageNames("linux-image-")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range names {
		if strings.HasSuffix(n, "-amd64-unsigned") {
			out = append(out, n)
		}
	}
	sortPackages(out)
	return out, nil
}
