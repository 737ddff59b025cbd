"""The shipped bitrate ladder: one small model per operating point, picked by `--bitrate`.

`models/ladder.json` lists the points: nominal kbps (the actual rate of a file depends on its content;
`codec-rt info` prints it), the model directory under `models/`, and the model id, so that a blob finds the
model that wrote it without loading every graph. `default_kbps` is the point used when none is asked for.
A point flagged `low_latency` is a causal model (algorithmic latency <= 20 ms): it has a ladder of its own,
picked with `low_latency=True` (`--low-latency`), since live audio needs it whatever the bitrate. A point
flagged `fixed_width` codes its latent at a chosen number of bits per value (coder 0, `--bits`) where the
others are range-coded at the model's own rate: it is picked only when bits are asked for
(`fixed_width=True`), so that `--bitrate` climbs the range-coded ladder, where more bits buy more quality.
A point may name an encode `mode` (default "predicted"): the 24 kbps point is the 12 kbps model with the low
band's phase in the blob (`low_band_phase`, format 1.8), which measured better there than any model of its
own (docs/rate_quality.md); the points below 18 kbps code a tonal band (`tonal_band_phase`, format 1.11).
A point may name a `rate_lambda` (default 0): its model's latent rounded rate-aware
(`entropy.rate_aware_symbols`), which puts a point between two models' rates, e.g. the 12 kbps model at 10
kbps. A point with a band may name its `phase_bins` and `phase_bits` (default the model's,
`latent.coding_options`): the 18 kbps point is the 12 kbps model with 16 bins (500 Hz) at 3 bits.
A model may so serve more than one point; `models()` lists each once.

`retired` lists every model an earlier release shipped and this one no longer encodes with (`models/retired/`):
a blob written by any shipped model keeps decoding, found by its id.
"""

from __future__ import annotations

import json
import numbers
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from .config import Mode
from .entropy import check_rate_lambda
from .errors import CodecError, ModelError, ModelMismatchError

MODELS_DIR = Path(__file__).parent / "models"


@dataclass(frozen=True)
class LadderPoint:
    kbps: float
    path: Path
    model_id: str
    low_latency: bool = False
    fixed_width: bool = False
    mode: str = "predicted"  # what `Codec.encode` does at this point unless asked otherwise
    rate_lambda: float = 0.0  # its rate-aware rounding (`entropy.rate_aware_symbols`); 0: plain rounding
    phase_bins: int | None = None  # mode low_band_phase: the low band's STFT bins (None: the model's default)
    phase_bits: int | None = None  # mode low_band_phase: their phase's bits (None: the model's default)
    tracks: bool = False  # steady partials as sinusoidal tracks (format 1.12, `tracks.py`)

    @classmethod
    def of_folder(cls, path: str | Path) -> LadderPoint:
        """A model folder given by path (`--model DIR`), as a point with no options of its own: its model's
        defaults, no nominal rate, its id read when it loads."""
        return cls(0.0, Path(path), "")


@dataclass(frozen=True)
class RetiredModel:
    """A model an earlier release shipped: decodes its blobs, never encodes."""

    path: Path
    model_id: str
    was: str  # the point it was, and when


@cache
def _read() -> tuple[float, tuple[LadderPoint, ...], tuple[RetiredModel, ...]]:
    try:
        d = json.loads((MODELS_DIR / "ladder.json").read_text())
        points = tuple(sorted((point_from_dict(p) for p in d["points"]), key=lambda p: p.kbps))
        retired = tuple(RetiredModel(MODELS_DIR / r["dir"], str(r["model_id"]), str(r["was"]))
                        for r in d.get("retired", ()))
        return float(d["default_kbps"]), points, retired
    except (OSError, ValueError, KeyError, TypeError, CodecError) as e:
        raise ModelError(f"the shipped ladder {MODELS_DIR / 'ladder.json'} is unreadable: {e!r}") from None


