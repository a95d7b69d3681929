# wsbench suite: wsplex against websocketd on this machine, side by side.
# Included from the top-level Makefile. Results go to bench/results/<timestamp>/
# (summary.md, report.html, results.jsonl, raw/).
#
# BENCH_PREV=<git rev> adds a third daemon, wsplex-prev: that revision's
# cmd/wsplex, built into bin/wsplex-prev from a `git archive` of it in a
# temporary directory (removed afterwards). Every scenario then runs
# wsplex, wsplex-prev, websocketd interleaved, and the summary shows
# new/websocketd and new/prev. For a change under review:
#     make bench BENCH_PREV=HEAD~1        (or a tag, or a commit such as 590405e)

BENCH_GO ?= go
BENCH_PREV ?=
# BENCH_JOBS=<job,job,...> runs only those jobs (wsbench suite --only), e.g.
#     make bench BENCH_JOBS=backend,backend-capacity     socket backends (issue 13)
#     make bench BENCH_JOBS=room,room-ramp,room-recipe   broadcast rooms (issue 14)
# `bin/wsbench suite -h` lists the jobs and the flags that size them
# (--room-conns, --ramp-conns, --recipe-conns, --backend-levels: BENCH_FLAGS).
BENCH_JOBS ?=
BENCH_ONLY = $(if $(strip $(BENCH_JOBS)),--only=$(strip $(BENCH_JOBS)))

ifneq ($(strip $(BENCH_PREV)),)
BENCH_PREV_BIN  = bin/wsplex-prev
BENCH_PREV_ARGS = --prev=$(BENCH_PREV_BIN) --prev-desc="$(BENCH_PREV) ($$(cat $(BENCH_PREV_BIN).rev))"
endif

.PHONY: bench bench-quick bench-bins bench-prev

bench-bins:
	$(BENCH_GO) build -o bin/wsbench ./cmd/wsbench
	$(BENCH_GO) build -o bin/wsplex ./cmd/wsplex || echo "bench: bin/wsplex did not build; the suite will use websocketd for both sides"
	cd bench/websocketd && $(BENCH_GO) build -o ../../bin/websocketd github.com/joewalnes/websocketd

# bin/wsplex-prev from BENCH_PREV (see above); bin/wsplex-prev.rev names the commit.
bench-prev:
	@test -n "$(strip $(BENCH_PREV))" || { echo "bench-prev: set BENCH_PREV=<git rev>, e.g. BENCH_PREV=HEAD~1"; exit 2; }
	@mkdir -p bin
	rev=$$(git rev-parse --verify "$(BENCH_PREV)^{commit}") && tmp=$$(mktemp -d) && \
	trap 'rm -rf "$$tmp"' EXIT && \
	git archive --format=tar "$$rev" | tar -x -C "$$tmp" && \
	(cd "$$tmp" && $(BENCH_GO) build -o "$(CURDIR)/bin/wsplex-prev" ./cmd/wsplex) && \
	git log -1 --format='%h %s' "$$rev" > bin/wsplex-prev.rev

# About 10 minutes on 2 cores with three daemons (BENCH_PREV set), about 7
# with two: 3 repetitions interleaved, 4 s phases, children cat and cecho;
# the socket-backend and room jobs (thousands of connections, an nc per
# websocketd client) add about 4 minutes per repetition.
bench: bench-bins $(if $(strip $(BENCH_PREV)),bench-prev)
	bin/wsbench suite $(BENCH_ONLY) $(BENCH_PREV_ARGS) $(BENCH_FLAGS)

# About a minute or two: one repetition, short phases, cat only.
bench-quick: bench-bins $(if $(strip $(BENCH_PREV)),bench-prev)
	bin/wsbench suite --quick $(BENCH_ONLY) $(BENCH_PREV_ARGS) $(BENCH_FLAGS)
