package gate

import (
	"sort"

	"faultline/results"
	"faultline/stats"
	"faultline/verdict"
)

// Finding statuses: what a signature did between the base and the patched
// kernel in one case.
const (
	New          = "NEW"          // on the patched kernel, not on the base (or significantly more often)
	Fixed        = "FIXED"        // on the base, not on the patched kernel (or significantly less often)
	Unchanged    = "UNCHANGED"    // on both, at rates the runs cannot tell apart
	Inconclusive = "INCONCLUSIVE" // more often on the patched kernel, but too few runs to say so
)

// Case statuses.
const (
	Pass       = "pass"       // nothing new; the base was clean
	Regression = "regression" // something NEW
	BaseFails  = "base-fails" // the base itself crashes, hangs or loses data: the gate cannot judge
	Infra      = "infra"      // no run of one kernel answered (harness trouble)
)

// alpha is the significance level for a change in rate.
const alpha = 0.05

// Finding is one signature (or "hang", "integrity") in one case.
type Finding struct {
	Key    string `json:"key"`
	Title  string `json:"title"`
	Status string `json:"status"`
	// Base and Patched count the runs that answered and those that showed it.
	Base    stats.Counts `json:"base"`
	Patched stats.Counts `json:"patched"`
	// P is the one-sided p-value (Fisher's exact test) of the change.
	P float64 `json:"p"`
	// MoreRuns, for INCONCLUSIVE, is how many runs per kernel would decide
	// at the rates seen (0: more runs would not).
	MoreRuns int `json:"more_runs,omitempty"`
	// Example is a patched run (else a base run) that showed it.
	Example *results.Run `json:"-"`
}

// CaseResult is the comparison of one case.
type CaseResult struct {
	Case   string `json:"case"`
	Reason string `json:"reason"`
	Status string `json:"status"`
	// Base and Patched: runs, those that answered, infra among them.
	Base    KernelRuns `json:"base"`
	Patched KernelRuns `json:"patched"`
	// Findings, NEW first.
	Findings []Finding `json:"findings"`
}

// KernelRuns counts one kernel's final runs of a case.
type KernelRuns struct {
	Runs     int `json:"runs"`
	Answered int `json:"answered"`
	Infra    int `json:"infra"`
	Clean    int `json:"clean"`
}

// runKey says what a run showed: "" clean, "infra" harness trouble, else
// its crash's signature (or title), "hang" or "integrity". Expectations do
// not count: the gate compares what happened.
func runKey(r *results.Run) (key, title string) {
	switch {
	case r.Verdict == verdict.Infra || r.Verdict == verdict.Boot:
		return "infra", ""
	case r.Signature != "":
		return r.Signature, r.Title
	case r.Title != "":
		return r.Title, r.Title
	case r.Verdict == verdict.Hang:
		return "hang", "hang: console and agent silent"
	case r.Verdict == verdict.Integrity:
		return "integrity", "integrity: data lost or corrupted"
	}
	return "", ""
}

// Compare compares one case's final runs on the base and on the patched
// kernel.
func Compare(name, reason string, base, patched []*results.Run) CaseResult {
	cr := CaseResult{Case: name, Reason: reason}
	type tally struct {
		title   string
		b, p    int
		example *results.Run
	}
	keys := map[string]*tally{}
	count := func(runs []*results.Run, kr *KernelRuns, isPatched bool) {
		for _, r := range runs {
			kr.Runs++
			k, title := runKey(r)
			switch k {
			case "infra":
				kr.Infra++
				continue
			case "":
				kr.Clean++
			default:
				t, ok := keys[k]
				if !ok {
					t = &tally{title: title}
					keys[k] = t
				}
				if isPatched {
					t.p++
					if t.example == nil || t.example.Kernel != r.Kernel {
						t.example = r
					}
				} else {
					t.b++
					if t.example == nil {
						t.example = r
					}
				}
			}
			kr.Answered++
		}
	}
	count(base, &cr.Base, false)
	count(patched, &cr.Patched, true)
	baseCrashed := false
	for k, t := range keys {
		f := Finding{Key: k, Title: t.title, Example: t.example,
			Base: stats.Counts{Runs: cr.Base.Answered, Hits: t.b}, Patched: stats.Counts{Runs: cr.Patched.Answered, Hits: t.p}}
		f.Status, f.P, f.MoreRuns = judge(f.Base, f.Patched)
		if t.b > 0 {
			baseCrashed = true
		}
		cr.Findings = append(cr.Findings, f)
	}
	rank := map[string]int{New: 0, Inconclusive: 1, Fixed: 2, Unchanged: 3}
	sort.Slice(cr.Findings, func(i, j int) bool {
		a, b := cr.Findings[i], cr.Findings[j]
		if rank[a.Status] != rank[b.Status] {
			return rank[a.Status] < rank[b.Status]
		}
		return a.Key < b.Key
	})
	switch {
	case len(cr.Findings) > 0 && cr.Findings[0].Status == New:
		cr.Status = Regression
	case cr.Base.Answered == 0 || cr.Patched.Answered == 0:
		cr.Status = Infra
	case baseCrashed:
		cr.Status = BaseFails
	default:
		cr.Status = Pass
	}
	return cr
}

// judge decides one signature's status from its counts.
func judge(base, patched stats.Counts) (status string, p float64, more int) {
	up := stats.FisherGreater(patched, base)
	down := stats.FisherGreater(base, patched)
	switch {
	case patched.Hits > 0 && base.Hits == 0:
		return New, up, 0
	case base.Hits > 0 && patched.Hits == 0:
		return Fixed, down, 0
	case up < alpha:
		return New, up, 0
	case down < alpha:
		return Fixed, down, 0
	case rate(patched) > rate(base):
		return Inconclusive, up, runsToDecide(base, patched)
	}
	return Unchanged, min(up, down), 0
}

func rate(c stats.Counts) float64 {
	if c.Runs == 0 {
		return 0
	}
	return float64(c.Hits) / float64(c.Runs)
}

// runsToDecide is the fewest runs per kernel at which the rates seen would
// give a significant difference (0 if none up to 500 would).
func runsToDecide(base, patched stats.Counts) int {
	rb, rp := rate(base), rate(patched)
	for n := max(base.Runs, patched.Runs) + 1; n <= 500; n++ {
		b := stats.Counts{Runs: n, Hits: int(rb*float64(n) + 0.5)}
		p := stats.Counts{Runs: n, Hits: int(rp*float64(n) + 0.5)}
		if stats.FisherGreater(p, b) < alpha {
			return n
		}
	}
	return 0
}
