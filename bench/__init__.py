"""`make bench`: commpref's benchmark harness (see docs/benchmarks.md)."""
