package harness

import (
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
