# wsbench suite: wsplex against websocketd on this machine, side by side.
# Included from the top-level Makefile. Results go to bench/results/<timestamp>/
# (summary.md, report.html, results.jsonl, raw/).

BENCH_GO ?= go

.PHONY: bench bench-quick bench-bins

bench-bins:
	$(BENCH_GO) build -o bin/wsbench ./cmd/wsbench
	$(BENCH_GO) build -o bin/wsplex ./cmd/wsplex || echo "bench: bin/wsplex did not build; the suite will use websocketd for both sides"
	cd bench/websocketd && $(BENCH_GO) build -o ../../bin/websocketd github.com/joewalnes/websocketd

# About 7 minutes on 2 cores (6m33s in the latest run): 3 repetitions, interleaved A B A B.
bench: bench-bins
	bin/wsbench suite $(BENCH_FLAGS)

# About a minute: one repetition, short phases, cat only.
bench-quick: bench-bins
	bin/wsbench suite --quick $(BENCH_FLAGS)
