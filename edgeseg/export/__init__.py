"""Export: one Exporter interface, one small module per format, verification against Keras."""
