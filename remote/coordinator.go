//go:build !faultline_agent

package remote

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"faultline/campaign"
	"faultline/kernels"
	"faultline/verdict"
)

// Coordinator runs a campaign's jobs on the workers: a campaign.Executor.
type Coordinator struct {
	NC *nats.Conn
	JS jetstream.JetStream
	// Labels are what every job of the campaign asks of its worker.
	Labels []string
	// SigIDs are the signature ids the workers validate scenarios with.
	SigIDs []string
	// NoWorker is how long a job may wait for a live worker whose labels
	// satisfy it before it is reported as infra-error.
	NoWorker time.Duration
	// Progress receives lines about the bus (nil: none).
	Progress func(string)

	once     sync.Once
	startErr error
	mu       sync.Mutex
	waiters  map[string]chan *ResultMsg
	early    map[string]*ResultMsg // outcomes that came before anyone waited
	taken    map[string]bool       // job ids whose outcome was handed out
	seqJob   map[uint64]string     // jobs stream sequence -> job id
	given    map[string]string     // job id -> why it was given up
	uploaded map[string]bool       // built kernels in KernelsBucket
	cons     jetstream.ConsumeContext
	ownConn  bool
	liveMu   sync.Mutex
	live     bool      // workerLive's last answer
	liveAt   time.Time // and when it asked
	sub      *nats.Subscription
}

var _ campaign.Executor = (*Coordinator)(nil)

func (c *Coordinator) say(format string, a ...any) {
	if c.Progress != nil {
		c.Progress(fmt.Sprintf(format, a...))
	}
}

