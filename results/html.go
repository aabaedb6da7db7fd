//go:build !faultline_agent

package results

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"faultline/verdict"
)

// verdictColor is each verdict's colour in the report.
var verdictColor = map[string]string{
	verdict.Clean: "#4caf50", verdict.Crash: "#e53935", verdict.Integrity: "#8e24aa", verdict.Hang: "#fb8c00",
	verdict.Boot: "#6d4c41", verdict.Infra: "#9e9e9e", verdict.Expect: "#1e88e5",
}

type crashGroup struct {
	Signature string
	Titles    map[string]int
	Runs      []*Run
	Excerpt   string
	First     *Run
}

type counterRow struct {
	Case, Kind, Name string
	Runs             int
	MinHits, Total   int64
	Fired            int64
	Zero             int
	Reason           string
	// Delay, BudgetSkips, UntilMet: delay probes' totals (see Counter).
	Delay                 time.Duration
	BudgetSkips, UntilMet int64
}

// WriteHTML writes a self-contained HTML report of a campaign: summary,
// plots (verdicts over runs, time to first crash per case) as inline SVG,
// crashes grouped by signature with console excerpts, probe and reach
// counters, and every run with links to its files.
func WriteHTML(w io.Writer, s *Summary, runs []*Run, crashes []CrashRow) error {
	var final []*Run
	for _, r := range runs {
		if r.Final {
			final = append(final, r)
		}
	}
	groups := map[string]*crashGroup{}
	var gorder []string
	for _, r := range final {
		if r.Title == "" {
			continue
		}
		sig := r.Signature
		if sig == "" {
			sig = "new"
		}
		g := groups[sig]
		if g == nil {
			g = &crashGroup{Signature: sig, Titles: map[string]int{}, First: r, Excerpt: excerptLines(r.Excerpt, 60)}
			groups[sig] = g
			gorder = append(gorder, sig)
		}
		g.Titles[r.Title]++
		g.Runs = append(g.Runs, r)
	}
	var glist []*crashGroup
	for _, k := range gorder {
		glist = append(glist, groups[k])
	}
	var counters []counterRow
	idx := map[string]int{}
	for _, r := range final {
		for _, c := range r.Counters {
			key := r.Case + "\x00" + c.Kind + "\x00" + c.Name
			i, ok := idx[key]
			if !ok {
				i = len(counters)
				idx[key] = i
				counters = append(counters, counterRow{Case: r.Case, Kind: c.Kind, Name: c.Name, MinHits: math.MaxInt64})
			}
			row := &counters[i]
			row.Runs++
			row.Total += c.Hits
			row.Fired += c.Fired
			row.Delay += c.Delay
			row.BudgetSkips += c.BudgetSkips
			row.UntilMet += c.UntilMet
			row.MinHits = min(row.MinHits, c.Hits)
			if c.Hits == 0 {
				row.Zero++
			}
			if c.Reason != "" {
				row.Reason = c.Reason
			}
		}
	}
	var byCase []*caseCounters
	for _, row := range counters {
		if n := len(byCase); n == 0 || byCase[n-1].Case != row.Case {
			byCase = append(byCase, &caseCounters{Case: row.Case})
		}
		byCase[len(byCase)-1].Rows = append(byCase[len(byCase)-1].Rows, row)
	}
	data := struct {
		S        *Summary
		Title    string
		Runs     []*Run
		Groups   []*crashGroup
		Counters []*caseCounters
		Crashes  []CrashRow
		Verdicts template.HTML
		First    template.HTML
		Legend   template.HTML
	}{s, reportTitle(s), runs, glist, byCase, crashes, verdictsSVG(s, final), firstCrashSVG(s), legend()}
	return reportTmpl.Execute(w, data)
}

// caseCounters are one case's counter rows, shown folded.
type caseCounters struct {
	Case string
	Rows []counterRow
}

// reportTitle says what ran: the scenarios, the kernels and the date.
func reportTitle(s *Summary) string {
	var scen, kern []string
	seen := map[string]bool{}
	for _, c := range s.Cases {
		name, _, _ := strings.Cut(c.Case, "/")
		if !seen["s"+name] {
			seen["s"+name] = true
			scen = append(scen, name)
		}
		if c.Kernel != "" && !seen["k"+c.Kernel] {
			seen["k"+c.Kernel] = true
			kern = append(kern, c.Kernel)
		}
	}
	if len(scen) > 4 {
		scen = append(scen[:3], fmt.Sprintf("%d more", len(scen)-3))
	}
	t := "faultline: " + strings.Join(scen, ", ")
	if len(kern) > 0 {
		t += " on " + strings.Join(kern, ", ")
	}
	if s.Campaign != nil {
		t += ", " + s.Campaign.Created.Format("2006-01-02")
	}
	return t
}

