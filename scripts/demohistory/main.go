// Command demohistory builds a kernel git history to bisect, since no real
// kernel history is reachable here: Debian's linux-source-6.1 as the first
// commit, faultline's harness series (injection hooks, direct I/O pinning
// user pages) as the next two, then 29 independent changes: 27 spelling
// fixes in comments of compiled files (each a misspelling from the
// kernel's own scripts/spelling.txt, one commit per file, in path order),
// with seed A's mutant patch as change 10 and seed B's as change 22.
// Author and committer dates are fixed, so the commit ids are the same on
// every machine for the same linux-source release.
//
//	go run ./scripts/demohistory -source ~/.cache/faultline/sources/linux-source-6.1_6.1.192-3/linux-source-6.1 -out DIR
//
// It prints the good end (the tag harness) and the bad end (HEAD) and tags
// the seed commits seed-a and seed-b.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// dirs holds the .c files a spelling fix may touch: subsystems the guest
// kernel compiles, so each fix costs a real (small) rebuild.
var dirs = []string{"block", "fs", "fs/btrfs", "fs/ext4", "fs/iomap", "fs/jbd2", "kernel", "kernel/locking", "kernel/sched", "lib", "mm"}

const (
	fixes = 27
	seedA = 10 // 1-based place among the 29 changes
	seedB = 22
)

func main() {
	src := flag.String("source", "", "an unpacked, unmodified linux-source tree")
	out := flag.String("out", "", "the repository to create (must not exist)")
	patches := flag.String("patches", "kernels/patches", "faultline's patch directory")
	flag.Parse()
	if *src == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: demohistory -source LINUX-SOURCE-TREE -out DIR [-patches kernels/patches]")
		os.Exit(2)
	}
	if err := run(*src, *out, *patches); err != nil {
		fmt.Fprintln(os.Stderr, "demohistory:", err)
		os.Exit(1)
	}
}

type repo struct {
	dir  string
	when time.Time
}

func (r *repo) git(args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-C", r.dir}, args...)...)
	date := r.when.Format(time.RFC3339)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=faultline demo", "GIT_AUTHOR_EMAIL=demo@faultline.invalid",
		"GIT_COMMITTER_NAME=faultline demo", "GIT_COMMITTER_EMAIL=demo@faultline.invalid",
		"GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return strings.TrimSpace(string(out)), nil
}

// commit commits everything with msg, an hour after the last commit.
func (r *repo) commit(msg string) error {
	r.when = r.when.Add(time.Hour)
	// -f: Debian's .gitignore ignores everything at the top level.
	if _, err := r.git("add", "-A", "-f"); err != nil {
		return err
	}
	_, err := r.git("commit", "-q", "--no-verify", "-m", msg)
	return err
}

func (r *repo) apply(patch, msg string) error {
	if _, err := r.git("apply", "-p1", patch); err != nil {
		return err
	}
	return r.commit(msg)
}

func run(src, out, patches string) error {
	if _, err := os.Stat(out); err == nil {
		return fmt.Errorf("%s exists; remove it to rebuild the history", out)
	}
	if _, err := os.Stat(filepath.Join(src, "scripts", "spelling.txt")); err != nil {
		return fmt.Errorf("-source %s: not a kernel source tree (no scripts/spelling.txt)", src)
	}
	abs, err := filepath.Abs(patches)
	if err != nil {
		return err
	}
	patches = abs
	tmp := out + ".tmp"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "copying %s\n", src)
	if o, err := exec.Command("cp", "-a", "--reflink=auto", src, tmp).CombinedOutput(); err != nil {
		return fmt.Errorf("copy: %w: %s", err, o)
	}
	r := &repo{dir: tmp, when: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)}
	if _, err := r.git("init", "-q", "-b", "master"); err != nil {
		return err
	}
	ver, _ := os.ReadFile(filepath.Join(src, "Makefile"))
	fmt.Fprintln(os.Stderr, "committing the source (a minute or two)")
	if err := r.commit("Linux " + kernelVersion(ver) + " (Debian linux-source)\n\nImported from " + filepath.Base(src) + "."); err != nil {
		return err
	}
	if err := r.apply(filepath.Join(patches, "faultline-hooks.patch"), "faultline: injection hooks\n\nThe harness's hooks (kernels/patches/faultline-hooks.patch)."); err != nil {
		return err
	}
	if err := r.apply(filepath.Join(patches, "dio-pin-user-pages.patch"), "block: pin user pages for direct I/O\n\nkernels/patches/dio-pin-user-pages.patch."); err != nil {
		return err
	}
	if _, err := r.git("tag", "harness"); err != nil {
		return err
	}
	typos, err := findTypos(tmp, patches)
	if err != nil {
		return err
	}
	if len(typos) < fixes {
		return fmt.Errorf("found only %d spelling mistakes to fix, want %d", len(typos), fixes)
	}
	t := 0
	for k := 1; k <= fixes+2; k++ {
		switch k {
		case seedA:
			if err := r.apply(filepath.Join(patches, "seed-a-locked-page.patch"), "btrfs: seed A's mutant\n\nkernels/patches/seed-a-locked-page.patch."); err != nil {
				return err
			}
			if _, err := r.git("tag", "seed-a"); err != nil {
				return err
			}
		case seedB:
			if err := r.apply(filepath.Join(patches, "seed-b-tree-ref.patch"), "btrfs: seed B's mutant\n\nkernels/patches/seed-b-tree-ref.patch."); err != nil {
				return err
			}
			if _, err := r.git("tag", "seed-b"); err != nil {
				return err
			}
		default:
			if err := typos[t].fix(tmp); err != nil {
				return err
			}
			if err := r.commit(typos[t].message()); err != nil {
				return err
			}
			t++
		}
	}
	if err := os.Rename(tmp, out); err != nil {
		return err
	}
	r.dir = out
	n, err := r.git("rev-list", "--count", "HEAD")
	if err != nil {
		return err
	}
	fmt.Printf("%s: %s commits; good end: harness, bad end: HEAD; seed A at tag seed-a, seed B at tag seed-b\n", out, n)
	return nil
}

