//go:build !faultline_agent

package remote

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"faultline/campaign"
	"faultline/kernels"
	"faultline/verdict"
)

// Worker pulls jobs and runs them with its executor.
type Worker struct {
	JS jetstream.JetStream
	// ID names the worker (hostname-pid by default).
	ID       string
	Labels   []string
	Capacity int
	// Exec runs a job on this machine (a campaign.Local).
	Exec campaign.Executor
	// Dir receives the runs' files while they are uploaded.
	Dir string
	// Kernels resolves a job's kernel (nil: the kernel cache; Debian
	// kernels are fetched, built ones downloaded from KernelsBucket).
	Kernels func(ctx context.Context, ref KernelRef) (*kernels.Kernel, error)
	// Options carry AckWait and MaxDeliver for the consumers.
	Options Options
	// Progress receives a line per job (nil: none).
	Progress func(string)

	mu      sync.Mutex
	running int
	done    int
	// resolved caches Debian specs resolved in the last hour (asking apt
	// takes most of a second).
	resolved map[string]resolvedKernel
}

type resolvedKernel struct {
	k  *kernels.Kernel
	at time.Time
}

// Finished counts the jobs this worker finished (outcome published,
// acked).
func (w *Worker) Finished() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.done
}

func (w *Worker) say(format string, a ...any) {
	if w.Progress != nil {
		w.Progress(fmt.Sprintf(format, a...))
	}
}

// Run serves jobs until ctx ends. A job under way when ctx ends is left
// unacknowledged: the server gives it to another worker after its ack wait.
func (w *Worker) Run(ctx context.Context) error {
	if w.Capacity < 1 {
		w.Capacity = 1
	}
	if w.Options.AckWait <= 0 {
		w.Options.AckWait = 30 * time.Second
	}
	if w.Options.MaxDeliver <= 0 {
		w.Options.MaxDeliver = 3
	}
	if err := Setup(ctx, w.JS); err != nil {
		return err
	}
	kv, err := w.JS.KeyValue(ctx, WorkersBucket)
	if err != nil {
		return err
	}
	var cons []jetstream.Consumer
	for _, set := range subsets(w.Labels) {
		key := labelKey(set)
		c, err := w.JS.CreateOrUpdateConsumer(ctx, JobsStream, jetstream.ConsumerConfig{
			Durable: "workers-" + key, FilterSubject: jobsPrefix + key, AckPolicy: jetstream.AckExplicitPolicy,
			AckWait: w.Options.AckWait, MaxDeliver: w.Options.MaxDeliver, MaxAckPending: 1000,
		})
		if err != nil {
			return fmt.Errorf("consumer for jobs labelled %s: %w", key, err)
		}
		cons = append(cons, c)
	}
	announce := func() {
		w.mu.Lock()
		info := WorkerInfo{ID: w.ID, Labels: w.Labels, Capacity: w.Capacity, Running: w.running}
		w.mu.Unlock()
		b, _ := json.Marshal(info)
		_, _ = kv.Put(ctx, w.ID, b)
	}
	announce()
	w.say("worker %s: labels [%s], capacity %d, waiting for jobs", w.ID, strings.Join(w.Labels, ","), w.Capacity)
	slots := make(chan struct{}, w.Capacity)
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for i := 0; ctx.Err() == nil; i++ {
		select {
		case <-tick.C:
			announce()
		default:
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			continue
		}
		msg := w.fetch(ctx, cons[i%len(cons)])
		if msg == nil {
			<-slots
			continue
		}
		wg.Add(1)
		w.mu.Lock()
		w.running++
		w.mu.Unlock()
		go func() {
			defer wg.Done()
			defer func() { <-slots; w.mu.Lock(); w.running--; w.mu.Unlock() }()
			w.handle(ctx, msg)
		}()
	}
	_ = kv.Delete(context.Background(), w.ID)
	return nil
}

func (w *Worker) fetch(ctx context.Context, c jetstream.Consumer) jetstream.Msg {
	batch, err := c.Fetch(1, jetstream.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		if ctx.Err() == nil {
			time.Sleep(200 * time.Millisecond) // the server is away: it reconnects
		}
		return nil
	}
	for m := range batch.Messages() {
		return m
	}
	return nil
}

