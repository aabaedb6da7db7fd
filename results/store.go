//go:build !faultline_agent

package results

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	_ "modernc.org/sqlite" // pure-Go SQLite driver

	"faultline/verdict"
)

// StoreFile is the database's name inside an out directory.
const StoreFile = "faultline.db"

// ErrNoCampaign is returned when a directory holds no campaign.
var ErrNoCampaign = errors.New("no campaign")

// Store is a campaign's result store: an SQLite database (WAL) in the out
// directory, with each run's files in runs/NNNN-CASE/ beside it. Every
// finished run is committed in its own transaction, so a crash of faultline
// loses no finished run.
type Store struct {
	Dir string
	db  *sql.DB
}

const schema = `
CREATE TABLE IF NOT EXISTS campaigns (
  id INTEGER PRIMARY KEY, created TEXT NOT NULL, seed INTEGER NOT NULL, parallel INTEGER NOT NULL,
  argv TEXT NOT NULL, status TEXT NOT NULL, updated TEXT NOT NULL, elapsed_s REAL NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS scenarios (
  campaign INTEGER NOT NULL, name TEXT NOT NULL, path TEXT NOT NULL, hash TEXT NOT NULL, source BLOB NOT NULL,
  PRIMARY KEY (campaign, name));
CREATE TABLE IF NOT EXISTS planned (
  campaign INTEGER NOT NULL, idx INTEGER NOT NULL, case_name TEXT NOT NULL, scenario TEXT NOT NULL,
  kernel_spec TEXT NOT NULL, run_no INTEGER NOT NULL, seed INTEGER NOT NULL, expect TEXT NOT NULL,
  PRIMARY KEY (campaign, idx));
CREATE TABLE IF NOT EXISTS kernels (
  name TEXT PRIMARY KEY, release TEXT NOT NULL, spec TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY, campaign INTEGER NOT NULL, idx INTEGER NOT NULL, attempt INTEGER NOT NULL,
  case_name TEXT NOT NULL, kernel TEXT NOT NULL, release TEXT NOT NULL, seed INTEGER NOT NULL,
  started TEXT NOT NULL, boot_s REAL, run_s REAL, wall_s REAL,
  verdict TEXT NOT NULL, pass INTEGER NOT NULL, title TEXT, signature TEXT, detail TEXT,
  fault TEXT, error TEXT, exit_code INTEGER, first_crash_s REAL,
  dir TEXT NOT NULL, excerpt TEXT, outcome TEXT NOT NULL, final INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS runs_idx ON runs (campaign, idx);
CREATE TABLE IF NOT EXISTS reports (
  run INTEGER NOT NULL, n INTEGER NOT NULL, title TEXT NOT NULL, signature TEXT, type TEXT, frame TEXT,
  corrupted INTEGER, start_line INTEGER, end_line INTEGER, PRIMARY KEY (run, n));
CREATE TABLE IF NOT EXISTS crashes (
  kernel TEXT NOT NULL, title TEXT NOT NULL, signature TEXT, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
  first_run INTEGER NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (kernel, title));
CREATE TABLE IF NOT EXISTS counters (
  run INTEGER NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL, hits INTEGER, fired INTEGER, filtered INTEGER,
  per_second REAL, attached INTEGER, reason TEXT, PRIMARY KEY (run, kind, name));
CREATE TABLE IF NOT EXISTS integrity (
  run INTEGER PRIMARY KEY, checked_bytes INTEGER, bad_blocks INTEGER, ok INTEGER, first_bad TEXT);
CREATE TABLE IF NOT EXISTS bisections (
  id INTEGER PRIMARY KEY, created TEXT NOT NULL, request TEXT NOT NULL, status TEXT NOT NULL,
  answer TEXT, confidence REAL, result TEXT);
CREATE TABLE IF NOT EXISTS bisection_steps (
  bisection INTEGER NOT NULL, step INTEGER NOT NULL, kernel TEXT NOT NULL, runs INTEGER, hits INTEGER,
  silent INTEGER, leader TEXT, confidence REAL, posterior TEXT, dir TEXT, PRIMARY KEY (bisection, step));
CREATE TABLE IF NOT EXISTS repros (
  id INTEGER PRIMARY KEY, created TEXT NOT NULL, request TEXT NOT NULL, status TEXT NOT NULL, result TEXT);
CREATE TABLE IF NOT EXISTS repro_trials (
  repro INTEGER NOT NULL, n INTEGER NOT NULL, plan TEXT NOT NULL, workload TEXT, fs TEXT, inject TEXT,
  runs INTEGER, hits INTEGER, reach INTEGER, dir TEXT, why TEXT, PRIMARY KEY (repro, n));
`

