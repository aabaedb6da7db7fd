package kernels

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// linkCalls are the calls TestLinkScript makes of the script: the link for
// pahole, the final link, a kallsyms link, Kconfig's version probe,
// vmlinux.o and the decompressor's vmlinux (a path ending in vmlinux).
var linkCalls = [][]string{
	{"-m", "elf_x86_64", "-z", "noexecstack", "--no-warn-rwx-segments", "--emit-relocs", "-o", ".tmp_vmlinux.btf", "--whole-archive", "vmlinux.a"},
	{"-m", "elf_x86_64", "--no-warn-rwx-segments", "-o", "vmlinux", "vmlinux.a", ".btf.vmlinux.bin.o"},
	{"-m", "elf_x86_64", "--no-warn-rwx-segments", "--strip-debug", "-o", ".tmp_vmlinux.kallsyms1", "vmlinux.a"},
	{"--version"},
	{"-r", "-o", "vmlinux.o", "--whole-archive", "vmlinux.a"},
	{"-m", "elf_x86_64", "-o", "arch/x86/boot/compressed/vmlinux", "piggy.o"},
}

// TestLinkScript runs the LD script with fake ld and ld.lld on PATH, in
// trees whose link-vmlinux.sh links as 6.1 does or not, with ld.lld
// installed or not: the final link goes to ld without DWARF, the link for
// pahole to ld.lld without GNU ld's own flag, everything else (other
// links, Kconfig's version probe) to ld with its arguments as they were.
func TestLinkScript(t *testing.T) {
	const (
		btf      = "ld.lld -m elf_x86_64 -z noexecstack --emit-relocs -o .tmp_vmlinux.btf --whole-archive vmlinux.a"
		btfGNU   = "ld -m elf_x86_64 -z noexecstack --no-warn-rwx-segments --emit-relocs -o .tmp_vmlinux.btf --whole-archive vmlinux.a"
		final    = "ld --strip-debug -m elf_x86_64 --no-warn-rwx-segments -o vmlinux vmlinux.a .btf.vmlinux.bin.o"
		finalGNU = "ld -m elf_x86_64 --no-warn-rwx-segments -o vmlinux vmlinux.a .btf.vmlinux.bin.o"
		rest     = "ld -m elf_x86_64 --no-warn-rwx-segments --strip-debug -o .tmp_vmlinux.kallsyms1 vmlinux.a\n" +
			"ld --version\nld -r -o vmlinux.o --whole-archive vmlinux.a\nld -m elf_x86_64 -o arch/x86/boot/compressed/vmlinux piggy.o\n"
		gen6_1    = "gen_btf()\n{\n" + btfLinkDef + "\n}\n\n" + finalLinkDef + "\n"
		otherBTF  = "gen_btf()\n{\n\tvmlinux_link ${1}\n}\n\n" + finalLinkDef + "\n"
		otherLink = "gen_btf()\n{\n" + btfLinkDef + "\n}\n\nvmlinux_link vmlinux \"${kallsymso}\"\n"
	)
	for _, c := range []struct {
		name, linkVmlinux string
		lld               bool
		want              string // the calls; "" for no script
	}{
		{"6.1 with ld.lld", gen6_1, true, btf + "\n" + final + "\n" + rest},
		{"6.1 without ld.lld", gen6_1, false, btfGNU + "\n" + final + "\n" + rest},
		{"another link for pahole", otherBTF, true, btfGNU + "\n" + final + "\n" + rest},
		{"another final link", otherLink, true, btf + "\n" + finalGNU + "\n" + rest},
		{"another final link, no ld.lld", otherLink, false, ""},
		{"neither", "vmlinux_link vmlinux\n", true, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			bin := filepath.Join(dir, "bin")
			log := filepath.Join(dir, "calls")
			names := []string{"ld"}
			if c.lld {
				names = append(names, "ld.lld")
			}
			if err := os.MkdirAll(bin, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, name := range names {
				fake := "#!/bin/sh\necho \"" + name + " $*\" >> " + log + "\n"
				if err := os.WriteFile(filepath.Join(bin, name), []byte(fake), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			t.Setenv("PATH", bin)
			src, tree := filepath.Join(dir, "src"), filepath.Join(dir, "tree")
			for _, d := range []string{filepath.Join(src, "scripts"), tree} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(src, "scripts", "link-vmlinux.sh"), []byte(c.linkVmlinux), 0o644); err != nil {
				t.Fatal(err)
			}
			ld, err := kbuildLinker(tree, src)
			if err != nil {
				t.Fatal(err)
			}
			if c.want == "" {
				if ld != "" {
					t.Fatalf("kbuildLinker = %q, want \"\" (make's own ld)", ld)
				}
				return
			}
			if ld != filepath.Join(tree, "faultline-ld") {
				t.Fatalf("kbuildLinker = %q", ld)
			}
			for _, args := range linkCalls {
				if out, err := exec.Command(ld, args...).CombinedOutput(); err != nil {
					t.Fatalf("%s %v: %v: %s", ld, args, err, out)
				}
			}
			got, err := os.ReadFile(log)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Errorf("calls:\n%s\nwant:\n%s", got, c.want)
			}
		})
	}
}
