// Package nightly tests the newest kernel of a series once a night: a
// campaign of the given scenarios on it, its crashes compared with every
// earlier night's in the store, and for each crash kind new since the last
// kernel that ran clean of it a bisection between the two. Nights, crashes
// and bisections go to the store (tables nights, night_crashes,
// night_bisections) and its report.html.
//
// A lock keeps two nights from overlapping; a night killed part-way is
// finished by the next start (its campaign resumed, its bisections run).
package nightly

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"

	"faultline/bisect"
	"faultline/campaign"
	"faultline/kernels"
	"faultline/results"
	"faultline/verdict"
)

// ErrLocked is returned when another nightly holds the store's lock.
var ErrLocked = errors.New("another faultline nightly is running on this store")

// ErrInput is wrapped by errors in the request.
var ErrInput = errors.New("bad nightly request")

// Point is one kernel of a series.
type Point struct {
	// Spec is what the campaign runs (a package name, a build spec file),
	// ID its identity (package name, commit), Label how it is shown.
	Spec, ID, Label string
}

// Series is where the nights' kernels come from.
type Series interface {
	// Newest returns the kernel to test tonight.
	Newest(ctx context.Context, dir string) (Point, error)
	// Between returns the kernels from good to bad, both included, oldest
	// first, with their labels, for a bisection writing into dir.
	Between(good, bad Point, dir string) ([]string, map[string]string, error)
	// Describe names the series.
	Describe() string
}

// Config is a nightly request.
type Config struct {
	// Dir is the nightly store.
	Dir string
	// Series gives tonight's kernel and the kernels to bisect.
	Series Series
	// Scenarios are the scenario files; Only filters their cases (nil:
	// every case); Runs, if > 0, replaces each case's runs; Duration, if >
	// 0, each run's duration.
	Scenarios []string
	Only      *regexp.Regexp
	Runs      int
	Duration  time.Duration
	Seed      int64
	// Engine runs the campaigns and the bisections' steps.
	Engine campaign.Config
	// Build builds a build spec's kernel (nil: kernels need no build);
	// TextHash is passed to the bisections.
	Build    func(ctx context.Context, spec string) error
	TextHash func(ctx context.Context, spec string) (string, error)
	// Confidence and Budget of each bisection (0.95 and 80).
	Confidence float64
	Budget     int
	Progress   func(string)
}

// Result is what a night did.
type Result struct {
	Night *results.Night `json:"night"`
	// AlreadyTested is set when tonight's kernel had a finished night: it
	// was not tested again.
	AlreadyTested bool `json:"already_tested"`
	// New lists the crash kinds seen tonight and on no earlier kernel.
	New []string `json:"new"`
	// Resumed says the night was one a kill had interrupted.
	Resumed bool `json:"resumed"`
}

// Lock takes the store's lock; the returned function releases it.
func Lock(dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, "nightly.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		pid, _ := os.ReadFile(filepath.Join(dir, "nightly.pid"))
		f.Close()
		return nil, fmt.Errorf("%w (pid %s, lock %s)", ErrLocked, strings.TrimSpace(string(pid)), filepath.Join(dir, "nightly.lock"))
	}
	_ = os.WriteFile(filepath.Join(dir, "nightly.pid"), []byte(fmt.Sprintln(os.Getpid())), 0o644)
	return func() { os.Remove(filepath.Join(dir, "nightly.pid")); f.Close() }, nil
}

// Run runs tonight (or finishes an interrupted night).
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if len(cfg.Scenarios) == 0 {
		return nil, fmt.Errorf("%w: give at least one scenario", ErrInput)
	}
	unlock, err := Lock(cfg.Dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	store, err := results.OpenStore(cfg.Dir)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	n := &nightRun{cfg: cfg, store: store}
	defer n.report()
	return n.run(ctx)
}

type nightRun struct {
	cfg   Config
	store *results.Store
}

func (n *nightRun) say(format string, a ...any) {
	if n.cfg.Progress != nil {
		n.cfg.Progress(fmt.Sprintf(format, a...))
	}
}

