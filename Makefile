# faultline: see README.md.
SHELL   := /bin/bash
GO      ?= go
KERNEL  ?= debian:6.1-cloud
BIN     := bin/faultline
# The packages of the guest agent build (-tags faultline_agent).
AGENT_PKGS := ./cmd/faultline ./guest/... ./probes ./workloads

.PHONY: bisect-demo bisect-demo-classical nightly-demo gate-demo all build install deps kernel-deps kernels test-kernels seeds test test-short vet demo bench bench-attach bench-nats clean

all: build

# The binary is also the guest agent (PID 1 in the initramfs): it must be static.
# bin/faultline-agent is the guest's build of the same program (PID 1, the SSH
# server, workload, inject; none of the host's commands): what goes into the
# guest's initramfs.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w" -o $(BIN) ./cmd/faultline
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w" -tags faultline_agent -o $(BIN)-agent ./cmd/faultline

# Copies faultline and its guest agent (which it finds beside itself).
PREFIX ?= /usr/local
install: build
	install -d $(PREFIX)/bin
	install -m 0755 $(BIN) $(BIN)-agent $(PREFIX)/bin/

deps:
	@scripts/deps.sh

vet:
	$(GO) vet ./...
	$(GO) vet -tags faultline_agent $(AGENT_PKGS)
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi

# Unit tests and end-to-end tests that boot $(KERNEL) under QEMU (~9 min on 2
# cores). scripts/testreport prints each test as it finishes, the skipped
# ones with their reasons, and "N passed, N failed, N skipped".
test: deps build vet
	$(BIN) kernels fetch $(KERNEL)
	set -o pipefail; $(GO) test -count=1 -timeout 30m -json ./... | $(GO) run ./scripts/testreport

# Unit tests only: no VM.
test-short:
	set -o pipefail; $(GO) test -short -count=1 -json ./... | $(GO) run ./scripts/testreport

# The main job: the shipped stock-kernel campaign (scenarios/*.yaml: all three race
# workloads, btrfs and ext4, with delay injection), one fresh VM per run, verdicts in
# a SQLite store, a summary table and an HTML report. About 3 minutes on 2 cores.
# Exit status 1 from faultline run means a finding (e.g. seed D on stock 6.1), not a
# failure of the demo.
DEMO_DIR ?= faultline-out/demo-$(shell date +%Y%m%d-%H%M%S)
demo: deps build
	$(BIN) kernels fetch $(KERNEL)
	@rc=0; $(BIN) run --out $(DEMO_DIR) --junit $(DEMO_DIR).junit.xml scenarios/*.yaml || rc=$$?; \
	  if [ $$rc -gt 1 ]; then exit $$rc; fi; \
	  echo; \
	  echo "The demo worked. A crash above is the finding it shows: mmap-dio on ext4 meets"; \
	  echo "seed D's bug class in Debian's stock 6.1 (WARNING in ext4_dirty_folio, data lost);"; \
	  echo "faultline run exits 1 for a finding, which the demo accepts. Look at:"; \
	  echo "  $(DEMO_DIR)/report.html       crashes with console excerpts, counters, every run"; \
	  echo "  $(DEMO_DIR)/runs/*/console.log each run's console"; \
	  echo "  $(DEMO_DIR).junit.xml          the same as JUnit (the crash is a failed testcase)"

# Kernels faultline builds itself (kernels/specs): the fixed harness kernel and the
# four seed mutants. Not part of `make test` (a first build takes ~10+ minutes on 2
# cores; each mutant after it rebuilds only what its patch touches).
KERNEL_SPECS ?= 6.1-harness 6.1-mutant-seed-a 6.1-mutant-seed-b 6.1-mutant-seed-c 6.1-mutant-seed-d
kernel-deps:
	@scripts/deps.sh gcc make flex bison bc perl patch libelf-dev libssl-dev dwarves lz4 lld git ccache

kernels: deps kernel-deps build
	$(BIN) kernels build $(KERNEL_SPECS)

# End-to-end tests on the harness-built kernels (fail-return, fail-trylock, hooks).
test-kernels: kernels
	FAULTLINE_HARNESS_KERNEL=6.1-harness $(GO) test -count=1 -run 'TestHarnessKernel' ./cmd/faultline/

