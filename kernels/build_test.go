package kernels

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestShippedBuildSpecs(t *testing.T) {
	names := ShippedSpecs()
	for _, want := range []string{"6.1-harness", "6.1-mutant-seed-a", "6.1-mutant-seed-b", "6.1-mutant-seed-c", "6.1-mutant-seed-d", "6.1-debug"} {
		if !IsBuildSpec(want) {
			t.Errorf("%s is not a shipped build spec (have %v)", want, names)
		}
	}
	for _, n := range names {
		s, err := LoadBuildSpec(n)
		if err != nil {
			t.Fatalf("shipped spec %s: %v", n, err)
		}
		if s.Name != n {
			t.Errorf("spec file %s.yaml names itself %q", n, s.Name)
		}
		frags, err := s.fragments("")
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		for _, f := range frags {
			if _, err := parseFragment(f.name, f.content); !f.upstream && err != nil {
				t.Errorf("%s: fragment %s: %v", n, f.name, err)
			}
		}
		if seed, ok := strings.CutPrefix(n, "6.1-mutant-"); ok {
			// A mutant is the harness's series plus its own patch; seed
			// D's also leaves out the direct I/O pinning (its bug).
			h, err := LoadBuildSpec("6.1-harness")
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Clone(h.Patches)
			if seed == "seed-d" {
				want = slices.DeleteFunc(want, func(p string) bool { return p == "dio-pin-user-pages.patch" })
			}
			got := s.Patches
			if len(got) != len(want)+1 || !slices.Equal(got[:len(want)], want) || !strings.HasPrefix(got[len(want)], seed+"-") {
				t.Errorf("%s: want the harness series %v plus a %s-*.patch, got %v", n, want, seed, got)
			}
		}
	}
	if IsBuildSpec("debian:6.1-cloud") || IsBuildSpec("6.1-nope") {
		t.Error("IsBuildSpec accepts what is not a build spec")
	}
}