func (n *nightRun) run(ctx context.Context) (*Result, error) {
	nights, err := n.store.Nights()
	if err != nil {
		return nil, err
	}
	res := &Result{}
	var night *results.Night
	if len(nights) > 0 {
		if last := nights[len(nights)-1]; last.Status == "running" || last.Status == "tested" {
			night, res.Resumed = last, true
			n.say("finishing night %d (%s), interrupted at %s", last.ID, last.Label, last.Status)
		}
	}
	if night == nil {
		pt, err := n.cfg.Series.Newest(ctx, filepath.Join(n.cfg.Dir, "kernels"))
		if err != nil {
			return nil, err
		}
		for _, old := range nights {
			if old.KernelID == pt.ID && (old.Status == "done" || old.Status == "no-answer") {
				n.say("%s was tested on night %d (%s): nothing new to test", pt.Label, old.ID, old.Started.Local().Format("2006-01-02 15:04"))
				return &Result{Night: old, AlreadyTested: true}, nil
			}
		}
		night = &results.Night{Kernel: pt.Spec, KernelID: pt.ID, Label: pt.Label}
		if err := n.store.CreateNight(night); err != nil {
			return nil, err
		}
		night.Dir = fmt.Sprintf("nights/%03d-%s", night.ID, sanitize(pt.Label))
		if err := n.store.SetNightDir(night.ID, night.Dir); err != nil {
			return nil, err
		}
		n.say("night %d: %s (%s)", night.ID, pt.Label, n.cfg.Series.Describe())
	}
	res.Night = night
	if night.Status == "running" {
		if err := n.campaign(ctx, night); err != nil {
			return res, err
		}
	}
	if night, err = n.reload(night.ID); err != nil {
		return res, err
	}
	res.Night = night
	if night.Status == "no-answer" {
		n.say("night %d: no run answered (%s): not compared", night.ID, night.Note)
		return res, nil
	}
	earlier, err := n.earlier(night.ID)
	if err != nil {
		return res, err
	}
	for _, c := range night.Crashes {
		if strings.HasPrefix(c.Key, ranKey) || seenBefore(earlier, c.Key) {
			continue
		}
		res.New = append(res.New, c.Key)
		good := lastGood(earlier, night, c)
		b := results.NightBisection{Key: c.Key, Bad: night.Label, Dir: filepath.Join(night.Dir, "bisect-"+sanitize(shortKey(c.Key)))}
		for _, done := range night.Bisections {
			if done.Key == c.Key && done.Status != "running" {
				b.Status = "recorded"
			}
		}
		if b.Status == "recorded" {
			continue
		}
		if good == nil {
			b.Status, b.Note = "not started", "no earlier night ran "+c.Case+" clean of it on another kernel"
			n.say("new: %s (%d of %d runs of %s); %s", c.Key, c.Count, c.Runs, c.Case, b.Note)
			if err := n.store.PutNightBisection(night.ID, b); err != nil {
				return res, err
			}
			continue
		}
		b.Good = good.Label
		n.say("new: %s (%d of %d runs of %s), not seen on %s (night %d): bisecting", c.Key, c.Count, c.Runs, c.Case, good.Label, good.ID)
		if err := n.bisect(ctx, night, good, c, &b); err != nil {
			return res, err
		}
	}
	if err := n.store.SetNightStatus(night.ID, "done", night.Note); err != nil {
		return res, err
	}
	res.Night, err = n.reload(night.ID)
	return res, err
}

func (n *nightRun) reload(id int64) (*results.Night, error) {
	all, err := n.store.Nights()
	if err != nil {
		return nil, err
	}
	for _, x := range all {
		if x.ID == id {
			return x, nil
		}
	}
	return nil, fmt.Errorf("night %d vanished from the store", id)
}

// earlier returns the nights before id that were tested.
func (n *nightRun) earlier(id int64) ([]*results.Night, error) {
	all, err := n.store.Nights()
	if err != nil {
		return nil, err
	}
	var out []*results.Night
	for _, x := range all {
		if x.ID < id && (x.Status == "done" || x.Status == "tested") {
			out = append(out, x)
		}
	}
	return out, nil
}

func seenBefore(earlier []*results.Night, key string) bool {
	for _, e := range earlier {
		for _, c := range e.Crashes {
			if c.Key == key {
				return true
			}
		}
	}
	return false
}

