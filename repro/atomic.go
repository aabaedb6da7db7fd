package repro

import (
	"encoding/hex"
	"fmt"

	"golang.org/x/arch/x86/x86asm"
)

// atomicSite is a locked read-modify-write instruction inside a function
// (lock btr, lock and, lock dec, lock cmpxchg, ...): where a task acts on
// what it checked before. A delay just before it widens the window between
// its check and its act, the window of most check-then-act races.
type atomicSite struct {
	Off  int    // from the function's start
	Insn string // its bytes in hex, for insn=
	Asm  string // as objdump writes it
}

// maxAtomicSites is how many delays before atomic instructions one
// workload's plans get (two in a function at most).
const maxAtomicSites = 6

// atomicSites returns the locked read-modify-write instructions of code
// (a function's bytes, at address addr), in order. Decoding stops at the
// first byte sequence that is not an instruction.
func atomicSites(code []byte, addr uint64) []atomicSite {
	var out []atomicSite
	for i := 0; i < len(code); {
		in, err := x86asm.Decode(code[i:], 64)
		if err != nil || in.Len == 0 {
			break
		}
		if locked(in) {
			out = append(out, atomicSite{Off: i, Insn: hex.EncodeToString(code[i : i+in.Len]), Asm: x86asm.GNUSyntax(in, addr+uint64(i), nil)})
		}
		i += in.Len
	}
	return out
}

func locked(in x86asm.Inst) bool {
	for _, p := range in.Prefix {
		if p == 0 {
			break
		}
		if p&0xff == x86asm.PrefixLOCK {
			return true
		}
	}
	return false
}

// at is FN+0xOFF, as a probe spec writes the site.
func (a atomicSite) at(fn string) string { return fmt.Sprintf("%s+%#x", fn, a.Off) }
