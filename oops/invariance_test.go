package oops

import (
	"bytes"
	"regexp"
	"slices"
	"testing"
)

// reportsOf summarises what Parse finds: title, corrupted flag and frame.
func reportsOf(log []byte) []string {
	var out []string
	for _, r := range Parse(log) {
		out = append(out, r.Title+" | "+r.Frame+" | "+r.CorruptedReason)
	}
	return out
}

var (
	printkTimeAnyRE = regexp.MustCompile(`\[\s*(\d+)\.(\d+)\]`)
	newFrameRE      = regexp.MustCompile(`(?m)^((?:<\d+>)?\[\s*\d+\.\d+\](?:\[\s*[CT]\d+\])?)  ([a-zA-Z_][a-zA-Z0-9_.]*\+0x[0-9a-f]+/0x[0-9a-f]+)`)
)

// TestDecorationInvariance: what a console says does not depend on how it
// was captured. Each corpus log, rewritten in a way that changes no
// report (CRLF line ends, a log level before every timestamp, later
// timestamps, text before the log, x86 frames in the pre-4.13 format with
// their addresses), gives the same reports as the log itself.
func TestDecorationInvariance(t *testing.T) {
	rewrites := []struct {
		name string
		f    func([]byte) []byte
	}{
		{"CRLF", func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")) }},
		{"log level", func(b []byte) []byte {
			lines := bytes.Split(b, []byte("\n"))
			for i, l := range lines {
				if bytes.HasPrefix(l, []byte("[")) {
					lines[i] = append([]byte("<4>"), l...)
				}
			}
			return bytes.Join(lines, []byte("\n"))
		}},
		{"later timestamps", func(b []byte) []byte {
			return printkTimeAnyRE.ReplaceAll(b, []byte("[ 1${1}.${2}]"))
		}},
		{"text before", func(b []byte) []byte { return append([]byte("boot noise\nsyzkaller login: \n"), b...) }},
		{"old frame format", func(b []byte) []byte {
			return newFrameRE.ReplaceAll(b, []byte("$1  [<ffffffff8123abcd>] $2"))
		}},
	}
	for _, c := range loadCorpus(t) {
		want := reportsOf(c.log)
		for _, rw := range rewrites {
			if got := reportsOf(rw.f(bytes.Clone(c.log))); !slices.Equal(got, want) {
				t.Errorf("log %s with %s: %q, want %q", c.name, rw.name, got, want)
			}
		}
	}
}

var (
	callerIDLineRE = regexp.MustCompile(`^((?:<\d+>)?\[\s*\d+\.\d+\])\[\s*T\d+\]`)
	hasCallerIDRE  = regexp.MustCompile(`(?m)^(?:<\d+>)?\[\s*\d+\.\d+\]\[\s*T`)
)

// TestOtherTasksLinesIgnored: in a log with printk caller ids, lines of
// another task, even stack frames, interleaved anywhere (here after every
// third line), change no report.
func TestOtherTasksLinesIgnored(t *testing.T) {
	n := 0
	for _, c := range loadCorpus(t) {
		if !hasCallerIDRE.Match(c.log) {
			continue
		}
		n++
		var out [][]byte
		for i, l := range bytes.Split(c.log, []byte("\n")) {
			out = append(out, l)
			if m := callerIDLineRE.FindSubmatch(l); m != nil && i%3 == 0 {
				out = append(out, append(bytes.Clone(m[1]), "[T99999]  other_task_fn+0x10/0x20"...))
			}
		}
		if got, want := reportsOf(bytes.Join(out, []byte("\n"))), reportsOf(c.log); !slices.Equal(got, want) {
			t.Errorf("log %s: %q, want %q", c.name, got, want)
		}
	}
	if n == 0 {
		t.Fatal("no corpus log has caller ids")
	}
}
