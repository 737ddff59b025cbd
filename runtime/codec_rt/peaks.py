"""A causal decoder's steady peaks (docs/FORMAT.md 6.5, "Causal: steady peaks"): the phase vocoder's peak
locking (Laroche and Dolson, "Improved phase vocoder time-scale modification of audio", IEEE TSAP 1999) for
a model that predicts each frame's phase advance.

The low-latency model's predicted advance of a steady tone wanders from frame to frame and from bin to bin
(a 440 Hz tone: 146, 198 and 218 Hz modulo 250 in its three strongest bins), which is heard as components
beside the tone (-14 dB). A steady peak's bins all take one advance instead, the mean over its last
PEAK_FRAMES frames, so the tone keeps one frequency. A locked bin's phase integrates that advance from frame
to frame, so its inputs must be the same bits in a stream as in a whole file: magnitudes, coded phases and
the predicted advance of the decoder graph run on fixed windows (`grid.causal_features`), summed in order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from . import stft
from .config import ModelConfig

PEAK_FRAMES = 12  # N: frames whose mean power finds the peaks and whose advances are averaged (48 ms at hop 64)
PEAK_DB = 1.0  # the largest change of a peak's mean power from the N frames before, dB, for it to start
PEAK_RANGE_DB = 40.0  # a peak within this of the frame's strongest mean power
PEAK_PROMINENCE_DB = 20.0  # a peak over the bins two either side of it (a tone's are 30 dB down, noise's not)
PEAK_WIDTH = 2  # bins either side of a peak that take its advance (a Hann window's main lobe)

F = npt.NDArray[np.floating]


@dataclass
class PeakState:
    """What the rule carries from block to block, per row: the last 2N - 1 frames' power and advance phasors
    `[rows, F, <= 2N - 1]`, the last frame's coded phase `[rows, K]` (None without a coded band) and the bins
    that were steady peaks in the last frame `[rows, F]`."""

    power: npt.NDArray[np.float64]
    advance: npt.NDArray[np.complex128]
    held: npt.NDArray[np.float64] | None
    peaks: npt.NDArray[np.bool_]


def steady_peaks(mag: F, advance: F | None, held: F | None, pitch: F | None, state: PeakState | None,
                 cfg: ModelConfig) -> tuple[npt.NDArray[np.float32], PeakState]:
    """A causal decoder's steady peaks (FORMAT.md 6.5, "Causal: steady peaks").

    mag: `[rows, F, T]` magnitudes of consecutive frames (after the level gain). advance: `[rows, F, T]` their
    predicted phase advance less a bin-centred sinusoid's (radians; ValueError if None). held: `[rows, K, T]`
    the coded phase of bins `[0, K)` (None: no coded band). pitch: `[rows, T]` the held band's pitch (cycles a
    sample, 0 unvoiced; None: none). state: the state after the frames before (None at a stream's start).
    cfg: the model's config (its STFT). Returns each bin's advance from the frame before (radians; NaN: not
    locked) `[rows, F, T] float32`, and the state to pass with the next frames.

    With P the mean power of a bin over frames t - N + 1 .. t: bin q (1 < q < F - 2) is a steady peak in an
    unvoiced frame t (t >= 2N - 1 from the stream's start) where P[q] > P[q - 1], P[q] >= P[q + 1], P[q] is
    PEAK_PROMINENCE_DB or more over P[q - 2] and P[q + 2] and within PEAK_RANGE_DB of the frame's largest P,
    and either P[q] is within PEAK_DB of its mean over the N frames before or q was a steady peak in frame
    t - 1. Its advance: the angle of the sum, over those N frames, of the coded bins' phasor advances weighted
    by P (bins max(0, q - 2) .. K - 1) where q - 1 < K, else of its own predicted advance's phasors (plus
    2 pi q hop / n_fft). Each bin at or above K within PEAK_WIDTH of a steady peak takes the advance of the
    strongest (the lowest of equals)."""
    if advance is None:
        raise ValueError("steady_peaks needs the predicted advance")
    n, n_fft, hop = PEAK_FRAMES, cfg.n_fft, cfg.hop
    power = np.asarray(mag, dtype=np.float64) ** 2
    rows, n_bins, t_count = power.shape
    k_held = 0 if held is None else held.shape[-2]
    centre = (2 * np.pi * hop / n_fft) * np.arange(n_bins)
    phasor = np.exp(1j * (centre[:, None] + np.asarray(advance, dtype=np.float64)))
    coded_prev = None
    if held is not None:
        coded = np.asarray(held, dtype=np.float64)
        coded_prev = coded[..., 0] if state is None or state.held is None else state.held
        before = np.concatenate([coded_prev[..., None], coded[..., :-1]], axis=-1)
        phasor[:, :k_held] = np.exp(1j * (coded - before))
        coded_prev = coded[..., -1]
    if state is None:
        state = PeakState(np.zeros((rows, n_bins, 0)), np.zeros((rows, n_bins, 0), np.complex128), None,
                          np.zeros((rows, n_bins), bool))
    full_p = np.concatenate([state.power, power], axis=-1)
    full_a = np.concatenate([state.advance, phasor], axis=-1)
    off = full_p.shape[-1] - t_count  # index in full_p of these frames' first
    lock = np.full(power.shape, np.nan, np.float32)
    was = state.peaks
    start = max(0, 2 * n - 1 - off)  # the first of these frames with 2N frames since the stream's start
    if t_count > start:
        g = np.arange(off + start, off + t_count)  # the frames in full_p
        sums = stft.window_sums(full_p, n) / n  # [..., i]: the mean over frames i .. i + N - 1
        now, before = sums[..., g - n + 1], sums[..., g - 2 * n + 1]  # [rows, F, frames]
        turn = stft.window_sums(full_a, n)[..., g - n + 1]
        rise = np.zeros(now.shape, bool)
        rise[:, 2:-2] = (now[:, 2:-2] > now[:, 1:-3]) & (now[:, 2:-2] >= now[:, 3:-1]) & (
            now[:, 2:-2] >= 10 ** (PEAK_PROMINENCE_DB / 10) * np.maximum(now[:, :-4], now[:, 4:]))
        top = now.max(axis=1, keepdims=True)
        cand = rise & (now > 0) & (now >= top * 10 ** (-PEAK_RANGE_DB / 10))
        calm = np.abs(10 * np.log10(np.maximum(now, 1e-300) / np.maximum(before, 1e-300))) < PEAK_DB
        unvoiced = np.ones((rows, len(g)), bool) if pitch is None else np.asarray(pitch)[:, start:] <= 0
        peaks = np.zeros(now.shape, bool)
        for i in range(len(g)):  # a peak stays steady while it lasts: one frame after the other
            peaks[..., i] = cand[..., i] & (calm[..., i] | was) & unvoiced[:, i, None]
            was = peaks[..., i]
        lock[..., start:] = _spread(peaks, now, _peak_advance(now, turn, k_held), k_held)
    keep = 2 * n - 1
    state = PeakState(np.ascontiguousarray(full_p[..., -keep:]), np.ascontiguousarray(full_a[..., -keep:]),
                      None if coded_prev is None else np.array(coded_prev), np.array(was))
    return lock, state


def _peak_advance(now: npt.NDArray[np.float64], turn: npt.NDArray[np.complex128], k_held: int
                  ) -> npt.NDArray[np.float64]:
    """Mean power `[rows, F, T]` and summed advance phasors `[rows, F, T]` -> the advance of a peak at each
    bin `[rows, F, T]`: its own phasors' angle; a peak next to the coded band (q - 1 < K) the coded bins'
    from q - 2 on, weighted by their mean power (the coded phase is the input's, the prediction is not)."""
    out = np.angle(turn)
    for q in range(1, min(k_held + 1, now.shape[1])):
        lo = max(0, q - 2)
        acc = now[:, lo] * turn[:, lo]
        for k in range(lo + 1, k_held):  # in order, one bin after the other: the same bits in any block
            acc = acc + now[:, k] * turn[:, k]
        out[:, q] = np.angle(acc)
    return out


def _spread(peaks: npt.NDArray[np.bool_], now: npt.NDArray[np.float64], omega: npt.NDArray[np.float64],
            k_held: int) -> npt.NDArray[np.float32]:
    """Steady peaks `[rows, F, T]`, mean power and their advances -> each bin's advance (NaN: none), from
    the strongest peak within PEAK_WIDTH (the lowest of equals), bins under k_held left alone."""
    w = PEAK_WIDTH
    rows, n_bins, t_count = peaks.shape
    val = np.pad(np.where(peaks, now, 0.0), ((0, 0), (w, w), (0, 0)))
    adv = np.pad(omega, ((0, 0), (w, w), (0, 0)))
    # for bin j, candidates q = j - w .. j + w, lowest first: argmax takes the first of equals
    cands = np.stack([val[:, o : o + n_bins] for o in range(2 * w + 1)])
    best = cands.argmax(axis=0)
    strongest = np.take_along_axis(cands, best[None], axis=0)[0]
    advs = np.stack([adv[:, o : o + n_bins] for o in range(2 * w + 1)])
    chosen = np.take_along_axis(advs, best[None], axis=0)[0]
    out = np.where(strongest > 0, chosen, np.nan).astype(np.float32)
    out[:, :k_held] = np.nan
    return out