// OpenStore opens (creating if needed) the store in dir.
func OpenStore(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("result store: %w", err)
	}
	path := filepath.Join(dir, StoreFile)
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)")
	if err != nil {
		return nil, fmt.Errorf("result store %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("result store %s: %w", path, err)
	}
	if err := addColumns(db, "planned", [][2]string{{"duration_ns", "INTEGER NOT NULL DEFAULT 0"}}); err != nil {
		db.Close()
		return nil, fmt.Errorf("result store %s: %w", path, err)
	}
	if err := addColumns(db, "runs", [][2]string{{"timed_start_s", "REAL NOT NULL DEFAULT -1"}}); err != nil {
		db.Close()
		return nil, fmt.Errorf("result store %s: %w", path, err)
	}
	if err := addColumns(db, "bisection_steps", [][2]string{{"note", "TEXT NOT NULL DEFAULT ''"}}); err != nil {
		db.Close()
		return nil, fmt.Errorf("result store %s: %w", path, err)
	}
	if err := addColumns(db, "counters", counterColumns); err != nil {
		db.Close()
		return nil, fmt.Errorf("result store %s: %w", path, err)
	}
	return &Store{Dir: dir, db: db}, nil
}

// counterColumns are the counters table's columns added after its first
// version (the schema above), with their definitions. OpenStore adds those a
// store lacks, new or written by an older faultline: old rows keep every
// value and read 0 in the new columns.
var counterColumns = [][2]string{
	{"delay_ns", "INTEGER NOT NULL DEFAULT 0"},
	{"budget_skips", "INTEGER NOT NULL DEFAULT 0"},
	{"until_met", "INTEGER NOT NULL DEFAULT 0"},
}

// addColumns adds to table those of cols it lacks. A column that another
// faultline opening the same store added meanwhile is not an error.
func addColumns(db *sql.DB, table string, cols [][2]string) error {
	have, err := columns(db, table)
	if err != nil {
		return err
	}
	for _, c := range cols {
		if have[c[0]] {
			continue
		}
		if _, err := db.Exec(`ALTER TABLE ` + table + ` ADD COLUMN ` + c[0] + ` ` + c[1]); err != nil {
			if now, cerr := columns(db, table); cerr == nil && now[c[0]] {
				continue
			}
			return fmt.Errorf("add column %s.%s: %w", table, c[0], err)
		}
	}
	return nil
}

// columns returns the names of table's columns.
func columns(db *sql.DB, table string) (map[string]bool, error) {
	rows, err := db.Query(`SELECT name FROM pragma_table_info(?)`, table)
	if err != nil {
		return nil, fmt.Errorf("columns of %s: %w", table, err)
	}
	have := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return nil, fmt.Errorf("columns of %s: %w", table, err)
		}
		have[name] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("columns of %s: %w", table, err)
	}
	return have, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Campaign is a campaign's record.
type Campaign struct {
	ID       int64     `json:"id"`
	Created  time.Time `json:"created"`
	Seed     int64     `json:"seed"`
	Parallel int       `json:"parallel"`
	Argv     []string  `json:"argv"`
	// Status is running, interrupted, failed or done.
	Status  string    `json:"status"`
	Updated time.Time `json:"updated"`
	// Elapsed is the wall time spent running it, over all sessions.
	Elapsed time.Duration `json:"elapsed_ns"`
}

