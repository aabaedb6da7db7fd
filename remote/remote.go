//go:build !faultline_agent

// Package remote runs a campaign's runs on other machines over NATS
// JetStream. A Coordinator is a campaign.Executor: it publishes each run as
// a job to a work-queue stream and waits for its outcome; Workers (one
// `faultline worker` per host) pull the jobs their labels satisfy, keep
// them alive while their VM runs, upload the run's files to the object
// store, publish the outcome and ack. The campaign's SQLite store stays the
// one record: JetStream delivers at least once, so outcomes are taken once
// per job id (campaign, planned run, attempt).
//
// Trust: whoever can publish to the jobs subjects runs code on the workers
// (a scenario's workload command is shell text); give that permission only
// to those you would let write a scenario.
package remote

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"faultline/campaign"
	"faultline/verdict"
)

// Names on the bus.
const (
	JobsStream    = "FAULTLINE_JOBS"    // work queue: faultline.jobs.LABELS
	ResultsStream = "FAULTLINE_RESULTS" // outcomes: faultline.results.CAMPAIGN
	RunsBucket    = "faultline-runs"    // object store: each run's files
	KernelsBucket = "faultline-kernels" // object store: built kernels by cache name
	WorkersBucket = "faultline-workers" // key-value: live workers and their labels
	jobsPrefix    = "faultline.jobs."
	resultsPrefix = "faultline.results."
	// JobKind is the only kind of job workers take.
	JobKind = "run"
)

// Options are the connection's settings: the server and the credentials,
// passed through to nats.go.
type Options struct {
	URL      string
	Creds    string // a .creds file (JWT + nkey)
	NKey     string // an nkey seed file
	User     string
	Password string
	TLSCA    string
	TLSCert  string
	TLSKey   string
	// AckWait is how long a job may go without a heartbeat before it is
	// redelivered; MaxDeliver how often it is delivered before it is given
	// up (infra-error).
	AckWait    time.Duration
	MaxDeliver int
	// Wait is how long the first connection keeps trying while no server
	// answers at URL (one started at the same time may still be coming
	// up); 0 tries once. A refused login or certificate fails at once.
	Wait time.Duration
}

// RegisterFlags adds the connection flags to fs.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.URL, "nats", "", "NATS server URL (nats://host:4222, tls://...): run on the workers there")
	fs.StringVar(&o.Creds, "creds", "", "NATS credentials file (.creds)")
	fs.StringVar(&o.NKey, "nats-nkey", "", "NATS nkey seed file")
	fs.StringVar(&o.User, "nats-user", "", "NATS user (the password from $FAULTLINE_NATS_PASSWORD)")
	fs.StringVar(&o.TLSCA, "nats-tls-ca", "", "CA certificate to verify the NATS server")
	fs.StringVar(&o.TLSCert, "nats-tls-cert", "", "client certificate for NATS (with --nats-tls-key)")
	fs.StringVar(&o.TLSKey, "nats-tls-key", "", "client key for NATS")
	fs.DurationVar(&o.Wait, "nats-wait", 30*time.Second, "at start, keep trying this long while no NATS server answers")
}

// RegisterWorkerFlags adds the flags that set the workers' consumers: how
// long a job may go without a heartbeat, how often it is delivered. (The
// workers create the consumers, so a coordinator has no say in them.)
func (o *Options) RegisterWorkerFlags(fs *flag.FlagSet) {
	fs.DurationVar(&o.AckWait, "nats-ack-wait", 30*time.Second, "a job without this worker's heartbeat this long is redelivered")
	fs.IntVar(&o.MaxDeliver, "nats-max-deliver", 3, "deliveries of a job before it is given up as infra-error")
}

