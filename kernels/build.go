package kernels

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrBuildFailed is returned when make fails; the error names the kept log.
var ErrBuildFailed = errors.New("kernel build failed")

// ErrPatch is returned when a patch of the series does not apply.
var ErrPatch = errors.New("patch does not apply")

// ErrMissingTools is returned when a build tool is not installed; the error
// carries the apt-get command that installs it.
var ErrMissingTools = errors.New("missing kernel build tools")

// source is where a build's kernel tree comes from.
type source struct {
	kind string // debian-source, tree, git
	arg  string // series, path, repo
	ref  string // git ref
}

func parseSource(spec, dir string) (source, error) {
	kind, arg, ok := strings.Cut(spec, ":")
	if !ok || arg == "" {
		return source{}, fmt.Errorf("source %q: want debian-source:SERIES, tree:PATH or git:REPO@REF", spec)
	}
	abs := func(p string) string {
		if !filepath.IsAbs(p) && dir != "" {
			return filepath.Join(dir, p)
		}
		return p
	}
	switch kind {
	case "debian-source":
		if !regexp.MustCompile(`^[0-9]+\.[0-9]+$`).MatchString(arg) {
			return source{}, fmt.Errorf("source %q: want a series such as debian-source:6.1 or debian-source:6.12", spec)
		}
		return source{kind: kind, arg: arg}, nil
	case "tree":
		return source{kind: kind, arg: abs(arg)}, nil
	case "git":
		repo, ref, ok := strings.Cut(arg, "@")
		if !ok || repo == "" || ref == "" {
			return source{}, fmt.Errorf("source %q: want git:REPO@REF", spec)
		}
		return source{kind: kind, arg: abs(repo), ref: ref}, nil
	}
	return source{}, fmt.Errorf("source %q: unknown kind %q; want debian-source:SERIES, tree:PATH or git:REPO@REF", spec, kind)
}

// Builder builds kernels from build specs into the kernel cache.
type Builder struct {
	// Store receives the built kernels.
	Store *Store
	// Cache is faultline's cache directory: sources/ holds unpacked
	// pristine trees, build/ the persistent build trees.
	Cache string
	// Jobs is make's -j (default: number of CPUs).
	Jobs int
	// Progress receives one-line status updates (may be nil).
	Progress func(string)
	// NoCCache compiles without ccache even when it is installed.
	NoCCache bool
	// TreeRoot holds the persistent build trees (default Cache/build),
	// CCacheDir the compiler cache (default Cache/ccache) and ConfigDir
	// the configurations made so far, by recipe (default Cache/configs);
	// the build benchmark points them at fresh directories.
	TreeRoot, CCacheDir, ConfigDir string
	// Rebuild runs make even when the cache holds this exact kernel.
	Rebuild bool
}

// NewBuilder returns a builder on the default cache.
func NewBuilder(store *Store) (*Builder, error) {
	c, err := CacheDir()
	if err != nil {
		return nil, err
	}
	return &Builder{Store: store, Cache: c, Jobs: runtime.NumCPU()}, nil
}

func (b *Builder) progress(format string, args ...any) {
	if b.Progress != nil {
		b.Progress(fmt.Sprintf(format, args...))
	}
}

// plan is a build spec resolved against this machine: source identity,
// fragments, patches, compiler and cache key.
type plan struct {
	spec     *BuildSpec
	src      source
	sourceID string
	frags    []fragment
	patches  [][]byte
	cc       string
	key      string
}

// toolchainID names the compiler and linker a spec's kernel is built with:
// gcc12.2.0 (GNU ld) or gcc12.2.0+lld14.0.6. It is part of the cache key
// and of the build tree's name.
func toolchainID(linker string) (string, error) {
	out, err := exec.Command("gcc", "-dumpfullversion").Output()
	if err != nil {
		return "", fmt.Errorf("%w: gcc (install: apt-get install gcc)", ErrMissingTools)
	}
	id := "gcc" + strings.TrimSpace(string(out))
	if linker != "lld" {
		return id, nil
	}
	out, err = exec.Command("ld.lld", "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%w: ld.lld (install: apt-get install lld; or set linker: bfd in the spec)", ErrMissingTools)
	}
	v, err := lldVersion(string(out))
	if err != nil {
		return "", err
	}
	return id + "+lld" + v, nil
}

// lldVersion reads the version from ld.lld --version ("Debian LLD 14.0.6
// (compatible with GNU linkers)", "LLD 17.0.1").
func lldVersion(out string) (string, error) {
	f := strings.Fields(out)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "LLD" && len(f[i+1]) > 0 && f[i+1][0] >= '0' && f[i+1][0] <= '9' {
			return f[i+1], nil
		}
	}
	return "", fmt.Errorf("ld.lld --version: no version in %q", strings.TrimSpace(out))
}

// sourceID identifies the source's content without unpacking it.
func (b *Builder) sourceID(src source) (string, error) {
	switch src.kind {
	case "debian-source":
		pkg := "linux-source-" + src.arg
		v, err := b.Store.Apt.CandidateVersion(pkg)
		if err != nil {
			return "", err
		}
		return pkg + "_" + v, nil
	case "git":
		if _, err := exec.LookPath("git"); err != nil {
			return "", fmt.Errorf("%w: git, for source git:%s@%s (install: apt-get install git)", ErrMissingTools, src.arg, src.ref)
		}
		out, err := exec.Command("git", "-C", src.arg, "rev-parse", "--verify", src.ref+"^{commit}").Output()
		if err != nil {
			return "", fmt.Errorf("git source %s@%s: %w", src.arg, src.ref, exitDetail(err))
		}
		return "git-" + strings.TrimSpace(string(out)), nil
	case "tree":
		st, err := os.Stat(filepath.Join(src.arg, "Makefile"))
		if err != nil || !st.Mode().IsRegular() {
			return "", fmt.Errorf("tree source %s: no Makefile: not a kernel tree", src.arg)
		}
		id := "tree-" + strings.ReplaceAll(strings.Trim(src.arg, "/"), "/", "_")
		if out, err := exec.Command("git", "-C", src.arg, "describe", "--always", "--dirty", "--abbrev=12").Output(); err == nil {
			id += "-" + strings.TrimSpace(string(out))
		}
		return id, nil
	}
	return "", fmt.Errorf("unknown source kind %q", src.kind)
}

