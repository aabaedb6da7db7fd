// Package series reads a patch series: git format-patch files, a directory
// of them, an mbox saved from a mailing list (cover letter skipped, the
// [PATCH vN M/T] order followed) or a git range, parsed with go-gitdiff into
// patches with their subjects and the files they touch.
package series

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
)

// Patch is one patch of a series.
type Patch struct {
	// N is its place in the series (1-based) and Name a file name for it.
	N    int    `json:"n"`
	Name string `json:"name"`
	// Subject is the commit title, Prefix the mail's "[PATCH v2 3/5]".
	Subject string `json:"subject"`
	Prefix  string `json:"prefix,omitempty"`
	Author  string `json:"author,omitempty"`
	// Files are the paths the patch touches.
	Files []string `json:"files"`
	// Content is the patch as given (headers and diff).
	Content []byte `json:"-"`
}

// Series is a patch series in the order it applies.
type Series struct {
	// Source is what it was read from (a directory, a file, git:...).
	Source  string   `json:"source"`
	Patches []*Patch `json:"patches"`
	// Hash identifies the series' content (sha256 of the patches, 12 hex).
	Hash string `json:"hash"`
	// Cover is the cover letter's subject, if the mbox had one.
	Cover string `json:"cover,omitempty"`
}

// Files returns every path the series touches, sorted.
func (s *Series) Files() []string {
	seen := map[string]bool{}
	for _, p := range s.Patches {
		for _, f := range p.Files {
			seen[f] = true
		}
	}
	out := make([]string, 0, len(seen))
	for f := range seen {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// ErrInput is wrapped by errors in the series argument or its files.
var ErrInput = errors.New("bad patch series")

// Load reads a series: a directory of git format-patch files (*.patch,
// *.diff; in name order), one patch or mbox file (a thread saved from a
// mailing list: the cover letter is skipped, "[PATCH vN M/T]" order is
// followed), or git:REPO@BASE..TIP (git format-patch of the range).
func Load(arg string) (*Series, error) {
	var msgs [][]byte
	switch {
	case strings.HasPrefix(arg, "git:"):
		repo, rng, ok := strings.Cut(strings.TrimPrefix(arg, "git:"), "@")
		if !ok || !strings.Contains(rng, "..") {
			return nil, fmt.Errorf("%w: series %q: want git:REPO@BASE..TIP", ErrInput, arg)
		}
		out, err := exec.Command("git", "-C", repo, "format-patch", "--stdout", rng).Output()
		if err != nil {
			return nil, fmt.Errorf("%w: series %s: git format-patch %s: %w", ErrInput, arg, rng, gitErr(err))
		}
		msgs = splitMbox(out)
	default:
		st, err := os.Stat(arg)
		if err != nil {
			return nil, fmt.Errorf("%w: series: %w", ErrInput, err)
		}
		if st.IsDir() {
			ents, err := os.ReadDir(arg)
			if err != nil {
				return nil, err
			}
			var names []string
			for _, e := range ents {
				if !e.IsDir() && (strings.HasSuffix(e.Name(), ".patch") || strings.HasSuffix(e.Name(), ".diff")) {
					names = append(names, e.Name())
				}
			}
			sort.Strings(names)
			for _, n := range names {
				b, err := os.ReadFile(filepath.Join(arg, n))
				if err != nil {
					return nil, err
				}
				msgs = append(msgs, b)
			}
		} else {
			b, err := os.ReadFile(arg)
			if err != nil {
				return nil, err
			}
			msgs = splitMbox(b)
		}
	}
	s := &Series{Source: arg}
	type ordered struct {
		p    *Patch
		m, t int
	}
	var ps []ordered
	for i, msg := range msgs {
		files, preamble, err := gitdiff.Parse(bytes.NewReader(msg))
		if err != nil {
			return nil, fmt.Errorf("%w: series %s, message %d: not a patch: %w", ErrInput, arg, i+1, err)
		}
		hdr, _ := gitdiff.ParsePatchHeader(preamble, gitdiff.WithSubjectCleanMode(gitdiff.SubjectCleanPatchOnly))
		p := &Patch{Content: msg}
		if hdr != nil {
			p.Subject, p.Prefix = hdr.Title, strings.TrimSpace(hdr.SubjectPrefix)
			if hdr.Author != nil {
				p.Author = hdr.Author.String()
			}
		}
		m, t := patchNumber(p.Prefix)
		if len(files) == 0 {
			if m == 0 && t > 0 || len(msgs) > 1 {
				// The cover letter ([PATCH 0/N]) or a reply without a diff.
				if m == 0 && t > 0 {
					s.Cover = p.Subject
				}
				continue
			}
			return nil, fmt.Errorf("%w: series %s: %q has no diff", ErrInput, arg, p.Subject)
		}
		for _, f := range files {
			name := f.NewName
			if f.IsDelete || name == "" {
				name = f.OldName
			}
			p.Files = append(p.Files, name)
		}
		ps = append(ps, ordered{p, m, i})
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("%w: series %s holds no patch (want format-patch files, an mbox, or git:REPO@BASE..TIP)", ErrInput, arg)
	}
	// Mail order is arrival order; the subjects' M/T say the series order.
	numbered := true
	for _, o := range ps {
		if o.m == 0 {
			numbered = false
		}
	}
	if numbered {
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].m < ps[j].m })
	}
	h := sha256.New()
	for i, o := range ps {
		o.p.N = i + 1
		o.p.Name = fmt.Sprintf("%04d-%s.patch", i+1, slug(o.p.Subject))
		h.Write(o.p.Content)
		s.Patches = append(s.Patches, o.p)
	}
	s.Hash = hex.EncodeToString(h.Sum(nil))[:12]
	return s, nil
}

// mboxFromRE matches the separator line of an mbox message.
var mboxFromRE = regexp.MustCompile(`(?m)^From \S+ .*\d\d:\d\d:\d\d \d{4}\s*$|(?m)^From [0-9a-f]{40} `)

// splitMbox splits an mbox into its messages; text without separators is
// one message.
func splitMbox(b []byte) [][]byte {
	locs := mboxFromRE.FindAllIndex(b, -1)
	if len(locs) == 0 {
		return [][]byte{b}
	}
	var out [][]byte
	for i, l := range locs {
		end := len(b)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		if msg := b[l[0]:end]; len(bytes.TrimSpace(msg)) > 0 {
			out = append(out, msg)
		}
	}
	return out
}

var patchNumRE = regexp.MustCompile(`(\d+)/(\d+)`)

// patchNumber reads M and T from a "[PATCH v2 3/5]" prefix (0, 0 if absent).
func patchNumber(prefix string) (int, int) {
	m := patchNumRE.FindStringSubmatch(prefix)
	if m == nil {
		return 0, 0
	}
	a, _ := strconv.Atoi(m[1])
	b, _ := strconv.Atoi(m[2])
	return a, b
}

var slugRE = regexp.MustCompile(`[^A-Za-z0-9]+`)

// slug makes a file-name part from a subject, as git format-patch does.
func slug(s string) string {
	s = strings.Trim(slugRE.ReplaceAllString(s, "-"), "-")
	if len(s) > 52 {
		s = strings.TrimRight(s[:52], "-")
	}
	if s == "" {
		s = "patch"
	}
	return s
}

func gitErr(err error) error {
	if ee, ok := err.(*exec.ExitError); ok && len(ee.Stderr) > 0 {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
	}
	return err
}
