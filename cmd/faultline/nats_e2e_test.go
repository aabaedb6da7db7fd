//go:build !faultline_agent

package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// natsServer starts the Debian package's nats-server with JetStream on a
// free loopback port and returns its URL.
func natsServer(t *testing.T, dir string) string {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		if _, err := os.Stat("/usr/sbin/nats-server"); err != nil {
			t.Skip("no nats-server (make deps installs Debian's)")
		}
		bin = "/usr/sbin/nats-server"
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	srv := exec.Command(bin, "-js", "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-sd", dir)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	url := "nats://127.0.0.1:" + strconv.Itoa(port)
	// Ready once a NATS client completes its handshake (a bare TCP
	// connection can be accepted while the server still starts up).
	for i := 0; i < 100; i++ {
		if nc, err := nats.Connect(url, nats.Timeout(time.Second)); err == nil {
			nc.Close()
			return url
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("nats-server did not answer")
	return ""
}

// TestRunNATS runs a small campaign on two `faultline worker` processes
// through a real nats-server, each run in a real VM, and the same cases
// and seeds locally: the verdicts and titles must be the same.
func TestRunNATS(t *testing.T) {
	needKernel(t)
	tmp, dir := t.TempDir(), t.TempDir()
	url := natsServer(t, filepath.Join(dir, "js"))
	logs := map[string]*lockedBuf{}
	for _, id := range []string{"wa", "wb"} {
		w := exec.Command(binary, "worker", "--nats", url, "--id", id, "--dir", filepath.Join(dir, id))
		w.Env = append(os.Environ(), "TMPDIR="+tmp)
		log := &lockedBuf{}
		logs[id] = log
		w.Stderr = log
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = w.Process.Signal(syscall.SIGTERM)
			_ = w.Wait()
			if t.Failed() {
				t.Logf("worker %s:\n%s", id, log.String())
			}
		})
	}
	files := []string{
		scenarioFile(t, dir, "a-ok", "echo data > f && sync && grep -q data f", ""),
		scenarioFile(t, dir, "b-panic", "echo c > /proc/sysrq-trigger", ""),
		scenarioFile(t, dir, "c-lost-data", "exit 3", ""),
	}
	remoteOut, localOut := filepath.Join(dir, "remote"), filepath.Join(dir, "local")
	r := faultline(t, tmp, "", append([]string{"run", "--nats", url, "--seed", "77", "--out", remoteOut}, files...)...)
	if r.code != 1 {
		t.Fatalf("remote campaign: exit %d, want 1 (findings); stderr:\n%s", r.code, r.stderr)
	}
	l := faultline(t, tmp, "", append([]string{"run", "--parallel", "1", "--seed", "77", "--out", localOut}, files...)...)
	if l.code != 1 {
		t.Fatalf("local campaign: exit %d; stderr:\n%s", l.code, l.stderr)
	}
	rc, lc := report(t, tmp, remoteOut), report(t, tmp, localOut)
	if len(rc.Runs) != 3 || len(lc.Runs) != 3 {
		t.Fatalf("%d remote and %d local runs, want 3 each", len(rc.Runs), len(lc.Runs))
	}
	for i := range rc.Runs {
		a, b := rc.Runs[i], lc.Runs[i]
		if a.Case != b.Case || a.Verdict != b.Verdict || a.Title != b.Title || a.Signature != b.Signature {
			t.Errorf("run %d: remote %s %s %q, local %s %s %q", i+1, a.Case, a.Verdict, a.Title, b.Case, b.Verdict, b.Title)
		}
		if _, err := os.Stat(filepath.Join(remoteOut, a.Dir, "console.log")); err != nil {
			t.Errorf("remote run %d: console not fetched: %v", i+1, err)
		}
	}
	for _, run := range rc.Runs {
		if run.Worker != "wa" && run.Worker != "wb" {
			t.Errorf("remote run %d recorded as run by %q", run.Index+1, run.Worker)
		}
	}

	// The coordinator killed (-9) once its jobs are out: the workers finish
	// them, and --resume collects both outcomes without running either
	// again.
	slow := scenarioFile(t, dir, "d-slow", "sleep 6", "runs: 2\n")
	killedOut := filepath.Join(dir, "killed")
	co := exec.Command(binary, "run", "--nats", url, "--seed", "5", "--out", killedOut, slow)
	co.Env = append(os.Environ(), "TMPDIR="+tmp)
	if err := co.Start(); err != nil {
		t.Fatal(err)
	}
	started := regexp.MustCompile(`\(d-slow seed \d+\) started`)
	done := regexp.MustCompile(`\(d-slow seed \d+\) done`)
	count := func(re *regexp.Regexp) int { return len(re.FindAllString(logs["wa"].String()+logs["wb"].String(), -1)) }
	// Kill it once both jobs are out (each worker has started one).
	for deadline := time.Now().Add(60 * time.Second); count(started) < 2 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	_ = co.Process.Kill()
	_ = co.Wait()
	for deadline := time.Now().Add(90 * time.Second); count(done) < 2 && time.Now().Before(deadline); {
		time.Sleep(500 * time.Millisecond)
	}
	if count(done) != 2 {
		t.Fatalf("the workers finished %d of the 2 jobs of the killed coordinator", count(done))
	}
	res := faultline(t, tmp, "", "run", "--nats", url, "--resume", killedOut)
	if res.code != 0 {
		t.Fatalf("resume: exit %d: %s", res.code, res.stderr)
	}
	kc := report(t, tmp, killedOut)
	if kc.Summary.Finished != 2 || kc.Summary.Verdicts["clean"] != 2 || count(started) != 2 {
		t.Errorf("after resume: %+v; the workers started d-slow %d times (want 2)", kc.Summary, count(started))
	}
	noQEMULeft(t, tmp)
}

// lockedBuf is a process's stderr, read while it is written.
type lockedBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
