"""Training of codec-rt models (needs the `train` extra: torch)."""
