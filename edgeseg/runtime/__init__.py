"""Inference engines behind one interface; imports no TensorFlow."""