// resolve computes the plan for spec without touching any tree.
func (b *Builder) resolve(spec *BuildSpec) (*plan, error) {
	src, err := parseSource(spec.Source, spec.dir)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrBadSpec, spec.file, err)
	}
	p := &plan{spec: spec, src: src}
	if p.sourceID, err = b.sourceID(src); err != nil {
		return nil, err
	}
	if p.frags, err = spec.fragments(""); err != nil {
		return nil, err
	}
	for _, name := range spec.Patches {
		c, err := spec.readPatch(name)
		if err != nil {
			return nil, fmt.Errorf("%w %s: %w", ErrBadSpec, spec.file, err)
		}
		p.patches = append(p.patches, c)
	}
	if p.cc, err = toolchainID(spec.Linker); err != nil {
		return nil, err
	}
	p.key = cacheKey(p.sourceID, spec, p.frags, p.patches, p.cc)
	return p, nil
}

// kernelDirName is the cache directory of a built kernel.
func (p *plan) kernelDirName() string { return p.spec.Name + "-" + p.key[:12] }

// Lookup returns the cached build of spec, or ErrNotBuilt.
func (b *Builder) Lookup(spec *BuildSpec) (*Kernel, error) {
	p, err := b.resolve(spec)
	if err != nil {
		return nil, err
	}
	k, err := b.Store.Lookup(p.kernelDirName())
	if errors.Is(err, ErrNotFetched) {
		return nil, fmt.Errorf("%w: %s (run: faultline kernels build %s; a first build takes about 10 minutes on 2 cores)",
			ErrNotBuilt, spec.Name, specArg(spec))
	}
	return k, err
}

func specArg(s *BuildSpec) string {
	if strings.HasPrefix(s.file, "kernels/specs/") {
		return s.Name
	}
	return s.file
}

// requiredTools lists what a kernel build needs: command or header, and the
// Debian package that provides it.
var requiredTools = []struct{ file, pkg string }{
	{"gcc", "gcc"}, {"make", "make"}, {"flex", "flex"}, {"bison", "bison"},
	{"bc", "bc"}, {"perl", "perl"}, {"patch", "patch"}, {"tar", "tar"},
	{"xz", "xz-utils"}, {"lz4", "lz4"}, {"pahole", "dwarves"},
	{"/usr/include/libelf.h", "libelf-dev"},
	{"/usr/include/openssl/opensslv.h", "libssl-dev"},
}

// CheckTools returns ErrMissingTools naming the apt command when a build tool
// is missing.
func CheckTools() error {
	var missing, pkgs []string
	for _, t := range requiredTools {
		var err error
		if strings.HasPrefix(t.file, "/") {
			_, err = os.Stat(t.file)
		} else {
			_, err = exec.LookPath(t.file)
		}
		if err != nil {
			missing = append(missing, filepath.Base(t.file))
			pkgs = append(pkgs, t.pkg)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s (install: apt-get install %s)", ErrMissingTools,
			strings.Join(missing, ", "), strings.Join(pkgs, " "))
	}
	return nil
}

// BuildResult says what Build did.
type BuildResult struct {
	// Kernel is the built (or cached) kernel.
	Kernel *Kernel `json:"kernel"`
	// Cached is true when the cache already held this exact build.
	Cached bool `json:"cached"`
	// Duration is the wall time of the build, zero on a cache hit.
	Duration time.Duration `json:"duration_ns"`
	// Compiled is the number of objects make compiled or linked.
	Compiled int `json:"compiled"`
	// Tree is the persistent build tree used.
	Tree string `json:"tree,omitempty"`
	// CCache is true when the build compiled through ccache; Cache holds
	// its hits and misses in this build.
	CCache bool       `json:"ccache"`
	Cache  CacheStats `json:"ccache_stats"`
}

