# faultline: see README.md.
GO      ?= go
KERNEL  ?= debian:6.1-cloud
BIN     := bin/faultline

.PHONY: all build deps test test-short vet demo bench clean

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

# The main job. For now: boot the stock kernel on compressed btrfs and run a command.
demo: deps build
	$(BIN) kernels fetch $(KERNEL)
	$(BIN) vm --kernel $(KERNEL) --fs btrfs --mount-opt compress-force=zstd -- \
	  sh -c 'uname -a; grep /mnt/scratch /proc/mounts; dd if=/dev/urandom of=f bs=1M count=8 2>/dev/null; sync; ls -l f; df -h /mnt/scratch'

bench: deps build
	$(BIN) kernels fetch $(KERNEL)
	$(BIN) bench boot --kernel $(KERNEL) -n 5

clean:
	rm -rf bin
