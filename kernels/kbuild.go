package kernels

import (
	"bytes"
	"os"
	"path/filepath"
)

// kbuild runs each step of an object's rule as $(call cmd,STEP), and its
// cmd macro starts a shell even when the step has nothing to do ("set -e;"
// and the interrupt traps): five of the eight steps for every C object of
// faultline's kernels (symbol versions, ksym deps, source checks, mcount
// records, the export check). On a 2-core machine, where starting a process
// costs about 4 ms, that is about 20 s of every full build. faultline
// redefines cmd on make's command line to run nothing for an empty step,
// and exactly what kbuild runs otherwise; only in trees whose
// Kbuild.include defines cmd as 6.1 does.

// kbuildCmdDef is the definition faultline replaces.
const kbuildCmdDef = "cmd = @set -e; $(echo-cmd) $($(quiet)redirect) $(delete-on-interrupt) $(cmd_$(1))"

// kbuildCmdSkipEmpty is the command-line definition that replaces it: the
// same recipe when the step has a command, an empty one (no process) when
// it has none.
const kbuildCmdSkipEmpty = "cmd=@$(if $(cmd_$(1)),set -e; $(echo-cmd) $($(quiet)redirect) $(delete-on-interrupt) $(cmd_$(1)))"

// skipsEmptySteps reports whether the tree's kbuild defines cmd as 6.1
// does, so that kbuildCmdSkipEmpty may replace it.
func skipsEmptySteps(srcDir string) bool {
	return kbuildDefines(srcDir, "Kbuild.include", kbuildCmdDef)
}

// kbuildDefines reports whether the tree's scripts/FILE holds def as a
// line of its own: faultline replaces a kbuild definition on make's
// command line only where it is exactly the one it was measured against.
func kbuildDefines(srcDir, file, def string) bool {
	b, err := os.ReadFile(filepath.Join(srcDir, "scripts", file))
	return err == nil && bytes.Contains(b, []byte("\n"+def+"\n"))
}
