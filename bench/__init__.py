"""`make bench`: the benchmark harness of issue 4 (see docs/benchmarks.md)."""
