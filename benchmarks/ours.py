"""Our codec's operating points, as the benchmark sees them: load each point of the bitrate ladder and
round-trip a clip through the public API (`Codec.encode` / `Codec.decode`).

Until `codec_rt.ladder` exists (or while `Codec.load` takes no `bitrate`), the ladder is the one shipped
model, setting None. The cost of a clip is the whole blob, header included: that is what a user stores.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import numpy as np

from codec_rt import Codec

from .baselines import F32, RATE, Coded


def ladder() -> list[float | None]:
    """Nominal kbps of the shipped operating points; [None] (the default model) before the ladder exists."""
    try:
        from codec_rt.ladder import ladder_points  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return [None]
    if "bitrate" not in inspect.signature(Codec.load).parameters:  # the ladder landed before load(bitrate=)
        return [None]
    return [float(k) for k in ladder_points()]


def load(kbps: float | None) -> Codec:
    return Codec.load() if kbps is None else Codec.load(bitrate=kbps)  # type: ignore[call-arg, unused-ignore]


def round_trip(kbps: float | None) -> tuple[Callable[[F32], Coded], str]:
    """A round-trip function for the point `kbps`, and the loaded model's id."""
    codec = load(kbps)

    def run(x: F32) -> Coded:
        data = codec.encode(x[None, :], RATE)
        y, sr = codec.decode(data)
        if sr != RATE or y.shape != (1, x.shape[0]):
            raise RuntimeError(f"codec returned {y.shape} at {sr} Hz for {x.shape[0]} samples at {RATE} Hz")
        return Coded(np.ascontiguousarray(y[0], dtype=np.float32), len(data), len(data))

    return run, codec.model_id
