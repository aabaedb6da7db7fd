package kernels

import (
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// kbuild (5.19 to 6.3) checks after compiling each object that it exports
// no local symbol: scripts/check-local-export, a shell script that runs nm
// and awk on the object. That is three more processes for every object,
// about 0.1 s of CPU each time on a 2-core machine, where process creation
// is most of a warm-cache rebuild's cost. faultline switches the script
// off on make's command line and does the same check itself, once, over
// the objects written since the last check that passed.

// checkLocalExportDef is the definition faultline replaces: only a tree
// whose Makefile.build has exactly this line gets the override.
const checkLocalExportDef = "cmd_check_local_export = $(srctree)/scripts/check-local-export $@"

// checkLocalExportOff is make's command-line assignment that switches the
// per-object script off (a command-line variable overrides the
// Makefile's).
const checkLocalExportOff = "cmd_check_local_export="

// exportsCheckedStamp, in the build tree's directory, has the time the
// last passing check started from: objects older than it were checked.
const exportsCheckedStamp = "exports-checked"

// ownsLocalExportCheck reports whether faultline checks the tree's
// exports itself: the tree runs check-local-export the way 6.1 does.
func ownsLocalExportCheck(srcDir string) bool {
	return kbuildDefines(srcDir, "Makefile.build", checkLocalExportDef)
}

// LocalExportError is an object that exports a symbol it defines as
// local (static): kbuild's "local symbol X was exported" error.
type LocalExportError struct {
	// Object is the object file, Symbols the local symbols it exports.
	Object  string
	Symbols []string
}

func (e *LocalExportError) Error() string {
	return fmt.Sprintf("%s: local symbol %s was exported (EXPORT_SYMBOL of a static symbol: drop the export or the static)",
		e.Object, strings.Join(e.Symbols, ", "))
}

// localExports returns the symbols the ELF object at path exports
// (__ksymtab_NAME) but defines only as symbols that nm(1) prints in lower
// case: local binding or GNU unique. Undefined symbols never count (the
// script skips nm's lines without an address). Files that are not ELF (an
// LTO object) give none.
func localExports(path string) ([]string, error) {
	r, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var magic [4]byte
	if _, err := r.ReadAt(magic[:], 0); err != nil || string(magic[:]) != elf.ELFMAG {
		return nil, nil
	}
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	syms, err := f.Symbols()
	if errors.Is(err, elf.ErrNoSymbols) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	present := map[string]bool{}
	upper := map[string]bool{} // some symbol of the name that nm prints in upper case
	var exported []string
	for _, s := range syms {
		typ := elf.ST_TYPE(s.Info)
		if s.Name == "" || typ == elf.STT_SECTION || typ == elf.STT_FILE {
			continue
		}
		if name, ok := strings.CutPrefix(s.Name, "__ksymtab_"); ok {
			exported = append(exported, name)
		}
		if s.Section == elf.SHN_UNDEF {
			// nm prints no address for these, and the script's
			// awk reads the name as the type: they never count.
			continue
		}
		present[s.Name] = true
		if bind := elf.ST_BIND(s.Info); bind != elf.STB_LOCAL && bind != elf.STB_LOOS { // STB_LOOS is STB_GNU_UNIQUE
			upper[s.Name] = true
		}
	}
	var local []string
	for _, name := range exported {
		if present[name] && !upper[name] && !slices.Contains(local, name) {
			local = append(local, name)
		}
	}
	sort.Strings(local)
	return local, nil
}

// checkLocalExports checks every object (*.o) under dir written since the
// last check that passed (treeDir's stamp; all of them when there is
// none), and on success records from as the new stamp. Objects that fail
// are removed, as kbuild's .DELETE_ON_ERROR would, so that the next build
// compiles and checks them again.
func checkLocalExports(dir, treeDir string, from time.Time) error {
	stamp := filepath.Join(treeDir, exportsCheckedStamp)
	var since time.Time
	if st, err := os.Stat(stamp); err == nil {
		since = st.ModTime()
	}
	var bad []error
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "Documentation") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(d.Name(), ".o") || !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.ModTime().Before(since) {
			return nil
		}
		local, err := localExports(path)
		if err != nil {
			return err
		}
		if len(local) > 0 {
			rel, _ := filepath.Rel(dir, path)
			bad = append(bad, &LocalExportError{Object: rel, Symbols: local})
			if err := os.Remove(path); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("check exported symbols: %w", err)
	}
	if len(bad) > 0 {
		return errors.Join(bad...)
	}
	if err := os.WriteFile(stamp, nil, 0o644); err != nil {
		return fmt.Errorf("record the export check: %w", err)
	}
	if err := os.Chtimes(stamp, from, from); err != nil {
		return fmt.Errorf("record the export check: %w", err)
	}
	return nil
}