// Build builds spec, or returns the cached kernel if this exact build
// (source, config, patches, compiler) is already in the cache.
func (b *Builder) Build(ctx context.Context, spec *BuildSpec) (*BuildResult, error) {
	p, err := b.resolve(spec)
	if err != nil {
		return nil, err
	}
	if p.src.kind != "tree" && !b.Rebuild { // a tree's content is not in its identity: always run make
		if k, err := b.Store.Lookup(p.kernelDirName()); err == nil {
			return &BuildResult{Kernel: k, Cached: true}, nil
		}
	}
	if err := CheckTools(); err != nil {
		return nil, err
	}
	start := time.Now()
	root := b.TreeRoot
	if root == "" {
		root = filepath.Join(b.Cache, "build")
	}
	treeDir := filepath.Join(root, p.treeID(), p.spec.recipeName()+"-"+p.cc)
	_, statErr := os.Stat(filepath.Join(treeDir, "linux", "vmlinux"))
	if p.src.kind == "tree" {
		_, statErr = os.Stat(filepath.Join(treeDir, "obj", "vmlinux"))
	}
	fresh := statErr != nil
	if err := os.MkdirAll(treeDir, 0o755); err != nil {
		return nil, fmt.Errorf("create build tree: %w", err)
	}
	space, err := checkSpace(treeDir, fresh)
	if err != nil {
		return nil, err
	}
	b.progress("%s: %s", spec.Name, space)
	unlock, err := lockDir(treeDir)
	if err != nil {
		return nil, err
	}
	defer unlock()

	// The source directory make runs in, and the object directory (O=) for
	// trees that are not ours to write into.
	var srcDir, objDir string
	if p.src.kind == "tree" {
		srcDir, objDir = p.src.arg, filepath.Join(treeDir, "obj")
		if err := os.MkdirAll(objDir, 0o755); err != nil {
			return nil, err
		}
	} else {
		srcDir, objDir = filepath.Join(treeDir, "linux"), filepath.Join(treeDir, "linux")
		if p.src.kind == "git" {
			if err := b.gitCheckout(ctx, p, treeDir); err != nil {
				return nil, err
			}
		} else {
			pristine, err := b.pristine(ctx, p)
			if err != nil {
				return nil, err
			}
			if err := b.workTree(pristine, treeDir); err != nil {
				return nil, err
			}
		}
		if err := b.applySeries(ctx, p, treeDir); err != nil {
			return nil, err
		}
	}
	if p.frags, err = spec.fragments(srcDir); err != nil {
		return nil, err
	}
	logPath := filepath.Join(treeDir, "build-"+time.Now().Format("20060102-150405")+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create build log: %w", err)
	}
	defer logf.Close()
	var logw io.Writer = logf
	cc := b.findCCache()
	pahole := serialPaholeFlags(srcDir)
	ld := "ld.lld"
	if spec.Linker != "lld" {
		if ld, err = kbuildLinker(treeDir, srcDir); err != nil {
			return nil, err
		}
	}
	mk := func(args ...string) *exec.Cmd {
		all := []string{"-C", srcDir}
		if objDir != srcDir {
			all = append(all, "O="+objDir)
		}
		cmd := exec.CommandContext(ctx, "make", append(all, args...)...)
		cmd.Env = append(os.Environ(), "LC_ALL=C")
		cmd.Env = append(cmd.Env, reproducibleEnv...)
		if pahole != "" {
			cmd.Args = append(cmd.Args, "PAHOLE_FLAGS="+pahole)
		}
		if cc != nil {
			// CC on make's command line (not in the environment): the
			// kernel's Makefile sets CC itself otherwise.
			cmd.Args = append(cmd.Args, "CC="+cc.bin+" gcc")
			cmd.Env = append(cmd.Env, cc.env(srcDir)...)
		}
		if ld != "" {
			// On every make, configuration included: Kconfig asks the
			// linker its version and records lld (LD_IS_LLD; a change
			// rebuilds the tree), and kbuild relinks what names LD
			// when it changes.
			cmd.Args = append(cmd.Args, "LD="+ld)
		}
		return cmd
	}
	b.progress("%s: configuring (%s)", spec.Name, spec.recipeName())
	if err := b.configure(p, mk, srcDir, objDir, logw); err != nil {
		return nil, fmt.Errorf("%w (log: %s)", err, logPath)
	}
	jobs := b.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	expect := 0 // an incremental build's count is not known ahead
	if fresh {
		expect = expectedObjects(treeDir)
	}
	var before CacheStats
	if cc != nil {
		before = cc.counters()
	}
	targets := []string{fmt.Sprintf("-j%d", jobs), "bzImage"}
	if cfg, _ := os.ReadFile(filepath.Join(objDir, ".config")); bytes.Contains(cfg, []byte("\nCONFIG_MODULES=y\n")) {
		targets = append(targets, "modules")
	}
	ownCheck := ownsLocalExportCheck(srcDir)
	if ownCheck {
		targets = append(targets, checkLocalExportOff)
	}
	if skipsEmptySteps(srcDir) {
		targets = append(targets, kbuildCmdSkipEmpty)
	}
	makeStart := time.Now()
	compiled, err := b.runMake(ctx, spec.Name, mk(targets...), logw, start, expect)
	if err == nil && ownCheck {
		err = checkLocalExports(objDir, treeDir, makeStart)
	}
	if err != nil {
		return nil, &BuildError{Spec: spec.Name, Log: logPath, Err: err}
	}
	if fresh {
		_ = os.WriteFile(filepath.Join(treeDir, objectsFile), []byte(strconv.Itoa(compiled)+"\n"), 0o644)
	}
	k, err := b.install(ctx, p, mk, objDir, logPath, logw)
	if err != nil {
		return nil, err
	}
	res := &BuildResult{Kernel: k, Duration: time.Since(start), Compiled: compiled, Tree: treeDir, CCache: cc != nil}
	if cc != nil {
		res.Cache = cc.counters().since(before)
	}
	return res, nil
}

// reproducibleEnv keeps the build's time, user, host and build counter
// (uname -v) out of the image, so that they do not make two builds of the
// same code differ.
var reproducibleEnv = []string{
	"KBUILD_BUILD_TIMESTAMP=Thu Jan  1 00:00:00 UTC 1970",
	"KBUILD_BUILD_USER=faultline", "KBUILD_BUILD_HOST=faultline", "KBUILD_BUILD_VERSION=1",
}

// serialPaholeFlags returns the tree's pahole flags without -j: pahole
// encodes BTF in parallel otherwise, and numbers the types differently from
// build to build, which changes the BTF type ids some code embeds (the BPF
// verifier's), so that two builds of the same source would differ. "" when
// the tree has no pahole-flags.sh or its flags have no -j.
func serialPaholeFlags(srcDir string) string {
	script := filepath.Join(srcDir, "scripts", "pahole-flags.sh")
	if _, err := os.Stat(script); err != nil {
		return ""
	}
	cmd := exec.Command("sh", script)
	cmd.Env = append(os.Environ(), "PAHOLE=pahole")
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	var keep []string
	found := false
	for _, f := range strings.Fields(string(out)) {
		if f == "-j" || strings.HasPrefix(f, "-j") && len(f) > 2 && f[2] >= '0' && f[2] <= '9' {
			found = true
			continue
		}
		keep = append(keep, f)
	}
	if !found {
		return ""
	}
	return strings.Join(keep, " ")
}

