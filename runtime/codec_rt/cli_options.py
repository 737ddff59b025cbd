"""The options that several `codec-rt` commands share: their choices (enums) and typer declarations."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from .phase_gradient import PhaseStart


class Mode(str, Enum):
    predicted = "predicted"
    store_phase = "store_phase"
    low_band_phase = "low_band_phase"
    tonal_band_phase = "tonal_band_phase"


class Provider(str, Enum):
    cpu = "cpu"
    cuda = "cuda"


class StereoOpt(str, Enum):
    auto = "auto"
    mid_side = "mid-side"
    independent = "independent"

    @property
    def joint(self) -> bool | None:
        return None if self is StereoOpt.auto else self is StereoOpt.mid_side


class PhaseStartOpt(str, Enum):
    predicted = "predicted"
    gradient = "gradient"


class Layout(str, Enum):
    framed = "framed"
    whole = "whole"


ModelOpt = Annotated[Path | None, typer.Option(
    "--model", help="model directory, with its model's own defaults (mode predicted unless --mode), not a ladder "
                    "point's options such as the low-latency point's low band (default: the shipped ladder)")]
BitrateOpt = Annotated[
    float | None,
    # no min=: the ladder's own check (ladder.choose) says what is wrong with nan, 0 or -3
    typer.Option("--bitrate",
                 help="kbps: the shipped range-coded model at or below it (default: the ladder's default)"),
]
LowLatencyOpt = Annotated[
    bool, typer.Option("--low-latency", help="a causal model of <= 20 ms algorithmic latency (for live audio)")
]
ProviderOpt = Annotated[Provider, typer.Option("--provider", help="onnxruntime execution provider")]
ModeOpt = Annotated[Mode | None, typer.Option(
    "--mode", help="predicted phase, the phase stored in the blob, the low band's phase stored (up to "
    "700 Hz at 4 bits, about 11 kbps more; 18 kbps: 500 Hz at 3 bits, 6.5 kbps; low latency: 450 Hz at 3 bits, "
    "5.25 kbps; format 1.10 with phase), or the band up to 1 kHz where the sound is steady (tones, chords; "
    "next to nothing on speech; format 1.11; not with --low-latency) [default: the point's: low_band_phase at "
    "18 and 24 kbps and low latency, else tonal_band_phase]",
    show_default=False)]
ForceOpt = Annotated[bool, typer.Option("--force", help="replace an existing output file")]
PhaseItersOpt = Annotated[
    int | None,
    typer.Option("--phase-iters", min=0, max=10_000,
                 help="phase iterations (predicted-phase mode): Griffin-Lim per block, or RTISI per frame for "
                 "a low-latency model [default: the model's; shipped: 8, and 1 for the low-latency one]"),
]
ContrastOpt = Annotated[
    float | None, typer.Option("--contrast", min=0.5, max=2.0, help="spectral-contrast postfilter, 1.0 = off "
                               "(predicted mode) [default: the model's, 1.15 unless its metadata says]")
]
PhaseStartArg = Annotated[
    PhaseStartOpt | None,
    typer.Option("--phase-start", help="where the iterations start (non-causal models, predicted mode): the "
                 "decoder graph's phase, or the phase-gradient start built from the magnitude [default: the "
                 "model's; shipped: gradient]"),
]
StereoArg = Annotated[
    StereoOpt, typer.Option("--stereo", help="a pair of channels as mid/side (format 1.4: keeps an anti-phase or "
                            "mono pair, mixes a panned one), each on its own, or auto: mid/side where mid or side "
                            "is near silent")
]
BitsOpt = Annotated[
    int | None,
    typer.Option("--bits", min=3, max=16,
                 help="latent bits per value (5: about 32 kbps): the shipped fixed-width model, or --model's"),
]


def phase_start(opt: PhaseStartOpt | None) -> PhaseStart | None:
    """The decoder's `phase_start` for the option (None: the model's)."""
    return None if opt is None else PhaseStart.parse(opt.value)
