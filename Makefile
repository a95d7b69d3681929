# wsplex: GNU make targets. `make help` lists them.

GO          ?= go
ifeq ($(origin CC),default)
CC          := gcc
endif
CFLAGS      ?= -O2 -std=c11 -Wall -Wextra -Wpedantic
NPM         ?= npm
# staticcheck 2026.1 (module version v0.7.0): a release that supports Go 1.26.
# It runs through the module proxy with an explicit version, so nothing is installed.
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.7.0

# Integration tests build the daemon with -race when they run under -race, and a
# 2-core machine is slow at that: keep the limits generous but finite.
TEST_TIMEOUT ?= 10m
RACE_TIMEOUT ?= 15m
# Packages with concurrency, tested again under the race detector. A pattern
# that matches nothing yet (the package is still being written) is skipped.
RACE_PKGS   ?= ./reactor/... ./engine/... ./spawn/... ./platform/... ./bench/... ./cmd/wsplex/...
CROSS_OS    ?= freebsd darwin
FUZZTIME    ?= 10s
PORT        ?= 8080

NODE_DIR     := cmd/wsplex/testdata/node
NODE_STAMP   := $(NODE_DIR)/node_modules/.package-lock.json
BROWSER_DIR   := cmd/wsplex/testdata/browser
BROWSER_STAMP := $(BROWSER_DIR)/node_modules/.package-lock.json
TERM_DIR      := engine/web/term
TERM_NPM      := $(TERM_DIR)/node_modules/@xterm
EXAMPLES_SRC := $(wildcard examples/c/*.c)
EXAMPLES_BIN := $(patsubst examples/c/%.c,bin/examples/%,$(EXAMPLES_SRC))

.DEFAULT_GOAL := build
.PHONY: help build examples run test test-go test-race node-deps term-assets lint cross fuzz-smoke clean

help:
	@echo 'make build       build bin/wsplex and bin/wsbench'
	@echo 'make examples    compile the C examples into bin/examples/'
	@echo 'make term-assets refresh the vendored xterm.js (npm, pinned versions) of the --pty terminal page'
	@echo 'make run         build, then serve examples/bash/count.sh on port $(PORT)'
	@echo 'make test        everything CI runs: go test, go test -race, lint, cross'
	@echo 'make lint        gofmt, go vet, staticcheck'
	@echo 'make cross       build for $(CROSS_OS)'
	@echo 'make fuzz-smoke  run every Fuzz target for $(FUZZTIME)'
	@echo 'make clean       remove what the targets above built'

build:
	$(GO) build -o bin/wsplex ./cmd/wsplex
	$(GO) build -o bin/wsbench ./cmd/wsbench

examples: $(EXAMPLES_BIN)

bin/examples/%: examples/c/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $<

run: build
	./bin/wsplex --port=$(PORT) examples/bash/count.sh

# The integration tests drive a ws (npm) client. Install it into the test data
# directory from the lock file, again whenever the lock file changes. Without
# npm the node-based tests skip, except under CI, where they fail.
node-deps: $(NODE_STAMP) $(BROWSER_STAMP)

$(NODE_STAMP): $(NODE_DIR)/package-lock.json $(NODE_DIR)/package.json
	@if command -v $(NPM) >/dev/null 2>&1; then \
		echo "$(NPM) ci --prefix $(NODE_DIR)"; \
		$(NPM) ci --prefix $(NODE_DIR) --no-audit --no-fund; \
	elif [ -n "$$CI" ]; then \
		echo "npm is required under CI" >&2; exit 1; \
	else \
		echo "warning: npm not found: the node-client tests will be skipped" >&2; \
	fi

# The browser tests (dev console, dashboard) drive Debian's chromium with
# playwright-core, installed the same way.
$(BROWSER_STAMP): $(BROWSER_DIR)/package-lock.json $(BROWSER_DIR)/package.json
	@if command -v $(NPM) >/dev/null 2>&1; then \
		echo "$(NPM) ci --prefix $(BROWSER_DIR)"; \
		$(NPM) ci --prefix $(BROWSER_DIR) --no-audit --no-fund; \
	elif [ -n "$$CI" ]; then \
		echo "npm is required under CI" >&2; exit 1; \
	else \
		echo "warning: npm not found: the browser tests will be skipped" >&2; \
	fi

# xterm.js and its fit addon are vendored in engine/web/term/ and embedded,
# so every build has the terminal page without npm. This refreshes them from
# npm at the versions pinned in engine/web/term/package-lock.json (npm ci
# checks the lock's integrity hashes), records their checksums, and runs the test
# that the embedded files are those versions.
term-assets:
	$(NPM) ci --prefix $(TERM_DIR) --no-audit --no-fund
	cp $(TERM_NPM)/xterm/lib/xterm.js $(TERM_NPM)/xterm/css/xterm.css \
		$(TERM_NPM)/xterm/LICENSE $(TERM_NPM)/xterm/package.json $(TERM_DIR)/xterm/
	cp $(TERM_NPM)/addon-fit/lib/addon-fit.js \
		$(TERM_NPM)/addon-fit/LICENSE $(TERM_NPM)/addon-fit/package.json $(TERM_DIR)/addon-fit/
	cd $(TERM_DIR) && sha256sum xterm/* addon-fit/* >SHA256SUMS
	$(GO) test -count=1 -run '^TestTerm' ./engine/web

# Every step runs even if an earlier one failed, so one run reports everything.
test: node-deps build examples
	@failed=; for step in test-go test-race lint cross; do \
		echo "== make $$step"; \
		$(MAKE) --no-print-directory $$step || failed="$$failed $$step"; \
	done; \
	if [ -n "$$failed" ]; then echo "make test: FAILED:$$failed"; exit 1; fi; \
	echo "make test: all passed"

test-go:
	$(GO) test -timeout $(TEST_TIMEOUT) ./...

test-race:
	@pkgs=; for p in $(RACE_PKGS); do \
		if [ -n "$$($(GO) list $$p 2>/dev/null)" ]; then pkgs="$$pkgs $$p"; \
		else echo "test-race: $$p: no packages yet, skipped"; fi; \
	done; \
	if [ -n "$$pkgs" ]; then \
		echo "$(GO) test -race -timeout $(RACE_TIMEOUT)$$pkgs"; \
		$(GO) test -race -timeout $(RACE_TIMEOUT) $$pkgs; \
	fi

lint:
	@echo 'gofmt -l .'; \
	out=$$(gofmt -l .); \
	if [ -n "$$out" ]; then echo "gofmt: these files need formatting:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

cross:
	@set -e; for os in $(CROSS_OS); do \
		echo "GOOS=$$os $(GO) build ./..."; \
		GOOS=$$os $(GO) build ./...; \
	done

# Every Fuzz target in every package, each for FUZZTIME (go test allows one
# -fuzz target per run).
fuzz-smoke:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "$(GO) test -run '^\$$' -fuzz '^$$f\$$' -fuzztime $(FUZZTIME) $$pkg"; \
			$(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

# bin/websocketd (the reference daemon) is kept.
clean:
	rm -rf bin/wsplex bin/wsbench bin/examples artifacts

# Benchmarks (bench, bench-quick) live with the bench code.
-include bench/bench.mk
