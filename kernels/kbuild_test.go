package kernels

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// kbuildMakefile is a rule written as kbuild writes them, with 6.1's
// definitions of the macros cmd uses. Its shell counts its own starts.
const kbuildMakefile = `SHELL := ./countsh
quiet := quiet_
escsq = $(subst ','\'',$(1))
echo-cmd = $(if $($(quiet)cmd_$(1)),\
	echo '  $(call escsq,$($(quiet)cmd_$(1)))$(echo-why)';)
       redirect :=
 quiet_redirect :=
silent_redirect := exec >/dev/null;
delete-on-interrupt = \
	$(if $(filter-out $(PHONY), $@), \
		$(foreach sig, HUP INT QUIT TERM PIPE, \
			trap 'rm -f $@; trap - $(sig); kill -s $(sig) $$$$' $(sig);))
` + kbuildCmdDef + `

quiet_cmd_write = WRITE   $@
      cmd_write = echo built > $@
      cmd_fail = false

out: FORCE
	$(call cmd,checksrc)
	$(call cmd,write)
	$(call cmd,record_mcount)

bad: FORCE
	$(call cmd,checksrc)
	$(call cmd,fail)

FORCE:
.PHONY: FORCE
`

// TestSkipEmptySteps runs GNU make on a rule written as kbuild writes them:
// with faultline's cmd, a step without a command starts no shell, a step
// with one runs and prints as before, and a failing step still fails.
func TestSkipEmptySteps(t *testing.T) {
	mk, err := exec.LookPath("make")
	if err != nil {
		t.Skip("no make")
	}
	run := func(target string, extra ...string) (string, int, error) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "Makefile"), []byte(kbuildMakefile), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "countsh"), []byte("#!/bin/sh\necho >> shells\nexec /bin/sh \"$@\"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(mk, append([]string{"-s", target}, extra...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		b, _ := os.ReadFile(filepath.Join(dir, "shells"))
		if target == "out" {
			if got, _ := os.ReadFile(filepath.Join(dir, "out")); string(got) != "built\n" {
				t.Errorf("%v: out holds %q", extra, got)
			}
		}
		return string(out), strings.Count(string(b), "\n"), err
	}
	out, kbuild, err := run("out")
	if err != nil || !strings.Contains(out, "  WRITE   out") {
		t.Fatalf("kbuild's cmd: %v: %s", err, out)
	}
	out, ours, err := run("out", kbuildCmdSkipEmpty)
	if err != nil || !strings.Contains(out, "  WRITE   out") {
		t.Fatalf("faultline's cmd: %v: %s", err, out)
	}
	if kbuild != 3 || ours != 1 {
		t.Errorf("shells started: kbuild's cmd %d (want 3), faultline's %d (want 1)", kbuild, ours)
	}
	if _, _, err := run("bad", kbuildCmdSkipEmpty); err == nil {
		t.Error("a failing step did not fail the build")
	}
}

// TestKbuildDefines: each override replaces only 6.1's exact definition,
// in the file kbuild keeps it in.
func TestKbuildDefines(t *testing.T) {
	for _, c := range []struct {
		file, text string
		want       bool
	}{
		{"Kbuild.include", "x\n" + kbuildCmdDef + "\ny\n", true},
		{"Kbuild.include", "x\ncmd = @$(if $(cmd_$(1)),set -e; $($(quiet)log_print) $(delete-on-interrupt) $(cmd_$(1)),:)\n", false},
		{"Makefile.build", "x\n" + checkLocalExportDef + "\ny\n", true},
		{"Makefile.build", "x\ncmd_check_local_export = $(srctree)/scripts/check-local-export $@ --other\n", false},
		{"Makefile.build", "no such check\n", false},
	} {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "scripts"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "scripts", c.file), []byte(c.text), 0o644); err != nil {
			t.Fatal(err)
		}
		got := skipsEmptySteps(dir)
		if c.file == "Makefile.build" {
			got = ownsLocalExportCheck(dir)
		}
		if got != c.want {
			t.Errorf("%s %q: %v, want %v", c.file, c.text, got, c.want)
		}
	}
	if empty := t.TempDir(); skipsEmptySteps(empty) || ownsLocalExportCheck(empty) {
		t.Error("a tree without kbuild's files gets an override")
	}
}
