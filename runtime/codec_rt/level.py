"""Level: the model always sees audio at about the same loudness, without DC, and the decoded audio keeps
its peaks below full scale.

The encoder scales each channel by `gain = TARGET_RMS / rms` (clamped to [MIN_GAIN, MAX_GAIN], so silence
is not amplified into noise) and stores the gain in the blob; the decoder divides it out. Training applies
the same function to its crops, so model and runtime agree. The framed layout has a gain per packet; where
the whole stream's level is known first (`Loudness`), each packet's gain is held near it (`packet_gains`).
The encoder takes the rms about the mean and removes the input's DC and infrasound (`input_gain`,
`remove_dc`); fixed-point outputs bend peaks (`soft_clip`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .config import Stereo

TARGET_RMS = 0.05  # about -26 dBFS
MIN_GAIN = 1.0 / 64.0
MAX_GAIN = 64.0


def normalizing_gain(x: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
    """Gain per row of `x [C, N]` -> `[C] float32`."""
    if x.shape[-1] == 0:
        return np.ones(x.shape[:-1], dtype=np.float32)
    rms = np.sqrt(np.mean(np.square(x, dtype=np.float64), axis=-1))
    gain = TARGET_RMS / np.maximum(rms, 1e-12)
    return np.asarray(np.clip(gain, MIN_GAIN, MAX_GAIN), dtype=np.float32)


# A packet's own gain follows its own level, so a quiet background beside loud speech was coded at another
# level in every packet that held some of the speech, and the decoder, whose context spans packets, rendered
# it unsteady around their boundaries (docs/fidelity.md). With the stream's level known first, a packet's
# gain is the stream's, kept within REFERENCE_SPAN of its own either way (loud audio at most 6 dB over the
# level the model was trained at, quiet audio at most 6 dB under it).
REFERENCE_SPAN = 2.0
# The packet's gain is its own times a ratio on this grid: a file read in blocks and an array read whole
# (or another runtime's sums) then give the same float32 gain, and channels that differ only in level keep
# gains in exactly their ratio, so they are coded alike (a causal decoder's phase would part them otherwise).
GAIN_GRID_DB = 0.25


class Loudness:
    """The level of a stream, accumulated over `[C, n]` blocks of its audio at any rate (a first pass over a
    file), for `packet_gains`. The channels' sums, sums of squares and, for a pair, the sum of products are
    kept, so that the gains of mid and side are known too."""

    def __init__(self) -> None:
        self.n = 0
        self.sums = self.squares = np.zeros(0)
        self.products = 0.0

    def add(self, x: npt.ArrayLike) -> None:
        a = np.asarray(x, np.float64)
        if not self.n:
            self.sums, self.squares = np.zeros(a.shape[0]), np.zeros(a.shape[0])
        self.n += a.shape[1]
        self.sums = self.sums + a.sum(axis=1)
        self.squares = self.squares + np.square(a).sum(axis=1)
        if a.shape[0] == 2:
            self.products += float(np.dot(a[0], a[1]))

    def gains(self, stereo: int = Stereo.INDEPENDENT) -> npt.NDArray[np.float64]:
        """`[C] float64`: the gain `normalizing_gain` gives the whole stream about its mean, per coded channel
        (mid and side with `Stereo.MID_SIDE`)."""
        n = max(self.n, 1)
        sums, squares = self.sums, self.squares
        if stereo == Stereo.MID_SIDE and len(sums) == 2:
            cross = 2.0 * self.products
            sums = np.array([sums[0] + sums[1], sums[0] - sums[1]]) / 2.0
            squares = np.array([squares[0] + squares[1] + cross, squares[0] + squares[1] - cross]) / 4.0
        mean = sums / n
        rms = np.sqrt(np.maximum(squares / n - mean * mean, 0.0))
        return np.asarray(np.clip(TARGET_RMS / np.maximum(rms, 1e-12), MIN_GAIN, MAX_GAIN), dtype=np.float64)


def packet_gains(own: npt.NDArray[np.float32], reference: npt.NDArray[np.float64] | None) -> npt.NDArray[np.float32]:
    """A packet's gains `[C]`: its own (`input_gain` of its samples) with no reference, else its own times the
    stream's `reference` over it, that ratio kept within REFERENCE_SPAN either way and rounded to
    GAIN_GRID_DB, and the gain kept in [MIN_GAIN, MAX_GAIN] (a blob holds no other: a quiet packet's own gain
    at the top of the range, doubled, made blobs that no reader took)."""
    if reference is None:
        return own
    ratio = np.clip(reference / own.astype(np.float64), 1.0 / REFERENCE_SPAN, REFERENCE_SPAN)
    grid = np.floor(20.0 * np.log10(ratio) / GAIN_GRID_DB + 0.5) * GAIN_GRID_DB
    return np.clip(own.astype(np.float64) * 10.0 ** (grid / 20.0), MIN_GAIN, MAX_GAIN).astype(np.float32)


def window_capped(own: npt.NDArray[np.float32], window: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """A packet's own gain `[C] float32` held to at most REFERENCE_SPAN times `window`, the `input_gain` of
    its window's samples from its own first one on (its own and those the encoder graph reads ahead of it,
    which the next packet holds). Taken over its own samples alone, a packet of silence before a tone's onset
    got 140 times the next packet's gain and scaled the onset in its window 43 dB over the level the model
    was trained at, and it decoded 3.3 dB loud at 12 kbps. The window's samples before its own (the packet
    before it, whose gain already holds them) are left out: with them, a click there took a quiet packet's
    gain 17 dB under the next one's, and their boundary decoded 6 dB loud at 3 kbps (docs/MEASURED.md, "A
    packet's gain held by its window"). For non-causal models."""
    capped: npt.NDArray[np.float32] = np.minimum(own, window * np.float32(REFERENCE_SPAN))
    return capped


