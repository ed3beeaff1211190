"""edgeseg: train, quantise, export, verify and benchmark segmentation models for the edge."""

__version__ = "0.1.0"

__all__ = ["__version__"]
