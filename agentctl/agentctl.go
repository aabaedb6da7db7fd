// Package agentctl speaks faultline's guest protocol from the host: how a
// command is wrapped in the agent's injections, where the agent leaves its
// injection report and how it is read back, and how the agent is asked for
// the kernel's BPF features. It runs over anything that runs a shell
// command in the guest (a harness.Instance), so the vm command and the
// campaigns share one copy.
package agentctl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"faultline/harness"
	"faultline/kernels"
	"faultline/probes"
)

// Runner runs a shell command in the guest: a harness.Instance.
type Runner interface {
	Run(ctx context.Context, cmd *harness.Command) (int, error)
}

// Binary is the agent binary's path in the guest.
const Binary = "/bin/faultline"

// InjectReport is where "faultline inject" leaves its JSON report in the
// guest.
const InjectReport = "/run/faultline-inject.json"

// Wrap returns argv run under the injections: the agent attaches them, runs
// argv, detaches them and writes InjectReport. No injections: argv itself.
func Wrap(injects, argv []string) []string {
	if len(injects) == 0 {
		return argv
	}
	w := []string{Binary, "inject", "--report", InjectReport}
	for _, in := range injects {
		w = append(w, "--inject", in)
	}
	return append(append(w, "--"), argv...)
}

// IsWorkload reports whether argv (wrapped or not) runs a faultline
// workload.
func IsWorkload(argv []string) bool {
	for i, a := range argv {
		if a == "workload" && (i == 0 || argv[i-1] == "--") {
			return true
		}
	}
	return false
}

// output runs shell in the guest and returns its stdout; a non-zero exit is
// an error carrying it.
func output(ctx context.Context, r Runner, shell string, stderr io.Writer) ([]byte, error) {
	var out bytes.Buffer
	if stderr == nil {
		stderr = io.Discard
	}
	code, err := r.Run(ctx, &harness.Command{Shell: shell, Stdout: &out, Stderr: stderr, Timeout: 60 * time.Second})
	if err != nil {
		return nil, err
	}
	if code != 0 {
		return nil, fmt.Errorf("%s in the guest: exit %d: %s", shell, code, strings.TrimSpace(out.String()))
	}
	return out.Bytes(), nil
}

// Injections reads the agent's injection report after a wrapped command.
func Injections(ctx context.Context, r Runner) ([]probes.Report, error) {
	b, err := output(ctx, r, "cat "+InjectReport, nil)
	if err != nil {
		return nil, err
	}
	var rep struct {
		Injections []probes.Report `json:"injections"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("injection report %s: %w", InjectReport, err)
	}
	return rep.Injections, nil
}

// Features asks the agent which BPF features the running kernel has.
func Features(ctx context.Context, r Runner, stderr io.Writer) ([]probes.Feature, error) {
	b, err := output(ctx, r, Binary+" features", stderr)
	if err != nil {
		return nil, fmt.Errorf("probe features: %w", err)
	}
	var rep struct {
		Features []probes.Feature `json:"features"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("probe features in the guest: %w: %s", err, b)
	}
	return rep.Features, nil
}

// featuresFile holds a kernel's probed BPF features, beside the kernel.
const featuresFile = "bpf-features.json"

// ProbeFeatures boots a VM (from pool, with opts), asks the agent for the
// kernel's BPF features and caches them beside the kernel.
func ProbeFeatures(ctx context.Context, pool harness.Pool, opts harness.Options, stderr io.Writer) ([]probes.Feature, error) {
	vm, err := pool.Create(opts)
	if err != nil {
		return nil, err
	}
	defer vm.Close()
	if err := vm.Boot(ctx); err != nil {
		return nil, err
	}
	features, err := Features(ctx, vm, stderr)
	if err != nil {
		return nil, err
	}
	if k := opts.Kernel; k.Dir != "" {
		b, _ := json.MarshalIndent(features, "", "  ")
		if err := os.WriteFile(filepath.Join(k.Dir, featuresFile), append(b, '\n'), 0o644); err != nil {
			return nil, fmt.Errorf("cache features: %w", err)
		}
	}
	return features, nil
}

// CachedFeatures returns the BPF features ProbeFeatures cached for k, or
// nil if it was never probed.
func CachedFeatures(k *kernels.Kernel) []probes.Feature {
	if k.Dir == "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(k.Dir, featuresFile))
	if err != nil {
		return nil
	}
	var f []probes.Feature
	if json.Unmarshal(b, &f) != nil {
		return nil
	}
	return f
}