func kernelVersion(makefile []byte) string {
	v := map[string]string{}
	for _, l := range strings.Split(string(makefile), "\n")[:8] {
		if k, val, ok := strings.Cut(l, " = "); ok {
			v[k] = strings.TrimSpace(val)
		}
	}
	return v["VERSION"] + "." + v["PATCHLEVEL"] + "." + v["SUBLEVEL"]
}

// typo is one misspelled word on one line of a file.
type typo struct {
	file       string
	line       int
	bad, right string
}

func (t typo) fix(root string) error {
	path := filepath.Join(root, t.file)
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	lines := strings.SplitAfter(string(b), "\n")
	re := regexp.MustCompile(`\b` + regexp.QuoteMeta(t.bad) + `\b`)
	fixed := re.ReplaceAllString(lines[t.line-1], t.right)
	if fixed == lines[t.line-1] {
		return fmt.Errorf("%s:%d: %q not found", t.file, t.line, t.bad)
	}
	lines[t.line-1] = fixed
	return os.WriteFile(path, []byte(strings.Join(lines, "")), 0o644)
}

func (t typo) message() string {
	sub := strings.TrimSuffix(filepath.Base(t.file), ".c")
	if d := filepath.Dir(t.file); d != "fs" && d != "kernel" && d != "." {
		sub = filepath.Base(d)
	}
	return fmt.Sprintf("%s: fix spelling of %q in a comment\n\n%s:%d: %q -> %q (scripts/spelling.txt).", sub, t.bad, t.file, t.line, t.bad, t.right)
}

var wordRE = regexp.MustCompile(`[A-Za-z0-9_]+`)

// findTypos returns the first misspelling in a comment line of each .c
// file under dirs that no patch in patchDir touches, in path order.
func findTypos(root, patchDir string) ([]typo, error) {
	touched := map[string]bool{}
	ps, _ := filepath.Glob(filepath.Join(patchDir, "*.patch"))
	for _, p := range ps {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		for _, l := range strings.Split(string(b), "\n") {
			if f, ok := strings.CutPrefix(l, "+++ b/"); ok {
				touched[strings.Fields(f)[0]] = true
			}
		}
	}
	words := map[string]string{}
	f, err := os.Open(filepath.Join(root, "scripts", "spelling.txt"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if bad, right, ok := strings.Cut(sc.Text(), "||"); ok && !strings.HasPrefix(bad, "#") {
			words[bad] = right
		}
	}
	var files []string
	for _, d := range dirs {
		m, _ := filepath.Glob(filepath.Join(root, d, "*.c"))
		files = append(files, m...)
	}
	sort.Strings(files)
	var out []typo
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(root, path)
		if touched[rel] {
			continue
		}
	lines:
		for i, l := range strings.Split(string(b), "\n") {
			s := strings.TrimSpace(l)
			if !strings.HasPrefix(s, "*") && !strings.HasPrefix(s, "/*") && !strings.HasPrefix(s, "//") {
				continue
			}
			for _, w := range wordRE.FindAllString(s, -1) {
				if right, ok := words[w]; ok {
					out = append(out, typo{file: rel, line: i + 1, bad: w, right: right})
					break lines
				}
			}
		}
	}
	return out, nil
}