// start subscribes to the campaign's outcomes (all of them, from the
// stream's start: what finished while no coordinator listened is collected
// now) and to the advisories of jobs given up after their last delivery.
func (c *Coordinator) start(ctx context.Context, camp string) error {
	c.waiters, c.early, c.taken = map[string]chan *ResultMsg{}, map[string]*ResultMsg{}, map[string]bool{}
	c.seqJob, c.given, c.uploaded = map[uint64]string{}, map[string]string{}, map[string]bool{}
	if c.NoWorker <= 0 {
		c.NoWorker = 2 * time.Minute
	}
	if err := Setup(ctx, c.JS); err != nil {
		return err
	}
	// What the stream already holds for this campaign is read before the
	// first job is published: outcomes that finished while no coordinator
	// listened are collected, not run again.
	subj := resultsPrefix + camp
	var backlog uint64
	if st, err := c.JS.Stream(ctx, ResultsStream); err == nil {
		if si, err := st.Info(ctx, jetstream.WithSubjectFilter(subj)); err == nil {
			backlog = si.State.Subjects[subj]
		}
	}
	caughtUp := make(chan struct{})
	var seen uint64
	oc, err := c.JS.OrderedConsumer(ctx, ResultsStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subj}})
	if err != nil {
		return fmt.Errorf("results consumer: %w", err)
	}
	if backlog == 0 {
		close(caughtUp)
	}
	defer func() {
		select {
		case <-caughtUp:
		case <-time.After(30 * time.Second):
			c.say("reading the %d outcomes already in %s took over 30 s; going on", backlog, ResultsStream)
		}
	}()
	if c.cons, err = oc.Consume(func(m jetstream.Msg) {
		if seen++; seen == backlog {
			close(caughtUp)
		}
		var r ResultMsg
		if json.Unmarshal(m.Data(), &r) != nil || r.Outcome == nil {
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.taken[r.JobID] {
			return // a duplicate: taken once
		}
		if ch := c.waiters[r.JobID]; ch != nil {
			c.taken[r.JobID] = true
			delete(c.waiters, r.JobID)
			ch <- &r
			return
		}
		if c.early[r.JobID] == nil {
			c.early[r.JobID] = &r
		}
	}); err != nil {
		return err
	}
	c.sub, err = c.NC.Subscribe("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES."+JobsStream+".*", func(m *nats.Msg) {
		var a struct {
			StreamSeq  uint64 `json:"stream_seq"`
			Deliveries int    `json:"deliveries"`
		}
		if json.Unmarshal(m.Data, &a) != nil {
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if id := c.seqJob[a.StreamSeq]; id != "" {
			c.given[id] = fmt.Sprintf("no worker finished it in %d deliveries (a worker died or lost its connection each time)", a.Deliveries)
			if ch := c.waiters[id]; ch != nil {
				delete(c.waiters, id)
				close(ch)
			}
		}
	})
	return err
}

// Close stops listening (and closes the connection NewCoordinator made).
func (c *Coordinator) Close() {
	if c.cons != nil {
		c.cons.Stop()
	}
	if c.sub != nil {
		_ = c.sub.Unsubscribe()
	}
	if c.ownConn && c.NC != nil {
		c.NC.Close()
	}
}

// Execute publishes the job (once: the job id is its message id) and waits
// for its outcome, then downloads the run's files into j.Dir.
func (c *Coordinator) Execute(ctx context.Context, j campaign.Job) *verdict.Outcome {
	start := time.Now()
	camp := campaignOf(j.ID)
	fail := func(f verdict.Fault, format string, a ...any) *verdict.Outcome {
		return &verdict.Outcome{Case: j.Case.Name, Kernel: j.Kernel.Name, Release: j.Kernel.Release, Seed: j.Seed, Argv: j.Case.Argv(j.Seed),
			Workload: j.Case.Command == "", Started: start, Wall: time.Since(start), ExitCode: -1, Fault: f, Error: fmt.Sprintf(format, a...),
			Console: filepath.Join(j.Dir, "console.log"), Stdout: filepath.Join(j.Dir, "stdout.txt"), Stderr: filepath.Join(j.Dir, "stderr.txt")}
	}
	c.once.Do(func() { c.startErr = c.start(ctx, camp) })
	if c.startErr != nil {
		return fail(verdict.FaultInfra, "NATS: %v", c.startErr)
	}
	if err := os.MkdirAll(j.Dir, 0o755); err != nil {
		o := fail(verdict.FaultInfra, "%v", err)
		o.StorageError = err.Error()
		return o
	}
	ch := make(chan *ResultMsg, 1)
	c.mu.Lock()
	if r := c.earlyFor(j.ID); r != nil {
		delete(c.early, r.JobID)
		c.taken[r.JobID] = true
		ch <- r
	} else {
		c.waiters[j.ID] = ch
	}
	c.mu.Unlock()
	drop := func() { c.mu.Lock(); delete(c.waiters, j.ID); c.mu.Unlock() }
	if len(ch) == 0 {
		if err := c.publish(ctx, j); err != nil {
			drop()
			if ctx.Err() != nil {
				return fail(verdict.FaultInterrupted, "%v", ctx.Err())
			}
			return fail(verdict.FaultInfra, "%v", err)
		}
	}
	check := time.NewTicker(2 * time.Second)
	defer check.Stop()
	var noWorkerSince time.Time
	for {
		select {
		case r, ok := <-ch:
			if !ok {
				c.mu.Lock()
				why := c.given[j.ID]
				c.mu.Unlock()
				return fail(verdict.FaultInfra, "%s", why)
			}
			o := c.collect(ctx, j, r)
			o.Overhead = max(time.Since(start)-o.Wall, 0)
			return o
		case <-ctx.Done():
			drop()
			return fail(verdict.FaultInterrupted, "%v (the job may still finish on its worker: faultline run --resume collects it)", ctx.Err())
		case <-check.C:
			// A job nobody can take is reported, not waited on for ever.
			if c.workerLive(ctx) {
				noWorkerSince = time.Time{}
				continue
			}
			if noWorkerSince.IsZero() {
				noWorkerSince = time.Now()
				c.say("no live worker with labels [%s] for job %s; waiting up to %v", strings.Join(c.Labels, ","), j.ID, c.NoWorker)
			}
			if time.Since(noWorkerSince) >= c.NoWorker {
				drop()
				return fail(verdict.FaultInfra, "no live worker has labels [%s] (for %v); the job stays queued for one that comes", strings.Join(c.Labels, ","), c.NoWorker)
			}
		}
	}
}

// earlyFor returns an outcome that came while no one waited for this job
// or for an earlier attempt of the same planned run (it finished after its
// coordinator was interrupted): the run is collected, not run twice. The
// caller holds c.mu.
func (c *Coordinator) earlyFor(id string) *ResultMsg {
	if r := c.early[id]; r != nil {
		return r
	}
	run := id[:strings.LastIndex(id, "-a")+2]
	for k, r := range c.early {
		if strings.HasPrefix(k, run) {
			return r
		}
	}
	return nil
}

// workerLive reports whether a live worker can take the campaign's jobs,
// asking the workers bucket at most once every 2 s however many jobs wait.
func (c *Coordinator) workerLive(ctx context.Context) bool {
	c.liveMu.Lock() // not c.mu: the outcomes keep coming while it asks
	defer c.liveMu.Unlock()
	if time.Since(c.liveAt) >= 2*time.Second {
		c.live, _ = c.liveFor(ctx, c.Labels)
		c.liveAt = time.Now()
	}
	return c.live
}

// liveFor reports whether some live worker's labels satisfy need.
func (c *Coordinator) liveFor(ctx context.Context, need []string) (bool, error) {
	kv, err := c.JS.KeyValue(ctx, WorkersBucket)
	if err != nil {
		return false, err
	}
	lister, err := kv.ListKeys(ctx)
	if err != nil {
		return false, err
	}
	defer func() { _ = lister.Stop() }()
	for k := range lister.Keys() {
		e, err := kv.Get(ctx, k)
		if err != nil {
			continue
		}
		var w WorkerInfo
		if json.Unmarshal(e.Value(), &w) == nil && satisfies(w.Labels, need) {
			return true, nil
		}
	}
	return false, nil
}

// publish sends the job, uploading its built kernel first if the bucket
// lacks it.
func (c *Coordinator) publish(ctx context.Context, j campaign.Job) error {
	// A Debian kernel goes by its exact package name: every worker boots
	// the same release the coordinator resolved.
	ref := KernelRef{Spec: j.Kernel.Name, Name: j.Kernel.Name, Source: j.Kernel.Source}
	if ref.Source == "build" {
		if err := c.uploadKernel(ctx, j.Kernel); err != nil {
			return err
		}
	}
	job := JobMsg{Kind: JobKind, ID: j.ID, Campaign: campaignOf(j.ID), Labels: c.Labels, Scenario: j.Case.Scenario.Path,
		Source: j.Case.Scenario.Source, Case: j.Case.Name, SigIDs: c.SigIDs, Kernel: ref, Seed: j.Seed}
	b, err := json.Marshal(job)
	if err != nil {
		return err
	}
	var ack *jetstream.PubAck
	err = retry(ctx, 2*time.Minute, func() (err error) {
		ack, err = c.JS.Publish(ctx, jobsPrefix+labelKey(c.Labels), b, jetstream.WithMsgID(j.ID))
		return err
	})
	if err != nil {
		return fmt.Errorf("publish job %s: %w", j.ID, err)
	}
	c.mu.Lock()
	c.seqJob[ack.Sequence] = j.ID
	c.mu.Unlock()
	return nil
}

// uploadKernel puts a built kernel in KernelsBucket under its cache name
// (which holds its content key), once.
func (c *Coordinator) uploadKernel(ctx context.Context, k *kernels.Kernel) error {
	c.mu.Lock()
	done := c.uploaded[k.Name]
	c.mu.Unlock()
	if done {
		return nil
	}
	obs, err := c.JS.ObjectStore(ctx, KernelsBucket)
	if err != nil {
		return err
	}
	if _, err := obs.GetInfo(ctx, k.Name+".tar"); err != nil {
		c.say("uploading built kernel %s", k.Name)
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(tarKernel(pw, k.Dir)) }()
		if _, err := obs.Put(ctx, jetstream.ObjectMeta{Name: k.Name + ".tar"}, pr); err != nil {
			return fmt.Errorf("upload kernel %s: %w", k.Name, err)
		}
	}
	c.mu.Lock()
	c.uploaded[k.Name] = true
	c.mu.Unlock()
	return nil
}