func writeSpec(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "spec.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBuildSpecErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "mine.patch"), []byte("--- a/x\n+++ b/x\n"), 0o644)
	for body, want := range map[string]string{
		"name: x\nsource: debian-source:6.1\nconfg: {}\n": "field confg not found",
		"source: debian-source:6.1\n":                     "name is missing",
		"name: Bad Name\nsource: debian-source:6.1\n":     `name "Bad Name"`,
		"name: x\n":                            "source is missing",
		"name: x\nsource: ubuntu:6.1\n":        `unknown kind "ubuntu"`,
		"name: x\nsource: debian-source:six\n": "want a series",
		"name: x\nsource: git:/repo\n":         "want git:REPO@REF",
		"name: x\nsource: debian-source:6.1\nconfig: {base: allyesconfig}\n":      "want defconfig or tinyconfig",
		"name: x\nsource: debian-source:6.1\npatches: [nope.patch]\n":             `patch "nope.patch" not found`,
		"name: x\nsource: tree:/src/linux\npatches: [mine.patch]\n":               "apply the patches in the tree",
		"name: x\nsource: debian-source:6.1\nconfig: {fragments: [harness]}\nx\n": "line 4",
		"name: x\nsource: debian-source:6.1\nlinker: gold\n":                      "want bfd (the default) or lld",
	} {
		_, err := LoadBuildSpec(writeSpec(t, dir, body))
		if err == nil || !errors.Is(err, ErrBadSpec) || !strings.Contains(err.Error(), want) {
			t.Errorf("spec %q: error %v, want ErrBadSpec containing %q", body, err, want)
		}
	}
	s, err := LoadBuildSpec(writeSpec(t, dir, "name: mine\nsource: debian-source:6.1\nconfig: {fragments: [harness, my.config]}\npatches: [faultline-hooks.patch, mine.patch]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.fragments(""); err != nil {
		t.Fatalf("missing user fragment without a tree is taken as upstream, got %v", err)
	}
	if s.Linker != "bfd" {
		t.Errorf("a spec without a linker: %q, want bfd", s.Linker)
	}
	if _, err := s.fragments(dir); err == nil || !strings.Contains(err.Error(), `"my.config"`) {
		t.Errorf("fragment found nowhere: error %v, want one naming my.config", err)
	}
	if _, err := LoadBuildSpec("6.1-nope"); !errors.Is(err, ErrUnknownSpec) || !strings.Contains(err.Error(), "6.1-harness") {
		t.Errorf("unknown shipped spec: %v, want ErrUnknownSpec listing the shipped ones", err)
	}
}

func TestParseFragment(t *testing.T) {
	reqs, err := parseFragment("f", []byte("# comment\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=\"x y\"\nCONFIG_D=n\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []configRequest{{"CONFIG_A", "y", "f"}, {"CONFIG_B", "", "f"}, {"CONFIG_C", `"x y"`, "f"}, {"CONFIG_D", "", "f"}}
	if len(reqs) != len(want) {
		t.Fatalf("got %v, want %v", reqs, want)
	}
	for i := range want {
		if reqs[i] != want[i] {
			t.Errorf("request %d = %v, want %v", i, reqs[i], want[i])
		}
	}
	if _, err := parseFragment("f", []byte("CONFIG_A y\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("bad line: %v, want an error naming line 1", err)
	}
}

func TestCheckConfig(t *testing.T) {
	frags := []fragment{
		{name: "kvm_guest.config", upstream: true, content: []byte("CONFIG_S390_GUEST=y\n")},
		{name: "harness", content: []byte("CONFIG_BPF=y\nCONFIG_KASAN=y\nCONFIG_DRM=y\n")},
		{name: "trim", content: []byte("# CONFIG_DRM is not set\n# CONFIG_SOUND is not set\n")},
	}
	good := "CONFIG_BPF=y\nCONFIG_KASAN=y\n# CONFIG_DRM is not set\n"
	if err := checkConfig(frags, []byte(good)); err != nil {
		t.Errorf("config that has every request: %v (upstream fragments are not checked; later fragments win)", err)
	}
	err := checkConfig(frags, []byte("CONFIG_BPF=y\nCONFIG_DRM=y\nCONFIG_SOUND=m\n"))
	if !errors.Is(err, ErrBadSpec) {
		t.Fatalf("missing options: %v, want ErrBadSpec", err)
	}
	for _, want := range []string{"CONFIG_KASAN=not set (asked y by harness)", "CONFIG_DRM=y (asked not set by trim)", "CONFIG_SOUND=m"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}

func TestCacheKey(t *testing.T) {
	s, err := LoadBuildSpec("6.1-mutant-seed-a")
	if err != nil {
		t.Fatal(err)
	}
	frags, _ := s.fragments("")
	p1, _ := s.readPatch(s.Patches[0])
	p2, _ := s.readPatch(s.Patches[1])
	base := cacheKey("linux-source-6.1_6.1.192-2", s, frags, [][]byte{p1, p2}, "gcc12.2.0")
	if base != cacheKey("linux-source-6.1_6.1.192-2", s, frags, [][]byte{p1, p2}, "gcc12.2.0") {
		t.Fatal("cache key is not deterministic")
	}
	changed := map[string]string{
		"source":   cacheKey("linux-source-6.1_6.1.193-1", s, frags, [][]byte{p1, p2}, "gcc12.2.0"),
		"compiler": cacheKey("linux-source-6.1_6.1.192-2", s, frags, [][]byte{p1, p2}, "gcc13.1.0"),
		"patch":    cacheKey("linux-source-6.1_6.1.192-2", s, frags, [][]byte{p1, append(p2, ' ')}, "gcc12.2.0"),
	}
	f2 := append([]fragment(nil), frags...)
	f2[1].content = append(append([]byte(nil), f2[1].content...), "CONFIG_X=y\n"...)
	changed["fragment"] = cacheKey("linux-source-6.1_6.1.192-2", s, f2, [][]byte{p1, p2}, "gcc12.2.0")
	for what, k := range changed {
		if k == base {
			t.Errorf("changing the %s does not change the cache key", what)
		}
	}
}

func TestSourceID(t *testing.T) {
	b := &Builder{Store: &Store{Root: t.TempDir(), Apt: fakeApt{}}}
	if id, err := b.sourceID(source{kind: "debian-source", arg: "6.1"}); err != nil || id != "linux-source-6.1_6.1.192-2" {
		t.Errorf("debian-source:6.1 = %q, %v", id, err)
	}
	if _, err := b.sourceID(source{kind: "debian-source", arg: "5.4"}); !errors.Is(err, ErrUnknownSpec) {
		t.Errorf("debian-source:5.4 error = %v, want ErrUnknownSpec", err)
	}
	if _, err := b.sourceID(source{kind: "tree", arg: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "not a kernel tree") {
		t.Errorf("empty tree: %v, want 'not a kernel tree'", err)
	}
}

// TestApplySeries switches a tree between patch series with real patch(1):
// the common prefix stays applied, the rest is reverted and replaced, and
// a patch that does not apply names itself and its hunk and leaves the tree
// as it was.
func TestApplySeries(t *testing.T) {
	if _, err := exec.LookPath("patch"); err != nil {
		t.Skip("patch not installed")
	}
	dir := t.TempDir()
	pristine := filepath.Join(dir, "src", "linux")
	os.MkdirAll(pristine, 0o755)
	os.WriteFile(filepath.Join(pristine, "Makefile"), []byte("a\nb\nc\n"), 0o644)
	os.WriteFile(filepath.Join(pristine, "f.c"), []byte("one\ntwo\nthree\n"), 0o644)
	specDir := filepath.Join(dir, "spec")
	os.MkdirAll(specDir, 0o755)
	os.WriteFile(filepath.Join(specDir, "p1.patch"), []byte("--- a/f.c\n+++ b/f.c\n@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n"), 0o644)
	os.WriteFile(filepath.Join(specDir, "p2.patch"), []byte("--- a/Makefile\n+++ b/Makefile\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"), 0o644)
	os.WriteFile(filepath.Join(specDir, "p3.patch"), []byte("--- a/Makefile\n+++ b/Makefile\n@@ -1,3 +1,3 @@\n a\n-c\n+C\n x\n"), 0o644)
	b := &Builder{Store: &Store{Root: dir}}
	tree := filepath.Join(dir, "tree")
	if err := b.workTree(pristine, tree); err != nil {
		t.Fatal(err)
	}
	series := func(names ...string) *plan {
		s := &BuildSpec{Name: "t", file: "t.yaml", dir: specDir, Patches: names}
		p := &plan{spec: s, sourceID: "test"}
		for _, n := range names {
			c, err := s.readPatch(n)
			if err != nil {
				t.Fatal(err)
			}
			p.patches = append(p.patches, c)
		}
		return p
	}
	read := func(f string) string { b, _ := os.ReadFile(filepath.Join(tree, "linux", f)); return string(b) }
	ctx := context.Background()
	if err := b.applySeries(ctx, series("p1.patch", "p2.patch"), tree); err != nil {
		t.Fatal(err)
	}
	if read("f.c") != "one\nTWO\nthree\n" || read("Makefile") != "a\nB\nc\n" {
		t.Fatalf("after p1+p2: f.c %q Makefile %q", read("f.c"), read("Makefile"))
	}
	if err := b.applySeries(ctx, series("p1.patch"), tree); err != nil {
		t.Fatal(err)
	}
	if read("f.c") != "one\nTWO\nthree\n" || read("Makefile") != "a\nb\nc\n" {
		t.Fatalf("after switching to p1: f.c %q Makefile %q", read("f.c"), read("Makefile"))
	}
	err := b.applySeries(ctx, series("p1.patch", "p3.patch"), tree)
	if !errors.Is(err, ErrPatch) || !strings.Contains(err.Error(), "p3.patch") || !strings.Contains(err.Error(), "Hunk #1 FAILED") {
		t.Fatalf("bad patch: %v, want ErrPatch naming p3.patch and its hunk", err)
	}
	if read("Makefile") != "a\nb\nc\n" || read("f.c") != "one\nTWO\nthree\n" {
		t.Fatalf("a failed patch changed the tree: Makefile %q f.c %q", read("Makefile"), read("f.c"))
	}
	if err := b.applySeries(ctx, series(), tree); err != nil {
		t.Fatal(err)
	}
	if read("f.c") != "one\ntwo\nthree\n" {
		t.Fatalf("after switching to no patches: f.c %q", read("f.c"))
	}
	if ents, _ := os.ReadDir(filepath.Join(tree, "applied")); len(ents) != 0 {
		t.Errorf("applied records left: %d", len(ents))
	}
}

// TestStateAndPrune: a build whose key is what its spec gives today is
// current, one with another key is superseded and the only one prune
// removes; a build whose spec file is gone, and a Debian kernel, stay.
func TestStateAndPrune(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed (part of a build's cache key)")
	}
	root := t.TempDir()
	b := &Builder{Store: &Store{Root: root, Apt: fakeApt{}}}
	spec, err := LoadBuildSpec("6.1-harness")
	if err != nil {
		t.Fatal(err)
	}
	p, err := b.resolve(spec)
	if err != nil {
		t.Fatal(err)
	}
	add := func(dir string, k *Kernel) { addKernel(t, root, dir, k) }
	add(p.kernelDirName(), &Kernel{Name: "6.1-harness", Source: "build", Spec: "kernels/specs/6.1-harness.yaml", Key: p.key})
	add("6.1-harness-000000000000", &Kernel{Name: "6.1-harness", Source: "build", Spec: "kernels/specs/6.1-harness.yaml", Key: strings.Repeat("0", 64)})
	add("mine-111111111111", &Kernel{Name: "mine", Source: "build", Spec: filepath.Join(root, "gone.yaml"), Key: strings.Repeat("1", 64)})
	add("linux-image-x", &Kernel{Name: "linux-image-x", Source: "debian"})

	ks, err := b.Store.List()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]BuildState{p.kernelDirName(): BuildCurrent, "6.1-harness-000000000000": BuildSuperseded,
		"mine-111111111111": BuildUnknown, "linux-image-x": BuildCurrent}
	for _, k := range ks {
		if got := b.State(k); got != want[filepath.Base(k.Dir)] {
			t.Errorf("%s: state %s, want %s", filepath.Base(k.Dir), got, want[filepath.Base(k.Dir)])
		}
	}
	gone, err := b.Prune(true)
	if err != nil || len(gone) != 1 || filepath.Base(gone[0].Dir) != "6.1-harness-000000000000" {
		t.Fatalf("dry run: %v, %v", gone, err)
	}
	if _, err := os.Stat(gone[0].Dir); err != nil {
		t.Errorf("the dry run removed %s", gone[0].Dir)
	}
	if gone, err = b.Prune(false); err != nil || len(gone) != 1 {
		t.Fatalf("prune: %v, %v", gone, err)
	}
	for dir := range want {
		_, err := os.Stat(filepath.Join(root, dir))
		if exists := err == nil; exists != (dir != "6.1-harness-000000000000") {
			t.Errorf("%s: exists %v after prune", dir, exists)
		}
	}
}

// TestGitCheckout: a git source's build tree is one clone per repository;
// a step to another commit rewrites only the files that differ (make's
// timestamps then rebuild only what they touch) and drops what the last
// build's patches created.
func TestGitCheckout(t *testing.T) {
	repo := t.TempDir()
	git := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git(repo, "init", "-q", "-b", "main")
	os.WriteFile(filepath.Join(repo, "a.c"), []byte("a1"), 0o644)
	os.WriteFile(filepath.Join(repo, "b.c"), []byte("b1"), 0o644)
	git(repo, "add", ".")
	git(repo, "commit", "-qm", "one")
	one := git(repo, "rev-parse", "HEAD")
	os.WriteFile(filepath.Join(repo, "b.c"), []byte("b2"), 0o644)
	git(repo, "commit", "-qam", "two")
	two := git(repo, "rev-parse", "HEAD")

	b := &Builder{Store: &Store{Root: t.TempDir()}, Cache: t.TempDir()}
	plan := func(sha string) *plan {
		src, _ := parseSource("git:"+repo+"@"+sha, "")
		id, err := b.sourceID(src)
		if err != nil {
			t.Fatal(err)
		}
		return &plan{spec: &BuildSpec{Name: "x"}, src: src, sourceID: id}
	}
	p1, p2 := plan(one), plan(two)
	if p1.treeID() != p2.treeID() || !strings.HasPrefix(p1.treeID(), "git-") {
		t.Fatalf("tree ids %q %q: want one per repository", p1.treeID(), p2.treeID())
	}
	tree := t.TempDir()
	work := filepath.Join(tree, "linux")
	if err := b.gitCheckout(context.Background(), p1, tree); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(work, "a.c"))
	if err != nil {
		t.Fatal(err)
	}
	old := st.ModTime()
	time.Sleep(20 * time.Millisecond)
	os.WriteFile(filepath.Join(work, "new-from-patch.c"), nil, 0o644)
	os.WriteFile(filepath.Join(work, "b.c"), []byte("patched"), 0o644)
	if err := b.gitCheckout(context.Background(), p2, tree); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(filepath.Join(work, "a.c")); !st.ModTime().Equal(old) {
		t.Errorf("a.c, the same in both commits, was rewritten")
	}
	if c, _ := os.ReadFile(filepath.Join(work, "b.c")); string(c) != "b2" {
		t.Errorf("b.c = %q, want b2", c)
	}
	if _, err := os.Stat(filepath.Join(work, "new-from-patch.c")); err == nil {
		t.Errorf("a file the last patches created survived")
	}
}

// TestSerialPaholeFlags: the tree's pahole flags without -j (parallel BTF
// encoding numbers types differently from build to build).
func TestSerialPaholeFlags(t *testing.T) {
	dir := t.TempDir()
	if got := serialPaholeFlags(dir); got != "" {
		t.Errorf("no script: %q", got)
	}
	os.MkdirAll(filepath.Join(dir, "scripts"), 0o755)
	os.WriteFile(filepath.Join(dir, "scripts", "pahole-flags.sh"), []byte("echo --btf_gen_floats -j --lang_exclude=rust\n"), 0o755)
	if got := serialPaholeFlags(dir); got != "--btf_gen_floats --lang_exclude=rust" {
		t.Errorf("got %q", got)
	}
	os.WriteFile(filepath.Join(dir, "scripts", "pahole-flags.sh"), []byte("echo --btf_gen_floats\n"), 0o755)
	if got := serialPaholeFlags(dir); got != "" {
		t.Errorf("no -j: %q, want no override", got)
	}
}

// TestTinyconfigBase configures base tinyconfig the way a build does and
// compares the result with a plain `make tinyconfig` of the same tree. It
// needs an unpacked linux-source (any `faultline kernels build` leaves one
// in the cache) and skips without it.
func TestTinyconfigBase(t *testing.T) {
	if testing.Short() {
		t.Skip("configures a kernel tree")
	}
	home, _ := os.UserHomeDir()
	trees, _ := filepath.Glob(filepath.Join(home, ".cache", "faultline", "sources", "linux-source-*", "linux-source-*"))
	if len(trees) == 0 {
		t.Skip("no unpacked linux-source in ~/.cache/faultline/sources (run faultline kernels build 6.1-harness)")
	}
	src := trees[0]
	mkIn := func(obj string) func(...string) *exec.Cmd {
		return func(args ...string) *exec.Cmd {
			cmd := exec.Command("make", append([]string{"-s", "-C", src, "O=" + obj}, args...)...)
			cmd.Env = append(os.Environ(), "LC_ALL=C")
			return cmd
		}
	}
	plain := t.TempDir()
	if out, err := mkIn(plain)("tinyconfig").CombinedOutput(); err != nil {
		t.Fatalf("make tinyconfig: %v\n%s", err, out)
	}
	want, err := os.ReadFile(filepath.Join(plain, ".config"))
	if err != nil {
		t.Fatal(err)
	}
	obj := t.TempDir()
	b := &Builder{ConfigDir: t.TempDir()}
	p := &plan{spec: &BuildSpec{Config: ConfigRecipe{Base: "tinyconfig"}}}
	if err := b.configure(p, mkIn(obj), src, obj, io.Discard); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(obj, ".config"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("configure(tinyconfig) differs from make tinyconfig:\n%s", configDiff(want, got))
	}

	// The same recipe again is not configured again; a changed fragment is.
	p.sourceID = "linux-source-test"
	if err := b.configure(p, mkIn(obj), src, obj, io.Discard); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	if err := b.configure(p, mkIn(obj), src, obj, &log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "configuration unchanged") {
		t.Errorf("second configure of the same recipe ran make:\n%s", log.String())
	}
	p.frags = []fragment{{name: "extra", content: []byte("CONFIG_64BIT=y\n")}}
	log.Reset()
	if err := b.configure(p, mkIn(obj), src, obj, &log); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(log.String(), "configuration unchanged") {
		t.Errorf("a changed fragment was not configured")
	}
	if got, _ := os.ReadFile(filepath.Join(obj, ".config")); !bytes.Contains(got, []byte("\nCONFIG_64BIT=y\n")) {
		t.Errorf("the changed fragment's option is not in .config")
	}

	// A new tree with a recipe configured before takes its .config from
	// the configurations kept, without make (none here: it would fail).
	fresh := t.TempDir()
	noMake := func(args ...string) *exec.Cmd { return exec.Command("false") }
	log.Reset()
	if err := b.configure(p, noMake, src, fresh, &log); err != nil {
		t.Fatalf("configure in a new tree: %v\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "from "+b.ConfigDir) {
		t.Errorf("a new tree was configured again:\n%s", log.String())
	}
	want, _ = os.ReadFile(filepath.Join(obj, ".config"))
	if got, _ := os.ReadFile(filepath.Join(fresh, ".config")); !bytes.Equal(got, want) {
		t.Errorf("the new tree's .config differs from the one made for the recipe:\n%s", configDiff(want, got))
	}
	// Then it is that tree's configuration: unchanged next time.
	log.Reset()
	if err := b.configure(p, noMake, src, fresh, &log); err != nil || !strings.Contains(log.String(), "configuration unchanged") {
		t.Errorf("second configure of the new tree: %v\n%s", err, log.String())
	}
	// Another recipe is not in the configurations kept: make runs (and
	// fails here).
	p.frags = append(p.frags, fragment{name: "more", content: []byte("CONFIG_SMP=y\n")})
	if err := b.configure(p, noMake, src, fresh, io.Discard); err == nil {
		t.Error("a recipe never configured was taken from the configurations kept")
	}
}

func TestTouchesConfig(t *testing.T) {
	for _, tc := range []struct {
		name  string
		patch string
		want  bool
	}{
		{"code only", "--- a/fs/btrfs/extent_io.c\n+++ b/fs/btrfs/extent_io.c\n@@ -1 +1 @@\n-a\n+b\n", false},
		{"a Kconfig", "--- a/mm/Kconfig\n+++ b/mm/Kconfig\n@@ -1 +1 @@\n", true},
		{"a Kconfig.debug with a date", "--- a/lib/Kconfig.debug\t2024-01-01\n+++ b/lib/Kconfig.debug\t2024-01-01\n", true},
		{"a new file in configs/", "--- /dev/null\n+++ b/kernel/configs/faultline.config\n", true},
		{"a line that mentions Kconfig", "--- a/x.c\n+++ b/x.c\n@@ -1 +1 @@\n+/* see Kconfig */\n", false},
	} {
		if got := touchesConfig([]byte(tc.patch)); got != tc.want {
			t.Errorf("%s: touchesConfig = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// configDiff lists the options whose lines differ between two configs.
func configDiff(a, b []byte) string {
	lines := func(c []byte) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(string(c), "\n") {
			if strings.HasPrefix(l, "CONFIG_") || strings.HasSuffix(l, " is not set") {
				m[l] = true
			}
		}
		return m
	}
	la, lb := lines(a), lines(b)
	var out []string
	for l := range la {
		if !lb[l] {
			out = append(out, "- "+l)
		}
	}
	for l := range lb {
		if !la[l] {
			out = append(out, "+ "+l)
		}
	}
	sort.Strings(out)
	if len(out) > 40 {
		out = append(out[:40], fmt.Sprintf("... %d more", len(out)-40))
	}
	return strings.Join(out, "\n")
}

// TestResolveBuiltName: --kernel NAME finds a build of a spec file outside
// kernels/specs by the name in that file: the build the file gives today,
// not a superseded one; with only superseded builds it says to build again;
// a build whose spec file is gone is used when it is the only one.
func TestResolveBuiltName(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed (part of a build's cache key)")
	}
	root := t.TempDir()
	s := &Store{Root: filepath.Join(root, "kernels"), Apt: fakeApt{}}
	b := &Builder{Store: s}
	specFile := filepath.Join(root, "mine.yaml")
	text := "name: mine\nsource: debian-source:6.1\nconfig:\n  base: tinyconfig\n  fragments: [guest, harness]\npatches:\n  - faultline-hooks.patch\n"
	if err := os.WriteFile(specFile, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	spec, err := LoadBuildSpec(specFile)
	if err != nil {
		t.Fatal(err)
	}
	p, err := b.resolve(spec)
	if err != nil {
		t.Fatal(err)
	}
	add := func(dir string, k *Kernel) { addKernel(t, s.Root, dir, k) }
	add(p.kernelDirName(), &Kernel{Name: "mine", Source: "build", Spec: specFile, Key: p.key})
	add("mine-000000000000", &Kernel{Name: "mine", Source: "build", Spec: specFile, Key: strings.Repeat("0", 64)})
	add("theirs-111111111111", &Kernel{Name: "theirs", Source: "build", Spec: filepath.Join(root, "gone.yaml"), Key: strings.Repeat("1", 64)})

	if k, err := s.Resolve("mine", false, nil); err != nil || filepath.Base(k.Dir) != p.kernelDirName() {
		t.Errorf("Resolve(mine) = %v, %v; want the current build %s", k, err, p.kernelDirName())
	}
	if k, err := s.Resolve("theirs", false, nil); err != nil || k.Name != "theirs" {
		t.Errorf("Resolve(theirs) = %v, %v; want the only build, its spec gone", k, err)
	}
	if err := os.RemoveAll(filepath.Join(s.Root, p.kernelDirName())); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve("mine", false, nil); !errors.Is(err, ErrUnknownSpec) || !strings.Contains(err.Error(), "kernels build "+specFile) {
		t.Errorf("Resolve(mine) with only a superseded build = %v; want ErrUnknownSpec saying to build %s again", err, specFile)
	}
	add("theirs-222222222222", &Kernel{Name: "theirs", Source: "build", Spec: filepath.Join(root, "gone.yaml"), Key: strings.Repeat("2", 64)})
	if _, err := s.Resolve("theirs", false, nil); !errors.Is(err, ErrUnknownSpec) || !strings.Contains(err.Error(), "theirs-111111111111, theirs-222222222222") {
		t.Errorf("Resolve(theirs) with two builds and no spec file = %v; want ErrUnknownSpec naming both directories", err)
	}
}

// addKernel writes a cached kernel's manifest into root/dir.
func addKernel(t *testing.T, root, dir string, k *Kernel) {
	t.Helper()
	k.Dir = filepath.Join(root, dir)
	if err := os.MkdirAll(k.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeManifest(k, k.Dir); err != nil {
		t.Fatal(err)
	}
}

func TestLLDVersion(t *testing.T) {
	for out, want := range map[string]string{
		"Debian LLD 14.0.6 (compatible with GNU linkers)\n": "14.0.6",
		"LLD 17.0.1 (compatible with GNU linkers)":          "17.0.1",
		"Ubuntu LLD 18.1.3 (compatible with GNU linkers)":   "18.1.3",
		"GNU ld (GNU Binutils for Debian) 2.40":             "",
		"LLD (compatible with GNU linkers)":                 "",
	} {
		got, err := lldVersion(out)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("lldVersion(%q) = %q, %v; want %q", out, got, err, want)
		}
	}
}

// TestTrimDir keeps the newest files of a directory and removes the rest.
func TestTrimDir(t *testing.T) {
	for _, c := range []struct {
		files, keep int
		want        []string
	}{
		{4, 2, []string{"f2", "f3"}},
		{2, 2, []string{"f0", "f1"}},
		{3, 0, nil},
	} {
		dir := t.TempDir()
		base := time.Now().Add(-time.Hour)
		for i := range c.files {
			p := filepath.Join(dir, fmt.Sprintf("f%d", i))
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			mod := base.Add(time.Duration(i) * time.Minute) // f0 oldest
			if err := os.Chtimes(p, mod, mod); err != nil {
				t.Fatal(err)
			}
		}
		trimDir(dir, c.keep)
		ents, _ := os.ReadDir(dir)
		var got []string
		for _, e := range ents {
			got = append(got, e.Name())
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%d files, keep %d: %v, want %v", c.files, c.keep, got, c.want)
		}
	}
}
