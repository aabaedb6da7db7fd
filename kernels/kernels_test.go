package kernels

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

type fakeApt struct{ names []string }

func (f fakeApt) PackageNames(prefix string) ([]string, error) {
	var out []string
	for _, n := range f.names {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out, nil
}

func (f fakeApt) CandidateVersion(pkg string) (string, error) {
	if pkg == "linux-source-6.1" {
		return "6.1.192-2", nil
	}
	return "", ErrUnknownSpec
}

func (f fakeApt) Download(pkg, dir string) (string, error) {
	return "", errors.New("no network in unit tests")
}

var aptNames = []string{
	"linux-image-6.1.0-9-amd64-unsigned",
	"linux-image-6.1.0-47-cloud-amd64-unsigned",
	"linux-image-6.1.0-56-cloud-amd64-unsigned",
	"linux-image-6.1.0-9-cloud-amd64-unsigned",
	"linux-image-6.1.0-56-amd64-unsigned",
	"linux-image-6.1.0-56-rt-amd64-unsigned",
	"linux-image-6.1.0-56-cloud-amd64-dbg",
	"linux-image-6.12.9+deb12-cloud-amd64-unsigned",
	"linux-image-6.12.117+deb12-cloud-amd64-unsigned",
	"linux-image-6.12.113+deb12-cloud-amd64-unsigned",
	"linux-image-6.12.117+deb12-amd64-unsigned",
	"linux-image-6.12.117+deb12-rt-amd64-unsigned",
	"linux-image-cloud-amd64",
}

func TestResolveDebian(t *testing.T) {
	s := &Store{Root: t.TempDir(), Apt: fakeApt{aptNames}}
	for spec, want := range map[string]string{
		"debian:6.1":        "linux-image-6.1.0-56-amd64-unsigned",
		"debian:6.1-cloud":  "linux-image-6.1.0-56-cloud-amd64-unsigned",
		"debian:6.1-rt":     "linux-image-6.1.0-56-rt-amd64-unsigned",
		"debian:6.12":       "linux-image-6.12.117+deb12-amd64-unsigned",
		"debian:6.12-cloud": "linux-image-6.12.117+deb12-cloud-amd64-unsigned",
	} {
		got, err := s.ResolveDebian(spec)
		if err != nil || got != want {
			t.Errorf("ResolveDebian(%q) = %q, %v; want %q", spec, got, err, want)
		}
	}
	for _, bad := range []string{"debian:6.2", "debian:7", "debian:6.1-nope", "ubuntu:6.1"} {
		if _, err := s.ResolveDebian(bad); !errors.Is(err, ErrUnknownSpec) {
			t.Errorf("ResolveDebian(%q) error = %v, want ErrUnknownSpec", bad, err)
		}
	}
}

func TestResolveUnknownListsSpecs(t *testing.T) {
	s := &Store{Root: t.TempDir(), Apt: fakeApt{aptNames}}
	_, err := s.Resolve("nosuch", false, nil)
	if !errors.Is(err, ErrUnknownSpec) || !strings.Contains(err.Error(), "debian:6.1-cloud") {
		t.Fatalf("Resolve(nosuch) = %v; want ErrUnknownSpec listing the valid specs", err)
	}
	_, err = s.Resolve("debian:6.1-cloud", false, nil)
	if !errors.Is(err, ErrNotFetched) || !strings.Contains(err.Error(), "faultline kernels fetch") {
		t.Fatalf("Resolve without fetch = %v; want ErrNotFetched with the fetch command", err)
	}
}

// TestResolveCacheDir: the directory kernels build prints names its kernel.
func TestResolveCacheDir(t *testing.T) {
	root := t.TempDir()
	s := &Store{Root: root, Apt: fakeApt{aptNames}}
	addKernel(t, root, "6.1-harness-0123456789ab", &Kernel{Name: "6.1-harness-0123456789ab", Release: "6.1.192"})
	for _, spec := range []string{"6.1-harness-0123456789ab", filepath.Join(root, "6.1-harness-0123456789ab"), filepath.Join(root, "6.1-harness-0123456789ab") + "/"} {
		k, err := s.Resolve(spec, false, nil)
		if err != nil || k.Name != "6.1-harness-0123456789ab" {
			t.Errorf("Resolve(%q) = %+v, %v", spec, k, err)
		}
	}
	// A directory elsewhere is not a cached kernel.
	other := t.TempDir()
	addKernel(t, other, "6.1-harness-0123456789ab", &Kernel{Name: "6.1-harness-0123456789ab"})
	if _, err := s.Resolve(filepath.Join(other, "6.1-harness-0123456789ab", "x", ".."), false, nil); !errors.Is(err, ErrUnknownSpec) {
		t.Errorf("a directory outside the cache: %v, want ErrUnknownSpec", err)
	}
}

func TestFileSpec(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "bzImage")
	if err := os.WriteFile(img, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &Store{Root: t.TempDir(), Apt: fakeApt{}}
	k, err := s.Resolve("file:"+img, false, nil)
	if err != nil || k.Vmlinuz != img || k.Source != "file" {
		t.Fatalf("Resolve(file:) = %+v, %v", k, err)
	}
	if _, err := s.Resolve("file:"+img+",bogus=1", false, nil); !errors.Is(err, ErrUnknownSpec) {
		t.Errorf("bad file: option accepted: %v", err)
	}
	if _, err := s.Resolve("file:"+filepath.Join(dir, "missing"), false, nil); err == nil {
		t.Errorf("missing file: accepted")
	}
}

func TestSortPackages(t *testing.T) {
	names := []string{"linux-image-6.1.0-56-x", "linux-image-6.1.0-9-x", "linux-image-6.1.0-47-x"}
	sortPackages(names)
	want := []string{"linux-image-6.1.0-9-x", "linux-image-6.1.0-47-x", "linux-image-6.1.0-56-x"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("sortPackages = %v, want %v", names, want)
	}
}

func TestParseSoftdep(t *testing.T) {
	got := parseSoftdepPre("pre: crc32c sha256 post: foo pre: xxhash64")
	want := []string{"crc32c", "sha256", "xxhash64"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseSoftdepPre = %v, want %v", got, want)
	}
}

func TestLoadOrder(t *testing.T) {
	idx := &ModuleIndex{
		Modules: map[string]*Module{
			"btrfs":          {Name: "btrfs", Depends: []string{"libcrc32c", "xor", "raid6_pq"}, SoftPre: []string{"crypto-crc32c", "nosuch"}},
			"libcrc32c":      {Name: "libcrc32c"},
			"xor":            {Name: "xor"},
			"raid6_pq":       {Name: "raid6_pq", Depends: []string{"xor"}},
			"crc32c_generic": {Name: "crc32c_generic", Aliases: []string{"crypto-crc32c", "crc32c"}},
			"virtio_blk":     {Name: "virtio_blk", Depends: []string{"virtio_ring"}},
			"virtio_ring":    {Name: "virtio_ring"},
			"cycle_a":        {Name: "cycle_a", Depends: []string{"cycle_b"}},
			"cycle_b":        {Name: "cycle_b", Depends: []string{"cycle_a"}},
			"unrelated":      {Name: "unrelated"},
		},
		Builtin: map[string]bool{"ext4": true},
	}
	order, missing := idx.LoadOrder([]string{"virtio-blk", "btrfs", "ext4", "xfs", "cycle_a"})
	var names []string
	for _, m := range order {
		names = append(names, m.Name)
	}
	want := []string{"virtio_ring", "virtio_blk", "libcrc32c", "xor", "raid6_pq", "crc32c_generic", "btrfs", "cycle_b", "cycle_a"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("order = %v, want %v", names, want)
	}
	if !reflect.DeepEqual(missing, []string{"xfs"}) {
		t.Errorf("missing = %v, want [xfs]", missing)
	}
}

// TestIndexRealModules indexes the modules of a fetched Debian kernel, if
// one is in the cache: real .modinfo sections, .ko and .ko.xz.
func TestIndexRealModules(t *testing.T) {
	s, err := NewStore()
	if err != nil {
		t.Skip(err)
	}
	ks, _ := s.List()
	if len(ks) == 0 {
		t.Skip("no kernel fetched (faultline kernels fetch debian:6.1-cloud)")
	}
	for _, k := range ks {
		if k.ModulesDir == "" || k.Source != "debian" { // built kernels have btrfs built in
			continue
		}
		idx, err := k.Modules()
		if err != nil {
			t.Fatal(err)
		}
		order, _ := idx.LoadOrder([]string{"btrfs"})
		if len(order) == 0 || order[len(order)-1].Name != "btrfs" {
			t.Errorf("%s: btrfs load order %v does not end with btrfs", k.Name, order)
		}
		data, err := ReadModuleFile(filepath.Join(idx.Dir, order[0].Path))
		if err != nil || len(data) < 4 || string(data[1:4]) != "ELF" {
			t.Errorf("%s: %s does not read as ELF: %v", k.Name, order[0].Path, err)
		}
	}
}

func TestDebianRange(t *testing.T) {
	s := &Store{Root: t.TempDir(), Apt: fakeApt{names: []string{
		"linux-image-6.1.0-47-cloud-amd64-unsigned", "linux-image-6.1.0-50-cloud-amd64-unsigned", "linux-image-6.1.0-57-cloud-amd64-unsigned",
		"linux-image-6.1.0-57-amd64-unsigned", "linux-image-6.12.107+deb12-cloud-amd64-unsigned", "linux-image-6.12.118+deb12-cloud-amd64-unsigned",
		"linux-image-6.12.118+deb12-amd64-unsigned",
	}}}
	for _, c := range []struct {
		from, to string
		want     int
		err      string
	}{
		{"debian:6.1-cloud", "debian:6.12-cloud", 5, ""},
		{"debian:6.1.0-50-cloud", "debian:6.12.107+deb12-cloud", 3, ""},
		{"debian:6.1-cloud", "debian:6.1-cloud", 3, ""},
		{"debian:6.12-cloud", "debian:6.1-cloud", 0, "backwards"},
		{"debian:6.1-cloud", "debian:6.12", 0, "a range end is"},
		{"debian:6.1.0-48-cloud", "debian:6.1-cloud", 0, "not in the apt lists"},
		{"debian:6.1-cloud", "debian:6.12-rt", 0, "no package"},
	} {
		got, err := s.DebianRange(c.from, c.to)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s..%s: %v, want an error with %q", c.from, c.to, err, c.err)
			}
			continue
		}
		if err != nil || len(got) != c.want {
			t.Errorf("%s..%s = %v, %v; want %d packages", c.from, c.to, got, err, c.want)
		}
	}
}

