# redstage — the two commands a new user needs:
#   make demo   stage sample data in a throw-away Redis and show load → infer → scan
#   make test   run every test (installs redis-server and the Python readers when missing)
GO        ?= go
TESTFLAGS ?= -race -timeout 60m
BIN       := bin

.PHONY: all build setup test vet demo bench fmt clean

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/...

setup:
	bash scripts/setup.sh

vet:
	$(GO) vet ./...

test: setup vet
	$(GO) test $(TESTFLAGS) ./...

demo: setup build
	bash scripts/demo.sh

bench: setup
	bash bench/run.sh

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN) demo-out
