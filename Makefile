# redstage — the two commands a new user needs:
#   make demo   stage sample data in a throw-away Redis and show load → infer → scan
#   make test   run every test (installs redis-server, Redis 7.4.1 + modules and the Python readers when missing)
GO        ?= go
TESTFLAGS ?= -race -timeout 60m
BIN       := bin
# The one version of the three programs (package internal/version).
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS   := -X github.com/redstage/redstage/internal/version.version=$(VERSION)

.PHONY: all build setup test vet demo bench fmt clean docs-examples

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

setup:
	bash scripts/setup.sh

vet:
	$(GO) vet ./...

test: setup vet
	$(GO) test $(TESTFLAGS) ./...

# Run the console examples of docs/cli.md in order, as one shell session (also part of make test).
docs-examples: setup
	$(GO) test -count=1 -run 'TestDocsExamples|TestExitCodes' ./tests

demo: setup build
	bash scripts/demo.sh

bench: setup
	bash bench/run.sh

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN) demo-out
