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

// ReproTrial is one campaign of a repro search: runs of one plan.
type ReproTrial struct {
	N        int      `json:"n"`
	Plan     string   `json:"plan"`
	Workload string   `json:"workload"`
	FS       string   `json:"fs"`
	Inject   []string `json:"inject,omitempty"`
	// Runs answered in this campaign, Hits showed the target; Reach is
	// how many of the report's functions the plan has reached so far.
	Runs, Hits, Reach int
	// Dir is the campaign's directory, relative to the store's.
	Dir string `json:"dir"`
	Why string `json:"why"`
}

// Repro is a repro search's record.
type Repro struct {
	ID      int64           `json:"id"`
	Created time.Time       `json:"created"`
	Request json.RawMessage `json:"request"`
	// Status is running, reproduced, not reproduced or failed: ...
	Status string          `json:"status"`
	Result json.RawMessage `json:"result,omitempty"`
	Trials []ReproTrial    `json:"trials"`
}

// CreateRepro records a new search (running) and returns its id.
func (s *Store) CreateRepro(request any) (int64, error) {
	b, err := json.Marshal(request)
	if err != nil {
		return 0, err
	}
	res, err := s.db.Exec(`INSERT INTO repros (created, request, status) VALUES (?,?,?)`,
		time.Now().UTC().Format(time.RFC3339Nano), string(b), "running")
	if err != nil {
		return 0, fmt.Errorf("result store: %w", err)
	}
	return res.LastInsertId()
}

// AddReproTrial records a trial as it finishes.
func (s *Store) AddReproTrial(id int64, t ReproTrial) error {
	inj, _ := json.Marshal(t.Inject)
	_, err := s.db.Exec(`INSERT INTO repro_trials (repro, n, plan, workload, fs, inject, runs, hits, reach, dir, why)
		VALUES (?,?,?,?,?,?,?,?,?,?,?)`, id, t.N, t.Plan, t.Workload, t.FS, string(inj), t.Runs, t.Hits, t.Reach, t.Dir, t.Why)
	if err != nil {
		return fmt.Errorf("result store: repro trial %d: %w", t.N, err)
	}
	return nil
}

// FinishRepro records the search's end and its whole result.
func (s *Store) FinishRepro(id int64, status string, result any) error {
	b, err := json.Marshal(result)
	if err != nil {
		return err
	}
	if _, err := s.db.Exec(`UPDATE repros SET status = ?, result = ? WHERE id = ?`, status, string(b), id); err != nil {
		return fmt.Errorf("result store: %w", err)
	}
	return nil
}

// Repros returns every repro search in the store with its trials.
func (s *Store) Repros() ([]*Repro, error) {
	rows, err := s.db.Query(`SELECT id, created, request, status, COALESCE(result, '') FROM repros ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("result store: %w", err)
	}
	var out []*Repro
	byID := map[int64]*Repro{}
	for rows.Next() {
		r := &Repro{}
		var created, req, res string
		if err := rows.Scan(&r.ID, &created, &req, &r.Status, &res); err != nil {
			rows.Close()
			return nil, err
		}
		r.Created, _ = time.Parse(time.RFC3339Nano, created)
		r.Request = json.RawMessage(req)
		if res != "" {
			r.Result = json.RawMessage(res)
		}
		out = append(out, r)
		byID[r.ID] = r
	}
	rows.Close()
	trows, err := s.db.Query(`SELECT repro, n, plan, workload, fs, inject, runs, hits, reach, dir, why FROM repro_trials ORDER BY repro, n`)
	if err != nil {
		return nil, fmt.Errorf("result store: %w", err)
	}
	defer trows.Close()
	for trows.Next() {
		var id int64
		var t ReproTrial
		var inj string
		if err := trows.Scan(&id, &t.N, &t.Plan, &t.Workload, &t.FS, &inj, &t.Runs, &t.Hits, &t.Reach, &t.Dir, &t.Why); err != nil {
			return nil, err
		}
		_ = json.Unmarshal([]byte(inj), &t.Inject)
		if r := byID[id]; r != nil {
			r.Trials = append(r.Trials, t)
		}
	}
	return out, trows.Err()
}

// WriteReproHTML writes a page for a repro search: its answer, then every
// trial in the order it ran (plan, injections, runs, shows, reach, why),
// each linked to its campaign's report.
func WriteReproHTML(w io.Writer, title, answer string, r *Repro) error {
	return reproTmpl.Execute(w, struct {
		Title, Answer string
		R             *Repro
	}{title, answer, r})
}

var reproTmpl = template.Must(template.New("repro").Funcs(template.FuncMap{
	"join": func(s []string) string { return strings.Join(s, "\n") },
}).Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f4f4f4}pre{margin:0;font-size:85%}td.why{font-size:85%;max-width:40em}</style>
</head><body><h1>{{.Title}}</h1>
<p>Status <b>{{.R.Status}}</b>. {{.Answer}}</p>
<table><tr><th>trial</th><th>plan</th><th>workload</th><th>fs</th><th>injections</th><th>runs</th><th>showed it</th><th>reach</th><th>why</th><th>runs</th></tr>
{{range .R.Trials}}<tr><td>{{.N}}</td><td>{{.Plan}}</td><td>{{.Workload}}</td><td>{{.FS}}</td><td><pre>{{join .Inject}}</pre></td><td>{{.Runs}}</td><td>{{.Hits}}</td><td>{{.Reach}}</td><td class="why">{{.Why}}</td><td><a href="{{.Dir}}/report.html">campaign</a></td></tr>
{{end}}</table></body></html>
`))
