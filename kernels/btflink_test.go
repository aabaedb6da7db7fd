package kernels

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBTFLinkScript runs the LD script with fake ld and ld.lld on PATH:
// the link for pahole goes to ld.lld without GNU ld's own flag, everything
// else (other links, Kconfig's version probe) to ld with its arguments as
// they were.
func TestBTFLinkScript(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "calls")
	for _, name := range []string{"ld", "ld.lld"} {
		fake := "#!/bin/sh\necho \"" + name + " $*\" >> " + log + "\n"
		if err := os.WriteFile(filepath.Join(bin, name), []byte(fake), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(filepath.Join(src, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	tree := filepath.Join(dir, "tree")
	if err := os.Mkdir(tree, 0o755); err != nil {
		t.Fatal(err)
	}

	// A tree that does not link for pahole as 6.1 does gets make's own ld.
	os.WriteFile(filepath.Join(src, "scripts", "link-vmlinux.sh"), []byte("gen_btf()\n{\n\tvmlinux_link ${1}\n}\n"), 0o644)
	if ld, err := btfLinker(tree, src); err != nil || ld != "" {
		t.Fatalf("btfLinker on another link-vmlinux.sh = %q, %v; want \"\"", ld, err)
	}
	os.WriteFile(filepath.Join(src, "scripts", "link-vmlinux.sh"), []byte("gen_btf()\n{\n"+btfLinkDef+"\n}\n"), 0o644)
	ld, err := btfLinker(tree, src)
	if err != nil || ld != filepath.Join(tree, "faultline-ld") {
		t.Fatalf("btfLinker = %q, %v", ld, err)
	}

	for _, args := range [][]string{
		{"-m", "elf_x86_64", "-z", "noexecstack", "--no-warn-rwx-segments", "--emit-relocs", "-o", ".tmp_vmlinux.btf", "--whole-archive", "vmlinux.a"},
		{"-m", "elf_x86_64", "--no-warn-rwx-segments", "-o", "vmlinux", "vmlinux.a", ".btf.vmlinux.bin.o"},
		{"-m", "elf_x86_64", "--no-warn-rwx-segments", "--strip-debug", "-o", ".tmp_vmlinux.kallsyms1", "vmlinux.a"},
		{"--version"},
		{"-r", "-o", "vmlinux.o", "--whole-archive", "vmlinux.a"},
	} {
		if out, err := exec.Command(ld, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v: %s", ld, args, err, out)
		}
	}
	got, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"ld.lld -m elf_x86_64 -z noexecstack --emit-relocs -o .tmp_vmlinux.btf --whole-archive vmlinux.a",
		"ld -m elf_x86_64 --no-warn-rwx-segments -o vmlinux vmlinux.a .btf.vmlinux.bin.o",
		"ld -m elf_x86_64 --no-warn-rwx-segments --strip-debug -o .tmp_vmlinux.kallsyms1 vmlinux.a",
		"ld --version",
		"ld -r -o vmlinux.o --whole-archive vmlinux.a",
	}, "\n") + "\n"
	if string(got) != want {
		t.Errorf("calls:\n%s\nwant:\n%s", got, want)
	}

	// Without ld.lld, make's own ld links everything.
	os.Remove(filepath.Join(bin, "ld.lld"))
	t.Setenv("PATH", bin)
	if ld, err := btfLinker(tree, src); err != nil || ld != "" {
		t.Errorf("btfLinker without ld.lld = %q, %v; want \"\"", ld, err)
	}
}
