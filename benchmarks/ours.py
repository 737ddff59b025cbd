"""Our codec's operating points, as the benchmark sees them: load each point of the bitrate ladder and
round-trip a clip through the public API (`Codec.load(bitrate=)`, `Codec.encode` / `Codec.decode`).

The cost of a clip is the whole blob, header included, in the framed layout `codec-rt encode` writes: that
is what a user stores.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from codec_rt import Codec
from codec_rt import ladder as shipped

from .baselines import F32, RATE, Coded


def ladder(low_latency: bool = False, fixed_width: bool = False, lbp: bool = False) -> list[float | None]:
    """Nominal kbps of the shipped operating points (None would be the default point), of the low-latency
    ladder with `low_latency`, of the fixed-width one (`--bits`, at the model's default bits) with
    `fixed_width`; with `lbp`, only the points that hold no low band of every frame (those a `--mode
    low_band_phase` changes)."""
    return [p.kbps for p in shipped.points() if (p.low_latency, p.fixed_width) == (low_latency, fixed_width)
            and not (lbp and p.mode == "low_band_phase")]


def load(kbps: float | None, low_latency: bool = False, fixed_width: bool = False,
         model: Path | None = None) -> Codec:
    """The shipped point `kbps` (of the low-latency or the fixed-width ladder), or the model in directory
    `model` (a candidate off the ladder)."""
    if model is not None:
        return Codec.load(model)
    return Codec.load(bitrate=kbps, low_latency=low_latency, fixed_width=fixed_width)


def model_spec(spec: str) -> tuple[str, Path]:
    """A benchmark's `--model NAME=DIR` -> (NAME, DIR); SystemExit naming the form for anything else."""
    name, sep, path = spec.partition("=")
    if not sep or not name or not path:
        raise SystemExit(f"--model wants NAME=DIR, got {spec!r}")
    return name, Path(path)


def round_trip(kbps: float | None, low_latency: bool = False, fixed_width: bool = False,
               model: Path | None = None, mode: str | None = None) -> tuple[Callable[[F32], Coded], str]:
    """A round-trip function for the point `kbps` (of the low-latency ladder with `low_latency`, of the
    fixed-width one with `fixed_width`), or for the model directory `model` (a candidate off the ladder),
    coded in `mode` (`codec-rt encode --mode`; None: the point's), and the loaded model's id."""
    codec = load(kbps, low_latency, fixed_width, model)

    def run(x: F32) -> Coded:
        data = codec.encode(x[None, :], RATE, mode=mode, framed=True)  # what `codec-rt encode` writes
        y, sr = codec.decode(data)
        if sr != RATE or y.shape != (1, x.shape[0]):
            raise RuntimeError(f"codec returned {y.shape} at {sr} Hz for {x.shape[0]} samples at {RATE} Hz")
        return Coded(np.ascontiguousarray(y[0], dtype=np.float32), len(data), len(data))

    return run, codec.model_id
