//go:build !faultline_agent

package main

import (
	"flag"
	"slices"
	"testing"
)

func TestReorder(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.String("vs-base", "", "")
	fs.Int("j", 2, "")
	fs.Bool("json", false, "")
	for _, tc := range []struct{ in, want []string }{
		{[]string{"6.1-harness", "--vs-base", "defconfig", "--json"}, []string{"--vs-base", "defconfig", "--json", "6.1-harness"}},
		{[]string{"6.1-harness", "--vs-base=defconfig"}, []string{"--vs-base=defconfig", "6.1-harness"}},
		{[]string{"--json", "a", "b", "-j", "4"}, []string{"--json", "-j", "4", "a", "b"}},
		{[]string{"a", "--", "--json"}, []string{"a", "--json"}},
		{[]string{"a", "--unknown", "b"}, []string{"--unknown", "a", "b"}},
	} {
		if got := reorder(fs, tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("reorder(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if err := fs.Parse(reorder(fs, []string{"6.1-harness", "--vs-base", "defconfig"})); err != nil || fs.Lookup("vs-base").Value.String() != "defconfig" || fs.Arg(0) != "6.1-harness" {
		t.Errorf("parse after reorder: err %v, vs-base %q, args %q", err, fs.Lookup("vs-base").Value.String(), fs.Args())
	}
}
