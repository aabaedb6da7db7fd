package kernels

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// kbuild links vmlinux.o after a change (for modpost), then vmlinux four
// times (link-vmlinux.sh): once for pahole alone (.tmp_vmlinux.btf, whose
// DWARF pahole turns into the BTF that the later links embed), twice for
// kallsyms (without DWARF: --strip-debug), once for vmlinux itself, DWARF
// included. Three of those links cost more than the image needs:
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
//   - vmlinux.o, where only modpost reads it: ld.lld links it in 1.9 s
//     instead of 3.1 s (see vmlinuxOConfigs for where the image depends
//     on it).
// So faultline's GNU-ld builds pass LD=a small script that changes those
// three links and sends every other call, Kconfig's version probe
// included, to GNU ld as it was: the configuration, every other link and
// the image stay GNU ld's.

// linkScript is the LD faultline passes: GNU ld without DWARF for the
// link whose output is vmlinux when strip is true; ld.lld (without GNU
// ld's --no-warn-rwx-segments, which ld.lld does not know) for the link
// whose output is .tmp_vmlinux.btf when btf is true, and for vmlinux.o when
// vmlinuxO is true and the configuration does not make vmlinux.o more than
// modpost's input (vmlinuxOConfigs); GNU ld as called for everything else.
func linkScript(strip, btf, vmlinuxO bool) string {
	lld := btf || vmlinuxO
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# faultline: GNU ld, except for kbuild's links of vmlinux named here.\n")
	if strip {
		b.WriteString(`# The final link (-o vmlinux) leaves out DWARF, as kbuild's kallsyms links do:
# the image and System.map are the same; vmlinux.o keeps the DWARF.
`)
	}
	if lld {
		b.WriteString(`# ld.lld, in half the time, links for pahole (-o .tmp_vmlinux.btf: the same BTF
# comes out of it) and vmlinux.o where only modpost reads it (no LTO, IBT,
# noinstr validation or symbol versions).
lld() {
	for b do
		shift
		[ "$b" = --no-warn-rwx-segments ] || set -- "$@" "$b"
	done
	exec ld.lld "$@"
}
`)
	}
	b.WriteString("prev=\nfor a do\n\tif [ \"$prev\" = -o ]; then\n\t\tcase $a in\n")
	if strip {
		b.WriteString("\t\tvmlinux) exec ld --strip-debug \"$@\" ;;\n")
	}
	if btf {
		b.WriteString("\t\t.tmp_vmlinux.btf) lld \"$@\" ;;\n")
	}
	if vmlinuxO {
		b.WriteString(`		vmlinux.o)
			# grep's 1 is "none of them"; 0 or an error keep GNU ld.
			if [ -f include/config/auto.conf ]; then
				grep -Eq '^CONFIG_(` + vmlinuxOConfigs + `)=y' include/config/auto.conf
				[ $? -eq 1 ] && lld "$@"
			fi ;;
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

// vmlinuxOConfigs are the options under which 6.1's vmlinux.o is more
// than modpost's input, so that GNU ld links it: LTO and IBT link the image
// from it, noinstr validation runs objtool on it, and with symbol versions
// modpost writes their CRCs into the image in vmlinux.o's symbol order
// (ld.lld orders the exports differently: Module.symvers then lists the
// same lines in another order).
const vmlinuxOConfigs = "LTO_CLANG|X86_KERNEL_IBT|NOINSTR_VALIDATION|MODVERSIONS"

// btfLinkDef is the lines of link-vmlinux.sh's gen_btf that link
// .tmp_vmlinux.btf with $(LD), finalLinkDef the line that links vmlinux,
// and vmlinuxODef the heading of Makefile.vmlinux_o's link of vmlinux.o:
// each link is changed only in trees that do it as 6.1 does.
const (
	btfLinkDef   = "\tvmlinux_link ${1}\n\n\tinfo \"BTF\" ${2}"
	finalLinkDef = "vmlinux_link vmlinux \"${kallsymso}\" ${btf_vmlinux_bin_o}"
	vmlinuxODef  = "# Link of vmlinux.o used for section mismatch analysis"
)

// kbuildLinker returns the LD to pass for a GNU-ld build in treeDir: the
// path of linkScript, written there, when the tree links vmlinux as 6.1
// does (the final link without DWARF; the link for pahole and vmlinux.o
// with ld.lld where ld.lld is installed); "" (make's own ld) when none of
// that applies.
func kbuildLinker(treeDir, srcDir string) (string, error) {
	strip := kbuildDefines(srcDir, "link-vmlinux.sh", finalLinkDef)
	_, err := exec.LookPath("ld.lld")
	btf := err == nil && kbuildDefines(srcDir, "link-vmlinux.sh", btfLinkDef)
	vmlinuxO := err == nil && kbuildDefines(srcDir, "Makefile.vmlinux_o", vmlinuxODef)
	if !strip && !btf && !vmlinuxO {
		return "", nil
	}
	script := linkScript(strip, btf, vmlinuxO)
	path := filepath.Join(treeDir, "faultline-ld")
	if cur, err := os.ReadFile(path); err == nil && string(cur) == script {
		return path, nil
	}
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		return "", fmt.Errorf("write the link script: %w", err)
	}
	return path, nil
}
