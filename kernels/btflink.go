package kernels

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// kbuild links vmlinux four times after a change (link-vmlinux.sh): once
// for pahole alone (.tmp_vmlinux.btf, whose DWARF pahole turns into the
// BTF that the later links embed), twice for kallsyms, once for the image.
// Only the first does not shape the image: nothing of it but the BTF is
// kept, and the BTF comes from the compiler's DWARF, not from where the
// linker put things. ld.lld does that link in 2.9 s instead of 5.7 s, and
// pahole reads its output in 4.3 s instead of 6.6 s, with byte-identical
// BTF (checked on 6.1-harness). So where ld.lld is installed, faultline's
// GNU-ld builds pass LD=a small script that sends that one link to ld.lld
// and every other call, Kconfig's version probe included, to GNU ld: the
// configuration, every other link and the image stay GNU ld's.

// btfLinkScript is the LD faultline passes: ld.lld for the link whose
// output is .tmp_vmlinux.btf (without GNU ld's --no-warn-rwx-segments,
// which ld.lld does not know), GNU ld for everything else.
const btfLinkScript = `#!/bin/sh
# faultline: GNU ld, except for kbuild's link for pahole (-o .tmp_vmlinux.btf),
# which ld.lld does in half the time with the same BTF coming out of it.
prev=
for a do
	if [ "$prev" = -o ] && [ "$a" = .tmp_vmlinux.btf ]; then
		for b do
			shift
			[ "$b" = --no-warn-rwx-segments ] || set -- "$@" "$b"
		done
		exec ld.lld "$@"
	fi
	prev=$a
done
exec ld "$@"
`

// btfLinkDef is the lines of link-vmlinux.sh's gen_btf that link
// .tmp_vmlinux.btf with $(LD): the script is used only in trees that link
// for pahole as 6.1 does.
const btfLinkDef = "\tvmlinux_link ${1}\n\n\tinfo \"BTF\" ${2}"

// btfLinker returns the LD to pass for a GNU-ld build in treeDir: the path
// of btfLinkScript, written there, when ld.lld is installed and the
// tree's link-vmlinux.sh links for pahole as 6.1 does; "" (make's own ld)
// otherwise.
func btfLinker(treeDir, srcDir string) (string, error) {
	if _, err := exec.LookPath("ld.lld"); err != nil {
		return "", nil
	}
	if !kbuildDefines(srcDir, "link-vmlinux.sh", btfLinkDef) {
		return "", nil
	}
	path := filepath.Join(treeDir, "faultline-ld")
	if cur, err := os.ReadFile(path); err == nil && string(cur) == btfLinkScript {
		return path, nil
	}
	if err := os.WriteFile(path, []byte(btfLinkScript), 0o755); err != nil {
		return "", fmt.Errorf("write the BTF link script: %w", err)
	}
	return path, nil
}