// counterNote explains a counter's reason: a point the kernel does not
// have is not an error of the run.
func counterNote(reason string) string {
	if strings.Contains(reason, "unknown kernel symbol") {
		return "not in this kernel or its loaded modules: not applicable here (" + reason + ")"
	}
	return reason
}

func excerptLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append(lines[:n], fmt.Sprintf("[... %d more lines]", len(lines)-n))
	}
	return strings.Join(lines, "\n")
}

func legend() template.HTML {
	var b strings.Builder
	for _, v := range verdict.All {
		fmt.Fprintf(&b, `<span class="lg"><svg width="12" height="12"><rect width="12" height="12" fill="%s"/></svg> %s</span> `, verdictColor[v], v)
	}
	return template.HTML(b.String())
}

// verdictsSVG draws one row per case, one square per run in plan order,
// coloured by verdict.
func verdictsSVG(s *Summary, final []*Run) template.HTML {
	const cell, gap, label = 14, 2, 260
	byCase := map[string][]*Run{}
	maxN := 1
	for _, r := range final {
		byCase[r.Case] = append(byCase[r.Case], r)
		maxN = max(maxN, len(byCase[r.Case]))
	}
	width := label + maxN*(cell+gap) + 10
	height := len(s.Cases)*(cell+6) + 10
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`, width, height)
	for i, cs := range s.Cases {
		y := 5 + i*(cell+6)
		fmt.Fprintf(&b, `<text x="0" y="%d">%s</text>`, y+cell-2, template.HTMLEscapeString(cs.Case))
		rs := byCase[cs.Case]
		sort.Slice(rs, func(a, c int) bool { return rs[a].Index < rs[c].Index })
		for j, r := range rs {
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"><title>run %d seed %d: %s %s</title></rect>`,
				label+j*(cell+gap), y, cell, cell, verdictColor[r.Verdict], r.Index+1, r.Seed, r.Verdict, template.HTMLEscapeString(r.Title))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// firstCrashSVG draws, per case, a dot at each reproducing run's time to
