"""``tension-worker bench``: throughput, latency and efficiency of the worker against a naive one, in one run."""