// Connect connects to the server with the options' credentials; the
// connection retries for ever when the server goes away. While no server
// answers at all, the first connection is tried again for o.Wait, with a
// line to progress (which may be nil) when it starts waiting.
func Connect(o Options, name string, progress func(string)) (*nats.Conn, error) {
	if o.URL == "" {
		return nil, errors.New("no NATS URL")
	}
	opts := []nats.Option{nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond), nats.RetryOnFailedConnect(false)}
	if o.Creds != "" {
		opts = append(opts, nats.UserCredentials(o.Creds))
	}
	if o.NKey != "" {
		opt, err := nats.NkeyOptionFromSeed(o.NKey)
		if err != nil {
			return nil, fmt.Errorf("nats nkey %s: %w", o.NKey, err)
		}
		opts = append(opts, opt)
	}
	if o.User != "" {
		if o.Password == "" {
			o.Password = os.Getenv("FAULTLINE_NATS_PASSWORD")
		}
		opts = append(opts, nats.UserInfo(o.User, o.Password))
	}
	if o.TLSCA != "" {
		opts = append(opts, nats.RootCAs(o.TLSCA))
	}
	if o.TLSCert != "" || o.TLSKey != "" {
		opts = append(opts, nats.ClientCert(o.TLSCert, o.TLSKey))
	}
	return connectWait(o.URL, o.Wait, func() (*nats.Conn, error) { return nats.Connect(o.URL, opts...) }, progress)
}

// connectPause is the time between two tries of a first connection.
var connectPause = 250 * time.Millisecond

// connectWait calls dial until it succeeds, fails for another reason than
// no server answering, or wait has passed.
func connectWait(url string, wait time.Duration, dial func() (*nats.Conn, error), progress func(string)) (*nats.Conn, error) {
	start := time.Now()
	for tries := 1; ; tries++ {
		nc, err := dial()
		if err == nil {
			return nc, nil
		}
		waited := time.Since(start)
		if !errors.Is(err, nats.ErrNoServers) || waited+connectPause > wait {
			if tries > 1 {
				return nil, fmt.Errorf("connect to NATS at %s (%d tries in %s; --nats-wait sets how long): %w", url, tries, waited.Round(time.Millisecond), err)
			}
			return nil, fmt.Errorf("connect to NATS at %s: %w", url, err)
		}
		if tries == 1 && progress != nil {
			progress(fmt.Sprintf("no NATS server at %s yet: trying for up to %s", url, wait))
		}
		time.Sleep(connectPause)
	}
}

// Setup creates (or updates) the streams and buckets faultline uses.
func Setup(ctx context.Context, js jetstream.JetStream) error {
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: JobsStream, Subjects: []string{jobsPrefix + ">"}, Retention: jetstream.WorkQueuePolicy,
		Storage: jetstream.FileStorage, Duplicates: 24 * time.Hour,
	}); err != nil {
		return fmt.Errorf("stream %s: %w", JobsStream, err)
	}
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: ResultsStream, Subjects: []string{resultsPrefix + ">"}, Retention: jetstream.LimitsPolicy,
		Storage: jetstream.FileStorage, Duplicates: 24 * time.Hour, MaxAge: 30 * 24 * time.Hour,
	}); err != nil {
		return fmt.Errorf("stream %s: %w", ResultsStream, err)
	}
	for _, b := range []string{RunsBucket, KernelsBucket} {
		if _, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: b, Storage: jetstream.FileStorage}); err != nil {
			return fmt.Errorf("object store %s: %w", b, err)
		}
	}
	if _, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: WorkersBucket, TTL: 15 * time.Second, Storage: jetstream.FileStorage}); err != nil {
		return fmt.Errorf("key-value %s: %w", WorkersBucket, err)
	}
	return nil
}

// labelKey is the subject token for a set of labels: sorted, joined with
// "+"; "any" for none.
func labelKey(labels []string) string {
	if len(labels) == 0 {
		return "any"
	}
	l := slices.Clone(labels)
	sort.Strings(l)
	return strings.Join(slices.Compact(l), "+")
}

// subsets returns every subset of labels (the job label sets a worker
// with these labels can take).
func subsets(labels []string) [][]string {
	l := slices.Clone(labels)
	sort.Strings(l)
	l = slices.Compact(l)
	out := [][]string{nil}
	for _, x := range l {
		n := len(out)
		for i := 0; i < n; i++ {
			out = append(out, append(slices.Clone(out[i]), x))
		}
	}
	return out
}

// ParseLabels splits a comma-separated label list; a label is lower-case
// letters, digits, "-" and "_" (they become subject tokens).
func ParseLabels(s string) ([]string, error) {
	var out []string
	for _, l := range strings.Split(s, ",") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return nil, fmt.Errorf("label %q: use lower-case letters, digits, '-' and '_'", l)
			}
		}
		if l == "any" {
			return nil, fmt.Errorf("label %q is reserved", l)
		}
		out = append(out, l)
	}
	if len(out) > 6 {
		return nil, fmt.Errorf("%d labels: at most 6", len(out))
	}
	return out, nil
}

