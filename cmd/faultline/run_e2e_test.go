//go:build !faultline_agent

package main

// Campaign tests: faultline run on real VMs (debian:6.1-cloud under TCG),
// including the faults the harness must survive. Each takes seconds.

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"faultline/verdict"
)

// scenarioFile writes a command scenario into dir.
func scenarioFile(t *testing.T, dir, name, command string, extra string) string {
	t.Helper()
	p := filepath.Join(dir, name+".yaml")
	text := "name: " + name + "\nkernel: debian:6.1-cloud\nfs: {type: ext4}\nworkload:\n  command: " + strconvQuote(command) + "\nduration: 5s\n" + extra
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

type campaignJSON struct {
	Summary struct {
		Planned  int            `json:"planned"`
		Finished int            `json:"finished"`
		Verdicts map[string]int `json:"verdicts"`
		Campaign struct {
			Status string `json:"status"`
		} `json:"campaign"`
	} `json:"summary"`
	Runs []struct {
		Index     int    `json:"index"`
		Attempt   int    `json:"attempt"`
		Case      string `json:"case"`
		Verdict   string `json:"verdict"`
		Pass      bool   `json:"pass"`
		Title     string `json:"title"`
		Signature string `json:"signature"`
		Detail    string `json:"detail"`
		Dir       string `json:"dir"`
		Final     bool   `json:"final"`
		Worker    string `json:"worker"`
	} `json:"runs"`
}

// report reads the campaign in out through faultline report --json.
func report(t *testing.T, tmp, out string) campaignJSON {
	t.Helper()
	r := faultline(t, tmp, "", "report", "--json", out)
	if r.code != 0 {
		t.Fatalf("report: exit %d: %s", r.code, r.stderr)
	}
	var c campaignJSON
	if err := json.Unmarshal([]byte(r.stdout), &c); err != nil {
		t.Fatalf("report json: %v\n%s", err, r.stdout)
	}
	return c
}

// startRun starts faultline run in the background.
func startRun(t *testing.T, tmp string, args ...string) (*exec.Cmd, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"run", "--parallel", "1"}, args...)...)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	var errb strings.Builder
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &errb
}

