package oops

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// corpusDir is the labelled console logs in ../shared/oops-corpus (beside
// the repository), or $FAULTLINE_OOPS_CORPUS.
func corpusDir(t testing.TB) string {
	if d := os.Getenv("FAULTLINE_OOPS_CORPUS"); d != "" {
		return d
	}
	d, _ := filepath.Abs("../../shared/oops-corpus")
	if _, err := os.Stat(d); err != nil {
		t.Skipf("no oops corpus at %s (set FAULTLINE_OOPS_CORPUS)", d)
	}
	return d
}

// corpusCase is one labelled log: its headers and the console text.
type corpusCase struct {
	name      string
	title     string // "" when the log holds no crash
	alts      []string
	typ       string
	frame     string
	corrupted bool
	log       []byte
}

func loadCorpus(t testing.TB) []corpusCase {
	dir := corpusDir(t)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var cases []corpusCase
	for _, e := range ents {
		if e.IsDir() || strings.HasSuffix(e.Name(), ".md") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, parseCorpusFile(e.Name(), b))
	}
	sort.Slice(cases, func(i, j int) bool {
		a, _ := strconv.Atoi(cases[i].name)
		b, _ := strconv.Atoi(cases[j].name)
		return a < b
	})
	return cases
}

func parseCorpusFile(name string, b []byte) corpusCase {
	c := corpusCase{name: name}
	b = bytes.ReplaceAll(b, []byte("\r"), nil)
	rest := b
	if !bytes.HasPrefix(b, []byte("\n")) {
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		n := 0
		for sc.Scan() {
			l := sc.Text()
			n += len(l) + 1
			if l == "" {
				break
			}
			k, v, _ := strings.Cut(l, ": ")
			switch k {
			case "TITLE":
				c.title = v
			case "ALT":
				c.alts = append(c.alts, v)
			case "TYPE":
				c.typ = v
			case "FRAME":
				c.frame = v
			case "CORRUPTED":
				c.corrupted = v == "Y"
			}
		}
		rest = b[min(n, len(b)):]
	} else {
		rest = b[1:]
	}
	if i := bytes.Index(rest, []byte("\n\nREPORT:\n")); i >= 0 {
		rest = rest[:i+1]
	}
	c.log = rest
	return c
}

// golden is what the parser says of a corpus log, kept under
// testdata/corpus so that any change in behaviour shows in review.
type golden struct {
	Title     string   `json:"title"`
	AltTitles []string `json:"alt_titles"`
	Type      string   `json:"type"`
	Frame     string   `json:"frame"`
	Corrupted bool     `json:"corrupted"`
	StartLine int      `json:"start_line"`
	EndLine   int      `json:"end_line"`
	Reports   int      `json:"reports"`
}

func summarize(reps []*Report) golden {
	if len(reps) == 0 {
		return golden{AltTitles: []string{}}
	}
	r := reps[0]
	return golden{Title: r.Title, AltTitles: r.AltTitles, Type: r.Type, Frame: r.Frame, Corrupted: r.Corrupted,
		StartLine: r.StartLine, EndLine: r.EndLine, Reports: len(reps)}
}

// minAgreement and minCorrupted are the floors below which
// TestCorpusAgreement fails: title agreement and the share of crashes
// whose corrupted flag is right, as measured when the classifier last
// changed (97.6%), so that no change makes them worse.
const (
	minAgreement = 97.5
	minCorrupted = 90.0
)

// TestCorpusAgreement measures exact agreement of the first report's title
// with the corpus labels (a log without TITLE must give no report) and
// fails below minAgreement.
func TestCorpusAgreement(t *testing.T) {
	cases := loadCorpus(t)
	agree, crashes, corruptRight := 0, 0, 0
	for _, c := range cases {
		reps := Parse(c.log)
		got := ""
		if len(reps) > 0 {
			got = reps[0].Title
		}
		if got == c.title {
			agree++
		} else {
			t.Logf("%s: got %q, want %q", c.name, got, c.title)
		}
		if c.title != "" {
			crashes++
			if len(reps) > 0 && reps[0].Corrupted == c.corrupted {
				corruptRight++
			} else {
				t.Logf("%s: corrupted flag wrong (want %v)", c.name, c.corrupted)
			}
		}
	}
	pct := 100 * float64(agree) / float64(len(cases))
	cpct := 100 * float64(corruptRight) / float64(crashes)
	t.Logf("title agreement: %d/%d = %.1f%%; corrupted flag right on %d/%d crashes = %.1f%%", agree, len(cases), pct, corruptRight, crashes, cpct)
	if pct < minAgreement {
		t.Errorf("title agreement %.1f%% < %.1f%%", pct, minAgreement)
	}
	if cpct < minCorrupted {
		t.Errorf("corrupted flag right on %.1f%% < %.1f%%", cpct, minCorrupted)
	}
}

// TestCorpusGolden compares the parser's full answer for each corpus log
// with testdata/corpus/NAME.json (-update rewrites them).
func TestCorpusGolden(t *testing.T) {
	for _, c := range loadCorpus(t) {
		got, _ := json.MarshalIndent(summarize(Parse(c.log)), "", "  ")
		got = append(got, '\n')
		path := filepath.Join("testdata", "corpus", c.name+".json")
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./results -run Golden -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: parser output changed:\ngot  %s\nwant %s", c.name, got, want)
		}
	}
}
