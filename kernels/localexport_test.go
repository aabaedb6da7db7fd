package kernels

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// assemble writes src as an object file with as(1) (binutils, which
// faultline's dependencies include for readelf).
func assemble(t *testing.T, dir, name, src string) string {
	t.Helper()
	as, err := exec.LookPath("as")
	if err != nil {
		t.Skip("no as(1): install binutils")
	}
	s := filepath.Join(dir, name+".s")
	o := filepath.Join(dir, name+".o")
	if err := os.WriteFile(s, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(as, "-o", o, s).CombinedOutput(); err != nil {
		t.Fatalf("as: %v: %s", err, out)
	}
	return o
}

// export is what EXPORT_SYMBOL(name) leaves in an object: a __ksymtab_
// symbol in its own section, pointing at name.
func export(name string) string {
	return "\t.section ___ksymtab+" + name + ",\"a\"\n__ksymtab_" + name + ":\t.quad " + name + "\n"
}

// TestLocalExports: which exported symbols nm(1) would print in lower case
// (scripts/check-local-export's rule), one object per case.
func TestLocalExports(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, src string
		want      []string
	}{
		{"static function", "\t.text\nfoo:\tret\n" + export("foo"), []string{"foo"}},
		{"global function", "\t.text\n\t.globl foo\nfoo:\tret\n" + export("foo"), nil},
		{"weak definition", "\t.text\n\t.weak foo\nfoo:\tret\n" + export("foo"), nil},
		{"undefined weak", "\t.weak foo\n" + export("foo"), nil},
		{"undefined", export("foo"), nil},
		{"GNU unique object", "\t.data\n\t.type foo, @gnu_unique_object\n\t.globl foo\nfoo:\t.quad 0\n" + export("foo"), []string{"foo"}},
		{"static data beside a global function", "\t.data\nbar:\t.quad 0\n\t.text\n\t.globl foo\nfoo:\tret\n" + export("foo") + export("bar"), []string{"bar"}},
		{"no exports", "\t.text\nfoo:\tret\n", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := assemble(t, dir, strings.ReplaceAll(c.name, " ", "-"), c.src)
			got, err := localExports(o)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("local exports = %q, want %q", got, c.want)
			}
		})
	}
	t.Run("not ELF", func(t *testing.T) {
		p := filepath.Join(dir, "lto.o")
		if err := os.WriteFile(p, []byte("BC\xc0\xde bitcode"), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, err := localExports(p); err != nil || got != nil {
			t.Errorf("got %q, %v; want nothing", got, err)
		}
	})
}

// TestCheckLocalExports: the tree-wide check finds the bad object, removes
// it (so that the next build compiles and checks it again) and leaves the
// stamp alone; once the tree passes, the stamp moves to the check's start,
// and older objects are not read again.
func TestCheckLocalExports(t *testing.T) {
	tree := t.TempDir()
	src := filepath.Join(tree, "linux")
	if err := os.MkdirAll(filepath.Join(src, "fs", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	good := assemble(t, filepath.Join(src, "fs"), "good", "\t.text\n\t.globl foo\nfoo:\tret\n"+export("foo"))
	bad := assemble(t, filepath.Join(src, "fs", "x"), "bad", "\t.text\nbar:\tret\n"+export("bar"))
	start := time.Now()
	err := checkLocalExports(src, tree, start)
	var le *LocalExportError
	if !errors.As(err, &le) || le.Object != filepath.Join("fs", "x", "bad.o") || !slices.Equal(le.Symbols, []string{"bar"}) {
		t.Fatalf("check: %v, want fs/x/bad.o exporting local bar", err)
	}
	if !strings.Contains(err.Error(), "local symbol bar was exported") {
		t.Errorf("message %q does not say what kbuild says", err)
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Errorf("the failing object is still there (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(tree, exportsCheckedStamp)); !os.IsNotExist(err) {
		t.Errorf("a failed check wrote the stamp (%v)", err)
	}

	if err := checkLocalExports(src, tree, start); err != nil {
		t.Fatalf("clean tree: %v", err)
	}
	st, err := os.Stat(filepath.Join(tree, exportsCheckedStamp))
	if err != nil || !st.ModTime().Equal(start) {
		t.Fatalf("stamp %v, %v; want its time %v", st, err, start)
	}

	// An object older than the stamp is not read again: one made bad
	// behind the check's back (its mtime set before the stamp) passes.
	bad2 := assemble(t, filepath.Join(src, "fs", "x"), "bad2", "\t.text\nbaz:\tret\n"+export("baz"))
	old := start.Add(-time.Hour)
	if err := os.Chtimes(bad2, old, old); err != nil {
		t.Fatal(err)
	}
	if err := checkLocalExports(src, tree, time.Now()); err != nil {
		t.Errorf("an object older than the stamp was checked again: %v", err)
	}
	if _, err := os.Stat(good); err != nil {
		t.Error(err)
	}
}