// treeID names the persistent build trees of p's source: one per source
// release for Debian sources, one per repository for git sources (a step
// to another commit is a checkout in the same tree), one per path for
// local trees.
func (p *plan) treeID() string {
	if p.src.kind == "git" {
		return "git-" + strings.ReplaceAll(strings.Trim(p.src.arg, "/"), "/", "_")
	}
	return p.sourceID
}

// gitCheckout brings treeDir/linux, a clone of the repository that shares
// its objects, to p's commit. git rewrites only the files that differ from
// the commit checked out last, so make then rebuilds only what they touch;
// what the last build's patches changed is discarded first.
func (b *Builder) gitCheckout(ctx context.Context, p *plan, treeDir string) error {
	work := filepath.Join(treeDir, "linux")
	git := func(args ...string) error {
		out, err := exec.CommandContext(ctx, "git", append([]string{"-C", work}, args...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("git %s in %s: %w: %s", strings.Join(args, " "), work, err, bytes.TrimSpace(out))
		}
		return nil
	}
	if _, err := os.Stat(filepath.Join(work, ".git")); err != nil {
		b.progress("%s: cloning %s into the build tree", p.spec.Name, p.src.arg)
		os.RemoveAll(work)
		if out, err := exec.CommandContext(ctx, "git", "clone", "--quiet", "--shared", "--no-checkout", p.src.arg, work).CombinedOutput(); err != nil {
			return fmt.Errorf("clone %s: %w: %s", p.src.arg, err, bytes.TrimSpace(out))
		}
	}
	// A checkout killed part-way leaves git's index lock behind; the build
	// tree's own lock (held here) says no other git runs in this clone.
	os.Remove(filepath.Join(work, ".git", "index.lock"))
	sha := strings.TrimPrefix(p.sourceID, "git-")
	b.progress("%s: checking out %.12s", p.spec.Name, sha)
	if err := git("checkout", "--quiet", "--force", "--detach", sha); err != nil {
		return err
	}
	if err := git("clean", "-fdq"); err != nil { // files the last patches created; ignored build outputs stay
		return err
	}
	// An empty .scmversion keeps the commit id out of the release string
	// (6.1.192, not 6.1.192-g1234abcd): otherwise every step rebuilds what
	// includes it (module and tracing core, ethtool, firmware loader) and
	// no two commits' images could be the same.
	if err := os.WriteFile(filepath.Join(work, ".scmversion"), nil, 0o644); err != nil {
		return err
	}
	return os.RemoveAll(filepath.Join(treeDir, "applied"))
}

// lockDir takes an exclusive lock on dir/lock, so two faultline processes
// never build in one tree at once.
func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock build tree: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("build tree %s is in use by another faultline (lock: %w)", dir, err)
	}
	return func() { f.Close() }, nil
}

// pristine returns the unpacked, unmodified source tree, preparing it once.
func (b *Builder) pristine(ctx context.Context, p *plan) (string, error) {
	dir := filepath.Join(b.Cache, "sources", p.sourceID)
	tree := filepath.Join(dir, "linux")
	if p.src.kind == "debian-source" {
		tree = filepath.Join(dir, "linux-source-"+p.src.arg)
	}
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return tree, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".unpack-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	switch p.src.kind {
	case "debian-source":
		tarball, err := b.debianTarball(p, tmp)
		if err != nil {
			return "", err
		}
		b.progress("unpacking %s", filepath.Base(tarball))
		if out, err := exec.CommandContext(ctx, "tar", "-xJf", tarball, "-C", tmp).CombinedOutput(); err != nil {
			return "", fmt.Errorf("unpack %s: %w: %s", tarball, err, out)
		}
		os.Remove(filepath.Join(tmp, filepath.Base(tarball)))
	}
	if err := os.WriteFile(filepath.Join(tmp, ".complete"), nil, 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, ".complete")); statErr == nil {
			return tree, nil
		}
		return "", fmt.Errorf("move source into cache: %w", err)
	}
	return tree, nil
}

// debianTarball returns the linux-source tarball: the installed one when its
// version matches, else one downloaded with apt-get (no root needed).
func (b *Builder) debianTarball(p *plan, tmp string) (string, error) {
	pkg := "linux-source-" + p.src.arg
	name := pkg + ".tar.xz"
	installed := filepath.Join("/usr/src", name)
	if out, err := exec.Command("dpkg-query", "-W", "-f=${Version}", pkg).Output(); err == nil &&
		pkg+"_"+strings.TrimSpace(string(out)) == p.sourceID {
		if _, err := os.Stat(installed); err == nil {
			return installed, nil
		}
	}
	b.progress("downloading %s", pkg)
	deb, err := b.Store.Apt.Download(pkg, tmp)
	if err != nil {
		return "", err
	}
	cmd := exec.Command("sh", "-c", `dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" --strip-components=3 "./usr/src/$3"`,
		"sh", deb, tmp, name)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("extract %s from %s: %w: %s", name, deb, err, out)
	}
	os.Remove(deb)
	return filepath.Join(tmp, name), nil
}

// workTree makes sure treeDir/linux is a copy of the pristine tree.
func (b *Builder) workTree(pristine, treeDir string) error {
	work := filepath.Join(treeDir, "linux")
	if _, err := os.Stat(filepath.Join(work, "Makefile")); err == nil {
		return nil
	}
	b.progress("copying %s into the build tree", filepath.Base(pristine))
	os.RemoveAll(work)
	os.RemoveAll(filepath.Join(treeDir, "applied"))
	tmp := work + ".tmp"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(treeDir, 0o755); err != nil {
		return err
	}
	if out, err := exec.Command("cp", "-a", "--reflink=auto", pristine, tmp).CombinedOutput(); err != nil {
		return fmt.Errorf("copy source tree: %w: %s", err, out)
	}
	return os.Rename(tmp, work)
}

