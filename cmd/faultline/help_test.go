//go:build !faultline_agent

package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// helpText runs `faultline ARGS` and returns what it printed on stderr and
// stdout.
func helpText(t *testing.T, args ...string) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	oldErr, oldOut := os.Stderr, os.Stdout
	os.Stderr, os.Stdout = w, w
	done := make(chan string)
	go func() { b, _ := io.ReadAll(r); done <- string(b) }()
	run(context.Background(), args)
	os.Stderr, os.Stdout = oldErr, oldOut
	w.Close()
	return <-done
}

var (
	repoPathRE = regexp.MustCompile("(?:^|[\\s`(\\[\"'])((?:scenarios|kernels|bench|docs|scripts|probes|oops|results|campaign|harness|workloads|guest)/[A-Za-z0-9_.*/-]*[A-Za-z0-9_*])")
	exampleRE  = regexp.MustCompile(`(?m)^\s*(?:\$ )?faultline ([a-z]+)((?: [a-z]+)?)(.*)$`)
	flagRE     = regexp.MustCompile(`(?:^|\s)--?([a-z][a-z0-9-]*)`)
)

var inlineCodeRE = regexp.MustCompile("`([^`\n]+)`")

// markdownCode keeps a markdown text's code: fenced blocks whole, and each
// inline code span on a line of its own.
func markdownCode(md string) string {
	var b strings.Builder
	fenced := false
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(l, "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			b.WriteString(l + "\n")
			continue
		}
		for _, m := range inlineCodeRE.FindAllStringSubmatch(l, -1) {
			b.WriteString(m[1] + "\n")
		}
		// Paths named in prose count too.
		for _, m := range repoPathRE.FindAllString(l, -1) {
			b.WriteString(m + "\n")
		}
	}
	return b.String()
}

// TestHelpExamples: every path an example names (in every --help, the
// README and docs/) exists, every example's command exists, and every flag
// it passes is one that command takes.
func TestHelpExamples(t *testing.T) {
	root := filepath.Join("..", "..")
	texts := map[string]string{"faultline --help": helpText(t, "--help")}
	for _, c := range [][]string{{"vm"}, {"run"}, {"report"}, {"classify"}, {"bench", "boot"}, {"kernels"}, {"inject"}, {"workload"}, {"worker"}, {"bisect"}, {"gate"}, {"nightly"}, {"repro"}, {"bench", "build"}} {
		texts["faultline "+strings.Join(c, " ")+" --help"] = helpText(t, append(c, "--help")...)
	}
	docs, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	for _, f := range append(docs, filepath.Join(root, "README.md")) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		texts[filepath.Base(f)] = markdownCode(string(b))
	}
	flags := map[string]string{}
	for name, text := range texts {
		if strings.HasSuffix(name, " --help") {
			flags[strings.TrimSuffix(strings.TrimPrefix(name, "faultline "), " --help")] = text
		}
	}
	checked := 0
	for name, text := range texts {
		for _, m := range repoPathRE.FindAllStringSubmatch(text, -1) {
			p := strings.TrimRight(m[1], ".")
			matches, _ := filepath.Glob(filepath.Join(root, p))
			if len(matches) == 0 {
				t.Errorf("%s names %s, which does not exist", name, p)
			}
			checked++
		}
		for _, m := range exampleRE.FindAllStringSubmatch(text, -1) {
			cmd := m[1]
			if cmd == "help" {
				continue
			}
			if _, ok := commands[cmd]; !ok {
				t.Errorf("%s: example %q: no command %q", name, strings.TrimSpace(m[0]), cmd)
				continue
			}
			key := cmd
			if cmd == "bench" {
				key = "bench boot"
				if strings.HasPrefix(strings.TrimSpace(m[3]), "build") {
					key = "bench build"
				}
			}
			help := flags[key]
			args := m[3]
			if i := strings.Index(args, " -- "); i >= 0 {
				args = args[:i] // the guest command's own flags
			}
			if i := strings.Index(args, "#"); i >= 0 {
				args = args[:i]
			}
			for _, f := range flagRE.FindAllStringSubmatch(args, -1) {
				if !regexp.MustCompile(`(?m)^\s+-` + regexp.QuoteMeta(f[1]) + `\b|--?` + regexp.QuoteMeta(f[1]) + `\b`).MatchString(help) {
					t.Errorf("%s: example %q passes --%s, which faultline %s does not take", name, strings.TrimSpace(m[0]), f[1], key)
				}
			}
			checked++
		}
	}
	if checked < 40 {
		t.Errorf("only %d paths and examples checked: the patterns have stopped matching", checked)
	}
}
