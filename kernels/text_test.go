package kernels

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"path/filepath"
	"testing"
)

// TestLZ4Block decodes a block with literals, an overlapping match and
// the closing literals-only sequence.
func TestLZ4Block(t *testing.T) {
	// "abc" then a match of offset 3, length 6 ("abcabc"), then "xy".
	b := []byte{0x32, 'a', 'b', 'c', 3, 0, 0x20, 'x', 'y'}
	got, err := lz4Block(nil, b)
	if err != nil || string(got) != "abcabcabcxy" {
		t.Fatalf("got %q %v", got, err)
	}
	if _, err := lz4Block(nil, []byte{0x10, 'a', 9, 0}); err == nil {
		t.Error("a match before the block's start was accepted")
	}
	frame := binary.LittleEndian.AppendUint32(nil, uint32(len(b)))
	frame = append(frame, b...)
	frame = binary.LittleEndian.AppendUint32(frame, 11) // the kernel's size, appended
	if got, err := lz4Legacy(frame); err != nil || string(got) != "abcabcabcxy" {
		t.Errorf("legacy frame: %q %v", got, err)
	}
}

// TestBzPayload reads a gzip payload out of a minimal bzImage and refuses
// what is not one.
func TestBzPayload(t *testing.T) {
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write([]byte("\x7fELF payload"))
	w.Close()
	img := make([]byte, 5*512)
	img[0x1f1] = 4 // setup sectors: the payload's code starts at 5*512
	copy(img[0x202:], "HdrS")
	binary.LittleEndian.PutUint32(img[0x248:], 0)
	binary.LittleEndian.PutUint32(img[0x24c:], uint32(z.Len()))
	img = append(img, z.Bytes()...)
	got, err := bzPayload(img)
	if err != nil || string(got) != "\x7fELF payload" {
		t.Fatalf("got %q %v", got, err)
	}
	if _, err := bzPayload(img[:0x200]); err == nil {
		t.Error("a short image was read")
	}
}

// TestReadTextStub: Debian's System.map is a one-line stub; ReadText says
// so instead of finding no function later.
func TestReadTextStub(t *testing.T) {
	syms := ParseSystemMap([]byte("ffffffffffffffff B The real System.map is in the linux-image-<version>-dbg package\n"))
	_, err := ReadText(&Kernel{Name: "k", SystemMap: "System.map", Vmlinuz: filepath.Join(t.TempDir(), "vmlinuz")}, syms)
	if !errors.Is(err, ErrNoText) {
		t.Fatalf("err %v", err)
	}
}

// TestParseSystemMap keeps the text symbols only, in address order.
func TestParseSystemMap(t *testing.T) {
	syms := ParseSystemMap([]byte("ffffffff81000100 t b.isra.0\nffffffff81000000 T a\nffffffff82000000 D data\nbad line\n"))
	if got := syms.Names(); len(got) != 2 || got[0] != "a" || got[1] != "b.isra.0" {
		t.Errorf("names %v", got)
	}
	if !syms.Has("a") || syms.Has("data") {
		t.Error("Has")
	}
}

// TestText: a function's code runs up to the next symbol.
func TestText(t *testing.T) {
	tx := NewText(0x1000, make([]byte, 0x30), map[string]uint64{"a": 0x1000, "b": 0x1010, "c": 0x1030})
	if addr, code, err := tx.Func("a"); err != nil || addr != 0x1000 || len(code) != 0x10 {
		t.Errorf("a: %x %d %v", addr, len(code), err)
	}
	if _, code, err := tx.Func("b"); err != nil || len(code) != 0x20 {
		t.Errorf("b: %d %v", len(code), err)
	}
	if _, _, err := tx.Func("c"); err == nil {
		t.Error("c, with no code after it, was read")
	}
	if _, _, err := tx.Func("nope"); !errors.Is(err, ErrNoText) {
		t.Errorf("nope: %v", err)
	}
}