// collect downloads the run's files into j.Dir and points the outcome at
// them.
func (c *Coordinator) collect(ctx context.Context, j campaign.Job, r *ResultMsg) *verdict.Outcome {
	o := r.Outcome
	o.Console, o.Stdout, o.Stderr = filepath.Join(j.Dir, "console.log"), filepath.Join(j.Dir, "stdout.txt"), filepath.Join(j.Dir, "stderr.txt")
	o.Worker, o.Deliveries = r.Worker, r.Deliveries
	for base, b := range r.Inline {
		if err := os.WriteFile(filepath.Join(j.Dir, filepath.Base(base)), b, 0o644); err != nil {
			o.StorageError = fmt.Sprintf("write %s: %v", base, err)
			return o
		}
	}
	for base, name := range r.Files {
		err := retry(ctx, 2*time.Minute, func() error {
			obs, err := c.JS.ObjectStore(ctx, RunsBucket)
			if err != nil {
				return err
			}
			return obs.GetFile(ctx, name, filepath.Join(j.Dir, filepath.Base(base)))
		})
		if err != nil {
			// Bus trouble, not a full disk here: the run is infra-error (and
			// retried), the campaign goes on.
			o.Fault, o.Error = verdict.FaultInfra, fmt.Sprintf("fetch %s from %s: %v", name, RunsBucket, err)
			return o
		}
		if obs, err := c.JS.ObjectStore(ctx, RunsBucket); err == nil {
			_ = obs.Delete(ctx, name)
		}
	}
	return o
}
