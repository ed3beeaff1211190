"""Datasets for training: tf.data pipeline, joint augmentation, calibration sets (TensorFlow side)."""
