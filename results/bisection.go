//go:build !faultline_agent

package results

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

// BisectionStep is one step of a bisection as the store keeps it.
type BisectionStep struct {
	Step   int    `json:"step"`
	Kernel string `json:"kernel"`
	// Runs answered, Hits showed the target, Silent said nothing.
	Runs, Hits, Silent int
	// Leader after the step and the confidence in it.
	Leader     string  `json:"leader"`
	Confidence float64 `json:"confidence"`
	// Posterior over the candidates after the step (Candidates' order).
	Posterior []float64 `json:"posterior"`
	Dir       string    `json:"dir"`
	// Note says why a step has no runs (its kernel did not build).
	Note string `json:"note,omitempty"`
}

// Bisection is a bisection's record.
type Bisection struct {
	ID         int64           `json:"id"`
	Created    time.Time       `json:"created"`
	Request    json.RawMessage `json:"request"`
	Status     string          `json:"status"`
	Answer     string          `json:"answer"`
	Confidence float64         `json:"confidence"`
	Steps      []BisectionStep `json:"steps"`
}

// CreateBisection records a new bisection (running) and returns its id.
func (s *Store) CreateBisection(request any) (int64, error) {
	b, err := json.Marshal(request)
	if err != nil {
		return 0, err
	}
	res, err := s.db.Exec(`INSERT INTO bisections (created, request, status) VALUES (?,?,?)`,
		time.Now().UTC().Format(time.RFC3339Nano), string(b), "running")
	if err != nil {
		return 0, fmt.Errorf("result store: %w", err)
	}
	return res.LastInsertId()
}

// AddBisectionStep records a step as it finishes.
func (s *Store) AddBisectionStep(id int64, st BisectionStep) error {
	post, _ := json.Marshal(st.Posterior)
	_, err := s.db.Exec(`INSERT INTO bisection_steps (bisection, step, kernel, runs, hits, silent, leader, confidence, posterior, dir, note)
		VALUES (?,?,?,?,?,?,?,?,?,?,?)`, id, st.Step, st.Kernel, st.Runs, st.Hits, st.Silent, st.Leader, st.Confidence, string(post), st.Dir, st.Note)
	if err != nil {
		return fmt.Errorf("result store: bisection step %d: %w", st.Step, err)
	}
	return nil
}

// FinishBisection records the bisection's end: done (an answer),
// inconclusive, stopped or interrupted, and the whole result.
func (s *Store) FinishBisection(id int64, status, answer string, confidence float64, result any) error {
	b, err := json.Marshal(result)
	if err != nil {
		return err
	}
	if _, err := s.db.Exec(`UPDATE bisections SET status = ?, answer = ?, confidence = ?, result = ? WHERE id = ?`,
		status, answer, confidence, string(b), id); err != nil {
		return fmt.Errorf("result store: %w", err)
	}
	return nil
}

// Bisections returns every bisection in the store with its steps.
func (s *Store) Bisections() ([]*Bisection, error) {
	rows, err := s.db.Query(`SELECT id, created, request, status, COALESCE(answer, ''), COALESCE(confidence, 0) FROM bisections ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("result store: %w", err)
	}
	var out []*Bisection
	byID := map[int64]*Bisection{}
	for rows.Next() {
		b := &Bisection{}
		var created, req string
		if err := rows.Scan(&b.ID, &created, &req, &b.Status, &b.Answer, &b.Confidence); err != nil {
			rows.Close()
			return nil, err
		}
		b.Created, _ = time.Parse(time.RFC3339Nano, created)
		b.Request = json.RawMessage(req)
		out = append(out, b)
		byID[b.ID] = b
	}
	rows.Close()
	srows, err := s.db.Query(`SELECT bisection, step, kernel, runs, hits, silent, leader, confidence, posterior, dir, note FROM bisection_steps ORDER BY bisection, step`)
	if err != nil {
		return nil, fmt.Errorf("result store: %w", err)
	}
	defer srows.Close()
	for srows.Next() {
		var id int64
		var st BisectionStep
		var post string
		if err := srows.Scan(&id, &st.Step, &st.Kernel, &st.Runs, &st.Hits, &st.Silent, &st.Leader, &st.Confidence, &post, &st.Dir, &st.Note); err != nil {
			return nil, err
		}
		_ = json.Unmarshal([]byte(post), &st.Posterior)
		if b := byID[id]; b != nil {
			b.Steps = append(b.Steps, st)
		}
	}
	return out, srows.Err()
}

// WriteBisectionHTML writes a page for a bisection: its answer and, step
// by step, the kernel run, what the runs showed, and the posterior over
// the candidates as bars.
func WriteBisectionHTML(w io.Writer, title string, candidates []string, b *Bisection) error {
	type row struct {
		BisectionStep
		Bars template.HTML
	}
	var rows []row
	for _, st := range b.Steps {
		rows = append(rows, row{st, posteriorSVG(candidates, st.Posterior)})
	}
	return bisectTmpl.Execute(w, struct {
		Title      string
		B          *Bisection
		Candidates []string
		Rows       []row
	}{title, b, candidates, rows})
}

// posteriorSVG draws one bar per candidate, its height the posterior.
func posteriorSVG(candidates []string, post []float64) template.HTML {
	if len(post) == 0 {
		return ""
	}
	const bw, h = 14, 40
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg width="%d" height="%d">`, bw*len(post)+2, h+2)
	for i, p := range post {
		name := ""
		if i < len(candidates) {
			name = candidates[i]
		}
		bh := int(p * h)
		fmt.Fprintf(&sb, `<rect x="%d" y="%d" width="%d" height="%d" fill="#1e88e5"><title>%s: %.3f</title></rect>`,
			1+i*bw, 1+h-bh, bw-2, max(bh, 1), template.HTMLEscapeString(name), p)
	}
	sb.WriteString(`</svg>`)
	return template.HTML(sb.String())
}

var bisectTmpl = template.Must(template.New("bisect").Funcs(template.FuncMap{
	"pct": func(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) },
}).Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1300px}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:middle}th{background:#f4f4f4}</style>
</head><body><h1>{{.Title}}</h1>
<p>Status <b>{{.B.Status}}</b>{{if .B.Answer}}: <b>{{.B.Answer}}</b> at {{pct .B.Confidence}} confidence{{end}}.</p>
<p>Candidates, in the model's order (hover a bar for its name and posterior):</p><ol>{{range .Candidates}}<li>{{.}}</li>{{end}}</ol>
<table><tr><th>step</th><th>kernel</th><th>runs</th><th>showed it</th><th>silent</th><th>leader after it</th><th>confidence</th><th>posterior over the candidates</th><th>runs</th></tr>
{{range .Rows}}<tr><td>{{.Step}}</td><td>{{.Kernel}}</td><td>{{.Runs}}</td><td>{{.Hits}}</td><td>{{.Silent}}</td><td>{{.Leader}}</td><td>{{pct .Confidence}}</td><td>{{.Bars}}</td><td>{{if .Note}}{{.Note}}{{else}}<a href="{{.Dir}}/report.html">campaign</a>{{end}}</td></tr>
{{end}}</table></body></html>
`))
