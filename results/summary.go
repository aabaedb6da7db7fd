//go:build !faultline_agent

package results

import (
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"faultline/verdict"
)

// CaseSummary aggregates the final runs of one case.
type CaseSummary struct {
	Case     string         `json:"case"`
	Kernel   string         `json:"kernel"`
	Expect   string         `json:"expect"`
	Runs     int            `json:"runs"`
	Passed   int            `json:"passed"`
	Verdicts map[string]int `json:"verdicts"`
	// Reproduced counts runs with a crash, integrity or hang verdict, or
	// a positive control's expected signature.
	Reproduced int `json:"reproduced"`
	// FirstCrash holds the guest times (s since boot) of the first report
	// of each reproducing run; Median and Max summarise them (-1: none).
	FirstCrash       []float64 `json:"first_crash_s"`
	MedianFirstCrash float64   `json:"median_first_crash_s"`
	MaxFirstCrash    float64   `json:"max_first_crash_s"`
	// Titles counts the crash titles seen.
	Titles map[string]int `json:"titles"`
}

// Summary is a campaign's figures.
type Summary struct {
	Campaign *Campaign      `json:"campaign"`
	Planned  int            `json:"planned"`
	Finished int            `json:"finished"`
	Verdicts map[string]int `json:"verdicts"`
	Passed   int            `json:"passed"`
	Cases    []*CaseSummary `json:"cases"`
	// RunsPerHour is finished runs per hour of campaign wall time.
	RunsPerHour float64 `json:"runs_per_hour"`
	// BootShare is the share of VM wall time spent booting (QEMU start to
	// agent ready); MeanBoot and MeanWall are per run, in seconds.
	BootShare float64 `json:"boot_share"`
	MeanBoot  float64 `json:"mean_boot_s"`
	MeanWall  float64 `json:"mean_wall_s"`
}