// lastGood is the newest earlier night on another kernel that ran the
// crash's case and did not see it.
func lastGood(earlier []*results.Night, night *results.Night, c results.NightCrash) *results.Night {
	for i := len(earlier) - 1; i >= 0; i-- {
		e := earlier[i]
		if e.KernelID == night.KernelID || e.Answered == 0 {
			continue
		}
		for _, x := range e.Crashes { // a crash or a ran: entry: the case ran there
			if x.Case == c.Case {
				return e
			}
		}
	}
	return nil
}

// campaign runs (or resumes) the night's campaign and records its crashes.
func (n *nightRun) campaign(ctx context.Context, night *results.Night) error {
	dir := filepath.Join(n.cfg.Dir, night.Dir, "campaign")
	if n.cfg.Build != nil {
		n.say("building %s", night.Label)
		if err := n.cfg.Build(ctx, night.Kernel); err != nil {
			if errors.Is(err, kernels.ErrBuildFailed) || errors.Is(err, kernels.ErrPatch) {
				return n.store.TestedNight(night.ID, "no-answer", 0, 0, "does not build: "+firstLine(err.Error()), nil)
			}
			return err
		}
	}
	eng := n.cfg.Engine
	eng.Progress = func(e campaign.Event) {
		if e.Run != nil || strings.HasPrefix(e.Line, "campaign") || strings.HasPrefix(e.Line, "resuming") {
			n.say("%s", e.Line)
		}
	}
	var c *campaign.Campaign
	var err error
	if _, statErr := os.Stat(filepath.Join(dir, results.StoreFile)); statErr == nil {
		c, err = campaign.Resume(eng, dir)
	} else {
		c, err = campaign.Create(eng, campaign.Plan{Scenarios: n.cfg.Scenarios, Out: dir, Seed: n.cfg.Seed, Runs: n.cfg.Runs,
			Only: n.cfg.Only, Kernel: night.Kernel, Duration: n.cfg.Duration, Argv: []string{"faultline", "nightly", night.Label}})
	}
	if err != nil {
		return err
	}
	defer c.Close()
	r := c.Run(ctx)
	if r.StoreErr != nil {
		return r.StoreErr
	}
	if r.Status == "interrupted" {
		return fmt.Errorf("night %d interrupted (run faultline nightly again to finish it): %w", night.ID, ctx.Err())
	}
	_, texts, plan, err := c.Store.Load()
	if err != nil {
		return err
	}
	path := map[string]string{}
	for _, t := range texts {
		path[t.Name] = t.Path
	}
	scenarioOf := map[string]string{}
	for _, p := range plan {
		scenarioOf[p.Case] = path[p.Scenario]
	}
	crashes, runs, answered := Crashes(r.Runs, scenarioOf)
	status, note := "tested", ""
	if answered == 0 {
		status, note = "no-answer", fmt.Sprintf("all %d runs hit harness trouble", runs)
	}
	return n.store.TestedNight(night.ID, status, runs, answered, note, crashes)
}

// Crashes sums a campaign's final runs into crash kinds per case (a key is
// "signature:ID", or "title:TITLE" for a crash without a known
// signature), with the answered runs of the case beside each; runs with
// harness trouble answer nothing. A case's clean runs are recorded as a
// "ran" entry (empty key) so that later nights know it ran clean.
func Crashes(runs []*results.Run, scenarioOf map[string]string) (out []results.NightCrash, total, answered int) {
	perCase := map[string]int{}
	at := map[string]int{}
	for _, r := range runs {
		if !r.Final {
			continue
		}
		total++
		if r.Verdict == verdict.Infra || r.Verdict == verdict.Boot {
			continue
		}
		answered++
		perCase[r.Case]++
		key := ""
		switch {
		case r.Signature != "":
			key = "signature:" + r.Signature
		case r.Title != "":
			key = "title:" + r.Title
		}
		if key == "" {
			continue
		}
		id := key + "\x00" + r.Case
		i, ok := at[id]
		if !ok {
			at[id] = len(out)
			out = append(out, results.NightCrash{Key: key, Title: r.Title, Signature: r.Signature, Case: r.Case, Scenario: scenarioOf[r.Case]})
			i = len(out) - 1
		}
		out[i].Count++
	}
	for i := range out {
		out[i].Runs = perCase[out[i].Case]
	}
	// One entry per key: the case that showed it most.
	sort.SliceStable(out, func(i, j int) bool { return out[i].Count > out[j].Count })
	seen := map[string]bool{}
	var uniq []results.NightCrash
	for _, c := range out {
		if !seen[c.Key] {
			seen[c.Key] = true
			uniq = append(uniq, c)
		}
	}
	for cs, k := range perCase {
		if !hasCase(uniq, cs) {
			uniq = append(uniq, results.NightCrash{Key: ranKey + cs, Case: cs, Scenario: scenarioOf[cs], Runs: k})
		}
	}
	sort.SliceStable(uniq, func(i, j int) bool { return uniq[i].Key < uniq[j].Key })
	return uniq, total, answered
}

