"""Checkpoint -> encoder/decoder ONNX graphs, with parity checks (needs the `train` extra: torch)."""