// Summarize computes the figures over the final run of each planned run.
func Summarize(c *Campaign, plan []PlannedRun, runs []*Run) *Summary {
	s := &Summary{Campaign: c, Planned: len(plan), Verdicts: map[string]int{}}
	expect := map[string]string{}
	order := []string{}
	for _, p := range plan {
		if _, ok := expect[p.Case]; !ok {
			order = append(order, p.Case)
		}
		expect[p.Case] = p.Expect
	}
	byCase := map[string]*CaseSummary{}
	for _, name := range order {
		cs := &CaseSummary{Case: name, Expect: expect[name], Verdicts: map[string]int{}, Titles: map[string]int{}}
		byCase[name] = cs
		s.Cases = append(s.Cases, cs)
	}
	var boot, wall float64
	for _, r := range runs {
		if !r.Final {
			continue
		}
		cs := byCase[r.Case]
		if cs == nil {
			continue
		}
		s.Finished++
		s.Verdicts[r.Verdict]++
		cs.Runs++
		cs.Kernel = r.Kernel
		cs.Verdicts[r.Verdict]++
		if r.Pass {
			s.Passed++
			cs.Passed++
		}
		if r.Title != "" {
			cs.Titles[r.Title]++
		}
		found := r.Verdict == verdict.Crash || r.Verdict == verdict.Integrity || r.Verdict == verdict.Hang
		if cs.Expect != "clean" && cs.Expect != "" {
			found = r.Pass
		}
		if found {
			cs.Reproduced++
			if r.FirstCrash >= 0 {
				cs.FirstCrash = append(cs.FirstCrash, r.FirstCrash)
			}
		}
		boot += r.Boot
		wall += r.Wall
	}
	for _, cs := range s.Cases {
		cs.MedianFirstCrash, cs.MaxFirstCrash = -1, -1
		if len(cs.FirstCrash) > 0 {
			sort.Float64s(cs.FirstCrash)
			cs.MedianFirstCrash = median(cs.FirstCrash)
			cs.MaxFirstCrash = cs.FirstCrash[len(cs.FirstCrash)-1]
		}
	}
	if s.Finished > 0 {
		s.MeanBoot, s.MeanWall = boot/float64(s.Finished), wall/float64(s.Finished)
	}
	if wall > 0 {
		s.BootShare = boot / wall
	}
	if c != nil && c.Elapsed > 0 {
		s.RunsPerHour = float64(s.Finished) / c.Elapsed.Hours()
	}
	return s
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// WriteTable prints the summary for a terminal.
func (s *Summary) WriteTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tKERNEL\tEXPECT\tRUNS\tPASS\tVERDICTS\tFIRST CRASH (median/max, s)\tTITLE")
	for _, cs := range s.Cases {
		fc := "-"
		if cs.MedianFirstCrash >= 0 {
			fc = fmt.Sprintf("%.1f / %.1f", cs.MedianFirstCrash, cs.MaxFirstCrash)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", cs.Case, cs.Kernel, cs.Expect, cs.Runs, cs.Passed,
			verdictList(cs.Verdicts), fc, topTitle(cs.Titles))
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d/%d runs finished, %d passed: %s\n", s.Finished, s.Planned, s.Passed, verdictList(s.Verdicts))
	if s.Campaign != nil {
		fmt.Fprintf(w, "wall %s, %.0f VM runs/hour; boot %.1f s of %.1f s per run (%.0f%% of VM time)\n",
			s.Campaign.Elapsed.Round(time.Second), s.RunsPerHour, s.MeanBoot, s.MeanWall, 100*s.BootShare)
	}
}

func verdictList(m map[string]int) string {
	var parts []string
	for _, v := range verdict.All {
		if m[v] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", v, m[v]))
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func topTitle(m map[string]int) string {
	best, n := "", 0
	for t, c := range m {
		if c > n || (c == n && t < best) {
			best, n = t, c
		}
	}
	if len(m) > 1 {
		best += fmt.Sprintf(" (+%d more)", len(m)-1)
	}
	return best
}

// JUnit XML, one testsuite per case, one testcase per final run.
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Name    string       `xml:"name,attr"`
	Tests   int          `xml:"tests,attr"`
	Fail    int          `xml:"failures,attr"`
	Errors  int          `xml:"errors,attr"`
	Time    float64      `xml:"time,attr"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name   string      `xml:"name,attr"`
	Tests  int         `xml:"tests,attr"`
	Fail   int         `xml:"failures,attr"`
	Errors int         `xml:"errors,attr"`
	Time   float64     `xml:"time,attr"`
	Cases  []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      float64       `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes JUnit XML: a failure for a run that missed its
// expectation (title and console excerpt), an error for harness trouble
// (infra-error, boot-failure).
func WriteJUnit(w io.Writer, name string, runs []*Run) error {
	root := junitSuites{Name: name}
	idx := map[string]int{}
	for _, r := range runs {
		if !r.Final {
			continue
		}
		i, ok := idx[r.Case]
		if !ok {
			i = len(root.Suites)
			idx[r.Case] = i
			root.Suites = append(root.Suites, junitSuite{Name: r.Case})
		}
		s := &root.Suites[i]
		tc := junitCase{Name: fmt.Sprintf("%s#%d seed=%d", r.Case, r.Index, r.Seed), Classname: "faultline." + r.Case, Time: r.Wall,
			SystemOut: fmt.Sprintf("verdict %s on %s (%s): %s\nfiles: %s\n", r.Verdict, r.Kernel, r.Release, r.Detail, r.Dir)}
		msg := r.Verdict
		if r.Title != "" {
			msg += ": " + r.Title
			if r.Signature != "" {
				msg += " [" + r.Signature + "]"
			}
		}
		switch {
		case r.Verdict == verdict.Infra || r.Verdict == verdict.Boot:
			tc.Error = &junitProblem{Message: msg, Type: r.Verdict, Text: r.Detail + "\n" + r.Excerpt}
			s.Errors++
			root.Errors++
		case !r.Pass:
			tc.Failure = &junitProblem{Message: msg, Type: r.Verdict, Text: r.Detail + "\n" + r.Excerpt}
			s.Fail++
			root.Fail++
		}
		s.Cases = append(s.Cases, tc)
		s.Tests++
		s.Time += r.Wall
		root.Tests++
		root.Time += r.Wall
	}
	for i := range root.Suites {
		root.Suites[i].Time = math.Round(root.Suites[i].Time*1000) / 1000
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(root); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