// ranKey prefixes the entry of a case that ran without a crash.
const ranKey = "ran:"

func hasCase(cs []results.NightCrash, name string) bool {
	for _, c := range cs {
		if c.Case == name {
			return true
		}
	}
	return false
}

// bisect runs the bisection of crash c between good and night's kernel.
func (n *nightRun) bisect(ctx context.Context, night, good *results.Night, c results.NightCrash, b *results.NightBisection) error {
	b.Status = "running"
	if err := n.store.PutNightBisection(night.ID, *b); err != nil {
		return err
	}
	out := filepath.Join(n.cfg.Dir, b.Dir)
	os.RemoveAll(out) // an interrupted bisection starts again; its kernels are cached
	ks, labels, err := n.cfg.Series.Between(pointOf(good), pointOf(night), out)
	if err != nil {
		b.Status, b.Note = "failed", err.Error()
		return n.store.PutNightBisection(night.ID, *b)
	}
	target := c.Key
	if t, ok := strings.CutPrefix(c.Key, "title:"); ok {
		target = "title:^" + regexp.QuoteMeta(t) + "$"
	}
	r, err := bisect.Run(ctx, bisect.Config{Engine: n.cfg.Engine, Scenario: c.Scenario, Case: c.Case, Kernels: ks, Labels: labels,
		BadIf: target, Confidence: n.cfg.Confidence, Budget: n.cfg.Budget, Out: out, Seed: n.cfg.Seed, Duration: n.cfg.Duration,
		Build: n.cfg.Build, TextHash: n.cfg.TextHash, Progress: n.cfg.Progress})
	if err != nil {
		if ctx.Err() != nil {
			return err // interrupted: the next start runs it again
		}
		b.Status, b.Note = "failed", err.Error()
		return n.store.PutNightBisection(night.ID, *b)
	}
	b.Status, b.Confidence = "done", r.Confidence
	if r.Answer != "" {
		b.Answer = r.Labels[r.Answer]
		if b.Answer == "" {
			b.Answer = r.Answer
		}
		b.Note = strings.Join(r.Warnings, "; ")
		n.say("%s: first kernel with it: %s (confidence %.3f)", c.Key, b.Answer, r.Confidence)
	} else {
		b.Status, b.Note = "inconclusive", r.Stopped
		n.say("%s: no answer: %s", c.Key, r.Stopped)
	}
	_ = writeJSON(filepath.Join(out, "bisect.json"), r)
	return n.store.PutNightBisection(night.ID, *b)
}

// report writes the store's report.html.
func (n *nightRun) report() {
	nights, err := n.store.Nights()
	if err != nil {
		return
	}
	f, err := os.Create(filepath.Join(n.cfg.Dir, "report.html"))
	if err != nil {
		return
	}
	defer f.Close()
	_ = results.WriteNightlyHTML(f, "faultline nightly: "+n.cfg.Series.Describe(), nights)
}

func sanitize(s string) string {
	s = regexp.MustCompile(`[^A-Za-z0-9._+-]+`).ReplaceAllString(s, "-")
	if len(s) > 60 {
		s = s[:60]
	}
	return strings.Trim(s, "-")
}

func shortKey(k string) string {
	_, v, _ := strings.Cut(k, ":")
	return v
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func pointOf(n *results.Night) Point { return Point{Spec: n.Kernel, ID: n.KernelID, Label: n.Label} }

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