// countingApt counts the questions that reach apt.
type countingApt struct {
	fakeApt
	asked *int
}

func (c countingApt) PackageNames(prefix string) ([]string, error) {
	*c.asked++
	return c.fakeApt.PackageNames(prefix)
}

func TestCachedApt(t *testing.T) {
	dir := t.TempDir()
	lists := filepath.Join(dir, "lists")
	if err := os.Mkdir(lists, 0o755); err != nil {
		t.Fatal(err)
	}
	old := aptListsDir
	aptListsDir = lists
	defer func() { aptListsDir = old }()
	past := time.Now().Add(-time.Hour)
	if err := os.Chtimes(lists, past, past); err != nil {
		t.Fatal(err)
	}
	asked := 0
	c := &CachedApt{Apt: countingApt{fakeApt{aptNames}, &asked}, Path: filepath.Join(dir, "apt.json")}
	for i := 0; i < 3; i++ {
		names, err := c.PackageNames("linux-image-")
		if err != nil || len(names) != len(aptNames) {
			t.Fatalf("PackageNames = %v, %v", names, err)
		}
	}
	if asked != 1 {
		t.Errorf("apt asked %d times for one question; want 1 (then cached)", asked)
	}
	// A new process reads the same file.
	c2 := &CachedApt{Apt: countingApt{fakeApt{aptNames}, &asked}, Path: c.Path}
	if _, err := c2.PackageNames("linux-image-"); err != nil || asked != 1 {
		t.Errorf("second process: asked %d, %v; want the cached answer", asked, err)
	}
	// apt-get update touches the lists: ask again.
	if err := os.Chtimes(lists, time.Now().Add(time.Second), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.PackageNames("linux-image-"); err != nil || asked != 2 {
		t.Errorf("after the lists changed: asked %d, %v; want a new question", asked, err)
	}
	// kernels fetch refreshes.
	c2.Refresh = true
	if _, err := c2.PackageNames("linux-image-"); err != nil || asked != 3 {
		t.Errorf("with Refresh: asked %d, %v; want a new question", asked, err)
	}
	// A day-old answer is not used.
	a := c2.load()
	ans := a.Names["linux-image-"]
	ans.At = time.Now().Add(-25 * time.Hour)
	a.Names["linux-image-"] = ans
	c2.save(a)
	c3 := &CachedApt{Apt: countingApt{fakeApt{aptNames}, &asked}, Path: c.Path}
	if _, err := c3.PackageNames("linux-image-"); err != nil || asked != 4 {
		t.Errorf("day-old answer: asked %d, %v; want a new question", asked, err)
	}
}
