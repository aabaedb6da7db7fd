package results

import (
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

const nightlySchema = `
CREATE TABLE IF NOT EXISTS nights (
  id INTEGER PRIMARY KEY, started TEXT NOT NULL, updated TEXT NOT NULL, kernel TEXT NOT NULL, kernel_id TEXT NOT NULL,
  label TEXT NOT NULL, dir TEXT NOT NULL, status TEXT NOT NULL, runs INTEGER NOT NULL DEFAULT 0,
  answered INTEGER NOT NULL DEFAULT 0, note TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS night_crashes (
  night INTEGER NOT NULL, key TEXT NOT NULL, title TEXT NOT NULL, signature TEXT NOT NULL, scenario TEXT NOT NULL,
  case_name TEXT NOT NULL, count INTEGER NOT NULL, runs INTEGER NOT NULL, PRIMARY KEY (night, key));
CREATE TABLE IF NOT EXISTS night_bisections (
  night INTEGER NOT NULL, key TEXT NOT NULL, good TEXT NOT NULL, bad TEXT NOT NULL, dir TEXT NOT NULL,
  status TEXT NOT NULL, answer TEXT NOT NULL DEFAULT '', confidence REAL NOT NULL DEFAULT 0, note TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (night, key));
`

// Night is one nightly test of the newest kernel of a series.
type Night struct {
	ID      int64     `json:"id"`
	Started time.Time `json:"started"`
	Updated time.Time `json:"updated"`
	// Kernel is the kernel spec run, KernelID its identity (a package name
	// or a commit), Label how it is shown.
	Kernel   string `json:"kernel"`
	KernelID string `json:"kernel_id"`
	Label    string `json:"label"`
	// Dir is the night's directory (its campaign and bisections), relative
	// to the store.
	Dir string `json:"dir"`
	// Status: running (the campaign), tested (compared, bisecting), done,
	// or no-answer (every run hit harness trouble).
	Status string `json:"status"`
	// Runs made and Answered (not harness trouble).
	Runs     int    `json:"runs"`
	Answered int    `json:"answered"`
	Note     string `json:"note,omitempty"`
	// Crashes seen this night and the bisections started from it.
	Crashes    []NightCrash     `json:"crashes"`
	Bisections []NightBisection `json:"bisections,omitempty"`
}

// NightCrash is a crash kind seen in a night: Key is "signature:ID" or
// "title:TITLE"; "ran:CASE" (Count 0) records a case that ran without a
// crash.
type NightCrash struct {
	Key       string `json:"key"`
	Title     string `json:"title"`
	Signature string `json:"signature,omitempty"`
	// Scenario (its file) and Case that showed it; Count of Runs of that
	// case.
	Scenario string `json:"scenario"`
	Case     string `json:"case"`
	Count    int    `json:"count"`
	Runs     int    `json:"runs"`
}

// NightBisection is a bisection a night started for a new crash.
type NightBisection struct {
	Key  string `json:"key"`
	Good string `json:"good"`
	Bad  string `json:"bad"`
	Dir  string `json:"dir"`
	// Status: running, done, inconclusive, stopped or failed.
	Status     string  `json:"status"`
	Answer     string  `json:"answer,omitempty"`
	Confidence float64 `json:"confidence"`
	Note       string  `json:"note,omitempty"`
}

func (s *Store) nightly() error {
	if _, err := s.db.Exec(nightlySchema); err != nil {
		return fmt.Errorf("result store: %w", err)
	}
	return nil
}

// CreateNight records a night as running and returns its id.
func (s *Store) CreateNight(n *Night) error {
	if err := s.nightly(); err != nil {
		return err
	}
	now := time.Now().UTC()
	res, err := s.db.Exec(`INSERT INTO nights (started, updated, kernel, kernel_id, label, dir, status) VALUES (?,?,?,?,?,?,?)`,
		now.Format(time.RFC3339Nano), now.Format(time.RFC3339Nano), n.Kernel, n.KernelID, n.Label, n.Dir, "running")
	if err != nil {
		return fmt.Errorf("result store: %w", err)
	}
	n.ID, _ = res.LastInsertId()
	n.Started, n.Updated, n.Status = now, now, "running"
	return nil
}

// SetNightDir records the night's directory.
func (s *Store) SetNightDir(id int64, dir string) error {
	if _, err := s.db.Exec(`UPDATE nights SET dir = ? WHERE id = ?`, dir, id); err != nil {
		return fmt.Errorf("result store: %w", err)
	}
	return nil
}

// TestedNight records a night's campaign result: its crashes, runs and
// status (tested or no-answer).
func (s *Store) TestedNight(id int64, status string, runs, answered int, note string, crashes []NightCrash) error {
	tx, err := s.db.Begin()
	if err != nil {
		return fmt.Errorf("result store: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`DELETE FROM night_crashes WHERE night = ?`, id); err != nil {
		return fmt.Errorf("result store: %w", err)
	}
	for _, c := range crashes {
		if _, err := tx.Exec(`INSERT INTO night_crashes VALUES (?,?,?,?,?,?,?,?)`, id, c.Key, c.Title, c.Signature, c.Scenario, c.Case, c.Count, c.Runs); err != nil {
			return fmt.Errorf("result store: %w", err)
		}
	}
	if _, err := tx.Exec(`UPDATE nights SET status = ?, runs = ?, answered = ?, note = ?, updated = ? WHERE id = ?`,
		status, runs, answered, note, time.Now().UTC().Format(time.RFC3339Nano), id); err != nil {
		return fmt.Errorf("result store: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("result store: %w", err)
	}
	return nil
}

// SetNightStatus records a night's status.
func (s *Store) SetNightStatus(id int64, status, note string) error {
	if _, err := s.db.Exec(`UPDATE nights SET status = ?, note = ?, updated = ? WHERE id = ?`,
		status, note, time.Now().UTC().Format(time.RFC3339Nano), id); err != nil {
		return fmt.Errorf("result store: %w", err)
	}
	return nil
}

// PutNightBisection records (or updates) a night's bisection.
func (s *Store) PutNightBisection(night int64, b NightBisection) error {
	if _, err := s.db.Exec(`INSERT OR REPLACE INTO night_bisections VALUES (?,?,?,?,?,?,?,?,?)`,
		night, b.Key, b.Good, b.Bad, b.Dir, b.Status, b.Answer, b.Confidence, b.Note); err != nil {
		return fmt.Errorf("result store: %w", err)
	}
	return nil
}

// Nights returns every night, oldest first, with its crashes and
// bisections.
func (s *Store) Nights() ([]*Night, error) {
	if err := s.nightly(); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(`SELECT id, started, updated, kernel, kernel_id, label, dir, status, runs, answered, note FROM nights ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("result store: %w", err)
	}
	var out []*Night
	byID := map[int64]*Night{}
	for rows.Next() {
		n := &Night{}
		var st, up string
		if err := rows.Scan(&n.ID, &st, &up, &n.Kernel, &n.KernelID, &n.Label, &n.Dir, &n.Status, &n.Runs, &n.Answered, &n.Note); err != nil {
			rows.Close()
			return nil, err
		}
		n.Started, _ = time.Parse(time.RFC3339Nano, st)
		n.Updated, _ = time.Parse(time.RFC3339Nano, up)
		out = append(out, n)
		byID[n.ID] = n
	}
	rows.Close()
	crows, err := s.db.Query(`SELECT night, key, title, signature, scenario, case_name, count, runs FROM night_crashes ORDER BY night, count DESC, key`)
	if err != nil {
		return nil, fmt.Errorf("result store: %w", err)
	}
	for crows.Next() {
		var id int64
		var c NightCrash
		if err := crows.Scan(&id, &c.Key, &c.Title, &c.Signature, &c.Scenario, &c.Case, &c.Count, &c.Runs); err != nil {
			crows.Close()
			return nil, err
		}
		if n := byID[id]; n != nil {
			n.Crashes = append(n.Crashes, c)
		}
	}
	crows.Close()
	brows, err := s.db.Query(`SELECT night, key, good, bad, dir, status, answer, confidence, note FROM night_bisections ORDER BY night, key`)
	if err != nil {
		return nil, fmt.Errorf("result store: %w", err)
	}
	defer brows.Close()
	for brows.Next() {
		var id int64
		var b NightBisection
		if err := brows.Scan(&id, &b.Key, &b.Good, &b.Bad, &b.Dir, &b.Status, &b.Answer, &b.Confidence, &b.Note); err != nil {
			return nil, err
		}
		if n := byID[id]; n != nil {
			n.Bisections = append(n.Bisections, b)
		}
	}
	return out, brows.Err()
}

// CrashIndexRow says where a crash kind was seen across nights.
type CrashIndexRow struct {
	Key, Title string
	// First and Last are the labels of the first and last kernels it was
	// seen on; Kernels how many kernels, Count how many runs.
	First, Last    string
	Kernels, Count int
}

// CrashIndex returns every crash kind the nights saw, first seen first.
func CrashIndex(nights []*Night) []CrashIndexRow {
	var out []CrashIndexRow
	at := map[string]int{}
	for _, n := range nights {
		for _, c := range n.Crashes {
			if strings.HasPrefix(c.Key, "ran:") { // a case that ran clean
				continue
			}
			i, ok := at[c.Key]
			if !ok {
				at[c.Key] = len(out)
				out = append(out, CrashIndexRow{Key: c.Key, Title: c.Title, First: n.Label})
				i = len(out) - 1
			}
			out[i].Last = n.Label
			out[i].Kernels++
			out[i].Count += c.Count
		}
	}
	return out
}

// WriteNightlyHTML writes the nightly store's page: every night, the crash
// index and the bisections, with links to their reports.
func WriteNightlyHTML(w io.Writer, title string, nights []*Night) error {
	return nightlyTmpl.Execute(w, struct {
		Title  string
		Nights []*Night
		Index  []CrashIndexRow
	}{title, nights, CrashIndex(nights)})
}

var nightlyTmpl = template.Must(template.New("nightly").Funcs(template.FuncMap{
	"pct":  func(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) },
	"date": func(t time.Time) string { return t.Local().Format("2006-01-02 15:04") },
}).Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1300px}table{border-collapse:collapse;margin-bottom:2em}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f4f4f4}</style>
</head><body><h1>{{.Title}}</h1>
<h2>Nights</h2>
<table><tr><th>night</th><th>started</th><th>kernel</th><th>status</th><th>runs (answered)</th><th>crashes</th><th>bisections</th></tr>
{{range .Nights}}<tr><td>{{.ID}}</td><td>{{date .Started}}</td><td>{{.Label}}</td><td>{{.Status}}{{if .Note}}: {{.Note}}{{end}}</td><td>{{.Runs}} ({{.Answered}})</td>
<td>{{range .Crashes}}{{if .Count}}{{.Key}}: {{.Count}} of {{.Runs}} runs of {{.Case}}{{else}}{{.Case}}: {{.Runs}} runs, no crash{{end}}<br>{{end}}<a href="{{.Dir}}/campaign/report.html">campaign</a></td>
<td>{{range .Bisections}}{{.Key}}: {{.Status}}{{if .Answer}}: <b>{{.Answer}}</b> at {{pct .Confidence}}{{end}}{{if .Note}} ({{.Note}}){{end}} <a href="{{.Dir}}/report.html">report</a><br>{{end}}</td></tr>
{{end}}</table>
<h2>Crash index</h2>
<table><tr><th>crash</th><th>first seen on</th><th>last seen on</th><th>kernels</th><th>runs</th></tr>
{{range .Index}}<tr><td>{{.Key}}</td><td>{{.First}}</td><td>{{.Last}}</td><td>{{.Kernels}}</td><td>{{.Count}}</td></tr>
{{end}}</table></body></html>
`))
