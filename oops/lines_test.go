package oops

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// prefixRE is printkPrefix's definition.
var prefixRE = regexp.MustCompile(`^(?:<\d+>)?(?:\[\s*\d+\.\d+\])?(?:\[\s*([TC]\d+)\])?`)

// checkPrefix compares printkPrefix with prefixRE on r.
func checkPrefix(t *testing.T, r string) {
	t.Helper()
	m := prefixRE.FindStringSubmatchIndex(r)
	wantEnd, wantCtx := m[1], ""
	if m[2] >= 0 {
		wantCtx = r[m[2]:m[3]]
	}
	if end, ctx := printkPrefix(r); end != wantEnd || ctx != wantCtx {
		t.Fatalf("printkPrefix(%q) = %d, %q; the regexp: %d, %q", r, end, ctx, wantEnd, wantCtx)
	}
}

// TestPrintkPrefix: the hand-written prefix parser agrees with its
// regexp on edge cases and on every line of the corpus.
func TestPrintkPrefix(t *testing.T) {
	for _, r := range []string{"", "<6>", "<6>[   12.345678] x", "[   12.345678][ T123] x", "[    1.0][    C1] x",
		"[T1] x", "<>[1.2] x", "<6[1.2]", "[ 1.] x", "[1.2", "[\t1.2]x", "[1.2][T] x", "[1.2][ X1] x", "<12>[T5]",
		"** 5 printk messages dropped ** [ 1.2] x", "[  1.2] [T1] x", "<6>x"} {
		checkPrefix(t, r)
	}
	t.Run("corpus", func(t *testing.T) {
		dir := corpusDir(t)
		ents, _ := os.ReadDir(dir)
		n := 0
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				continue
			}
			for _, r := range strings.Split(strings.ReplaceAll(string(b), "\r", ""), "\n") {
				checkPrefix(t, r)
				n++
			}
		}
		t.Logf("%d corpus lines", n)
	})
}

func FuzzPrintkPrefix(f *testing.F) {
	f.Add("<6>[   12.345678][ T123] x")
	f.Add("[    1.0][    C1] x")
	f.Fuzz(func(t *testing.T, r string) { checkPrefix(t, r) })
}
