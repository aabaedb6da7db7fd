// Command testreport reads `go test -json` on stdin and prints what a
// person waiting for the tests wants to see: a line per finished test as it
// finishes (with its time), each package's result, the failed tests'
// output, every skipped test with its reason, and a closing line
// "N passed, N failed, N skipped". It exits 1 if a test or a package
// failed.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

func main() {
	out := map[string][]string{} // pkg/test -> output lines
	var skips, fails []string
	passed, failed, skipped, pkgFailed := 0, 0, 0, 0
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			fmt.Println(sc.Text()) // not JSON: a build error, say
			continue
		}
		short := strings.TrimPrefix(e.Package, "faultline/")
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output":
			out[key] = append(out[key], e.Output)
		case "pass", "fail", "skip":
			if e.Test == "" {
				switch {
				case e.Action == "fail":
					pkgFailed++
					fmt.Printf("FAIL %s (%.1fs)\n", short, e.Elapsed)
					for _, l := range out[key] {
						fmt.Print("     ", l)
					}
				case e.Action == "pass":
					fmt.Printf("ok   %s (%.1fs)\n", short, e.Elapsed)
				}
				continue
			}
			sub := strings.Contains(e.Test, "/")
			switch e.Action {
			case "pass":
				if !sub {
					passed++
					if e.Elapsed >= 1 {
						fmt.Printf("     pass %s %s (%.1fs)\n", short, e.Test, e.Elapsed)
					}
				}
			case "fail":
				failed++
				fails = append(fails, short+" "+e.Test)
				fmt.Printf("     FAIL %s %s (%.1fs)\n", short, e.Test, e.Elapsed)
				for _, l := range out[key] {
					fmt.Print("          ", l)
				}
			case "skip":
				if !sub {
					skipped++
					skips = append(skips, fmt.Sprintf("%s %s: %s", short, e.Test, skipReason(out[key])))
					fmt.Printf("     skip %s %s\n", short, e.Test)
				}
			}
			delete(out, key)
		}
	}
	sort.Strings(skips)
	if len(skips) > 0 {
		fmt.Println("\nSkipped:")
		for _, s := range skips {
			fmt.Println("  " + s)
		}
	}
	if len(fails) > 0 {
		fmt.Println("\nFailed:")
		for _, s := range fails {
			fmt.Println("  " + s)
		}
	}
	fmt.Printf("\n%d passed, %d failed, %d skipped\n", passed, failed, skipped)
	if failed > 0 || pkgFailed > 0 {
		os.Exit(1)
	}
}

// skipReason is the message t.Skip printed: the test's last output line
// that is not the "--- SKIP" line itself.
func skipReason(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "--- SKIP") || strings.HasPrefix(l, "=== ") {
			continue
		}
		if _, after, ok := strings.Cut(l, ": "); ok && strings.Contains(l, ".go:") {
			return after
		}
		return l
	}
	return "(no reason given)"
}
