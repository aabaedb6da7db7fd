package gate

import (
	"strings"
	"testing"
)

// TestShippedSeries reads the series the gate demo uses: a directory of
// format-patch files and an mbox whose messages arrive out of order behind
// a cover letter.
func TestShippedSeries(t *testing.T) {
	s, err := LoadSeries("../scenarios/gate/extent-buffer-v2.mbox")
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
	h, err := LoadSeries("../scenarios/gate/harmless")
	if err != nil || len(h.Patches) != 2 || strings.Join(h.Files(), " ") != "fs/btrfs/ctree.c fs/btrfs/super.c" {
		t.Errorf("harmless series: %+v, %v", h, err)
	}
}