def point_from_dict(p: dict[str, Any]) -> LadderPoint:
    """A `ladder.json` point -> `LadderPoint`; KeyError, TypeError, ValueError or CodecError for one this
    runtime would not read (scripts/write_ladder.py checks what it writes with it)."""
    mode = Mode.parse(str(p.get("mode", "predicted")))
    low: dict[str, int | None] = {}
    for k, top in (("phase_bins", 0xFFFF), ("phase_bits", 16)):
        v = p.get(k)
        # a whole number, as JSON has it (16.0 is 16, as in JavaScript), and only where a band is coded
        whole = isinstance(v, (int, float)) and not isinstance(v, bool) and float(v).is_integer()
        banded = mode in (Mode.LOW_BAND_PHASE, Mode.TONAL_BAND_PHASE)
        if v is not None and (not banded or not whole or not 1 <= v <= top):
            raise ValueError(f"{k} must be an integer in 1..{top}, and only at a point with a band: {v!r}")
        low[k] = None if v is None else int(v)
    return LadderPoint(float(p["kbps"]), MODELS_DIR / p["dir"], str(p["model_id"]),
                       bool(p.get("low_latency", False)), bool(p.get("fixed_width", False)), mode.name.lower(),
                       check_rate_lambda(p.get("rate_lambda", 0.0)), low["phase_bins"], low["phase_bits"],
                       _flag(p, "tracks"))


def _flag(p: dict[str, Any], key: str) -> bool:
    """A point's true-or-false field (default false); ValueError for anything else."""
    v = p.get(key, False)
    if not isinstance(v, bool):
        raise ValueError(f"{key} must be true or false: {v!r}")
    return v


def points() -> tuple[LadderPoint, ...]:
    """The shipped points, every ladder, lowest bitrate first."""
    return _read()[1]


def models() -> tuple[LadderPoint, ...]:
    """The shipped models, each once (at its lowest point), lowest bitrate first."""
    seen: dict[str, LadderPoint] = {}
    for p in points():
        seen.setdefault(p.model_id, p)
    return tuple(seen.values())


def retired() -> tuple[RetiredModel, ...]:
    """The models earlier releases shipped, kept to decode their blobs."""
    return _read()[2]


def choose(bitrate: float | None = None, low_latency: bool = False, fixed_width: bool = False) -> LadderPoint:
    """The highest point at or below `bitrate` kbps (None: the default point; with `low_latency` or
    `fixed_width`, that ladder's highest point) on the ladder asked for. CodecError for a bitrate other than
    a positive number, or where that ladder is empty or has no point at or below `bitrate`."""
    if bitrate is not None and (isinstance(bitrate, bool) or not isinstance(bitrate, numbers.Real) or not bitrate > 0):
        raise CodecError(f"bitrate must be a positive number of kbps, got {bitrate!r}")
    default, pts, _ = _read()
    pts = tuple(p for p in pts if (p.low_latency, p.fixed_width) == (low_latency, fixed_width))
    kind = " ".join([w for w, on in (("low-latency", low_latency), ("fixed-width", fixed_width)) if on] + ["model"])
    if not pts:
        raise CodecError(f"this codec-rt ships no {kind}")
    target = (pts[-1].kbps if low_latency or fixed_width else default) if bitrate is None else bitrate
    below = [p for p in pts if p.kbps <= target]
    if not below:
        have = ", ".join(f"{p.kbps:g}" for p in pts)
        raise CodecError(f"no {kind} at or below {target:g} kbps; the ladder has {have}")
    return below[-1]


def select(bitrate: float | None = None, low_latency: bool = False, fixed_width: bool = False) -> Path:
    """Model directory of `choose(bitrate, low_latency, fixed_width)`."""
    return choose(bitrate, low_latency, fixed_width).path


def find(model_id: str) -> Path:
    """Model directory of the shipped model `model_id`, current or retired (ModelMismatchError for any other)."""
    known: dict[str, Path] = {p.model_id: p.path for p in points()} | {r.model_id: r.path for r in retired()}
    if model_id in known:
        return known[model_id]
    raise ModelMismatchError(
        f"blob was encoded with model {model_id}, which is not shipped with this codec-rt "
        f"(shipped: {', '.join(p.model_id for p in models())}); pass its model directory with --model"
    )