// appliedPatch is a patch recorded as applied in a build tree.
type appliedPatch struct {
	file    string // treeDir/applied/NNN-name
	name    string
	content []byte
}

func readApplied(treeDir string) ([]appliedPatch, error) {
	dir := filepath.Join(treeDir, "applied")
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []appliedPatch
	for _, e := range ents {
		c, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		_, name, _ := strings.Cut(e.Name(), "-")
		out = append(out, appliedPatch{file: filepath.Join(dir, e.Name()), name: name, content: c})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].file < out[j].file })
	return out, nil
}

// applySeries brings the work tree from the series applied last time to
// p's series: the common prefix stays, the rest is reverted (newest first)
// and the new patches applied. make's timestamps then rebuild only what the
// changed files touch. A tree that cannot be reverted is recopied.
func (b *Builder) applySeries(ctx context.Context, p *plan, treeDir string) error {
	work := filepath.Join(treeDir, "linux")
	applied, err := readApplied(treeDir)
	if err != nil {
		return fmt.Errorf("read applied patches: %w", err)
	}
	keep := 0
	for keep < len(applied) && keep < len(p.patches) &&
		applied[keep].name == filepath.Base(p.spec.Patches[keep]) && bytes.Equal(applied[keep].content, p.patches[keep]) {
		keep++
	}
	for i := len(applied) - 1; i >= keep; i-- {
		b.progress("%s: reverting %s", p.spec.Name, applied[i].name)
		if _, err := runPatch(work, applied[i].content, "-R"); err != nil {
			b.progress("%s: %s does not revert cleanly (%v); recopying the tree (full rebuild)", p.spec.Name, applied[i].name, err)
			if err := os.RemoveAll(work); err != nil {
				return err
			}
			pristine, err := b.pristine(ctx, p)
			if err != nil {
				return err
			}
			if err := b.workTree(pristine, treeDir); err != nil {
				return err
			}
			return b.applySeries(ctx, p, treeDir)
		}
		if err := os.Remove(applied[i].file); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Join(treeDir, "applied"), 0o755); err != nil {
		return err
	}
	for i := keep; i < len(p.patches); i++ {
		name := filepath.Base(p.spec.Patches[i])
		b.progress("%s: applying %s", p.spec.Name, name)
		if out, err := runPatch(work, p.patches[i], "--dry-run"); err != nil {
			return &PatchError{Patch: name, N: i + 1, Spec: p.spec.file, Source: p.sourceID, Failed: parseFailures(out), Output: out}
		}
		if _, err := runPatch(work, p.patches[i]); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrPatch, name, err)
		}
		rec := filepath.Join(treeDir, "applied", fmt.Sprintf("%03d-%s", i, name))
		if err := os.WriteFile(rec, p.patches[i], 0o644); err != nil {
			return err
		}
	}
	return nil
}

// runPatch runs patch -p1 in dir with the patch on stdin; extra adds -R
// (revert) and/or --dry-run.
func runPatch(dir string, patch []byte, extra ...string) (string, error) {
	args := []string{"-p1", "--batch", "--fuzz=0", "--no-backup-if-mismatch", "-r", "-", "-d", dir}
	reverse := false
	for _, e := range extra {
		reverse = reverse || e == "-R"
	}
	if !reverse {
		args = append(args, "--forward")
	}
	cmd := exec.Command("patch", append(args, extra...)...)
	cmd.Stdin = bytes.NewReader(patch)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%w: %s", err, failedHunks(string(out)))
	}
	return string(out), nil
}

// BuildError is a failed make: the spec, the kept log and make's error.
type BuildError struct {
	Spec, Log string
	Err       error
}

func (e *BuildError) Error() string {
	return fmt.Sprintf("%v: %s: %v; full log: %s", ErrBuildFailed, e.Spec, e.Err, e.Log)
}

// Unwrap returns ErrBuildFailed and make's error.
func (e *BuildError) Unwrap() []error { return []error{ErrBuildFailed, e.Err} }

// Tail returns the last n lines of the build log.
func (e *BuildError) Tail(n int) string {
	b, err := os.ReadFile(e.Log)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// PatchError is a patch of the series that does not apply: which patch, and
// each file and hunk that failed.
type PatchError struct {
	// Patch is its file name, N its place in the series (1-based).
	Patch string
	N     int
	// Spec and Source: the build spec and the source it was applied to.
	Spec, Source string
	// Failed lists what failed; Output is patch's whole output.
	Failed []HunkFailure
	Output string
}

// HunkFailure is one failed hunk ("Hunk #2 FAILED at 1041.") or file
// ("can't find file to patch").
type HunkFailure struct {
	File    string `json:"file"`
	Hunk    int    `json:"hunk,omitempty"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

func (e *PatchError) Error() string {
	return fmt.Sprintf("%v: %s (patch %d of %s) on %s: %s", ErrPatch, e.Patch, e.N, e.Spec, e.Source, failedHunks(e.Output))
}

// Unwrap returns ErrPatch.
func (e *PatchError) Unwrap() error { return ErrPatch }

var hunkRE = regexp.MustCompile(`Hunk #(\d+) FAILED at (\d+)`)

// parseFailures reads patch's output into failures.
func parseFailures(out string) []HunkFailure {
	var fs []HunkFailure
	file := ""
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, "checking file "), strings.HasPrefix(l, "patching file "):
			file = l[strings.LastIndex(l, " ")+1:]
		case strings.Contains(l, "FAILED") && !strings.Contains(l, " out of "):
			f := HunkFailure{File: file, Message: strings.TrimSpace(l)}
			if m := hunkRE.FindStringSubmatch(l); m != nil {
				f.Hunk, _ = strconv.Atoi(m[1])
				f.Line, _ = strconv.Atoi(m[2])
			}
			fs = append(fs, f)
		case strings.Contains(l, "can't find file"), strings.Contains(l, "Reversed"), strings.Contains(l, "malformed"), strings.Contains(l, "Only garbage"):
			fs = append(fs, HunkFailure{File: file, Message: strings.TrimSpace(l)})
		}
	}
	return fs
}

