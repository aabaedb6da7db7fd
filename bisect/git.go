package bisect

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"faultline/kernels"
)

// Commit is one point of a git bisection.
type Commit struct {
	SHA     string `json:"sha"`
	Subject string `json:"subject"`
	// Spec is the build spec file of the commit's kernel.
	Spec string `json:"spec"`
}

// GitKernels turns the history good..bad of the repository tree into the
// kernels a bisection walks: the good end, then every commit on the
// ancestry path from good to bad in topological order, oldest first (merges
// are walked as a line: a merge's side branch comes before the merge), each
// a build spec in dir/commits/ with recipe's config on git:TREE@SHA. Each is
// built when its step runs, by a checkout in one persistent build tree per
// repository, so a step rebuilds what changed since the last step's commit.
func GitKernels(tree, good, bad, recipe, dir string) ([]Commit, error) {
	abs, err := filepath.Abs(tree)
	if err != nil {
		return nil, err
	}
	git := func(args ...string) (string, error) {
		cmd := exec.Command("git", append([]string{"-C", abs}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
		}
		return strings.TrimSpace(string(out)), nil
	}
	if _, err := exec.LookPath("git"); err != nil {
		return nil, fmt.Errorf("%w: git is not installed (apt-get install git)", ErrInput)
	}
	top, err := git("rev-parse", "--show-toplevel")
	if err != nil {
		return nil, fmt.Errorf("%w: --tree %s is not a git repository", ErrInput, tree)
	}
	abs = top
	resolve := func(flag, ref string) (string, error) {
		sha, err := git("rev-parse", "--verify", "--quiet", ref+"^{commit}")
		if err != nil || sha == "" {
			return "", fmt.Errorf("%w: %s %q is not a commit of %s", ErrInput, flag, ref, abs)
		}
		return sha, nil
	}
	goodSHA, err := resolve("--good", good)
	if err != nil {
		return nil, err
	}
	badSHA, err := resolve("--bad", bad)
	if err != nil {
		return nil, err
	}
	if goodSHA == badSHA {
		return nil, fmt.Errorf("%w: --good and --bad are the same commit (%.12s)", ErrInput, goodSHA)
	}
	if _, err := git("merge-base", "--is-ancestor", goodSHA, badSHA); err != nil {
		return nil, fmt.Errorf("%w: --good %s (%.12s) is not an ancestor of --bad %s (%.12s): give a good commit that the bad one contains (with --fix too: the older commit is --good)",
			ErrInput, good, goodSHA, bad, badSHA)
	}
	if st, err := git("status", "--porcelain", "--untracked-files=no"); err != nil {
		return nil, err
	} else if st != "" {
		return nil, fmt.Errorf("%w: %s has uncommitted changes (%s): commit or stash them; a bisection builds commits, and changes that are in none of them would be in none of its kernels",
			ErrInput, abs, strings.ReplaceAll(strings.SplitN(st, "\n", 4)[0], "\n", "; "))
	}
	out, err := git("log", "--reverse", "--topo-order", "--ancestry-path", "--format=%H %s", goodSHA+".."+badSHA)
	if err != nil {
		return nil, err
	}
	subj, err := git("log", "-1", "--format=%s", goodSHA)
	if err != nil {
		return nil, err
	}
	lines := append([]string{goodSHA + " " + subj}, strings.Split(out, "\n")...)
	base, err := kernels.LoadBuildSpec(recipe)
	if err != nil {
		return nil, fmt.Errorf("%w: --config: %w", ErrInput, err)
	}
	cdir, err := filepath.Abs(filepath.Join(dir, "commits"))
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cdir, 0o755); err != nil {
		return nil, err
	}
	name := strings.ToLower(filepath.Base(abs))
	var commits []Commit
	for i, l := range lines {
		sha, s, _ := strings.Cut(l, " ")
		c := Commit{SHA: sha, Subject: s}
		text, err := base.DeriveSource(sanitizeName(name+"-"+sha[:12]), s+" ("+base.Name+"'s config)", "git:"+abs+"@"+sha)
		if err != nil {
			return nil, err
		}
		c.Spec = filepath.Join(cdir, fmt.Sprintf("%03d-%.12s.yaml", i, sha))
		if err := os.WriteFile(c.Spec, text, 0o644); err != nil {
			return nil, err
		}
		commits = append(commits, c)
	}
	return commits, nil
}

// sanitizeName keeps what a build spec's name allows.
func sanitizeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '+', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return b.String()
}
