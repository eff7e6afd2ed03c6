"""Throughput benchmarks: vdev runs against l3fwd and testpmd, side by side."""
