"""Sample-rate conversion with soxr (HQ): whole signals, and streams whose output does not depend on how
the input is cut. Audio of any rate is coded at the model's rate and decoded back to its own."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import soxr

F32 = npt.NDArray[np.float32]


def model_length(num_samples: int, sample_rate: int, model_rate: int) -> int:
    """Samples at `model_rate` for `num_samples` at `sample_rate`, rounded up so nothing is cut."""
    return -(-num_samples * model_rate // sample_rate)


def resample(x: F32, rate_in: int, rate_out: int, length: int) -> F32:
    """`[C, N] float32` at `rate_in` Hz -> `[C, length] float32` at `rate_out` Hz (soxr HQ, then cut or
    zero-padded to exactly `length`)."""
    if rate_in != rate_out and x.shape[1] > 0:
        x = np.ascontiguousarray(soxr.resample(x.T, rate_in, rate_out, quality="HQ").T, dtype=np.float32)
    if x.shape[1] >= length:
        return np.ascontiguousarray(x[:, :length], dtype=np.float32)
    return np.pad(x, ((0, 0), (0, length - x.shape[1]))).astype(np.float32)


class StreamResampler:
    """soxr's streaming resampler (HQ, float32) over `[C, n]` chunks; the identity when the rates are equal.
    Its output does not depend on the chunk sizes and equals the one-shot output. soxr holds back its
    filter's delay until the chunk flagged `last`."""

    def __init__(self, rate_in: int, rate_out: int, channels: int) -> None:
        self.channels = channels
        self._soxr: Any = None
        if rate_in != rate_out:
            self._soxr = soxr.ResampleStream(rate_in, rate_out, channels, dtype="float32", quality="HQ")

    @property
    def identity(self) -> bool:
        return self._soxr is None

    def process(self, x: F32, last: bool = False) -> F32:
        """`[C, n] float32` -> `[C, m] float32`, the output these samples complete."""
        if self._soxr is None:
            return x
        y = self._soxr.resample_chunk(np.ascontiguousarray(x.T), last=last)
        return np.ascontiguousarray(np.asarray(y, dtype=np.float32).reshape(-1, self.channels).T)