// PlannedRun is one run a campaign will make.
type PlannedRun struct {
	Index    int    `json:"index"`
	Case     string `json:"case"`
	Scenario string `json:"scenario"`
	Kernel   string `json:"kernel_spec"`
	RunNo    int    `json:"run_no"`
	Seed     int64  `json:"seed"`
	Expect   string `json:"expect"`
	// Duration is the run's duration when the campaign replaced the
	// scenario's (0: the scenario's).
	Duration time.Duration `json:"duration_ns,omitempty"`
}

// ScenarioText is a scenario as the campaign recorded it.
type ScenarioText struct {
	Name, Path, Hash string
	Source           []byte
}

// Create records a new campaign and its plan. It refuses a directory that
// already holds one (nothing recorded is ever overwritten).
func (s *Store) Create(c *Campaign, scenarios []ScenarioText, plan []PlannedRun) error {
	var n int
	if err := s.db.QueryRow(`SELECT count(*) FROM campaigns`).Scan(&n); err != nil {
		return fmt.Errorf("result store: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("%s already holds a campaign: finish it with faultline run --resume %s, or choose another --out", s.Dir, s.Dir)
	}
	tx, err := s.db.Begin()
	if err != nil {
		return fmt.Errorf("result store: %w", err)
	}
	defer tx.Rollback()
	now := time.Now().UTC()
	argv, _ := json.Marshal(c.Argv)
	res, err := tx.Exec(`INSERT INTO campaigns (created, seed, parallel, argv, status, updated) VALUES (?,?,?,?,?,?)`,
		now.Format(time.RFC3339Nano), c.Seed, c.Parallel, string(argv), "running", now.Format(time.RFC3339Nano))
	if err != nil {
		return fmt.Errorf("result store: %w", err)
	}
	c.ID, _ = res.LastInsertId()
	c.Created, c.Status = now, "running"
	for _, sc := range scenarios {
		if _, err := tx.Exec(`INSERT INTO scenarios VALUES (?,?,?,?,?)`, c.ID, sc.Name, sc.Path, sc.Hash, sc.Source); err != nil {
			return fmt.Errorf("result store: scenario %s: %w", sc.Name, err)
		}
	}
	for _, p := range plan {
		if _, err := tx.Exec(`INSERT INTO planned (campaign, idx, case_name, scenario, kernel_spec, run_no, seed, expect, duration_ns)
			VALUES (?,?,?,?,?,?,?,?,?)`, c.ID, p.Index, p.Case, p.Scenario, p.Kernel, p.RunNo, p.Seed, p.Expect, int64(p.Duration)); err != nil {
			return fmt.Errorf("result store: plan: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("result store: %w", err)
	}
	return nil
}

// Load returns the directory's campaign, its scenarios and its plan.
func (s *Store) Load() (*Campaign, []ScenarioText, []PlannedRun, error) {
	c := &Campaign{}
	var created, updated, argv string
	var elapsed float64
	err := s.db.QueryRow(`SELECT id, created, seed, parallel, argv, status, updated, elapsed_s FROM campaigns ORDER BY id LIMIT 1`).
		Scan(&c.ID, &created, &c.Seed, &c.Parallel, &argv, &c.Status, &updated, &elapsed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, nil, fmt.Errorf("%w in %s", ErrNoCampaign, s.Dir)
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("result store: %w", err)
	}
	c.Created, _ = time.Parse(time.RFC3339Nano, created)
	c.Updated, _ = time.Parse(time.RFC3339Nano, updated)
	c.Elapsed = time.Duration(elapsed * float64(time.Second))
	_ = json.Unmarshal([]byte(argv), &c.Argv)
	rows, err := s.db.Query(`SELECT name, path, hash, source FROM scenarios WHERE campaign = ? ORDER BY name`, c.ID)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("result store: %w", err)
	}
	var scs []ScenarioText
	for rows.Next() {
		var t ScenarioText
		if err := rows.Scan(&t.Name, &t.Path, &t.Hash, &t.Source); err != nil {
			rows.Close()
			return nil, nil, nil, err
		}
		scs = append(scs, t)
	}
	rows.Close()
	rows, err = s.db.Query(`SELECT idx, case_name, scenario, kernel_spec, run_no, seed, expect, duration_ns FROM planned WHERE campaign = ? ORDER BY idx`, c.ID)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("result store: %w", err)
	}
	defer rows.Close()
	var plan []PlannedRun
	for rows.Next() {
		var p PlannedRun
		var d int64
		if err := rows.Scan(&p.Index, &p.Case, &p.Scenario, &p.Kernel, &p.RunNo, &p.Seed, &p.Expect, &d); err != nil {
			return nil, nil, nil, err
		}
		p.Duration = time.Duration(d)
		plan = append(plan, p)
	}
	return c, scs, plan, rows.Err()
}

// Finished returns the plan indexes that have a final run.
func (s *Store) Finished(campaign int64) (map[int]bool, error) {
	rows, err := s.db.Query(`SELECT DISTINCT idx FROM runs WHERE campaign = ? AND final = 1`, campaign)
	if err != nil {
		return nil, fmt.Errorf("result store: %w", err)
	}
	defer rows.Close()
	done := map[int]bool{}
	for rows.Next() {
		var i int
		if err := rows.Scan(&i); err != nil {
			return nil, err
		}
		done[i] = true
	}
	return done, rows.Err()
}

// SetStatus records the campaign's status and adds elapsed wall time.
func (s *Store) SetStatus(campaign int64, status string, elapsed time.Duration) error {
	_, err := s.db.Exec(`UPDATE campaigns SET status = ?, updated = ?, elapsed_s = elapsed_s + ? WHERE id = ?`,
		status, time.Now().UTC().Format(time.RFC3339Nano), elapsed.Seconds(), campaign)
	if err != nil {
		return fmt.Errorf("result store: %w", err)
	}
	return nil
}

// RunDir is the directory for a run's files, relative to the out directory.
func RunDir(p PlannedRun, attempt int) string {
	name := strings.NewReplacer("/", "_", " ", "_").Replace(p.Case)
	d := fmt.Sprintf("%04d-%s", p.Index+1, name) // numbered from 1, as the progress lines and the report
	if attempt > 1 {
		d += fmt.Sprintf(".%d", attempt)
	}
	return filepath.Join("runs", d)
}

// NextAttempt returns the attempt number for planned run idx.
func (s *Store) NextAttempt(campaign int64, idx int) (int, error) {
	var n int
	err := s.db.QueryRow(`SELECT count(*) FROM runs WHERE campaign = ? AND idx = ?`, campaign, idx).Scan(&n)
	return n + 1, err
}

// Record stores a finished run in one transaction: the run, its reports,
// counters and integrity result, its kernel, and the crash index. An
// interrupted run, one whose files were not saved in full, and one to be
// retried (retry) are not final: the campaign or --resume runs them again
// (keeping this record).
func (s *Store) Record(campaign int64, p PlannedRun, attempt int, o *verdict.Outcome, v *verdict.Verdict, retry bool) (int64, error) {
	tx, err := s.db.Begin()
	if err != nil {
		return 0, fmt.Errorf("result store: %w", err)
	}
	defer tx.Rollback()
	final := o.Fault != verdict.FaultInterrupted && o.StorageError == "" && !retry
	outcome, _ := json.Marshal(o)
	excerpt := ""
	for _, r := range v.Reports {
		if r.Title == v.Title {
			excerpt = r.Report
			break
		}
	}
	if excerpt == "" && v.Verdict != verdict.Clean {
		excerpt = "console (last lines):\n" + fileTail(o.Console, 15)
		if t := fileTail(o.Stderr, 20); t != "" {
			excerpt += "stderr (last lines):\n" + t
		}
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	res, err := tx.Exec(`INSERT INTO runs (campaign, idx, attempt, case_name, kernel, release, seed, started, boot_s, run_s, wall_s,
		verdict, pass, title, signature, detail, fault, error, exit_code, first_crash_s, dir, excerpt, outcome, final, timed_start_s)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		campaign, p.Index, attempt, p.Case, o.Kernel, o.Release, o.Seed, o.Started.UTC().Format(time.RFC3339Nano),
		o.Boot.Seconds(), o.Run.Seconds(), o.Wall.Seconds(), v.Verdict, v.Pass, v.Title, v.Signature, v.Detail,
		string(o.Fault), o.Error, o.ExitCode, v.FirstCrash, relOr(filepath.Dir(o.Console), s.Dir), excerpt, string(outcome), final, v.TimedStart)
	if err != nil {
		return 0, fmt.Errorf("result store: record run %d: %w", p.Index, err)
	}
	id, _ := res.LastInsertId()
	if _, err := tx.Exec(`INSERT INTO kernels VALUES (?,?,?) ON CONFLICT (name) DO NOTHING`, o.Kernel, o.Release, p.Kernel); err != nil {
		return 0, fmt.Errorf("result store: %w", err)
	}
	for i, r := range v.Reports {
		if _, err := tx.Exec(`INSERT INTO reports VALUES (?,?,?,?,?,?,?,?,?)`, id, i, r.Title, r.Signature, r.Type, r.Frame, r.Corrupted, r.StartLine, r.EndLine); err != nil {
			return 0, fmt.Errorf("result store: %w", err)
		}
		if _, err := tx.Exec(`INSERT INTO crashes VALUES (?,?,?,?,?,?,1) ON CONFLICT (kernel, title) DO UPDATE SET last_seen = excluded.last_seen, count = count + 1`,
			o.Kernel, r.Title, r.Signature, now, now, id); err != nil {
			return 0, fmt.Errorf("result store: %w", err)
		}
	}
	for _, in := range o.Injections {
		if _, err := tx.Exec(`INSERT INTO counters (run, kind, name, hits, fired, filtered, per_second, attached, reason, delay_ns, budget_skips, until_met)
			VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`, id, "probe", in.Spec, in.Hits, in.Fired, in.Filtered,
			perSecond(in.Hits, in.Seconds), in.Attached, in.Reason, int64(in.Delay), in.BudgetSkips, in.UntilMet); err != nil {
			return 0, fmt.Errorf("result store: %w", err)
		}
	}
	if o.Summary != nil {
		for name, r := range o.Summary.Reach {
			if _, err := tx.Exec(`INSERT INTO counters (run, kind, name, hits, fired, filtered, per_second, attached, reason) VALUES (?,?,?,?,?,?,?,?,?)`, id, "reach", name, r.Hits, r.Hits, 0, r.PerSecond, r.Error == "", r.Error); err != nil {
				return 0, fmt.Errorf("result store: %w", err)
			}
		}
		in := o.Summary.Integrity
		firstBad := ""
		if len(in.Bad) > 0 {
			firstBad = fmt.Sprintf("%s at %d: %s", in.Bad[0].File, in.Bad[0].Offset, in.Bad[0].What)
		}
		if _, err := tx.Exec(`INSERT INTO integrity VALUES (?,?,?,?,?)`, id, in.CheckedBytes, in.BadBlocks, in.OK, firstBad); err != nil {
			return 0, fmt.Errorf("result store: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("result store: record run %d: %w", p.Index, err)
	}
	return id, nil
}

func perSecond(n uint64, secs float64) float64 {
	if secs <= 0 {
		return 0
	}
	return float64(n) / secs
}

// relOr returns path relative to dir when it lies inside it.
func relOr(path, dir string) string {
	if r, err := filepath.Rel(dir, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}

// fileTail returns the last n lines of a file ("" if none).
func fileTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return ""
	}
	if len(b) > 64<<10 {
		b = b[len(b)-64<<10:]
	}
	lines := strings.Split(strings.TrimRight(strings.ReplaceAll(string(b), "\r", ""), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}

// Run is a stored run.
type Run struct {
	ID         int64     `json:"id"`
	Index      int       `json:"index"`
	Attempt    int       `json:"attempt"`
	Case       string    `json:"case"`
	Kernel     string    `json:"kernel"`
	Release    string    `json:"release"`
	Seed       int64     `json:"seed"`
	Started    time.Time `json:"started"`
	Boot       float64   `json:"boot_s"`
	RunS       float64   `json:"run_s"`
	Wall       float64   `json:"wall_s"`
	Verdict    string    `json:"verdict"`
	Pass       bool      `json:"pass"`
	Title      string    `json:"title,omitempty"`
	Signature  string    `json:"signature,omitempty"`
	Detail     string    `json:"detail"`
	Fault      string    `json:"fault,omitempty"`
	ExitCode   int       `json:"exit_code"`
	FirstCrash float64   `json:"first_crash_s"`
	// TimedStart is the printk time the workload's timed phase began, -1
	// if unknown (an untimed workload, a command, a run before it began).
	TimedStart float64 `json:"timed_start_s"`
	Dir        string  `json:"dir"`
	Excerpt    string  `json:"-"`
	Final      bool    `json:"final"`
	// Worker, Deliveries and Overhead: for a run on a remote worker, which
	// one ran it, how often its job had been delivered, and the seconds the
	// coordinator waited beyond the run's wall time.
	Worker     string    `json:"worker,omitempty"`
	Deliveries int       `json:"deliveries,omitempty"`
	Overhead   float64   `json:"overhead_s,omitempty"`
	Counters   []Counter `json:"counters,omitempty"`
	Integrity  *struct {
		CheckedBytes int64  `json:"checked_bytes"`
		BadBlocks    int64  `json:"bad_blocks"`
		FirstBad     string `json:"first_bad,omitempty"`
	} `json:"integrity,omitempty"`
}

// Counter is a probe's or a reach counter's figures in a run.
type Counter struct {
	Kind      string  `json:"kind"` // probe or reach
	Name      string  `json:"name"`
	Hits      int64   `json:"hits"`
	Fired     int64   `json:"fired"`
	Filtered  int64   `json:"filtered"`
	PerSecond float64 `json:"per_second"`
	Attached  bool    `json:"attached"`
	Reason    string  `json:"reason,omitempty"`
	// Delay is a delay probe's total busy-wait; BudgetSkips the delays its
	// per-second budget refused; UntilMet the delays its until= test ended
	// early (all 0 for other kinds, and in runs recorded before faultline
	// stored them).
	Delay       time.Duration `json:"delay_ns,omitempty"`
	BudgetSkips int64         `json:"budget_skips,omitempty"`
	UntilMet    int64         `json:"until_met,omitempty"`
}

// Runs returns every recorded run of the campaign (all attempts), in plan
// order, with their counters.
func (s *Store) Runs(campaign int64) ([]*Run, error) {
	rows, err := s.db.Query(`SELECT id, idx, attempt, case_name, kernel, release, seed, started, boot_s, run_s, wall_s, verdict, pass,
		title, signature, detail, fault, exit_code, first_crash_s, dir, excerpt, final,
		COALESCE(json_extract(outcome, '$.worker'), ''), COALESCE(json_extract(outcome, '$.deliveries'), 0),
		COALESCE(json_extract(outcome, '$.overhead_ns'), 0) / 1e9, timed_start_s
		FROM runs WHERE campaign = ? ORDER BY idx, attempt`, campaign)
	if err != nil {
		return nil, fmt.Errorf("result store: %w", err)
	}
	var runs []*Run
	byID := map[int64]*Run{}
	for rows.Next() {
		r := &Run{}
		var started string
		if err := rows.Scan(&r.ID, &r.Index, &r.Attempt, &r.Case, &r.Kernel, &r.Release, &r.Seed, &started, &r.Boot, &r.RunS, &r.Wall,
			&r.Verdict, &r.Pass, &r.Title, &r.Signature, &r.Detail, &r.Fault, &r.ExitCode, &r.FirstCrash, &r.Dir, &r.Excerpt, &r.Final,
			&r.Worker, &r.Deliveries, &r.Overhead, &r.TimedStart); err != nil {
			rows.Close()
			return nil, fmt.Errorf("result store: %w", err)
		}
		r.Started, _ = time.Parse(time.RFC3339Nano, started)
		runs = append(runs, r)
		byID[r.ID] = r
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	crows, err := s.db.Query(`SELECT c.run, c.kind, c.name, c.hits, c.fired, c.filtered, c.per_second, c.attached, c.reason,
		c.delay_ns, c.budget_skips, c.until_met FROM counters c JOIN runs r ON r.id = c.run WHERE r.campaign = ? ORDER BY c.run, c.kind, c.name`, campaign)
	if err != nil {
		return nil, fmt.Errorf("result store: %w", err)
	}
	for crows.Next() {
		var id int64
		var c Counter
		if err := crows.Scan(&id, &c.Kind, &c.Name, &c.Hits, &c.Fired, &c.Filtered, &c.PerSecond, &c.Attached, &c.Reason,
			&c.Delay, &c.BudgetSkips, &c.UntilMet); err != nil {
			crows.Close()
			return nil, err
		}
		if r := byID[id]; r != nil {
			r.Counters = append(r.Counters, c)
		}
	}
	crows.Close()
	irows, err := s.db.Query(`SELECT i.run, i.checked_bytes, i.bad_blocks, i.first_bad FROM integrity i JOIN runs r ON r.id = i.run WHERE r.campaign = ?`, campaign)
	if err != nil {
		return nil, fmt.Errorf("result store: %w", err)
	}
	defer irows.Close()
	for irows.Next() {
		var id, checked, bad int64
		var first string
		if err := irows.Scan(&id, &checked, &bad, &first); err != nil {
			return nil, err
		}
		if r := byID[id]; r != nil {
			r.Integrity = &struct {
				CheckedBytes int64  `json:"checked_bytes"`
				BadBlocks    int64  `json:"bad_blocks"`
				FirstBad     string `json:"first_bad,omitempty"`
			}{checked, bad, first}
		}
	}
	return runs, irows.Err()
}

// CrashRow is a crash title seen on a kernel, with when and how often.
type CrashRow struct {
	Kernel    string    `json:"kernel"`
	Title     string    `json:"title"`
	Signature string    `json:"signature"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	FirstRun  int64     `json:"first_run"`
	Count     int       `json:"count"`
}

// Crashes returns the crash index, most frequent first.
func (s *Store) Crashes() ([]CrashRow, error) {
	rows, err := s.db.Query(`SELECT kernel, title, signature, first_seen, last_seen, first_run, count FROM crashes`)
	if err != nil {
		return nil, fmt.Errorf("result store: %w", err)
	}
	defer rows.Close()
	var out []CrashRow
	for rows.Next() {
		var c CrashRow
		var f, l string
		if err := rows.Scan(&c.Kernel, &c.Title, &c.Signature, &f, &l, &c.FirstRun, &c.Count); err != nil {
			return nil, err
		}
		c.FirstSeen, _ = time.Parse(time.RFC3339Nano, f)
		c.LastSeen, _ = time.Parse(time.RFC3339Nano, l)
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Count > out[j].Count })
	return out, rows.Err()
}
