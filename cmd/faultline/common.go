package main

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"strings"
)

// errUsage marks bad input (exit 2); common.go serves both builds.
var errUsage = errors.New("usage")

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// printJSON prints v as indented JSON on stdout.
func printJSON(v any) int {
	if err := writeJSON("", v); err != nil {
		return fail(err)
	}
	return exitOK
}

// writeJSON writes v as indented JSON to the file path ("": stdout).
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if path == "" {
		_, err = os.Stdout.Write(append(b, '\n'))
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// parseFlags parses a command's flags: ok false means return code now
// (0 after --help, 2 after a bad flag).
func parseFlags(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	return 0, true
}
