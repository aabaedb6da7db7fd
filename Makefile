# faultline: see README.md.
GO      ?= go
KERNEL  ?= debian:6.1-cloud
BIN     := bin/faultline

.PHONY: all build deps kernel-deps kernels test-kernels test test-short vet demo bench clean

all: build

# The binary is also the guest agent (PID 1 in the initramfs): it must be static.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w" -o $(BIN) ./cmd/faultline

deps:
	@scripts/deps.sh

vet:
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi

# Unit tests and end-to-end tests that boot $(KERNEL) under QEMU.
test: deps build vet
	$(BIN) kernels fetch $(KERNEL)
	$(GO) test -count=1 ./...

# Unit tests only: no VM.
test-short:
	$(GO) test -short -count=1 ./...

# The main job, for now: run the mmap + O_DIRECT race workload on ext4 in Debian's stock
# 6.1 kernel, where it finds seed D (GUP + DIO dirtying pages without buffers: data
# lost), then classify the console against the known signatures.
DEMO_DIR ?= /tmp/faultline-demo
demo: deps build
	$(BIN) kernels fetch $(KERNEL)
	@mkdir -p $(DEMO_DIR) && rm -f $(DEMO_DIR)/console.log $(DEMO_DIR)/summary.json
	@echo "== mmap-dio on ext4, $(KERNEL), 10 s (exit 1 = the workload found lost data)"
	-$(BIN) vm --kernel $(KERNEL) --fs ext4 --timeout 300s --console $(DEMO_DIR)/console.log -- \
	  workload mmap-dio --duration 10s --size 16M > $(DEMO_DIR)/summary.json; \
	  python3 -c 'import json; d=json.load(open("$(DEMO_DIR)/summary.json")); i=d["integrity"]; print("ops %d, lost 4K blocks %d, first: %s" % (d["ops"], i["bad_blocks"], (i.get("bad") or [None])[0])); print("reach:", {k: v["hits"] for k, v in d["reach"].items()})' 2>/dev/null || cat $(DEMO_DIR)/summary.json
	@echo "== crashes and symptoms in the console ($(DEMO_DIR)/console.log)"
	$(BIN) classify $(DEMO_DIR)/console.log

# Kernels faultline builds itself (kernels/specs): the fixed harness kernel and the
# four seed mutants. Not part of `make test` (a first build takes ~10+ minutes on 2
# cores; each mutant after it rebuilds only what its patch touches).
KERNEL_SPECS ?= 6.1-harness 6.1-mutant-seed-a 6.1-mutant-seed-b 6.1-mutant-seed-c 6.1-mutant-seed-d
kernel-deps:
	@scripts/deps.sh gcc make flex bison bc perl patch libelf-dev libssl-dev dwarves git

kernels: deps kernel-deps build
	$(BIN) kernels build $(KERNEL_SPECS)

# End-to-end tests on the harness-built kernels (fail-return, fail-trylock, hooks).
test-kernels: kernels
	FAULTLINE_HARNESS_KERNEL=6.1-harness $(GO) test -count=1 -run 'TestHarnessKernel' ./cmd/faultline/

bench: deps build
	$(BIN) kernels fetch $(KERNEL)
	$(BIN) bench boot --kernel $(KERNEL) -n 5

clean:
	rm -rf bin
