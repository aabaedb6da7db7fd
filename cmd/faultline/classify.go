//go:build !faultline_agent

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"faultline/oops"
)

const classifyUsage = `Usage: faultline classify [--json] [--signatures DIR]... FILE...

Finds the kernel crash reports in console logs ("-" reads stdin), titles them
the syzbot way and matches them against known bug signatures (built in, plus
the *.yaml files of each --signatures DIR).

Without --json: one line per report: title, signature (or "new"), line range.
With --json: {"reports":[{"title","alt_titles","type","frame","corrupted",
"corrupted_reason","signature","start_line","end_line","report"}]} per file
(one object per line when several files are given).

Exit status: 0 when every input was read (crash or not), 2 when one could not be.

Examples:
  faultline classify console.log
  faultline classify --json - < console.log
  faultline classify --signatures ./my-signatures runs/*/console.log

Flags:
`

func cmdClassify(_ context.Context, args []string) int {
	fs := flag.NewFlagSet("classify", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, classifyUsage); fs.PrintDefaults() }
	asJSON := fs.Bool("json", false, "machine-readable output")
	var sigDirs multiFlag
	fs.Var(&sigDirs, "signatures", "directory of extra signature files (repeatable)")
	if code, ok := parseFlags(fs, reorder(fs, args)); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitUsage
	}
	sigs, err := oops.LoadSignatures(sigDirs...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "faultline classify: "+err.Error())
		return exitUsage
	}
	code := exitOK
	for _, name := range fs.Args() {
		var log []byte
		if name == "-" {
			log, err = io.ReadAll(os.Stdin)
		} else {
			log, err = os.ReadFile(name)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "faultline classify: "+err.Error())
			code = exitUsage
			continue
		}
		reps := oops.Classify(log, sigs)
		if reps == nil {
			reps = []*oops.Report{}
		}
		if *asJSON {
			b, _ := json.Marshal(map[string][]*oops.Report{"reports": reps})
			fmt.Println(string(b))
			continue
		}
		prefix := ""
		if fs.NArg() > 1 {
			prefix = name + ": "
		}
		if len(reps) == 0 {
			fmt.Printf("%sno crash\n", prefix)
		}
		for _, r := range reps {
			corrupt := ""
			if r.Corrupted {
				corrupt = " (corrupted: " + r.CorruptedReason + ")"
			}
			fmt.Printf("%s%s\t%s\tlines %d-%d%s\n", prefix, r.Title, r.Signature, r.StartLine, r.EndLine, corrupt)
		}
	}
	return code
}
