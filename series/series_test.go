package series

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func patchText(n, total int, subject, file string) string {
	return "From 1111111111111111111111111111111111111111 Mon Sep 17 00:00:00 2001\n" +
		"From: A Developer <dev@example.com>\n" +
		"Date: Mon, 7 Dec 2026 10:00:00 +0000\n" +
		"Subject: [PATCH v2 " + itoa(n) + "/" + itoa(total) + "] " + subject + "\n\n" +
		"Body of the change.\n\n---\n " + file + " | 1 +\n\n" +
		"diff --git a/" + file + " b/" + file + "\n" +
		"--- a/" + file + "\n+++ b/" + file + "\n" +
		"@@ -1,2 +1,3 @@\n line one\n+added\n line two\n-- \n2.39.5\n\n"
}

func itoa(n int) string { return string(rune('0' + n)) }

func TestLoadSeriesMbox(t *testing.T) {
	cover := "From 2222222222222222222222222222222222222222 Mon Sep 17 00:00:00 2001\n" +
		"From: A Developer <dev@example.com>\nSubject: [PATCH v2 0/3] btrfs: three changes\n\nThe cover letter.\n\n"
	// Arrival order differs from series order; the cover letter comes first.
	mbox := cover + patchText(2, 3, "btrfs: second", "fs/btrfs/extent_io.c") + patchText(3, 3, "mm: third", "mm/filemap.c") +
		patchText(1, 3, "btrfs: first", "fs/btrfs/inode.c")
	path := filepath.Join(t.TempDir(), "series.mbox")
	if err := os.WriteFile(path, []byte(mbox), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range s.Patches {
		got = append(got, p.Subject)
	}
	if strings.Join(got, "|") != "btrfs: first|btrfs: second|mm: third" {
		t.Errorf("order %q", got)
	}
	if s.Cover != "btrfs: three changes" {
		t.Errorf("cover %q", s.Cover)
	}
	if files := strings.Join(s.Files(), " "); files != "fs/btrfs/extent_io.c fs/btrfs/inode.c mm/filemap.c" {
		t.Errorf("files %q", files)
	}
	if s.Patches[0].Name != "0001-btrfs-first.patch" || s.Patches[0].N != 1 {
		t.Errorf("first patch %q %d", s.Patches[0].Name, s.Patches[0].N)
	}
}

func TestLoadSeriesDirAndErrors(t *testing.T) {
	dir := t.TempDir()
	for i, f := range []string{"fs/ext4/inode.c", "fs/ext4/super.c"} {
		name := filepath.Join(dir, "000"+itoa(i+1)+"-x.patch")
		if err := os.WriteFile(name, []byte(patchText(i+1, 2, "ext4: change "+itoa(i+1), f)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "README"), []byte("not a patch"), 0o644)
	s, err := Load(dir)
	if err != nil || len(s.Patches) != 2 || s.Patches[1].Subject != "ext4: change 2" {
		t.Fatalf("dir series: %+v, %v", s, err)
	}
	empty := t.TempDir()
	if _, err := Load(empty); err == nil || !strings.Contains(err.Error(), "holds no patch") {
		t.Errorf("empty dir: %v", err)
	}
	notPatch := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(notPatch, []byte("just some text\n"), 0o644)
	if _, err := Load(notPatch); err == nil {
		t.Error("a text file read as a series")
	}
	if _, err := Load("git:/nonexistent@a..b"); err == nil || !strings.Contains(err.Error(), "git format-patch") {
		t.Errorf("bad git range: %v", err)
	}
	if _, err := Load("git:/x"); err == nil || !strings.Contains(err.Error(), "BASE..TIP") {
		t.Errorf("git without range: %v", err)
	}
}

// TestLoadSeriesGitRange makes a small repository and reads a range of it.
func TestLoadSeriesGitRange(t *testing.T) {
	repo := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", repo, "-c", "user.name=A Developer", "-c", "user.email=dev@example.com"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	os.MkdirAll(filepath.Join(repo, "fs/btrfs"), 0o755)
	write := func(text string) {
		if err := os.WriteFile(filepath.Join(repo, "fs/btrfs/inode.c"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("one\ntwo\n")
	git("add", ".")
	git("commit", "-qm", "base")
	git("tag", "base")
	write("one\ntwo\nthree\n")
	git("commit", "-qam", "btrfs: add three")
	write("one\ntwo\nthree\nfour\n")
	git("commit", "-qam", "btrfs: add four")
	s, err := Load("git:" + repo + "@base..HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Patches) != 2 || s.Patches[0].Subject != "btrfs: add three" || s.Patches[1].Subject != "btrfs: add four" ||
		strings.Join(s.Files(), " ") != "fs/btrfs/inode.c" {
		t.Errorf("git range: %+v", s.Patches)
	}
}

// TestShippedSeries reads the series the gate demo uses: a directory of
// format-patch files and an mbox whose messages arrive out of order behind
// a cover letter.
func TestShippedSeries(t *testing.T) {
	s, err := Load("../scenarios/gate/extent-buffer-v2.mbox")
	if err != nil {
		t.Fatal(err)
	}
	var subj []string
	for _, p := range s.Patches {
		subj = append(subj, p.Prefix+" "+p.Subject)
	}
	want := "[PATCH v2 1/3] btrfs: spell call chain as two words in a comment|[PATCH v2 2/3] btrfs: drop the tree reference check after setting io_pages|[PATCH v2 3/3] btrfs: name the function in btrfs_release_path's comment"
	if strings.Join(subj, "|") != want {
		t.Errorf("mbox order:\n%s\nwant\n%s", strings.Join(subj, "|"), want)
	}
	if s.Cover != "btrfs: extent buffer cleanups" {
		t.Errorf("cover %q", s.Cover)
	}
	h, err := Load("../scenarios/gate/harmless")
	if err != nil || len(h.Patches) != 2 || strings.Join(h.Files(), " ") != "fs/btrfs/ctree.c fs/btrfs/super.c" {
		t.Errorf("harmless series: %+v, %v", h, err)
	}
}
