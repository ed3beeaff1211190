"""Benchmarks of artifacts: latency (benchmark_model's method), accuracy, memory; imports no TensorFlow."""

from edgeseg.bench.api import bench
from edgeseg.bench.latency import LatencyConfig, LatencyResult, measure_invoke, summarize
from edgeseg.bench.runner import BenchJob, DatasetRef, run_isolated, run_job

__all__ = ["BenchJob", "DatasetRef", "LatencyConfig", "LatencyResult", "bench", "measure_invoke", "run_isolated",
           "run_job", "summarize"]