// satisfies reports whether a worker with labels have can take a job that
// needs labels need.
func satisfies(have, need []string) bool {
	for _, n := range need {
		if !slices.Contains(have, n) {
			return false
		}
	}
	return true
}

// KernelRef names the kernel a job boots: a Debian spec the worker fetches
// itself, or a built kernel the coordinator put in KernelsBucket.
type KernelRef struct {
	Spec   string `json:"spec"`
	Name   string `json:"name"`
	Source string `json:"source"`
}

// JobMsg is a job on the bus.
type JobMsg struct {
	Kind     string    `json:"kind"`
	ID       string    `json:"id"`
	Campaign string    `json:"campaign"`
	Labels   []string  `json:"labels,omitempty"`
	Scenario string    `json:"scenario"` // the scenario's path, for messages
	Source   []byte    `json:"source"`   // the scenario's text
	Case     string    `json:"case"`
	SigIDs   []string  `json:"signature_ids"`
	Kernel   KernelRef `json:"kernel"`
	Seed     int64     `json:"seed"`
}

// ResultMsg is a job's outcome on the bus.
type ResultMsg struct {
	JobID  string `json:"job_id"`
	Worker string `json:"worker"`
	// Deliveries is how often the job had been delivered when it ran.
	Deliveries int              `json:"deliveries"`
	Outcome    *verdict.Outcome `json:"outcome"`
	// Files maps a run file's base name to its object in RunsBucket;
	// Inline holds small runs' files in the message itself.
	Files  map[string]string `json:"files,omitempty"`
	Inline map[string][]byte `json:"inline,omitempty"`
}

// inlineMax is the most run-file bytes sent inside the outcome message
// (one message instead of an object per file; the server's default
// message limit is 1 MiB).
const inlineMax = 512 << 10

// WorkerInfo is what a live worker says of itself in WorkersBucket.
type WorkerInfo struct {
	ID       string   `json:"id"`
	Labels   []string `json:"labels"`
	Capacity int      `json:"capacity"`
	Running  int      `json:"running"`
}

// campaignOf returns the campaign part of a job id (c123-r4-a1 -> c123).
func campaignOf(jobID string) string {
	c, _, _ := strings.Cut(jobID, "-")
	return c
}

// retry calls f until it succeeds, ctx ends or patience runs out: the
// server may be restarting (the connection reconnects by itself).
func retry(ctx context.Context, patience time.Duration, f func() error) error {
	deadline := time.Now().Add(patience)
	wait := 100 * time.Millisecond
	for {
		err := f()
		if err == nil || ctx.Err() != nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return err
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// ErrBadLabels is wrapped by the errors about a label list.
var ErrBadLabels = errors.New("bad labels")

// NewCoordinator connects to the server in o and returns a coordinator
// whose jobs ask for labels (comma-separated).
func NewCoordinator(o Options, labelList string, sigIDs []string, progress func(string)) (*Coordinator, error) {
	labels, err := ParseLabels(labelList)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadLabels, err)
	}
	nc, js, err := connectJS(o, "faultline coordinator", progress)
	if err != nil {
		return nil, err
	}
	return &Coordinator{NC: nc, JS: js, Labels: labels, SigIDs: sigIDs, Progress: progress, ownConn: true}, nil
}

// NewWorker connects to the server in o and returns a worker offering
// labels (comma-separated) that runs its jobs with exec, keeping their
// files in dir while it uploads them.
func NewWorker(o Options, id, labelList string, capacity int, exec campaign.Executor, dir string, progress func(string)) (*Worker, error) {
	labels, err := ParseLabels(labelList)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadLabels, err)
	}
	_, js, err := connectJS(o, "faultline worker "+id, progress)
	if err != nil {
		return nil, err
	}
	return &Worker{JS: js, ID: id, Labels: labels, Capacity: capacity, Exec: exec, Dir: dir, Options: o, Progress: progress}, nil
}

// connectJS connects and opens JetStream on the connection.
func connectJS(o Options, name string, progress func(string)) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := Connect(o, name, progress)
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}
