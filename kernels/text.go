package kernels

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Symbols are the functions of a kernel's System.map (its text symbols,
// "T" and "t"), by address.
type Symbols struct {
	funcs  []textSym
	byName map[string]int
}

type textSym struct {
	name string
	addr uint64
}

// ParseSystemMap reads the functions of a System.map's text.
func ParseSystemMap(b []byte) *Symbols {
	s := &Symbols{byName: map[string]int{}}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || (f[1] != "T" && f[1] != "t") {
			continue
		}
		a, err := strconv.ParseUint(f[0], 16, 64)
		if err != nil {
			continue
		}
		s.funcs = append(s.funcs, textSym{f[2], a})
	}
	s.index()
	return s
}

// Names returns the functions' names, in address order (compiler clones
// keep their suffixes: foo.isra.0, foo.cold).
func (s *Symbols) Names() []string {
	out := make([]string, len(s.funcs))
	for i, f := range s.funcs {
		out[i] = f.name
	}
	return out
}

// Has says the map holds function name.
func (s *Symbols) Has(name string) bool {
	_, ok := s.byName[name]
	return ok
}

func (s *Symbols) index() {
	sort.SliceStable(s.funcs, func(i, j int) bool {
		if s.funcs[i].addr != s.funcs[j].addr {
			return s.funcs[i].addr < s.funcs[j].addr
		}
		return s.funcs[i].name < s.funcs[j].name
	})
	for i, f := range s.funcs {
		if _, dup := s.byName[f.name]; !dup {
			s.byName[f.name] = i
		}
	}
}

// Text is a kernel's code, read from its bzImage with the function
// addresses of its System.map: what a plan needs to place a probe inside a
// function (at an offset, pinned with insn=) for this build.
type Text struct {
	*Symbols
	addr uint64 // .text's address
	code []byte // .text
}

// ErrNoText is returned when a kernel's code cannot be read: no System.map,
// a bzImage compressed in a way faultline does not read, no .text.
var ErrNoText = errors.New("kernel code not readable")

// ReadText reads kernel k's code: the ELF image inside its bzImage
// (compressed with gzip, xz, zstd or lz4), with syms, its System.map's
// functions.
func ReadText(k *Kernel, syms *Symbols) (*Text, error) {
	if len(syms.funcs) == 0 {
		return nil, fmt.Errorf("%w: %s lists no functions (Debian ships a stub; the real one is in the -dbg package)", ErrNoText, k.SystemMap)
	}
	t := &Text{Symbols: syms}
	img, err := os.ReadFile(k.Vmlinuz)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoText, err)
	}
	raw, err := bzPayload(img)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNoText, k.Vmlinuz, err)
	}
	f, err := elf.NewFile(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: the payload is not an ELF image: %v", ErrNoText, k.Vmlinuz, err)
	}
	sec := f.Section(".text")
	if sec == nil {
		return nil, fmt.Errorf("%w: %s has no .text", ErrNoText, k.Vmlinuz)
	}
	t.addr = sec.Addr
	if t.code, err = sec.Data(); err != nil {
		return nil, fmt.Errorf("%w: %s .text: %v", ErrNoText, k.Vmlinuz, err)
	}
	return t, nil
}

// NewText is a Text of code at address addr with functions at the
// addresses of funcs (code read another way; tests).
func NewText(addr uint64, code []byte, funcs map[string]uint64) *Text {
	syms := &Symbols{byName: map[string]int{}}
	for name, a := range funcs {
		syms.funcs = append(syms.funcs, textSym{name, a})
	}
	syms.index()
	return &Text{Symbols: syms, addr: addr, code: code}
}

// Func returns function name's code (up to the next symbol) and address.
func (t *Text) Func(name string) (uint64, []byte, error) {
	i, ok := t.byName[name]
	if !ok {
		return 0, nil, fmt.Errorf("%w: no function %s in System.map", ErrNoText, name)
	}
	start := t.funcs[i].addr
	end := start
	for j := i + 1; j < len(t.funcs); j++ {
		if t.funcs[j].addr > start {
			end = t.funcs[j].addr
			break
		}
	}
	if start < t.addr || end > t.addr+uint64(len(t.code)) || end <= start {
		return 0, nil, fmt.Errorf("%w: %s lies outside .text", ErrNoText, name)
	}
	return start, t.code[start-t.addr : end-t.addr], nil
}