// handle runs one job: heartbeats while it runs, then uploads the files,
// publishes the outcome and acks.
func (w *Worker) handle(ctx context.Context, msg jetstream.Msg) {
	var job JobMsg
	if err := json.Unmarshal(msg.Data(), &job); err != nil || job.Kind != JobKind {
		w.say("refusing a job that is not a faultline run (kind %q)", job.Kind)
		_ = msg.Term()
		return
	}
	meta, _ := msg.Metadata()
	deliveries := 1
	if meta != nil {
		deliveries = int(meta.NumDelivered)
	}
	w.say("job %s (%s seed %d) started, delivery %d", job.ID, job.Case, job.Seed, deliveries)
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(max(w.Options.AckWait/3, 100*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-t.C:
				_ = msg.InProgress()
			case <-stop:
				return
			}
		}
	}()
	res, err := w.run(ctx, &job, deliveries)
	close(stop)
	if ctx.Err() != nil {
		w.say("job %s left for another worker (stopping)", job.ID)
		return // not acked: redelivered after the ack wait
	}
	if err != nil {
		w.say("job %s: %v", job.ID, err)
		_ = msg.Nak()
		return
	}
	b, _ := json.Marshal(res)
	if err := retry(ctx, 2*time.Minute, func() error {
		_, err := w.JS.Publish(ctx, resultsPrefix+job.Campaign, b, jetstream.WithMsgID(job.ID))
		return err
	}); err != nil {
		w.say("job %s: publish outcome: %v", job.ID, err)
		_ = msg.Nak()
		return
	}
	if err := msg.DoubleAck(ctx); err != nil {
		w.say("job %s: ack: %v (the coordinator takes the outcome once whatever happens)", job.ID, err)
	}
	w.mu.Lock()
	w.done++
	w.mu.Unlock()
	w.say("job %s (%s seed %d) done: %s", job.ID, job.Case, job.Seed, faultOrOK(res.Outcome.Fault))
}

// run executes the job and uploads its files.
func (w *Worker) run(ctx context.Context, job *JobMsg, deliveries int) (*ResultMsg, error) {
	s, err := campaign.ParseScenario(job.Scenario, job.Source, job.SigIDs)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	var c *campaign.Case
	for _, k := range s.Cases(0) {
		if k.Name == job.Case {
			c = k
		}
	}
	if c == nil {
		return nil, fmt.Errorf("scenario %s has no case %s", s.Name, job.Case)
	}
	resolve := w.Kernels
	if resolve == nil {
		resolve = w.kernel
	}
	k, err := resolve(ctx, job.Kernel)
	if err != nil {
		return nil, fmt.Errorf("kernel %s: %w", job.Kernel.Spec, err)
	}
	dir := filepath.Join(w.Dir, job.ID)
	_ = os.RemoveAll(dir) // a redelivered job starts afresh
	defer os.RemoveAll(dir)
	o := w.Exec.Execute(ctx, campaign.Job{Case: c, Kernel: k, Seed: job.Seed, Dir: dir, ID: job.ID})
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	res := &ResultMsg{JobID: job.ID, Worker: w.ID, Deliveries: deliveries, Outcome: o, Files: map[string]string{}, Inline: map[string][]byte{}}
	var files []string
	var total int64
	for _, f := range []string{o.Console, o.Stdout, o.Stderr} {
		if st, err := os.Stat(f); err == nil && f != "" {
			files = append(files, f)
			total += st.Size()
		}
	}
	for _, f := range files {
		if total <= inlineMax {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			res.Inline[filepath.Base(f)] = b
			continue
		}
		name := job.ID + "/" + filepath.Base(f)
		if err := retry(ctx, 2*time.Minute, func() error {
			obs, err := w.JS.ObjectStore(ctx, RunsBucket)
			if err != nil {
				return err
			}
			return putFile(ctx, obs, name, f)
		}); err != nil {
			return nil, err
		}
		res.Files[filepath.Base(f)] = name
	}
	return res, nil
}