// failedHunks keeps the lines of patch's output that say what failed.
func failedHunks(out string) string {
	var keep []string
	file := ""
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, "checking file "), strings.HasPrefix(l, "patching file "):
			file = l[strings.LastIndex(l, " ")+1:]
		case strings.Contains(l, "FAILED"), strings.Contains(l, "Reversed"), strings.Contains(l, "can't find file"),
			strings.Contains(l, "malformed"), strings.Contains(l, "Only garbage"):
			keep = append(keep, strings.TrimSpace(file+": "+l))
		}
	}
	if len(keep) == 0 {
		return strings.TrimSpace(out)
	}
	return strings.Join(keep, "; ")
}

// configure writes the recipe's config and checks it. The .config is only
// replaced when it changes, so an unchanged recipe rebuilds nothing.
func (b *Builder) configure(p *plan, mk func(...string) *exec.Cmd, srcDir, objDir string, logw io.Writer) error {
	// A tree keeps one recipe, so most builds in it (every switch between
	// specs of the same source) would compute the same .config again:
	// skip that when nothing it depends on changed.
	stamp := filepath.Join(objDir, configStamp)
	key := p.configKey()
	if p.src.kind != "tree" && key != "" {
		cur, err := os.ReadFile(filepath.Join(objDir, ".config"))
		if want, err2 := os.ReadFile(stamp); err == nil && err2 == nil && string(want) == stampText(key, cur) {
			fmt.Fprintf(logw, "faultline: configuration unchanged (%s)\n", key[:12])
			return nil
		}
	}
	os.Remove(stamp)
	// A new tree (a lost one, another output directory) with a recipe
	// configured before takes that .config as it was made and checked:
	// the two makes below cost about 15 s in a fresh tree. The build's
	// make then runs Kconfig's syncconfig on it, as after any change.
	saved := ""
	if p.src.kind != "tree" && key != "" {
		saved = filepath.Join(b.configDir(), key)
		if cfg, err := os.ReadFile(saved); err == nil {
			if err := writeConfig(objDir, cfg); err != nil {
				return err
			}
			now := time.Now()
			_ = os.Chtimes(saved, now, now) // used: kept longest (trimDir)
			fmt.Fprintf(logw, "faultline: configuration %s from %s\n", key[:12], saved)
			return os.WriteFile(stamp, []byte(stampText(key, cfg)), 0o644)
		}
	}
	cand := ".config.faultline"
	candPath := filepath.Join(objDir, cand)
	run := func(target string, env ...string) error {
		cmd := mk(target)
		cmd.Env = append(cmd.Env, "KCONFIG_CONFIG="+cand)
		cmd.Env = append(cmd.Env, env...)
		cmd.Stdout, cmd.Stderr = logw, logw
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("make %s: %w", target, err)
		}
		return nil
	}
	// make tinyconfig cannot write to KCONFIG_CONFIG: its second half
	// (merge_config.sh) merges tiny.config into .config, which does not
	// exist here, and overwrites the allnoconfig result with every
	// option's default. So tinyconfig is done here in its two steps:
	// allnoconfig with tiny-base.config, then tiny.config's fragments.
	var baseFrags []string
	switch p.spec.Config.Base {
	case "tinyconfig":
		if err := run("allnoconfig", "KCONFIG_ALLCONFIG=kernel/configs/tiny-base.config"); err != nil {
			return err
		}
		baseFrags = []string{"kernel/configs/tiny.config", "arch/x86/configs/tiny.config"}
	default:
		if err := run(p.spec.Config.Base); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(candPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	for _, name := range baseFrags {
		content, err := os.ReadFile(filepath.Join(srcDir, name))
		if err != nil {
			f.Close()
			return fmt.Errorf("tinyconfig: %w", err)
		}
		fmt.Fprintf(f, "\n# %s\n", name)
		f.Write(content)
	}
	for _, fr := range p.frags {
		fmt.Fprintf(f, "\n# faultline fragment %s\n", fr.name)
		f.Write(fr.content)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := run("olddefconfig"); err != nil {
		return err
	}
	final, err := os.ReadFile(candPath)
	if err != nil {
		return err
	}
	if err := checkConfig(p.frags, final); err != nil {
		os.Remove(candPath)
		return err
	}
	cur, _ := os.ReadFile(filepath.Join(objDir, ".config"))
	if bytes.Equal(cur, final) {
		if err := os.Remove(candPath); err != nil {
			return err
		}
	} else if err := os.Rename(candPath, filepath.Join(objDir, ".config")); err != nil {
		return err
	}
	if key != "" {
		_ = os.WriteFile(stamp, []byte(stampText(key, final)), 0o644)
	}
	if saved != "" {
		// Best effort: without it the next new tree configures again.
		if writeFileAtomic(saved, final) == nil {
			trimDir(filepath.Dir(saved), keptConfigs)
		}
	}
	return nil
}

// keptConfigs bounds the configurations kept: a bisection over a git
// history makes one per commit (a .config is 20-150 KB).
const keptConfigs = 200

// trimDir removes the oldest files (by modification time) of dir beyond
// the newest keep.
func trimDir(dir string, keep int) {
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) <= keep {
		return
	}
	type aged struct {
		name string
		mod  time.Time
	}
	var files []aged
	for _, e := range ents {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			files = append(files, aged{e.Name(), info.ModTime()})
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].mod.After(files[j].mod) })
	for _, f := range files[min(keep, len(files)):] {
		os.Remove(filepath.Join(dir, f.name))
	}
}

