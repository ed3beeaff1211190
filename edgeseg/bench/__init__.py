"""Latency and accuracy measurement, reports and plots; imports no TensorFlow."""