// putFile uploads the file at path as object name.
func putFile(ctx context.Context, obs jetstream.ObjectStore, name, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := obs.Put(ctx, jetstream.ObjectMeta{Name: name}, f); err != nil {
		return fmt.Errorf("upload %s as %s: %w", path, name, err)
	}
	return nil
}

// kernel resolves a job's kernel from this machine's cache: a Debian spec
// is fetched; a built kernel is downloaded from KernelsBucket once.
func (w *Worker) kernel(ctx context.Context, ref KernelRef) (*kernels.Kernel, error) {
	store, err := kernels.NewStore()
	if err != nil {
		return nil, err
	}
	switch ref.Source {
	case "debian":
		w.mu.Lock()
		r, ok := w.resolved[ref.Spec]
		w.mu.Unlock()
		if ok && time.Since(r.at) < time.Hour {
			return r.k, nil
		}
		k, err := store.Resolve(ref.Spec, true, w.Progress)
		if err == nil {
			w.mu.Lock()
			if w.resolved == nil {
				w.resolved = map[string]resolvedKernel{}
			}
			w.resolved[ref.Spec] = resolvedKernel{k, time.Now()}
			w.mu.Unlock()
		}
		return k, err
	case "build":
		if k, err := store.Lookup(ref.Name); err == nil {
			return k, nil
		}
		obs, err := w.JS.ObjectStore(ctx, KernelsBucket)
		if err != nil {
			return nil, err
		}
		r, err := obs.Get(ctx, ref.Name+".tar")
		if err != nil {
			return nil, fmt.Errorf("built kernel %s is not in %s: %w", ref.Name, KernelsBucket, err)
		}
		defer r.Close()
		w.say("downloading built kernel %s", ref.Name)
		if err := untarKernel(r, store.Root, ref.Name); err != nil {
			return nil, err
		}
		return store.Lookup(ref.Name)
	}
	return nil, fmt.Errorf("a %s kernel cannot run remotely (only Debian and built kernels)", ref.Source)
}

// tarKernel writes a kernel's cache directory as a tar stream (paths
// relative to it).
func tarKernel(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		link := ""
		if info.Mode()&os.ModeSymlink != 0 {
			link, _ = os.Readlink(p)
		}
		h, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		h.Name = rel
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(tw, f)
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// untarKernel unpacks a kernel into root/name, then rewrites the manifest's
// paths from the coordinator's cache to this one.
func untarKernel(r io.Reader, root, name string) error {
	tmp, err := os.MkdirTemp(root, ".incoming-")
	if err != nil {
		if err := os.MkdirAll(root, 0o755); err != nil {
			return err
		}
		if tmp, err = os.MkdirTemp(root, ".incoming-"); err != nil {
			return err
		}
	}
	defer os.RemoveAll(tmp)
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("unpack kernel %s: %w", name, err)
		}
		p := filepath.Join(tmp, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.Symlink(h.Linkname, p); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o777)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, tr); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
		}
	}
	mpath := filepath.Join(tmp, "kernel.json")
	b, err := os.ReadFile(mpath)
	if err != nil {
		return fmt.Errorf("kernel %s: no manifest: %w", name, err)
	}
	var k kernels.Kernel
	if err := json.Unmarshal(b, &k); err != nil {
		return err
	}
	dst := filepath.Join(root, name)
	for _, p := range []*string{&k.Vmlinuz, &k.SystemMap, &k.Config, &k.ModulesDir, &k.BuildLog} {
		if *p != "" && k.Dir != "" && strings.HasPrefix(*p, k.Dir) {
			*p = dst + strings.TrimPrefix(*p, k.Dir)
		}
	}
	k.Dir = dst
	if b, err = json.MarshalIndent(&k, "", "  "); err != nil {
		return err
	}
	if err := os.WriteFile(mpath, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

func faultOrOK(f verdict.Fault) string {
	if f == verdict.FaultNone {
		return "ran to its end"
	}
	return string(f)
}
