//go:build !faultline_agent

package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"faultline/campaign"
	"faultline/harness"
	"faultline/remote"
)

const workerUsage = `Usage: faultline worker --nats URL [flags]

Runs campaign jobs for coordinators elsewhere (faultline run --nats URL):
pulls the jobs its labels satisfy from NATS JetStream, boots a VM for each
(at most --capacity at once), uploads the run's files, publishes the
outcome. Stops on SIGINT/SIGTERM; a job under way then goes to another
worker after its ack wait. Whoever can publish jobs runs their scenario's
commands here: give that right only to people you trust with a scenario.

Examples:
  faultline worker --nats nats://queue.example:4222 --capacity 2 --labels kvm
  faultline worker --nats tls://queue.example:4222 --creds worker.creds --nats-tls-ca ca.pem

Flags:
`

func cmdWorker(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, workerUsage); fs.PrintDefaults() }
	var o remote.Options
	o.RegisterFlags(fs)
	o.RegisterWorkerFlags(fs)
	capacity := fs.Int("capacity", 1, "VMs at once (each needs its vCPUs' host cores to itself for races to show)")
	labels := fs.String("labels", "", "what this host offers, comma-separated (e.g. kvm,x86-64)")
	host, _ := os.Hostname()
	id := fs.String("id", fmt.Sprintf("%s-%d", host, os.Getpid()), "this worker's name")
	accel := fs.String("accel", "auto", "accelerator: auto, tcg or kvm")
	dir := fs.String("dir", filepath.Join(os.TempDir(), "faultline-worker"), "where run files wait for their upload")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if o.URL == "" || *capacity < 1 {
		return usageError("faultline worker: give --nats URL and --capacity >= 1")
	}
	agent, err := harness.AgentBinary()
	if err != nil {
		return fail(err)
	}
	w, err := remote.NewWorker(o, *id, *labels, *capacity, &campaign.Local{Pool: harness.QEMU{}, Agent: agent, Accel: *accel}, *dir, progress)
	if err != nil {
		return fail(err)
	}
	if err := w.Run(ctx); err != nil {
		return fail(err)
	}
	return exitOK
}
