package gate

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
)

// WriteText writes the gate's answer as a terminal table.
func (r *Result) WriteText(w io.Writer) {
	fmt.Fprintf(w, "gate: %s\n", strings.ToUpper(r.Status))
	fmt.Fprintf(w, "base %s, series %s: %d patches, patched kernel %s\n", r.Base.label(), r.Series.Hash, len(r.Series.Patches), r.Patched.Name)
	for _, p := range r.Series.Patches {
		fmt.Fprintf(w, "  %d/%d %s\n", p.N, len(r.Series.Patches), p.Subject)
	}
	switch r.Status {
	case StatusApplyFailed:
		a := r.Apply
		fmt.Fprintf(w, "patch %d (%s, %q) does not apply; nothing was built:\n", a.N, a.Patch, a.Subject)
		for _, f := range a.Failed {
			fmt.Fprintf(w, "  %s: %s\n", f.File, f.Message)
		}
		return
	case StatusBuildFailed:
		fmt.Fprintf(w, "the patched kernel does not build; the log's tail:\n%s\n", indent(r.BuildLog))
		return
	case StatusNotCovered:
		fmt.Fprintf(w, "no scenario case exercises the files the series touches (%s): nothing ran\n", strings.Join(r.Series.Files(), ", "))
		return
	}
	if r.Base.Reused {
		fmt.Fprintf(w, "base results reused from %s (same base kernel, cases, runs and seed)\n", r.Base.Dir)
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tSTATUS\tSIGNATURE\tBASE\tPATCHED\tP\t")
	for _, c := range r.Cases {
		counts := func(k KernelRuns) string {
			s := fmt.Sprintf("%d clean/%d", k.Clean, k.Runs)
			if k.Infra > 0 {
				s += fmt.Sprintf(" (%d infra)", k.Infra)
			}
			return s
		}
		if len(c.Findings) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t-\t%s\t%s\t\t\n", c.Case, c.Status, counts(c.Base), counts(c.Patched))
			continue
		}
		for i, f := range c.Findings {
			name, st := c.Case, c.Status
			if i > 0 {
				name, st = "", ""
			}
			extra := ""
			if f.MoreRuns > 0 {
				extra = fmt.Sprintf(" (%d runs each would decide)", f.MoreRuns)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s %s%s\t%d/%d\t%d/%d\t%.3f\t\n", name, st, f.Status, f.Title, extra,
				f.Base.Hits, f.Base.Runs, f.Patched.Hits, f.Patched.Runs, f.P)
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "%d runs, %.1f VM minutes, %d kernel builds, %.1f min wall\n", r.Runs, r.VMSeconds/60, r.Builds, r.Wall/60)
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

// WriteMail writes a plain-text report to reply to the series with.
func (r *Result) WriteMail(w io.Writer) {
	subj := ""
	if len(r.Series.Patches) > 0 {
		subj = r.Series.Patches[0].Subject
	}
	if r.Series.Cover != "" {
		subj = r.Series.Cover
	}
	fmt.Fprintf(w, "Subject: Re: %s\n\n", subj)
	fmt.Fprintf(w, "faultline gated this series (%d patches, %s) on %s: %s.\n\n", len(r.Series.Patches), r.Series.Hash, r.Base.label(), strings.ToUpper(r.Status))
	switch r.Status {
	case StatusApplyFailed:
		a := r.Apply
		fmt.Fprintf(w, "Patch %d/%d (\"%s\") does not apply to %s:\n", a.N, len(r.Series.Patches), a.Subject, r.Base.Name)
		for _, f := range a.Failed {
			fmt.Fprintf(w, "  %s: %s\n", f.File, f.Message)
		}
		return
	case StatusBuildFailed:
		fmt.Fprintf(w, "The patched kernel does not build. The end of the build log:\n\n%s\n", indent(r.BuildLog))
		return
	case StatusNotCovered:
		fmt.Fprintf(w, "None of faultline's scenarios exercises the files the series touches; nothing was run.\n")
		return
	}
	for _, c := range r.Cases {
		for _, f := range c.Findings {
			if f.Status != New {
				continue
			}
			fmt.Fprintf(w, "NEW in %s: %s\n", c.Case, f.Title)
			fmt.Fprintf(w, "  patched kernel: %d of %d runs, base: %d of %d runs (same cases and seeds; Fisher's exact test p = %.3f)\n",
				f.Patched.Hits, f.Patched.Runs, f.Base.Hits, f.Base.Runs, f.P)
			if f.Example != nil {
				if ex := f.Example.Excerpt; ex != "" {
					fmt.Fprintf(w, "  console excerpt (run %d, seed %d):\n%s\n", f.Example.Index+1, f.Example.Seed, indent(ex))
				}
			}
			fmt.Fprintln(w)
		}
	}
	for _, c := range r.Cases {
		fmt.Fprintf(w, "%-40s %s (base %d/%d clean, patched %d/%d clean)\n", c.Case, c.Status, c.Base.Clean, c.Base.Runs, c.Patched.Clean, c.Patched.Runs)
	}
	if r.Repro != "" {
		fmt.Fprintf(w, "\nTo reproduce on the patched kernel:\n  %s\n", r.Repro)
	}
}

// junitSuite is the JUnit XML document.
type junitSuite struct {
	XMLName  xml.Name    `xml:"testsuite"`
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

// WriteJUnit writes one testcase per case and kernel; a NEW signature fails
// the patched kernel's testcase (title, signature, console excerpt), a
// crashing base fails the base's, harness trouble is an error.
func (r *Result) WriteJUnit(path string) error {
	s := junitSuite{Name: "faultline gate " + r.Patched.Name}
	add := func(c junitCase) {
		s.Tests++
		if c.Failure != nil {
			s.Failures++
		}
		if c.Error != nil {
			s.Errors++
		}
		s.Cases = append(s.Cases, c)
	}
	switch r.Status {
	case StatusApplyFailed:
		var b strings.Builder
		for _, f := range r.Apply.Failed {
			fmt.Fprintf(&b, "%s: %s\n", f.File, f.Message)
		}
		add(junitCase{Name: "apply", Classname: r.Patched.Name, Failure: &junitMessage{Message: "apply failed: " + r.Apply.Patch, Type: "apply", Body: b.String()}})
	case StatusBuildFailed:
		add(junitCase{Name: "build", Classname: r.Patched.Name, Failure: &junitMessage{Message: "build failed", Type: "build", Body: r.BuildLog}})
	}
	for _, c := range r.Cases {
		for _, side := range []struct {
			kernel  string
			runs    KernelRuns
			patched bool
		}{{r.Base.Name, c.Base, false}, {r.Patched.Name, c.Patched, true}} {
			jc := junitCase{Name: c.Case, Classname: side.kernel,
				SystemOut: fmt.Sprintf("%d runs: %d clean, %d infra; chosen: %s", side.runs.Runs, side.runs.Clean, side.runs.Infra, c.Reason)}
			var msgs []string
			var body strings.Builder
			for _, f := range c.Findings {
				hits := f.Base.Hits
				if side.patched {
					hits = f.Patched.Hits
				}
				if hits == 0 || (side.patched && f.Status != New) {
					continue
				}
				msgs = append(msgs, fmt.Sprintf("%s %s (%s)", f.Status, f.Title, f.Key))
				fmt.Fprintf(&body, "%s %s\nsignature: %s\nbase %d/%d, patched %d/%d, p = %.3f\n", f.Status, f.Title, f.Key, f.Base.Hits, f.Base.Runs, f.Patched.Hits, f.Patched.Runs, f.P)
				if f.Example != nil {
					body.WriteString(f.Example.Excerpt + "\n")
				}
			}
			if len(msgs) > 0 {
				jc.Failure = &junitMessage{Message: strings.Join(msgs, "; "), Type: "crash", Body: body.String()}
			} else if side.runs.Answered == 0 && side.runs.Runs > 0 {
				jc.Error = &junitMessage{Message: "no run answered (harness trouble)", Type: "infra"}
			}
			add(jc)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := xml.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(xml.Header), append(b, '\n')...), 0o644)
}

func jsonIndent(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	return append(b, '\n'), err
}

// label is the kernel's name with its release when known.
func (k KernelInfo) label() string {
	if k.Release == "" {
		return k.Name
	}
	return k.Name + " (" + k.Release + ")"
}
