"""What a `StreamDecoder` (decoder.py) remembers between pushes: one stream's buffers and positions."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from .grid import StreamEnd
from .packets import PacketReader
from .phase_gradient import GradientStart
from .resample import StreamResampler

F32 = npt.NDArray[np.float32]


@dataclass
class DecoderState:
    """What a `StreamDecoder` remembers between pushes.

    reader: the blob parser (bytes of an unfinished packet). latents: `[channels, C, F', n] float32` latent
    steps from `z0` on, `gains [channels, n]` the level gain of each. phases: stored phase `[channels,
    n_bins, n]` from STFT frame `p0` on (mode store_phase). block: the next Griffin-Lim block. tail: the
    faded-out end of the previous block `[channels, 2 * crossfade]` (a causal model: ola, the committed
    frames' overlap-add over the samples still open, `[channels, n_fft - hop]`, and last, the last frame
    committed, `[channels, n_bins] complex64`). start: the phase-gradient start, carried from block to block.
    emitted: model-rate samples of the coded signal done;
    returned: samples returned at the blob's rate. end: the stream's end once the last packet has arrived."""

    reader: PacketReader = field(default_factory=PacketReader)
    latents: F32 | None = None
    gains: F32 | None = None
    z0: int = 0
    steps: int = 0
    phases: F32 | None = None
    p0: int = 0
    phase_frames: int = 0
    block: int = 0
    tail: F32 | None = None
    ola: F32 | None = None
    last: npt.NDArray[np.complex64] | None = None
    start: GradientStart = field(default_factory=GradientStart)
    emitted: int = 0
    returned: int = 0
    end: StreamEnd | None = None
    truncated: bool = False
    finished: bool = False
    drained: bool = False  # every sample returned
    skipped: int = 0  # samples of the lead-in dropped at the blob's rate
    resampler: StreamResampler | None = None