# The four seed races on their mutants, each with its harness control and a run
# without injection (scenarios/seeds/*.yaml), plus seed D on Debian's stock
# kernels: well over an hour on 2 cores, much of it the 10-minute no-injection
# runs (make seeds SEEDS_SKIP=/no-inject leaves them out). Exit status 1 means
# an expectation failed (a seed missed in some run, or a control crashed;
# 6.12 is expected clean: it pins direct I/O pages).
SEEDS_DIR ?= faultline-out/seeds-$(shell date +%Y%m%d-%H%M%S)
SEEDS_SKIP ?=
seeds: kernels
	$(BIN) kernels fetch debian:6.1-cloud debian:6.12-cloud
	$(BIN) run --out $(SEEDS_DIR) --junit $(SEEDS_DIR).junit.xml --skip '$(SEEDS_SKIP)' scenarios/seeds/*.yaml

# The gate on three series against 6.1-harness: (a) two comment-only btrfs
# patches pass; (b) an mbox of three btrfs patches, one of them seed B's
# mutant change, fails with seed B's signature NEW (its base runs are reused
# by later runs of this target); (c) a series that does not apply fails with
# the hunk named and nothing built; (d) one that does not compile fails as a
# build failure with the compiler's error.
GATE_DIR ?= faultline-out/gate-demo-$(shell date +%Y%m%d-%H%M%S)
gate-demo: kernels
	@mkdir -p $(GATE_DIR)
	$(BIN) gate --base 6.1-harness --series scenarios/gate/harmless --runs 2 \
	  --out $(GATE_DIR)/harmless --junit $(GATE_DIR)/harmless.junit.xml --mail $(GATE_DIR)/harmless.txt
	$(BIN) gate --base 6.1-harness --series scenarios/gate/extent-buffer-v2.mbox \
	  --scenarios scenarios/seeds/seed-b.yaml --only '^seed-b$$' --runs 3 \
	  --out $(GATE_DIR)/seed-b --junit $(GATE_DIR)/seed-b.junit.xml --kcidb $(GATE_DIR)/seed-b.kcidb.json \
	  --mail $(GATE_DIR)/seed-b.txt; test $$? -eq 1
	grep -q '"status": "regression"' $(GATE_DIR)/seed-b/gate.json
	$(BIN) gate --base 6.1-harness --series scenarios/gate/does-not-apply \
	  --out $(GATE_DIR)/does-not-apply --mail $(GATE_DIR)/does-not-apply.txt; test $$? -eq 1
	grep -q '"status": "apply failed"' $(GATE_DIR)/does-not-apply/gate.json
	$(BIN) gate --base 6.1-harness --series scenarios/gate/does-not-build \
	  --out $(GATE_DIR)/does-not-build --mail $(GATE_DIR)/does-not-build.txt; test $$? -eq 1
	grep -q '"status": "build failed"' $(GATE_DIR)/does-not-build/gate.json
	@echo "gate demo: harmless passed, seed B's change refused, the series that does not apply and the one that does not build named; reports in $(GATE_DIR)"

# A git history to bisect (no kernel history is reachable here): Debian's
# linux-source-6.1, the harness series, then 29 independent commits, seed A's
# and seed B's mutants among them (scripts/demohistory). Bisected with seed
# B's plan at 45 s a run; the answer must be the commit tagged seed-b.
# bisect-demo-classical bisects the same history by the classical rule.
CACHE      ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/faultline
DEMO_REPO  ?= $(CACHE)/demo/linux-6.1-history
BISECT_STAMP := $(shell date +%Y%m%d-%H%M%S)
BISECT_DIR ?= faultline-out/bisect-demo-$(BISECT_STAMP)
BISECT_ARGS = --tree $(DEMO_REPO) --good harness --bad HEAD --duration 45s \
  --bad-if signature:seed-b-btrfs-eb-tree-ref-releasepage scenarios/seeds/seed-b.yaml
$(DEMO_REPO): | kernels
	$(GO) run ./scripts/demohistory -out $(DEMO_REPO) \
	  -source "$$(ls -d $(CACHE)/sources/linux-source-6.1_*/linux-source-6.1 | tail -1)"
bisect-demo: kernels $(DEMO_REPO)
	time $(BIN) bisect --out $(BISECT_DIR) $(BISECT_ARGS)
	grep -q "\"answer\": \".*-$$(git -C $(DEMO_REPO) rev-parse --short=12 seed-b).yaml\"" $(BISECT_DIR)/bisect.json
	@echo "bisect demo: seed B's commit found; steps and report in $(BISECT_DIR)"
bisect-demo-classical: kernels $(DEMO_REPO)
	time $(BIN) bisect --classical --out $(BISECT_DIR)-classical $(BISECT_ARGS)

# Two nights on the demo history: the first replays the commit before seed
# B's (clean), the second tests the branch head, sees seed B's crash as new
# and bisects it between the two nights' commits.
NIGHTLY_DIR ?= faultline-out/nightly-demo-$(BISECT_STAMP)
NIGHTLY_ARGS = --store $(NIGHTLY_DIR) --tree $(DEMO_REPO) --branch master --only '^seed-b$$' --runs 3 --duration 45s \
  scenarios/seeds/seed-b.yaml
nightly-demo: kernels $(DEMO_REPO)
	$(BIN) nightly --as-of seed-b~1 $(NIGHTLY_ARGS)
	$(BIN) nightly --json $(NIGHTLY_ARGS) > $(NIGHTLY_DIR)/night-2.json; test $$? -eq 1
	grep -q "$$(git -C $(DEMO_REPO) rev-parse --short=12 seed-b) btrfs: seed B" $(NIGHTLY_DIR)/night-2.json
	@echo "nightly demo: seed B's crash new on the second night, bisected to its commit; report in $(NIGHTLY_DIR)/report.html"

bench: deps build
	$(BIN) kernels fetch $(KERNEL)
	$(BIN) bench boot --kernel $(KERNEL) --fs ext4 -n 15

# Probe attach+detach time with and without the kprobe optimizer pause, in
# one guest of the seed D mutant (built by make kernels).
bench-attach: kernels
	bench/attach.sh 7

# Runs per hour locally, on one and on two faultline workers through a real
# nats-server on this machine, and the remote engine's overhead per run.
bench-nats: deps build
	bench/nats.sh 8

clean:
	rm -rf bin