// waitConsole waits until some run's console under out contains s.
func waitConsole(t *testing.T, out, glob, s string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		m, _ := filepath.Glob(filepath.Join(out, "runs", glob, "console.log"))
		for _, f := range m {
			if b, _ := os.ReadFile(f); strings.Contains(string(b), s) {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no console under %s/runs/%s shows %q after %v", out, glob, s, d)
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// faultMidRun starts a campaign of args (flags, then files; one VM at a time), waits until a
// console under out/runs/glob shows marker, applies fault, checks the exit
// status, that no QEMU is left, and that the run's console kept marker, and
// returns the stored campaign and faultline's stderr.
func faultMidRun(t *testing.T, tmp, out, glob, marker string, fault func(*exec.Cmd), wantCode int, args ...string) (campaignJSON, string) {
	t.Helper()
	cmd, stderr := startRun(t, tmp, append([]string{"--out", out}, args...)...)
	waitConsole(t, out, glob, marker, 90*time.Second)
	fault(cmd)
	if code := exitCode(cmd.Wait()); code != wantCode {
		t.Errorf("exit %d, want %d; stderr:\n%s", code, wantCode, stderr)
	}
	noQEMULeft(t, tmp)
	c := report(t, tmp, out)
	m, _ := filepath.Glob(filepath.Join(out, "runs", glob, "console.log"))
	kept := false
	for _, f := range m {
		if b, _ := os.ReadFile(f); strings.Contains(string(b), marker) {
			kept = true
		}
	}
	if !kept {
		t.Errorf("console up to the fault (%q) not kept", marker)
	}
	return c, stderr.String()
}

// pkillQEMU sends sig to the QEMU processes of this test's TMPDIR.
func pkillQEMU(t *testing.T, tmp, sig string) func(*exec.Cmd) {
	return func(*exec.Cmd) {
		if err := exec.Command("pkill", sig, "-f", "qemu-system.*"+tmp).Run(); err != nil {
			t.Fatalf("pkill %s qemu: %v", sig, err)
		}
	}
}

// TestRunVerdicts runs a small campaign: a clean run, a guest panic
// (sysrq c), a positive control that misses, a dropped SSH connection, and
// checks verdicts, the store, JUnit and the HTML report.
func TestRunVerdicts(t *testing.T) {
	needKernel(t)
	tmp, dir := t.TempDir(), t.TempDir()
	out := filepath.Join(dir, "out")
	files := []string{
		scenarioFile(t, dir, "a-ok", "echo data > f && sync && grep -q data f", ""),
		scenarioFile(t, dir, "b-panic", "echo c > /proc/sysrq-trigger", ""),
		scenarioFile(t, dir, "c-control", "true", "expect: seed-d-ext4-gup-dio-no-buffers\n"),
		// The agent's port goes away under the server: the connection
		// drops, the agent says so and powers off.
		scenarioFile(t, dir, "d-ssh-drop", "p=$(readlink -f /sys/class/virtio-ports/vport*p1/device); sleep 1; echo ${p##*/} > /sys/bus/virtio/drivers/virtio_console/unbind; sleep 10", ""),
		scenarioFile(t, dir, "e-lost-data", "exit 3", ""),
	}
	junit := filepath.Join(dir, "junit.xml")
	r := faultline(t, tmp, "", append([]string{"run", "--parallel", "2", "--out", out, "--junit", junit}, files...)...)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (findings); stderr:\n%s", r.code, r.stderr)
	}
	noQEMULeft(t, tmp)
	c := report(t, tmp, out)
	want := map[string]string{"a-ok": "clean", "b-panic": "crash", "c-control": "expectation-failed", "d-ssh-drop": "infra-error", "e-lost-data": "integrity"}
	// The infra-error is run once more (--retries 1, the default): both
	// attempts are recorded, the first not final.
	if len(c.Runs) != len(want)+1 {
		t.Fatalf("%d runs recorded, want %d", len(c.Runs), len(want)+1)
	}
	attempts := map[string][]bool{}
	for _, run := range c.Runs {
		attempts[run.Case] = append(attempts[run.Case], run.Final)
	}
	if a := attempts["d-ssh-drop"]; len(a) != 2 || a[0] || !a[1] {
		t.Errorf("d-ssh-drop attempts (final?) %v, want [false true]", a)
	}
	for _, run := range c.Runs {
		if run.Verdict != want[run.Case] {
			t.Errorf("%s: verdict %s (%s), want %s", run.Case, run.Verdict, run.Detail, want[run.Case])
		}
		if _, err := os.Stat(filepath.Join(out, run.Dir, "console.log")); err != nil {
			t.Errorf("%s: console not kept: %v", run.Case, err)
		}
		switch run.Case {
		case "b-panic":
			if !strings.Contains(run.Title, "sysrq triggered crash") {
				t.Errorf("panic run title %q", run.Title)
			}
			b, _ := os.ReadFile(filepath.Join(out, run.Dir, "console.log"))
			if !strings.Contains(string(b), "Kernel panic - not syncing") {
				t.Errorf("panic console lacks the panic")
			}
		case "d-ssh-drop":
			if !strings.Contains(run.Detail, "connection") {
				t.Errorf("ssh drop detail %q", run.Detail)
			}
		}
	}
	j, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`tests="5"`, `failures="3"`, `errors="1"`, "sysrq triggered crash"} {
		if !strings.Contains(string(j), s) {
			t.Errorf("junit lacks %s:\n%s", s, j)
		}
	}
	h, err := os.ReadFile(filepath.Join(out, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"<svg", "sysrq triggered crash", "a-ok", "expectation-failed"} {
		if !strings.Contains(string(h), s) {
			t.Errorf("report.html lacks %q", s)
		}
	}
	// The directory holds a campaign: a second run there is refused.
	r = faultline(t, tmp, "", "run", "--out", out, files[0])
	if r.code != exitError || !strings.Contains(r.stderr, "already holds a campaign") {
		t.Errorf("second campaign in the same dir: exit %d: %s", r.code, r.stderr)
	}
}

// TestRunQEMUKilled kills QEMU with SIGKILL during the second run.
func TestRunQEMUKilled(t *testing.T) {
	needKernel(t)
	tmp, dir := t.TempDir(), t.TempDir()
	out := filepath.Join(dir, "out")
	a := scenarioFile(t, dir, "a-ok", "true", "")
	b := scenarioFile(t, dir, "b-victim", "echo victim-running > /dev/kmsg; sleep 60", "")
	c, _ := faultMidRun(t, tmp, out, "0002-*", "victim-running", pkillQEMU(t, tmp, "-9"), exitError, "--retries", "0", a, b)
	if len(c.Runs) != 2 || c.Runs[0].Verdict != "clean" || c.Runs[1].Verdict != "infra-error" || !strings.Contains(c.Runs[1].Detail, "qemu was killed") {
		t.Fatalf("runs: %+v", c.Runs)
	}
}

// TestRunHang freezes the guest mid-run (SIGSTOP to QEMU: vCPUs, serial
// port and network all stop, as in a guest locked up hard).
func TestRunHang(t *testing.T) {
	needKernel(t)
	tmp, dir := t.TempDir(), t.TempDir()
	out := filepath.Join(dir, "out")
	f := scenarioFile(t, dir, "hang", "echo about-to-hang > /dev/kmsg; sleep 120", "hang_timeout: 5s\n")
	c, _ := faultMidRun(t, tmp, out, "0001-*", "about-to-hang", pkillQEMU(t, tmp, "-STOP"), 1, f)
	if len(c.Runs) != 1 || c.Runs[0].Verdict != "hang" || !c.Runs[0].Final {
		t.Fatalf("runs: %+v", c.Runs)
	}
}

// TestRunInterruptAndResume sends SIGINT during a run, then resumes.
func TestRunInterruptAndResume(t *testing.T) {
	needKernel(t)
	tmp, dir := t.TempDir(), t.TempDir()
	out := filepath.Join(dir, "out")
	a := scenarioFile(t, dir, "a-ok", "true", "")
	b := scenarioFile(t, dir, "b-slow", "echo slow-running > /dev/kmsg; sleep 6", "")
	sigint := func(cmd *exec.Cmd) { _ = cmd.Process.Signal(syscall.SIGINT) }
	c, stderr := faultMidRun(t, tmp, out, "0002-*", "slow-running", sigint, verdict.ExitInterrupted, a, b)
	if !strings.Contains(stderr, "--resume "+out) {
		t.Errorf("no resume hint:\n%s", stderr)
	}
	if c.Summary.Campaign.Status != "interrupted" || len(c.Runs) != 2 || c.Runs[0].Verdict != "clean" ||
		c.Runs[1].Verdict != "infra-error" || c.Runs[1].Final {
		t.Fatalf("after SIGINT: status %s, runs %+v", c.Summary.Campaign.Status, c.Runs)
	}
	r := faultline(t, tmp, "", "run", "--resume", out)
	if r.code != 0 {
		t.Fatalf("resume: exit %d: %s", r.code, r.stderr)
	}
	c = report(t, tmp, out)
	if c.Summary.Campaign.Status != "done" || c.Summary.Finished != 2 || len(c.Runs) != 3 || c.Runs[2].Attempt != 2 || c.Runs[2].Verdict != "clean" {
		t.Fatalf("after resume: %+v", c)
	}
	if _, err := os.Stat(filepath.Join(out, c.Runs[1].Dir, "console.log")); err != nil {
		t.Errorf("interrupted attempt's console lost: %v", err)
	}
}

// TestRunOutOfSpace fills a small out directory (a tmpfs in a private mount
// namespace) during the second run.
func TestRunOutOfSpace(t *testing.T) {
	needKernel(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root for a private tmpfs (unshare -m)")
	}
	tmp, dir := t.TempDir(), t.TempDir()
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	a := scenarioFile(t, dir, "a-ok", "echo fine", "")
	b := scenarioFile(t, dir, "b-flood", "head -c 4000000 /dev/zero | tr '\\0' x", "")
	cmd := exec.Command("unshare", "-m", "sh", "-c", `mount -t tmpfs -o size=1m tmpfs "$0" && "$1" run --parallel 1 --out "$0" "$2" "$3"; rc=$?; cp -a "$0"/. "$0.saved"/ 2>/dev/null; exit $rc`,
		out, binary, a, b)
	if err := os.Mkdir(out+".saved", 0o755); err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	outb, err := cmd.CombinedOutput()
	if code := exitCode(err); code != exitError {
		t.Errorf("exit %d, want %d:\n%s", code, exitError, outb)
	}
	if !strings.Contains(string(outb), "no space left on device") || !strings.Contains(string(outb), "--resume") {
		t.Errorf("no clear out-of-space error:\n%s", outb)
	}
	noQEMULeft(t, tmp)
	c := report(t, tmp, out+".saved")
	if len(c.Runs) < 1 || c.Runs[0].Verdict != "clean" || !c.Runs[0].Final {
		t.Fatalf("first run not intact: %+v", c.Runs)
	}
	if len(c.Runs) == 2 && (c.Runs[1].Final || c.Runs[1].Verdict != "infra-error") {
		t.Errorf("flooded run: %+v", c.Runs[1])
	}
}

// TestRunSelectCases: --only and --skip choose cases by name before any VM
// starts; a selection that leaves none is a usage error.
func TestRunSelectCases(t *testing.T) {
	tmp, dir := t.TempDir(), t.TempDir()
	f := scenarioFile(t, dir, "a-ok", "true", "")
	for _, args := range [][]string{
		{"--skip", "^a-"},
		{"--only", "a-ok", "--skip", "ok$"},
		{"--only", "nothing"},
	} {
		r := faultline(t, tmp, "", append(append([]string{"run", "--out", filepath.Join(dir, "out")}, args...), f)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, "no case to run") {
			t.Errorf("%v: exit %d, stderr:\n%s", args, r.code, r.stderr)
		}
	}
	r := faultline(t, tmp, "", "run", "--skip", "(", f)
	if r.code != exitUsage || !strings.Contains(r.stderr, "--skip") {
		t.Errorf("bad --skip regexp: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	noQEMULeft(t, tmp)
}
