package campaign

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCapFile(t *testing.T) {
	dir := t.TempDir()
	c := &capFile{path: filepath.Join(dir, "out.txt"), max: 10}
	c.Write([]byte("0123456789abcdef"))
	c.Write([]byte("more"))
	if err := c.close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(c.path)
	if !strings.HasPrefix(string(b), "0123456789\n[faultline: 10 more bytes not kept]") {
		t.Errorf("file: %q", b)
	}
	if string(c.head()) != "0123456789abcdefmore" {
		t.Errorf("head: %q", c.head())
	}
	// A write error is remembered, never returned to the writer.
	bad := &capFile{path: filepath.Join(dir, "missing", "x.txt"), max: 10}
	if n, err := bad.Write([]byte("abc")); n != 3 || err != nil {
		t.Errorf("write returned %d, %v", n, err)
	}
	if err := bad.close(); err == nil || !strings.Contains(err.Error(), "x.txt") {
		t.Errorf("close error %v", err)
	}
}
