package harness

import (
	"bytes"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestShellQuoteRoundTrip(t *testing.T) {
	argv := []string{"workload", "mmap-dio", "--size=16M", "it's", "a b", "", "$HOME", "x;y", `back\slash`, "--cgroup=memory.max=256M"}
	q := ShellQuote(argv)
	// sh -c Q: run Q itself and compare what it sees.
	out, err := exec.Command("/bin/sh", "-c", "set -- "+q+`; for a in "$@"; do printf '[%s]\n' "$a"; done`).Output()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		got = append(got, strings.TrimSuffix(strings.TrimPrefix(l, "["), "]"))
	}
	if !slices.Equal(got, argv) {
		t.Errorf("round trip of %q through %q:\n got %q", argv, q, got)
	}
}

// sliceWriter is a writer whose values cannot be compared.
type sliceWriter []byte

func (s sliceWriter) Write(p []byte) (int, error) { return len(p), nil }

// TestSameWriter: one writer given as both streams is serialised; a type
// that cannot be compared is not the same writer, and does not panic.
func TestSameWriter(t *testing.T) {
	var a, b bytes.Buffer
	for _, c := range []struct {
		x, y io.Writer
		want bool
	}{
		{&a, &a, true}, {&a, &b, false}, {nil, nil, false}, {io.Discard, &a, false},
		{sliceWriter{1}, sliceWriter{1}, false},
	} {
		if got := sameWriter(c.x, c.y); got != c.want {
			t.Errorf("sameWriter(%T, %T) = %v, want %v", c.x, c.y, got, c.want)
		}
	}
}
