"""Our codec's operating points, as the benchmark sees them: load each point of the bitrate ladder and
round-trip a clip through the public API (`Codec.load(bitrate=)`, `Codec.encode` / `Codec.decode`).

The cost of a clip is the whole blob, header included, in the framed layout `codec-rt encode` writes: that
is what a user stores.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from codec_rt import Codec
from codec_rt.ladder import ladder_points

from .baselines import F32, RATE, Coded


def ladder(low_latency: bool = False) -> list[float | None]:
    """Nominal kbps of the shipped operating points (None would be the default point), of the low-latency
    ladder with `low_latency`."""
    return [float(k) for k in ladder_points(low_latency)]


def load(kbps: float | None, low_latency: bool = False) -> Codec:
    return Codec.load(bitrate=kbps, low_latency=low_latency)


def round_trip(kbps: float | None, low_latency: bool = False) -> tuple[Callable[[F32], Coded], str]:
    """A round-trip function for the point `kbps` (of the low-latency ladder with `low_latency`), and the
    loaded model's id."""
    codec = load(kbps, low_latency)

    def run(x: F32) -> Coded:
        data = codec.encode(x[None, :], RATE, framed=True)  # what `codec-rt encode` writes
        y, sr = codec.decode(data)
        if sr != RATE or y.shape != (1, x.shape[0]):
            raise RuntimeError(f"codec returned {y.shape} at {sr} Hz for {x.shape[0]} samples at {RATE} Hz")
        return Coded(np.ascontiguousarray(y[0], dtype=np.float32), len(data), len(data))

    return run, codec.model_id
