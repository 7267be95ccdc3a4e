# Benchmarks (bench/ is its own Go module; see bench/README.md).
.PHONY: bench bench-quick

bench:
	cd bench && go run . $(BENCHFLAGS) -json results/bench.jsonl

bench-quick:
	cd bench && go run . -quick $(BENCHFLAGS) -json results/bench-quick.jsonl