# A quiet background beside loud packets still gets gains up to REFERENCE_SPAN apart, and the decoder graph's
# context, which spans the boundary, blends the two sides' levels: dividing its output by a gain that steps
# left a dip and a peak of 3 to 5 dB at each boundary (noise at -40 dBFS between speech bursts: 6.5 dB of
# 10 ms level range at 12 kbps, 2.5 in the whole layout). From format 1.7 the decoder of a non-causal model
# divides by the log-gain averaged over `gain_smoothing` latent steps either side (`frame_gains`); the encoder
# writes GAIN_SMOOTHING_STEPS, which came nearest the whole layout around boundaries (docs/fidelity.md).
GAIN_SMOOTHING_STEPS = 1


def frame_gains(gains: npt.NDArray[np.float32], z0: int, w0: int, w1: int, stride: int, smoothing: int,
                last_step: int | None = None) -> npt.NDArray[np.float32]:
    """Per-frame gains of STFT frames `[w0, w1)` -> `[C, w1 - w0] float32` (FORMAT.md 6.2), from `gains
    [C, n]`, the gains of latent steps `z0 .. z0 + n - 1` (`stride` frames each). Frame t's gain is its
    step's, times exp of the mean, over frames u within `smoothing * stride` of t, of ln(gain of u's step
    / gain of t's step), in float64; steps before 0 and after `last_step` (the stream's last, once known)
    are taken as those. Where the gain does not change it is the step's gain exactly. The header allows at
    most 2 (FORMAT.md 4.1): the steps a decoder block holds reach 2 past its frames' (`ModelConfig.decoder_steps`)."""
    r = smoothing * stride
    steps = np.arange(w0 - r, w1 + r) // stride
    steps = np.maximum(steps, 0) if last_step is None else np.clip(steps, 0, last_step)
    assert steps[0] >= z0 and steps[-1] < z0 + gains.shape[1], "gains of steps not held"
    g = gains[:, steps - z0].astype(np.float64)
    own = g[:, r : r + w1 - w0]
    if r == 0:
        return own.astype(np.float32)
    around = np.lib.stride_tricks.sliding_window_view(np.log(g), 2 * r + 1, axis=1)  # [C, frames, 2r + 1]
    out: npt.NDArray[np.float32] = (own * np.exp(np.mean(around - np.log(own)[..., None], axis=-1))).astype(np.float32)
    return out


# The input's DC and infrasound are removed before coding, as speech codecs' input high-pass filters do: the
# centred moving average over DC_SECONDS is subtracted (a high-pass whose response is within 0.4 dB of flat
# above 80 Hz and -inf at 0 Hz), so an offset is removed cleanly rather than coded.
DC_SECONDS = 0.1


def input_gain(x: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
    """The level gain of input audio `x [C, N]` -> `[C] float32`: `normalizing_gain` of its deviation from
    its mean, so a DC offset (which the encoder removes, `remove_dc`) does not steal level from the rest."""
    xa = np.asarray(x, np.float64)
    return normalizing_gain(xa - xa.mean(axis=-1, keepdims=True) if xa.shape[-1] else xa)


def remove_dc(x: npt.NDArray[np.floating], rate: int) -> npt.NDArray[np.float32]:
    """`x [C, N]` at `rate` Hz without its DC and infrasound -> `[C, N] float32`: each sample minus the mean
    of the samples within DC_SECONDS / 2 of it (fewer at the edges, where the mean is over what is there).
    The encoder applies it to its input; from format 1.4 on, the decoder of a non-causal model to each
    block's signal too (its Griffin-Lim and graph add a wander below 10 Hz of their own)."""
    xa = np.asarray(x, np.float64)
    h = int(round(DC_SECONDS * rate)) // 2
    n = xa.shape[-1]
    if n == 0:
        return xa.astype(np.float32)
    c = np.concatenate([np.zeros(xa.shape[:-1] + (1,)), np.cumsum(xa, axis=-1)], axis=-1)
    lo, hi = np.maximum(np.arange(n) - h, 0), np.minimum(np.arange(n) + h + 1, n)
    out: npt.NDArray[np.float32] = (xa - (c[..., hi] - c[..., lo]) / (hi - lo)).astype(np.float32)
    return out


SOFT_KNEE = 0.9  # soft clipping starts here, 0.9 dB below full scale, and never reaches SOFT_CEILING
SOFT_CEILING = 0.999


def soft_clip(x: npt.NDArray[np.float32]) -> tuple[npt.NDArray[np.float32], int]:
    """Samples for a fixed-point output -> (the same with every peak over SOFT_KNEE bent smoothly below full
    scale, the count of samples that were at or over full scale). Identity under the knee; continuous with
    its slope above it (tanh), so a decoder's overshoot becomes a gentle compression, not a hard clip
    (libopus's decoder does the like for its 16-bit output: opus_pcm_soft_clip)."""
    over = int(np.count_nonzero(np.abs(x) >= 1.0))
    a = np.abs(x)
    knee = a > SOFT_KNEE
    if not knee.any():
        return x, over
    room = SOFT_CEILING - SOFT_KNEE
    bent = SOFT_KNEE + room * np.tanh((a[knee] - SOFT_KNEE) / room)
    out = x.copy()
    out[knee] = (np.sign(x[knee]) * bent).astype(np.float32)
    return out, over
