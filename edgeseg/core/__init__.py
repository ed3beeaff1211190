"""Numpy + stdlib only: specs, manifests, preprocessing and metrics shared by every layer."""
