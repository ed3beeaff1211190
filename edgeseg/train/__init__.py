"""Training: losses, callbacks, the fit loop and quantisation-aware training."""
