package kernels

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// kbuild links vmlinux four times after a change (link-vmlinux.sh): once
// for pahole alone (.tmp_vmlinux.btf, whose DWARF pahole turns into the
// BTF that the later links embed), twice for kallsyms (without DWARF:
// --strip-debug), once for vmlinux itself, DWARF included. Two of those
// links cost more than the image needs:
//   - The link for pahole does not shape the image: nothing of it but the
//     BTF is kept, and the BTF comes from the compiler's DWARF, not from
//     where the linker put things. ld.lld does it in 2.9 s instead of
//     5.7 s, and pahole reads its output in 4.3 s instead of 6.6 s, with
//     byte-identical BTF (checked on 6.1-harness).
//   - The last link writes 337 MB, 290 MB of it DWARF that no later step
//     reads (the image is made from vmlinux's allocated sections, and the
//     relocation, symbol map and table sorting steps read the rest of it
//     more slowly for its size). Without DWARF, as kbuild's kallsyms
//     links are, it takes 2.1 s instead of 5.8 s and the relocation step
//     0.2 s instead of 1.1 s; bzImage and System.map are byte-identical.
//     Line numbers stay available from vmlinux.o, which keeps its DWARF:
//     scripts/faddr2line vmlinux.o FUNC+OFF.
// So faultline's GNU-ld builds pass LD=a small script that changes those
// two links and sends every other call, Kconfig's version probe included,
// to GNU ld as it was: the configuration, every other link and the image
// stay GNU ld's.

// linkScript is the LD faultline passes: GNU ld without DWARF for the
// link whose output is vmlinux when strip is true, ld.lld (without GNU
// ld's --no-warn-rwx-segments, which ld.lld does not know) for the link
// whose output is .tmp_vmlinux.btf when lld is true, GNU ld as called for
// everything else.
func linkScript(strip, lld bool) string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# faultline: GNU ld, except for kbuild's links of vmlinux named here.\n")
	if strip {
		b.WriteString(`# The final link (-o vmlinux) leaves out DWARF, as kbuild's kallsyms links do:
# the image and System.map are the same; vmlinux.o keeps the DWARF.
`)
	}
	if lld {
		b.WriteString(`# The link for pahole (-o .tmp_vmlinux.btf) goes to ld.lld, which does it in
# half the time with the same BTF coming out of it.
`)
	}
	b.WriteString("prev=\nfor a do\n\tif [ \"$prev\" = -o ]; then\n\t\tcase $a in\n")
	if strip {
		b.WriteString("\t\tvmlinux) exec ld --strip-debug \"$@\" ;;\n")
	}
	if lld {
		b.WriteString(`		.tmp_vmlinux.btf)
			for b do
				shift
				[ "$b" = --no-warn-rwx-segments ] || set -- "$@" "$b"
			done
			exec ld.lld "$@" ;;
`)
	}
	b.WriteString(`		esac
	fi
	prev=$a
done
exec ld "$@"
`)
	return b.String()
}

// btfLinkDef is the lines of link-vmlinux.sh's gen_btf that link
// .tmp_vmlinux.btf with $(LD), and finalLinkDef the line that links
// vmlinux: the script is used only in trees that link as 6.1 does.
const (
	btfLinkDef   = "\tvmlinux_link ${1}\n\n\tinfo \"BTF\" ${2}"
	finalLinkDef = "vmlinux_link vmlinux \"${kallsymso}\" ${btf_vmlinux_bin_o}"
)

// kbuildLinker returns the LD to pass for a GNU-ld build in treeDir: the
// path of linkScript, written there, when the tree's link-vmlinux.sh links
// vmlinux as 6.1 does (the final link without DWARF; the link for pahole
// with ld.lld where ld.lld is installed); "" (make's own ld) when neither
// applies.
func kbuildLinker(treeDir, srcDir string) (string, error) {
	strip := kbuildDefines(srcDir, "link-vmlinux.sh", finalLinkDef)
	_, err := exec.LookPath("ld.lld")
	lld := err == nil && kbuildDefines(srcDir, "link-vmlinux.sh", btfLinkDef)
	if !strip && !lld {
		return "", nil
	}
	script := linkScript(strip, lld)
	path := filepath.Join(treeDir, "faultline-ld")
	if cur, err := os.ReadFile(path); err == nil && string(cur) == script {
		return path, nil
	}
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		return "", fmt.Errorf("write the link script: %w", err)
	}
	return path, nil
}
