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
	{"-m", "elf_x86_64", "--no-warn-rwx-segments", "-r", "-o", "vmlinux.o", "--whole-archive", "vmlinux.a"},
	{"-m", "elf_x86_64", "-o", "arch/x86/boot/compressed/vmlinux", "piggy.o"},
}

// TestLinkScript runs the LD script with fake ld and ld.lld on PATH, in
// trees that link as 6.1 does or not, with ld.lld installed or not: the
// final link goes to ld without DWARF, the link for pahole to ld.lld
// without GNU ld's own flag, vmlinux.o to ld.lld only when the
// configuration has none of vmlinuxOConfigs, everything else (other links,
// Kconfig's version probe) to ld with its arguments as they were.
func TestLinkScript(t *testing.T) {
	const (
		btf       = "ld.lld -m elf_x86_64 -z noexecstack --emit-relocs -o .tmp_vmlinux.btf --whole-archive vmlinux.a"
		btfGNU    = "ld -m elf_x86_64 -z noexecstack --no-warn-rwx-segments --emit-relocs -o .tmp_vmlinux.btf --whole-archive vmlinux.a"
		final     = "ld --strip-debug -m elf_x86_64 --no-warn-rwx-segments -o vmlinux vmlinux.a .btf.vmlinux.bin.o"
		finalGNU  = "ld -m elf_x86_64 --no-warn-rwx-segments -o vmlinux vmlinux.a .btf.vmlinux.bin.o"
		objLLD    = "ld.lld -m elf_x86_64 -r -o vmlinux.o --whole-archive vmlinux.a"
		objGNU    = "ld -m elf_x86_64 --no-warn-rwx-segments -r -o vmlinux.o --whole-archive vmlinux.a"
		kallsyms  = "ld -m elf_x86_64 --no-warn-rwx-segments --strip-debug -o .tmp_vmlinux.kallsyms1 vmlinux.a\nld --version"
		boot      = "ld -m elf_x86_64 -o arch/x86/boot/compressed/vmlinux piggy.o\n"
		plain     = "CONFIG_MODULES=y\nCONFIG_DEBUG_INFO_BTF=y\n"
		versions  = "CONFIG_MODULES=y\nCONFIG_MODVERSIONS=y\n"
		gen6_1    = "gen_btf()\n{\n" + btfLinkDef + "\n}\n\n" + finalLinkDef + "\n"
		otherBTF  = "gen_btf()\n{\n\tvmlinux_link ${1}\n}\n\n" + finalLinkDef + "\n"
		otherLink = "gen_btf()\n{\n" + btfLinkDef + "\n}\n\nvmlinux_link vmlinux \"${kallsymso}\"\n"
	)
	calls := func(btf, final, obj string) string {
		return btf + "\n" + final + "\n" + kallsyms + "\n" + obj + "\n" + boot
	}
	for _, c := range []struct {
		name, linkVmlinux, autoConf string
		vmlinuxO, lld               bool   // Makefile.vmlinux_o as 6.1's, ld.lld installed
		want                        string // the calls; "" for no script
	}{
		{"6.1 with ld.lld", gen6_1, plain, true, true, calls(btf, final, objLLD)},
		{"6.1 with symbol versions", gen6_1, versions, true, true, calls(btf, final, objGNU)},
		{"6.1 not configured", gen6_1, "", true, true, calls(btf, final, objGNU)},
		{"6.1 without ld.lld", gen6_1, plain, true, false, calls(btfGNU, final, objGNU)},
		{"another link for pahole", otherBTF, plain, true, true, calls(btfGNU, final, objLLD)},
		{"another final link", otherLink, plain, true, true, calls(btf, finalGNU, objLLD)},
		{"another vmlinux.o", gen6_1, plain, false, true, calls(btf, final, objGNU)},
		{"another final link, no ld.lld", otherLink, plain, true, false, ""},
		{"none", "vmlinux_link vmlinux\n", plain, false, true, ""},
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
			grep, err := exec.LookPath("grep")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(grep, filepath.Join(bin, "grep")); err != nil {
				t.Fatal(err)
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
			if c.vmlinuxO {
				if err := os.WriteFile(filepath.Join(src, "scripts", "Makefile.vmlinux_o"), []byte("x\n"+vmlinuxODef+"\ny\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			obj := filepath.Join(dir, "obj") // where kbuild runs the links
			if err := os.MkdirAll(filepath.Join(obj, "include", "config"), 0o755); err != nil {
				t.Fatal(err)
			}
			if c.autoConf != "" {
				if err := os.WriteFile(filepath.Join(obj, "include", "config", "auto.conf"), []byte(c.autoConf), 0o644); err != nil {
					t.Fatal(err)
				}
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
				cmd := exec.Command(ld, args...)
				cmd.Dir = obj
				if out, err := cmd.CombinedOutput(); err != nil {
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