// bzPayload returns the decompressed kernel of a bzImage (boot protocol
// 2.08 and later: payload_offset and payload_length in the setup header).
func bzPayload(img []byte) ([]byte, error) {
	if len(img) < 0x250 || string(img[0x202:0x206]) != "HdrS" {
		return nil, errors.New("not a bzImage (no HdrS setup header)")
	}
	sects := int(img[0x1f1])
	if sects == 0 {
		sects = 4
	}
	off := (sects+1)*512 + int(binary.LittleEndian.Uint32(img[0x248:]))
	n := int(binary.LittleEndian.Uint32(img[0x24c:]))
	if off < 0 || n <= 0 || off+n > len(img) {
		return nil, errors.New("payload outside the image")
	}
	p := img[off : off+n]
	var r io.Reader
	switch {
	case bytes.HasPrefix(p, []byte{0x1f, 0x8b}):
		z, err := gzip.NewReader(bytes.NewReader(p))
		if err != nil {
			return nil, err
		}
		z.Multistream(false)
		r = z
	case bytes.HasPrefix(p, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		z, err := xz.NewReader(bytes.NewReader(p))
		if err != nil {
			return nil, err
		}
		z.SingleStream = true
		r = z
	case bytes.HasPrefix(p, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		z, err := zstd.NewReader(bytes.NewReader(p), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			return nil, err
		}
		defer z.Close()
		r = z
	case bytes.HasPrefix(p, []byte{0x02, 0x21, 0x4c, 0x18}):
		return lz4Legacy(p[4:])
	default:
		return nil, fmt.Errorf("payload compressed as % x, not gzip, xz, zstd or lz4: build with CONFIG_KERNEL_GZIP, _XZ, _ZSTD or _LZ4", p[:min(4, len(p))])
	}
	// The kernel appends its size to some payloads: read what decompresses
	// and let the ELF parser judge it.
	out, err := io.ReadAll(r)
	if len(out) == 0 {
		return nil, fmt.Errorf("decompress: %v", err)
	}
	return out, nil
}

// lz4Legacy decompresses LZ4's legacy frame (the kernel's CONFIG_KERNEL_LZ4,
// after the magic): blocks, each its compressed length (LE32) then an LZ4
// block on its own; the kernel's size appended at the end stops it.
func lz4Legacy(p []byte) ([]byte, error) {
	var out []byte
	for len(p) >= 4 {
		n := int(binary.LittleEndian.Uint32(p))
		if n <= 0 || n > len(p)-4 {
			break
		}
		var err error
		if out, err = lz4Block(out, p[4:4+n]); err != nil {
			return nil, err
		}
		p = p[4+n:]
	}
	if len(out) == 0 {
		return nil, errors.New("lz4: no block")
	}
	return out, nil
}

// lz4Block appends the decompressed LZ4 block b to out; matches refer only
// to this block's output.
func lz4Block(out, b []byte) ([]byte, error) {
	start := len(out)
	bad := errors.New("lz4: corrupt block")
	length := func(n int, i *int) (int, error) {
		if n != 15 {
			return n, nil
		}
		for {
			if *i >= len(b) {
				return 0, bad
			}
			c := b[*i]
			*i++
			n += int(c)
			if c != 255 {
				return n, nil
			}
		}
	}
	for i := 0; i < len(b); {
		tok := b[i]
		i++
		lit, err := length(int(tok>>4), &i)
		if err != nil || i+lit > len(b) {
			return nil, bad
		}
		out = append(out, b[i:i+lit]...)
		i += lit
		if i == len(b) {
			break // the last sequence has literals only
		}
		if i+2 > len(b) {
			return nil, bad
		}
		off := int(b[i]) | int(b[i+1])<<8
		i += 2
		ml, err := length(int(tok&15), &i)
		if err != nil || off == 0 || off > len(out)-start {
			return nil, bad
		}
		ml += 4
		from := len(out) - off
		for k := 0; k < ml; k++ { // byte by byte: a match may overlap what it writes
			out = append(out, out[from+k])
		}
	}
	return out, nil
}