// first crash (guest seconds since boot) and a bar at the median.
func firstCrashSVG(s *Summary) template.HTML {
	const label, plot, row = 260, 480, 22
	maxT := 1.0
	any := false
	for _, cs := range s.Cases {
		for _, t := range cs.FirstCrash {
			maxT = math.Max(maxT, t)
			any = true
		}
	}
	if !any {
		return template.HTML(`<p>No run crashed with a timestamped report.</p>`)
	}
	maxT = niceCeil(maxT)
	height := len(s.Cases)*row + 40
	x := func(t float64) float64 { return label + t/maxT*plot }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`, label+plot+40, height)
	base := len(s.Cases)*row + 8
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>`, label, base, label+plot, base)
	for k := 0; k <= 4; k++ {
		t := maxT * float64(k) / 4
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ccc"/><text x="%.1f" y="%d" text-anchor="middle">%gs</text>`,
			x(t), 0, x(t), base, x(t), base+16, math.Round(t*10)/10)
	}
	for i, cs := range s.Cases {
		y := i*row + row/2 + 2
		fmt.Fprintf(&b, `<text x="0" y="%d">%s</text>`, y+4, template.HTMLEscapeString(cs.Case))
		for _, t := range cs.FirstCrash {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%d" r="4" fill="#e53935" fill-opacity="0.6"><title>%.1f s</title></circle>`, x(t), y, t)
		}
		if cs.MedianFirstCrash >= 0 {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#000" stroke-width="2"><title>median %.1f s</title></line>`,
				x(cs.MedianFirstCrash), y-8, x(cs.MedianFirstCrash), y+8, cs.MedianFirstCrash)
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func niceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"color": func(v string) string { return verdictColor[v] },
	"f1":    func(f float64) string { return fmt.Sprintf("%.1f", f) },
	"pct":   func(f float64) string { return fmt.Sprintf("%.0f%%", 100*f) },
	"vlist": verdictList,
	"add1":  func(i int) int { return i + 1 },
	"note":  counterNote,
	"fc": func(f float64) string {
		if f < 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f", f)
	},
}).Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body{font-family:sans-serif;margin:2em;max-width:1300px}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4}pre{background:#f8f8f8;border:1px solid #ddd;padding:8px;overflow-x:auto;font-size:12px}
.v{color:#fff;padding:1px 6px;border-radius:3px}.lg{margin-right:1em}.num{text-align:right}
</style></head><body>
<h1>{{.Title}}</h1>
<p>Created {{.S.Campaign.Created.Format "2006-01-02 15:04:05 MST"}}, status <b>{{.S.Campaign.Status}}</b>, seed {{.S.Campaign.Seed}}, parallel {{.S.Campaign.Parallel}}.<br>
{{.S.Finished}}/{{.S.Planned}} runs finished, {{.S.Passed}} passed: {{vlist .S.Verdicts}}.<br>
Wall {{.S.Campaign.Elapsed.Round 1000000000}}, {{printf "%.0f" .S.RunsPerHour}} VM runs/hour; boot {{f1 .S.MeanBoot}} s of {{f1 .S.MeanWall}} s per run ({{pct .S.BootShare}} of VM time).</p>
<h2>Cases</h2>
<table><tr><th>case</th><th>kernel</th><th>expect</th><th>runs</th><th>passed</th><th>verdicts</th><th>reproduced</th><th>first crash median / max (s since boot)</th></tr>
{{range .S.Cases}}<tr><td>{{.Case}}</td><td>{{.Kernel}}</td><td>{{.Expect}}</td><td class="num">{{.Runs}}</td><td class="num">{{.Passed}}</td><td>{{vlist .Verdicts}}</td><td class="num">{{.Reproduced}}</td><td>{{fc .MedianFirstCrash}} / {{fc .MaxFirstCrash}}</td></tr>
{{end}}</table>
<h2>Verdicts over runs</h2>
<p>{{.Legend}}</p>
{{.Verdicts}}
<h2>Time to first crash</h2>
{{.First}}
<h2>Crashes by signature</h2>
{{range .Groups}}<h3>{{.Signature}} ({{len .Runs}} runs)</h3>
<ul>{{range $t, $n := .Titles}}<li>{{$t}}: {{$n}}</li>{{end}}</ul>
<p>First seen in run {{add1 .First.Index}} ({{.First.Case}}, {{.First.Kernel}}, seed {{.First.Seed}}): <a href="{{.First.Dir}}/console.log">console</a></p>
<pre>{{.Excerpt}}</pre>
{{else}}<p>No crash.</p>{{end}}
<h2>Crash index (per kernel)</h2>
<table><tr><th>kernel</th><th>title</th><th>signature</th><th>count</th><th>first seen</th><th>last seen</th></tr>
{{range .Crashes}}<tr><td>{{.Kernel}}</td><td>{{.Title}}</td><td>{{.Signature}}</td><td class="num">{{.Count}}</td><td>{{.FirstSeen.Format "2006-01-02 15:04:05"}}</td><td>{{.LastSeen.Format "2006-01-02 15:04:05"}}</td></tr>
{{end}}</table>
<h2>Probe and reach counters</h2>
<p>Per case (click to open), summed over its finished runs; "min" is the smallest count of a single run (0: some run never reached it); delay is a delay probe's total busy-wait, budget skips the delays its per-second budget refused, ended early the delays its until= test cut short.</p>
{{range .Counters}}<details><summary>{{.Case}}: {{len .Rows}} points</summary>
<table><tr><th>kind</th><th>point</th><th>runs</th><th>hits</th><th>fired</th><th>min hits/run</th><th>runs with 0</th><th>delay</th><th>budget skips</th><th>ended early</th><th>note</th></tr>
{{range .Rows}}<tr><td>{{.Kind}}</td><td>{{.Name}}</td><td class="num">{{.Runs}}</td><td class="num">{{.Total}}</td><td class="num">{{.Fired}}</td><td class="num">{{.MinHits}}</td><td class="num">{{.Zero}}</td><td class="num">{{if .Delay}}{{.Delay.Round 1000000}}{{end}}</td><td class="num">{{if .BudgetSkips}}{{.BudgetSkips}}{{end}}</td><td class="num">{{if .UntilMet}}{{.UntilMet}}{{end}}</td><td>{{note .Reason}}</td></tr>
{{end}}</table></details>
{{else}}<p>No counters.</p>{{end}}
<h2>Runs</h2>
<table><tr><th>#</th><th>case</th><th>kernel</th><th>seed</th><th>verdict</th><th>pass</th><th>title</th><th>signature</th><th>first crash</th><th>boot s</th><th>wall s</th><th>detail</th><th>files</th></tr>
{{range .Runs}}<tr><td>{{add1 .Index}}{{if gt .Attempt 1}}.{{.Attempt}}{{end}}{{if not .Final}} (not final){{end}}</td><td>{{.Case}}</td><td>{{.Kernel}}</td><td>{{.Seed}}</td>
<td><span class="v" style="background:{{color .Verdict}}">{{.Verdict}}</span></td><td>{{if .Pass}}yes{{else}}no{{end}}</td><td>{{.Title}}</td><td>{{.Signature}}</td><td>{{fc .FirstCrash}}</td>
<td class="num">{{f1 .Boot}}</td><td class="num">{{f1 .Wall}}</td><td>{{.Detail}}</td>
<td><a href="{{.Dir}}/console.log">console</a> <a href="{{.Dir}}/stdout.txt">stdout</a> <a href="{{.Dir}}/stderr.txt">stderr</a></td></tr>
{{end}}</table>
</body></html>
`))
