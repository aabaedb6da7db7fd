package kernels

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseCCacheStats(t *testing.T) {
	out := "cache_miss\t12\ndirect_cache_hit\t80\npreprocessed_cache_hit\t8\nfiles_in_cache\t300\n"
	s := parseCCacheStats([]byte(out))
	if s.Hits != 88 || s.Misses != 12 || s.HitRate() != 0.88 {
		t.Errorf("stats %+v rate %v", s, s.HitRate())
	}
	if (CacheStats{}).HitRate() != 0 {
		t.Error("empty hit rate")
	}
	if d := (CacheStats{Hits: 10, Misses: 5}).since(CacheStats{Hits: 4, Misses: 5}); d != (CacheStats{Hits: 6}) {
		t.Errorf("since %+v", d)
	}
}

func TestSwitchPartner(t *testing.T) {
	h, err := LoadBuildSpec("6.1-harness")
	if err != nil {
		t.Fatal(err)
	}
	p, err := SwitchPartner(h)
	if err != nil || !strings.HasPrefix(p.Name, "6.1-mutant-seed-") {
		t.Fatalf("partner of 6.1-harness: %v, %v", p, err)
	}
	for _, tc := range []struct {
		a, b []string
		want int
	}{{nil, []string{"x"}, 1}, {[]string{"x"}, []string{"x", "y"}, 1}, {[]string{"x", "y"}, []string{"x"}, 1},
		{[]string{"x"}, []string{"y"}, -1}, {[]string{"x"}, []string{"x"}, 0}, {[]string{"a"}, []string{"a", "b", "c"}, 2}} {
		if got := patchDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("patchDistance(%v, %v) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
	d, err := LoadBuildSpec("6.1-debug")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := SwitchPartner(d); err == nil {
		t.Error("6.1-debug has no one-patch partner, yet one was found")
	}
}

func TestDerive(t *testing.T) {
	h, err := LoadBuildSpec("6.1-harness")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	patch := filepath.Join(dir, "0001-x.patch")
	if err := os.WriteFile(patch, []byte("diff --git a/x b/x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	text, err := h.Derive("6.1-harness+x", "with x", []string{patch})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "patched.yaml")
	if err := os.WriteFile(path, text, 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := LoadBuildSpec(path)
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "6.1-harness+x" || d.Source != h.Source || d.Config.Base != h.Config.Base ||
		len(d.Patches) != len(h.Patches)+1 || d.Patches[len(d.Patches)-1] != patch {
		t.Errorf("derived %+v from %+v", d, h)
	}
	if d.Linker != h.Linker {
		t.Errorf("derived spec links with %q, its parent with %q", d.Linker, h.Linker)
	}
	lld := *h
	lld.Linker = "lld"
	text, err = lld.DeriveSource("old", "", "git:/repo@abc")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(text), "linker: lld") {
		t.Errorf("an lld spec's derived source spec does not say linker: lld:\n%s", text)
	}
	if _, err := h.Derive("y", "", []string{"relative.patch"}); err == nil {
		t.Error("a relative extra patch was accepted")
	}
}

func TestParseFailures(t *testing.T) {
	out := "checking file fs/btrfs/super.c\nHunk #1 FAILED at 56.\nHunk #3 FAILED at 1041.\n2 out of 3 hunks FAILED\nchecking file fs/btrfs/nope.c\ncan't find file to patch at input line 40\n"
	fs := parseFailures(out)
	if len(fs) != 3 {
		t.Fatalf("failures %+v", fs)
	}
	if fs[0].File != "fs/btrfs/super.c" || fs[0].Hunk != 1 || fs[0].Line != 56 || fs[1].Hunk != 3 || fs[1].Line != 1041 {
		t.Errorf("hunks %+v", fs[:2])
	}
	if fs[2].File != "fs/btrfs/nope.c" || !strings.Contains(fs[2].Message, "can't find file") {
		t.Errorf("missing file %+v", fs[2])
	}
}
