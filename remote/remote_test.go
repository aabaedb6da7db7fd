//go:build !faultline_agent

package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"faultline/campaign"
	"faultline/harness"
	"faultline/harness/fakevm"
	"faultline/kernels"
	"faultline/results"
	"faultline/verdict"
)

// An embedded nats-server with JetStream on file storage, two in-process
// workers with fake VMs, and the campaign engine with a Coordinator.

const cleanSummary = `{"workload":"fsync","ops":10,"integrity":{"checked_bytes":4096,"bad_blocks":0,"ok":true}}`

func startServer(t *testing.T, dir string, port int) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	return s
}

func connect(t *testing.T, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := Connect(Options{URL: url}, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// waitWorkers waits until each named worker has announced itself (its
// consumers exist by then).
func waitWorkers(t *testing.T, js jetstream.JetStream, ids ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, id := range ids {
		for {
			kv, err := js.KeyValue(ctx, WorkersBucket)
			if err == nil {
				if _, err = kv.Get(ctx, id); err == nil {
					break
				}
			}
			if ctx.Err() != nil {
				t.Fatalf("worker %s did not announce itself: %v", id, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func debianKernel(_ context.Context, ref KernelRef) (*kernels.Kernel, error) {
	return &kernels.Kernel{Name: ref.Name, Release: "6.1.0-fake", Source: ref.Source}, nil
}

type testWorker struct {
	w      *Worker
	pool   *fakevm.Pool
	cancel context.CancelFunc
	done   chan struct{}
}

func startWorker(t *testing.T, url, id string, labels []string, script func(harness.Options) fakevm.Script, ackWait time.Duration) *testWorker {
	t.Helper()
	_, js := connect(t, url)
	pool := &fakevm.Pool{Script: script}
	w := &Worker{JS: js, ID: id, Labels: labels, Capacity: 1, Exec: &campaign.Local{Pool: pool, Agent: "/none"},
		Dir: t.TempDir(), Kernels: debianKernel, Options: Options{AckWait: ackWait, MaxDeliver: 3}}
	ctx, cancel := context.WithCancel(context.Background())
	tw := &testWorker{w: w, pool: pool, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(tw.done); _ = w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-tw.done })
	return tw
}

func scenario(t *testing.T, name string, runs int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name+".yaml")
	text := fmt.Sprintf("name: %s\nkernel: debian:6.1-cloud\nfs: {type: ext4}\nworkload: {name: fsync}\nruns: %d\n", name, runs)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func fakeKernels(spec string, _ func(string)) (*kernels.Kernel, error) {
	return &kernels.Kernel{Name: spec + "-pkg", Release: "6.1.0-fake", Source: "debian"}, nil
}

func clean(harness.Options) fakevm.Script {
	return fakevm.Script{Stdout: cleanSummary, RunDelay: 50 * time.Millisecond, Console: "[    1.000000] faultline-agent: ready\n"}
}

func newCampaign(t *testing.T, js jetstream.JetStream, nc *nats.Conn, out string, runs int, labels []string) (*campaign.Campaign, *Coordinator) {
	t.Helper()
	co := &Coordinator{NC: nc, JS: js, Labels: labels, NoWorker: 3 * time.Second}
	c, err := campaign.Create(campaign.Config{Executor: co, Kernels: fakeKernels, Parallel: 16},
		campaign.Plan{Scenarios: []string{scenario(t, "remote", runs)}, Out: out, Seed: 100})
	if err != nil {
		t.Fatal(err)
	}
	return c, co
}

func finals(runs []*results.Run) map[int]*results.Run {
	m := map[int]*results.Run{}
	for _, r := range runs {
		if r.Final {
			m[r.Index] = r
		}
	}
	return m
}

// TestCampaignOnTwoWorkers: every run is run once, by one of the two
// workers, its files come back, and the store holds what a local run
// would.
func TestCampaignOnTwoWorkers(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	defer s.Shutdown()
	// Both workers subscribed before the campaign starts: otherwise one
	// can take all eight jobs before the other has asked for any (seen
	// under load).
	w1 := startWorker(t, s.ClientURL(), "w1", nil, clean, 2*time.Second)
	w2 := startWorker(t, s.ClientURL(), "w2", []string{"kvm"}, clean, 2*time.Second)
	nc, js := connect(t, s.ClientURL())
	waitWorkers(t, js, "w1", "w2")
	c, co := newCampaign(t, js, nc, t.TempDir(), 8, nil)
	defer c.Close()
	defer co.Close()
	res := c.Run(context.Background())
	if res.ExitCode() != 0 || res.Summary.Finished != 8 || res.Summary.Verdicts[verdict.Clean] != 8 {
		t.Fatalf("exit %d, summary %+v", res.ExitCode(), res.Summary)
	}
	if n := w1.pool.Ran() + w2.pool.Ran(); n != 8 {
		t.Errorf("the workers ran %d runs, want 8", n)
	}
	if w1.pool.Ran() == 0 || w2.pool.Ran() == 0 {
		t.Errorf("one worker did everything: %d and %d", w1.pool.Ran(), w2.pool.Ran())
	}
	for _, r := range res.Runs {
		b, err := os.ReadFile(filepath.Join(res.Dir, r.Dir, "console.log"))
		if err != nil || !strings.Contains(string(b), "faultline-agent: ready") {
			t.Errorf("run %d: console not fetched: %v", r.Index, err)
		}
	}
}

// TestLabels: a worker without the job's labels never takes it; a job no
// live worker can take is reported as infra-error, not waited on for ever.
func TestLabels(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	defer s.Shutdown()
	plain := startWorker(t, s.ClientURL(), "plain", nil, clean, 2*time.Second)
	nc, js := connect(t, s.ClientURL())
	c, co := newCampaign(t, js, nc, t.TempDir(), 2, []string{"kvm"})
	defer c.Close()
	defer co.Close()
	res := c.Run(context.Background())
	if plain.pool.Ran() != 0 {
		t.Errorf("a worker without the kvm label ran %d kvm jobs", plain.pool.Ran())
	}
	for _, r := range finals(res.Runs) {
		if r.Verdict != verdict.Infra || !strings.Contains(r.Detail, "no live worker has labels [kvm]") {
			t.Errorf("run %d: %s (%s), want infra-error naming the labels", r.Index, r.Verdict, r.Detail)
		}
	}
	// A worker with the label comes: the queued jobs run (and their
	// outcomes wait in the stream for a campaign that asks).
	kvm := startWorker(t, s.ClientURL(), "kvm", []string{"kvm", "x86_64"}, clean, 2*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && kvm.w.Finished() < 2 {
		time.Sleep(100 * time.Millisecond)
	}
	if kvm.w.Finished() != 2 {
		t.Errorf("the kvm worker ran %d of the 2 queued jobs", kvm.w.Finished())
	}
}

// TestWorkerKilledMidRun: a worker that dies with a job (no ack, no more
// heartbeats) loses it to the other after the ack wait; the outcome says it
// was delivered twice. After the last delivery a job is infra-error.
func TestWorkerKilledMidRun(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	defer s.Shutdown()
	var once sync.Once
	victimStarted := make(chan struct{})
	victim := startWorker(t, s.ClientURL(), "victim", nil, func(harness.Options) fakevm.Script {
		once.Do(func() { close(victimStarted) })
		return fakevm.Script{Block: true}
	}, time.Second)
	nc, js := connect(t, s.ClientURL())
	c, co := newCampaign(t, js, nc, t.TempDir(), 1, nil)
	defer c.Close()
	defer co.Close()
	done := make(chan *campaign.Result)
	go func() { done <- c.Run(context.Background()) }()
	<-victimStarted
	victim.cancel() // the worker dies: its job is neither acked nor kept alive
	<-victim.done
	rescuer := startWorker(t, s.ClientURL(), "rescuer", nil, clean, time.Second)
	res := <-done
	f := finals(res.Runs)
	if len(f) != 1 || f[0].Verdict != verdict.Clean || rescuer.pool.Ran() != 1 {
		t.Fatalf("runs %+v; rescuer ran %d", res.Runs, rescuer.pool.Ran())
	}
	if f[0].Deliveries != 2 || f[0].Worker != "rescuer" {
		t.Errorf("run recorded as worker %q, %d deliveries; want rescuer, 2", f[0].Worker, f[0].Deliveries)
	}

	// Every delivery lost: given up after MaxDeliver (3), infra-error.
	var n int
	var mu sync.Mutex
	dying := startWorker(t, s.ClientURL(), "dying", nil, func(harness.Options) fakevm.Script {
		return fakevm.Script{Block: true}
	}, time.Second)
	rescuer.cancel()
	<-rescuer.done
	_ = dying
	// The dying worker blocks every job; the coordinator's consumer is the
	// workers' shared one, so each redelivery goes back to it. Make each
	// delivery die: cancel and restart the worker whenever it holds one.
	stop := make(chan struct{})
	go func() {
		cur := dying
		for {
			select {
			case <-stop:
				return
			case <-time.After(300 * time.Millisecond):
			}
			if cur.pool.Ran() > 0 {
				mu.Lock()
				n++
				mu.Unlock()
				cur.cancel()
				<-cur.done
				cur = startWorker(t, s.ClientURL(), fmt.Sprintf("dying%d", n), nil, func(harness.Options) fakevm.Script { return fakevm.Script{Block: true} }, time.Second)
			}
		}
	}()
	defer close(stop)
	c2, co2 := newCampaign(t, js, nc, t.TempDir(), 1, nil)
	defer c2.Close()
	defer co2.Close()
	res2 := c2.Run(context.Background())
	f2 := finals(res2.Runs)
	if len(f2) != 1 || f2[0].Verdict != verdict.Infra || !strings.Contains(f2[0].Detail, "deliveries") {
		t.Fatalf("after every delivery died: %+v", res2.Runs)
	}
}

// TestCoordinatorKilledAndResumed: the coordinator dies with its jobs
// published; the workers finish them; a resumed campaign collects every
// outcome and runs nothing twice.
func TestCoordinatorKilledAndResumed(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	defer s.Shutdown()
	out := t.TempDir()
	nc, js := connect(t, s.ClientURL())
	// No worker yet: the coordinator publishes and then "dies" (its
	// context is cut and nothing more is recorded).
	c, co := newCampaign(t, js, nc, out, 4, nil)
	co.NoWorker = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for {
			if info, err := js.Stream(context.Background(), JobsStream); err == nil {
				if si, err := info.Info(context.Background()); err == nil && si.State.Msgs >= 4 {
					cancel()
					return
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	res := c.Run(ctx)
	co.Close()
	c.Close()
	if res.Status != "interrupted" {
		t.Fatalf("status %s", res.Status)
	}
	// An ack wait no stall of a loaded machine reaches: a job whose
	// heartbeats came late would be redelivered and run twice (at least
	// once is the contract), and this test counts runs to show that the
	// resumed coordinator republishes nothing.
	w := startWorker(t, s.ClientURL(), "w", nil, clean, 30*time.Second)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) && w.w.Finished() < 4 {
		time.Sleep(100 * time.Millisecond)
	}
	co2 := &Coordinator{NC: nc, JS: js, NoWorker: 3 * time.Second}
	defer co2.Close()
	c2, err := campaign.Resume(campaign.Config{Executor: co2, Kernels: fakeKernels}, out)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	res2 := c2.Run(context.Background())
	if res2.ExitCode() != 0 || res2.Summary.Finished != 4 {
		t.Fatalf("resumed: exit %d, %+v", res2.ExitCode(), res2.Summary)
	}
	if w.pool.Ran() != 4 {
		t.Errorf("the worker ran %d runs for 4 planned: something ran twice or not at all", w.pool.Ran())
	}
}

// TestServerRestart: nats-server goes down mid-campaign and comes back on
// the same store: no job and no outcome is lost.
func TestServerRestart(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, -1)
	port := s.Addr().(interface{ String() string }).String()
	port = port[strings.LastIndex(port, ":")+1:]
	var p int
	fmt.Sscan(port, &p)
	url := s.ClientURL()
	slow := func(harness.Options) fakevm.Script {
		return fakevm.Script{Stdout: cleanSummary, RunDelay: 300 * time.Millisecond}
	}
	w := startWorker(t, url, "w", nil, slow, 3*time.Second)
	nc, js := connect(t, url)
	c, co := newCampaign(t, js, nc, t.TempDir(), 6, nil)
	co.NoWorker = time.Minute
	defer c.Close()
	defer co.Close()
	done := make(chan *campaign.Result)
	go func() { done <- c.Run(context.Background()) }()
	for w.w.Finished() < 2 {
		time.Sleep(20 * time.Millisecond)
	}
	s.Shutdown()
	s.WaitForShutdown()
	time.Sleep(500 * time.Millisecond)
	s2 := startServer(t, dir, p)
	defer s2.Shutdown()
	select {
	case res := <-done:
		if res.Summary.Finished != 6 || res.Summary.Verdicts[verdict.Clean] != 6 {
			for _, r := range res.Runs {
				t.Logf("run %d attempt %d: %s %s (%s)", r.Index, r.Attempt, r.Verdict, r.Fault, r.Detail)
			}
			t.Fatalf("after a server restart: %+v", res.Summary)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the campaign did not finish after the server came back")
	}
	if w.pool.Ran() > 8 {
		t.Errorf("%d runs for 6 planned", w.pool.Ran())
	}
}

func TestLabelSets(t *testing.T) {
	if got := len(subsets([]string{"kvm", "x86-64", "kvm"})); got != 4 {
		t.Errorf("%d subsets of {kvm, x86-64}, want 4", got)
	}
	if labelKey(nil) != "any" || labelKey([]string{"x86_64", "kvm"}) != "kvm+x86_64" {
		t.Errorf("label keys %q %q", labelKey(nil), labelKey([]string{"x86_64", "kvm"}))
	}
	if !satisfies([]string{"kvm", "big"}, []string{"kvm"}) || satisfies([]string{"big"}, []string{"kvm"}) {
		t.Error("satisfies")
	}
	for _, bad := range []string{"KVM", "a.b", "any", "a,b,c,d,e,f,g"} {
		if _, err := ParseLabels(bad); err == nil {
			t.Errorf("ParseLabels(%q) accepted", bad)
		}
	}
}

// TestBuiltKernelTravels: a built kernel goes into the kernels bucket once
// (coordinator) and lands in a worker's cache with its manifest's paths
// pointing there.
func TestBuiltKernelTravels(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	defer s.Shutdown()
	nc, js := connect(t, s.ClientURL())
	ctx := context.Background()
	if err := Setup(ctx, js); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "6.1-harness-abc123")
	if err := os.MkdirAll(filepath.Join(src, "lib", "modules", "6.1.0"), 0o755); err != nil {
		t.Fatal(err)
	}
	k := &kernels.Kernel{Name: "6.1-harness-abc123", Source: "build", Release: "6.1.0", Dir: src,
		Vmlinuz: filepath.Join(src, "bzImage"), ModulesDir: filepath.Join(src, "lib", "modules", "6.1.0"), Key: "abc123"}
	os.WriteFile(k.Vmlinuz, []byte("not really a kernel"), 0o644)
	os.WriteFile(filepath.Join(k.ModulesDir, "modules.dep"), []byte("x.ko:\n"), 0o644)
	b, _ := json.Marshal(k)
	os.WriteFile(filepath.Join(src, "kernel.json"), b, 0o644)
	co := &Coordinator{NC: nc, JS: js}
	co.uploaded = map[string]bool{}
	if err := co.uploadKernel(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := co.uploadKernel(ctx, k); err != nil { // once: the second is a no-op
		t.Fatal(err)
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	w := &Worker{JS: js, ID: "w"}
	got, err := w.kernel(ctx, KernelRef{Spec: "6.1-harness", Name: k.Name, Source: "build"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Dir == src || !strings.HasPrefix(got.Vmlinuz, got.Dir) || !strings.HasPrefix(got.ModulesDir, got.Dir) {
		t.Errorf("manifest not moved: %+v", got)
	}
	if b, err := os.ReadFile(got.Vmlinuz); err != nil || string(b) != "not really a kernel" {
		t.Errorf("bzImage: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(got.ModulesDir, "modules.dep")); err != nil {
		t.Error(err)
	}
	// A kernel that is neither Debian's nor built cannot run remotely.
	if _, err := w.kernel(ctx, KernelRef{Spec: "file:/x", Source: "file"}); err == nil {
		t.Error("a file: kernel was accepted for a remote run")
	}
}

// TestConnectWaitsForServer: a coordinator started before its nats-server
// connects once the server is up, and says it is waiting.
func TestConnectWaitsForServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	// Nobody there and no wait: one try, an error naming the URL.
	if _, err := Connect(Options{URL: url}, "test", nil); err == nil || !errors.Is(err, nats.ErrNoServers) || !strings.Contains(err.Error(), url) {
		t.Errorf("no server, no wait: %v", err)
	}
	var lines []string
	type result struct {
		nc  *nats.Conn
		err error
	}
	got := make(chan result, 1)
	go func() {
		nc, err := Connect(Options{URL: url, Wait: 30 * time.Second}, "test", func(s string) { lines = append(lines, s) })
		got <- result{nc, err}
	}()
	time.Sleep(3 * connectPause)
	s := startServer(t, t.TempDir(), port)
	defer s.Shutdown()
	r := <-got
	if r.err != nil {
		t.Fatalf("connect while the server came up: %v", r.err)
	}
	r.nc.Close()
	if len(lines) != 1 || !strings.Contains(lines[0], url) {
		t.Errorf("progress %q, want one line naming %s", lines, url)
	}
}

func TestConnectWaitTries(t *testing.T) {
	defer func(p time.Duration) { connectPause = p }(connectPause)
	connectPause = time.Millisecond
	refused := nats.ErrNoServers
	denied := nats.ErrAuthorization
	for _, tc := range []struct {
		name  string
		errs  []error // dial's answers in turn; nil connects
		wait  time.Duration
		tries int
		ok    bool
	}{
		{"up at once", []error{nil}, time.Minute, 1, true},
		{"up after three refusals", []error{refused, refused, refused, nil}, time.Minute, 4, true},
		{"login refused: no retry", []error{denied, nil}, time.Minute, 1, false},
		{"refused, then login refused", []error{refused, denied, nil}, time.Minute, 2, false},
		{"no wait: one try", []error{refused, nil}, 0, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tries := 0
			nc, err := connectWait("nats://x", tc.wait, func() (*nats.Conn, error) {
				e := tc.errs[tries]
				tries++
				if e != nil {
					return nil, e
				}
				return &nats.Conn{}, nil
			}, nil)
			if (err == nil) != tc.ok || (nc != nil) != tc.ok || tries != tc.tries {
				t.Errorf("err %v, conn %v, %d tries; want ok=%v after %d tries", err, nc != nil, tries, tc.ok, tc.tries)
			}
			if err != nil && !errors.Is(err, tc.errs[tries-1]) {
				t.Errorf("error %v does not wrap %v", err, tc.errs[tries-1])
			}
		})
	}
}
