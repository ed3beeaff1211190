"""Benchmarks of artifacts: latency (benchmark_model's method), accuracy, memory; imports no TensorFlow."""

from edgeseg.bench.latency import LatencyConfig, LatencyResult, measure_invoke, summarize
from edgeseg.bench.runner import BenchJob, run_isolated, run_job

__all__ = ["BenchJob", "LatencyConfig", "LatencyResult", "measure_invoke", "run_isolated", "run_job", "summarize"]