// configDir is where configurations are kept by recipe (configKey).
func (b *Builder) configDir() string {
	if b.ConfigDir != "" {
		return b.ConfigDir
	}
	return filepath.Join(b.Cache, "configs")
}

// writeConfig makes cfg objDir's .config, leaving the file (and its
// timestamp, which make compares) alone when it already holds cfg.
func writeConfig(objDir string, cfg []byte) error {
	path := filepath.Join(objDir, ".config")
	if cur, err := os.ReadFile(path); err == nil && bytes.Equal(cur, cfg) {
		return nil
	}
	return writeFileAtomic(path, cfg)
}

// writeFileAtomic writes b to path through a temporary file in the same
// directory, so that a reader never sees half of it.
func writeFileAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-")
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), path)
}

// configStamp is the file in a tree's object directory that records which
// recipe its .config was made from (configKey and the .config's SHA-256).
const configStamp = ".faultline-config-key"

// configKey identifies everything configure's result depends on: the
// source, the compiler (Kconfig tests its features), the base and the
// fragments, and the patches that touch Kconfig files or config
// fragments. "" when p has no source identity.
func (p *plan) configKey() string {
	if p.sourceID == "" {
		return ""
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n", p.sourceID, p.cc, p.spec.Config.Base)
	for _, f := range p.frags {
		fmt.Fprintf(h, "%s %d\n", f.name, len(f.content))
		h.Write(f.content)
	}
	for _, patch := range p.patches {
		if touchesConfig(patch) {
			fmt.Fprintf(h, "patch %d\n", len(patch))
			h.Write(patch)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// touchesConfig reports whether a patch changes a Kconfig file or a config
// fragment of the tree (a configs/ directory).
func touchesConfig(patch []byte) bool {
	for _, line := range strings.Split(string(patch), "\n") {
		if !strings.HasPrefix(line, "+++ ") && !strings.HasPrefix(line, "--- ") {
			continue
		}
		path, _, _ := strings.Cut(strings.TrimSpace(line[4:]), "\t")
		if strings.HasPrefix(filepath.Base(path), "Kconfig") || strings.Contains(path, "/configs/") {
			return true
		}
	}
	return false
}

// stampText is what configStamp holds for a .config made from the recipe
// key: the key and the .config's SHA-256.
func stampText(key string, cfg []byte) string {
	sum := sha256.Sum256(cfg)
	return key + " " + hex.EncodeToString(sum[:])
}

var makeStepRE = regexp.MustCompile(`^\s+(CC|LD|AR|AS|BTF|CC \[M\]|LD \[M\]|OBJCOPY|GEN|HOSTCC)\s+(\S+)`)

// runMake runs make, writing its output to logw and a one-line progress
// update (objects done, elapsed, current step) at most once a second; with
// expect > 0 (a full build: the objects this tree's last full build
// compiled) also the share done and an estimate of the time left.
func (b *Builder) runMake(ctx context.Context, name string, cmd *exec.Cmd, logw io.Writer, start time.Time, expect int) (int, error) {
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	done := make(chan error, 1)
	go func() { err := cmd.Wait(); pw.Close(); done <- err }()
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	var last time.Time
	var tail []string
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(logw, line)
		if m := makeStepRE.FindStringSubmatch(line); m != nil {
			n++
			if time.Since(last) >= time.Second {
				last = time.Now()
				el := time.Since(start)
				if expect > 0 && n < expect {
					left := time.Duration(float64(el) / float64(n) * float64(expect-n))
					b.progress("%s: %d of ~%d objects (%d%%), %s elapsed, ~%s left: %s %s", name, n, expect, 100*n/expect,
						el.Round(time.Second), left.Round(10*time.Second), m[1], m[2])
				} else {
					b.progress("%s: %d objects, %s elapsed: %s %s", name, n, el.Round(time.Second), m[1], m[2])
				}
			}
		} else if !strings.HasPrefix(line, "  ") {
			tail = append(tail, line)
			if len(tail) > 8 {
				tail = tail[1:]
			}
		}
	}
	io.Copy(io.Discard, pr)
	if err := <-done; err != nil {
		return n, fmt.Errorf("make: %w: %s", err, strings.Join(tail, " | "))
	}
	return n, nil
}

// install copies the build's outputs into a new kernel cache entry.
func (b *Builder) install(ctx context.Context, p *plan, mk func(...string) *exec.Cmd, objDir, logPath string, logw io.Writer) (*Kernel, error) {
	rel, err := mk("-s", "kernelrelease").Output()
	if err != nil {
		return nil, fmt.Errorf("make kernelrelease: %w", exitDetail(err))
	}
	if err := os.MkdirAll(b.Store.Root, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(b.Store.Root, ".build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	final := filepath.Join(b.Store.Root, p.kernelDirName())
	k := &Kernel{
		Name:      p.spec.Name,
		Source:    "build",
		Release:   strings.TrimSpace(string(rel)),
		Version:   p.key[:12],
		Dir:       final,
		Vmlinuz:   filepath.Join(final, "bzImage"),
		SystemMap: filepath.Join(final, "System.map"),
		Config:    filepath.Join(final, "config"),
		BuildLog:  filepath.Join(final, "build.log"),
		Spec:      p.spec.file,
		Key:       p.key,
		BuiltFrom: p.sourceID,
		Patches:   append([]string(nil), p.spec.Patches...),
	}
	for src, dst := range map[string]string{
		"arch/x86/boot/bzImage": "bzImage", "System.map": "System.map", ".config": "config",
	} {
		if err := copyFile(filepath.Join(objDir, src), filepath.Join(tmp, dst)); err != nil {
			return nil, fmt.Errorf("install %s: %w", src, err)
		}
	}
	if err := copyFile(logPath, filepath.Join(tmp, "build.log")); err != nil {
		return nil, err
	}
	if k.TextSHA256, err = textHash(filepath.Join(objDir, "vmlinux")); err != nil {
		return nil, err
	}
	if order, _ := os.ReadFile(filepath.Join(objDir, "modules.order")); len(bytes.TrimSpace(order)) > 0 {
		cmd := mk("-s", "modules_install", "INSTALL_MOD_PATH="+filepath.Join(tmp, "mod"), "INSTALL_MOD_STRIP=1", "DEPMOD=true")
		cmd.Stdout, cmd.Stderr = logw, logw
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("make modules_install: %w (log: %s)", err, logPath)
		}
		mdir := filepath.Join(tmp, "mod", "lib", "modules", k.Release)
		idx, err := IndexModules(mdir)
		if err != nil {
			return nil, err
		}
		if err := idx.Save(filepath.Join(tmp, moduleIndexName)); err != nil {
			return nil, err
		}
		k.ModulesDir = filepath.Join(final, "mod", "lib", "modules", k.Release)
		k.ModuleCount = len(idx.Modules)
	}
	if err := writeManifest(k, tmp); err != nil {
		return nil, err
	}
	os.RemoveAll(final) // a tree: source rebuilt under the same key
	if err := os.Rename(tmp, final); err != nil {
		return nil, fmt.Errorf("move kernel into cache: %w", err)
	}
	return k, nil
}

// textHash returns the SHA-256 of an ELF file's .text section.
func textHash(vmlinux string) (string, error) {
	f, err := elf.Open(vmlinux)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", vmlinux, err)
	}
	defer f.Close()
	sec := f.Section(".text")
	if sec == nil {
		return "", fmt.Errorf("%s has no .text section", vmlinux)
	}
	h := sha256.New()
	if _, err := io.Copy(h, sec.Open()); err != nil {
		return "", fmt.Errorf("read %s .text: %w", vmlinux, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// BuildState says how a cached build relates to its spec as it is now.
type BuildState string

// The states of a cached build.
const (
	// BuildCurrent: the spec, its fragments, patches, source and compiler
	// still give this build's key; --kernel NAME uses it.
	BuildCurrent BuildState = "current"
	// BuildSuperseded: the spec or something it uses changed since; the
	// build is never used again and `faultline kernels prune` removes it.
	BuildSuperseded BuildState = "superseded"
	// BuildUnknown: the spec file is gone or cannot be read, or its source
	// cannot be identified (no apt lists, a git ref gone), so nothing says
	// whether the build is current; prune keeps it.
	BuildUnknown BuildState = "unknown"
)

// State tells whether k, a cached build, is what its spec builds today.
// Kernels that were not built (Debian packages, files) are always current.
func (b *Builder) State(k *Kernel) BuildState {
	if k.Source != "build" {
		return BuildCurrent
	}
	arg := k.Spec
	if name, ok := strings.CutPrefix(k.Spec, "kernels/specs/"); ok {
		arg = strings.TrimSuffix(name, ".yaml")
	}
	spec, err := LoadBuildSpec(arg)
	if err != nil || spec.Name != k.Name {
		return BuildUnknown
	}
	p, err := b.resolve(spec)
	if err != nil {
		return BuildUnknown
	}
	if p.key == k.Key {
		return BuildCurrent
	}
	return BuildSuperseded
}

// Prune removes the cached builds whose spec has changed since they were
// made (BuildSuperseded) and returns them. dryRun only lists them.
func (b *Builder) Prune(dryRun bool) ([]*Kernel, error) {
	ks, err := b.Store.List()
	if err != nil {
		return nil, err
	}
	var gone []*Kernel
	for _, k := range ks {
		if b.State(k) != BuildSuperseded {
			continue
		}
		if !dryRun {
			if k.Dir == "" || filepath.Dir(filepath.Clean(k.Dir)) != filepath.Clean(b.Store.Root) {
				return gone, fmt.Errorf("prune %s: its directory %q is not in the kernel cache %s", k.Name, k.Dir, b.Store.Root)
			}
			if err := os.RemoveAll(k.Dir); err != nil {
				return gone, fmt.Errorf("prune %s: %w", k.Name, err)
			}
		}
		gone = append(gone, k)
	}
	return gone, nil
}

// Listed is a cached kernel with, for a build, its state against its spec
// today, and its size on disk.
type Listed struct {
	*Kernel
	State BuildState `json:"state,omitempty"`
	Bytes int64      `json:"bytes"`
}

// Listing returns the kernels with the state of each build.
func (b *Builder) Listing(ks []*Kernel) []Listed {
	out := []Listed{}
	for _, k := range ks {
		l := Listed{Kernel: k, Bytes: DirSize(k.Dir)}
		if k.Source == "build" {
			l.State = b.State(k)
		}
		out = append(out, l)
	}
	return out
}

// Note says, for a build, what it was built from and whether it is still
// what its spec builds ("" for other kernels).
func (l Listed) Note() string {
	if l.Source != "build" {
		return ""
	}
	note := "  built " + l.Version + " from " + l.BuiltFrom
	switch l.State {
	case BuildSuperseded:
		note += "  (superseded: its spec changed since; faultline kernels prune removes it)"
	case BuildUnknown:
		note += "  (cannot tell if current: spec " + l.Spec + " or its source not found; prune keeps it)"
	}
	return note
}
