"""A causal decoder's steady peaks (docs/FORMAT.md 6.5, "Causal: steady peaks"): the phase vocoder's peak
locking (Laroche and Dolson, "Improved phase vocoder time-scale modification of audio", IEEE TSAP 1999) for
a model that predicts each frame's phase advance.

The low-latency model's predicted advance of a steady tone wanders from frame to frame and from bin to bin
(a 440 Hz tone: 146, 198 and 218 Hz modulo 250 in its three strongest bins), and its decoded magnitude
wanders too (a 3 kHz tone: 1.5 dB from frame to frame), both heard as components beside the tone. A steady
peak's bins all take one advance instead, and each its mean power over the last LOBE_FRAMES frames: the
advance of a peak next to the coded band is the coded band's (the input's), of any other peak the
frequency that its main lobe's shape says (Hann's, from that mean power). A locked bin's phase integrates
that advance from frame to frame, so its inputs must be the same bits in a stream as in a whole file:
magnitudes and coded phases of the decoder graph run on fixed windows (`grid.causal_features`), summed in
order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from . import stft
from .config import ModelConfig

PEAK_FRAMES = 12  # N: frames whose mean power finds the peaks and whose advances are averaged (48 ms at hop 64)
# M: frames whose mean power gives a steady peak's bins their magnitude and the peak its frequency (192 ms at
# hop 64); the 3 kHz tone's decoded magnitude wanders over tens of frames: 0.81 dB (std) over 12, 0.38 over 48
LOBE_FRAMES = 48
PEAK_DB = 1.0  # the largest change of a peak's mean power from the N frames before and from M's, dB, to start
# the largest change of a locked peak's mean power from M frames', dB, for it to stay locked: over the wander
# of a steady tone's decoded level (0.8 dB, std, over 12 frames), under a level's step or a tremolo's swing
PEAK_HOLD_DB = 3.0
# a locked bin's magnitude stays within this factor (6 dB) of the frame's own: a tone that stops ends with its
# frames, not 20 ms later as the mean would (the wander: under 4 dB either way in 98 % of frames)
LOCK_RANGE = 2.0
PEAK_RANGE_DB = 40.0  # a peak within this of the frame's strongest mean power
PEAK_PROMINENCE_DB = 20.0  # a peak over the bins two either side of it (a tone's are 30 dB down, noise's not)
PEAK_WIDTH = 2  # bins either side of a peak that take its advance (a Hann window's main lobe)

F = npt.NDArray[np.floating]


@dataclass
class PeakState:
    """What the rule carries from block to block, per row: the last M - 1 frames' power and the coded band's
    advance phasors `[rows, F or K, <= M - 1]`, the last frame's coded phase `[rows, K]` (None without a coded
    band) and the bins that were steady peaks in the last frame `[rows, F]`."""

    power: npt.NDArray[np.float64]
    advance: npt.NDArray[np.complex128]
    held: npt.NDArray[np.float64] | None
    peaks: npt.NDArray[np.bool_]


def steady_peaks(mag: F, held: F | None, pitch: F | None, state: PeakState | None, cfg: ModelConfig
                 ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], PeakState]:
    """A causal decoder's steady peaks (FORMAT.md 6.5, "Causal: steady peaks").

    mag: `[rows, F, T]` magnitudes of consecutive frames (after the level gain). held: `[rows, K, T]` the coded
    phase of bins `[0, K)` (radians; None: no coded band). pitch: `[rows, T]` the held band's pitch (cycles a
    sample, 0 unvoiced; None: none). state: the state after the frames before (None at a stream's start).
    cfg: the model's config (its STFT). Returns each bin's advance from the frame before (radians in
    [-pi, pi]; NaN: not locked) `[rows, F, T] float32`, the magnitudes with each locked bin's replaced by its
    mean over the last M frames, kept within LOCK_RANGE of its own, `[rows, F, T] float32` (a new array), and
    the state to pass with the next frames.

    With P a bin's mean power over frames t - N + 1 .. t (N = PEAK_FRAMES) and Q over t - M + 1 .. t (M =
    LOBE_FRAMES): bin q (1 < q < F - 2) is a steady peak in an unvoiced frame t (t >= M - 1 from the stream's
    start) where P[q] > P[q - 1], P[q] >= P[q + 1], P[q] is PEAK_PROMINENCE_DB or more over P[q - 2] and
    P[q + 2] and within PEAK_RANGE_DB of the frame's largest P, and either P[q] is within PEAK_DB of its mean
    over the N frames before and of Q[q], or q was a steady peak in frame t - 1 and P[q] is within
    PEAK_HOLD_DB of Q[q] (a peak starts where its last M frames hold one level, and leaves off where its
    level moves away from theirs: a tone's onset or a step in its level is not averaged in). Its advance,
    where q - 1 < K: the angle of the sum, over the last N frames, of the coded bins' phasor advances
    weighted by P (bins max(0, q - 2) .. K - 1); else 2 pi (q + d) hop / n_fft (modulo 2 pi, in (-pi, pi]),
    d the offset from bin q of the tone whose Hann main lobe Q is (`lobe_offset`). Each bin j >= K within
    PEAK_WIDTH of a steady peak takes the advance of the strongest (the lowest of equals), and the magnitude
    sqrt(Q[j]), kept within a factor LOCK_RANGE of its own."""
    n, m, n_fft, hop = PEAK_FRAMES, LOBE_FRAMES, cfg.n_fft, cfg.hop
    power = np.asarray(mag, dtype=np.float64) ** 2
    rows, n_bins, t_count = power.shape
    k_held = 0 if held is None else held.shape[-2]
    phasor = np.ones((rows, k_held, t_count), np.complex128)
    coded_prev = None
    if held is not None:
        coded = np.asarray(held, dtype=np.float64)
        coded_prev = coded[..., 0] if state is None or state.held is None else state.held
        before = np.concatenate([coded_prev[..., None], coded[..., :-1]], axis=-1)
        phasor = np.exp(1j * (coded - before))
        coded_prev = coded[..., -1]
    if state is None:
        state = PeakState(np.zeros((rows, n_bins, 0)), np.zeros((rows, k_held, 0), np.complex128), None,
                          np.zeros((rows, n_bins), bool))
    full_p = np.concatenate([state.power, power], axis=-1)
    full_a = np.concatenate([state.advance, phasor], axis=-1)
    off = full_p.shape[-1] - t_count  # index in full_p of these frames' first
    lock = np.full(power.shape, np.nan, np.float32)
    out = np.array(mag, dtype=np.float32)
    was = state.peaks
    start = max(0, m - 1 - off)  # the first of these frames with M frames since the stream's start
    if t_count > start:
        g = np.arange(off + start, off + t_count)  # the frames in full_p
        sums = stft.window_sums(full_p, n) / n  # [..., i]: the mean over frames i .. i + N - 1
        now, before = sums[..., g - n + 1], sums[..., g - 2 * n + 1]  # [rows, F, frames]
        lobe = (stft.window_sums(full_p, m) / m)[..., g - m + 1]
        turn = stft.window_sums(full_a, n)[..., g - n + 1]
        rise = np.zeros(now.shape, bool)
        rise[:, 2:-2] = (now[:, 2:-2] > now[:, 1:-3]) & (now[:, 2:-2] >= now[:, 3:-1]) & (
            now[:, 2:-2] >= 10 ** (PEAK_PROMINENCE_DB / 10) * np.maximum(now[:, :-4], now[:, 4:]))
        top = now.max(axis=1, keepdims=True)
        cand = rise & (now > 0) & (now >= top * 10 ** (-PEAK_RANGE_DB / 10))
        def db(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            out: npt.NDArray[np.float64] = np.abs(10 * np.log10(np.maximum(a, 1e-300) / np.maximum(b, 1e-300)))
            return out

        drift = db(now, lobe)  # a peak's level now against its level over the last M frames, dB
        calm = (db(now, before) < PEAK_DB) & (drift < PEAK_DB)
        holds = drift < PEAK_HOLD_DB
        unvoiced = np.ones((rows, len(g)), bool) if pitch is None else np.asarray(pitch)[:, start:] <= 0
        peaks = np.zeros(now.shape, bool)
        for i in range(len(g)):  # a peak stays steady while it lasts: one frame after the other
            peaks[..., i] = cand[..., i] & (calm[..., i] | (was & holds[..., i])) & unvoiced[:, i, None]
            was = peaks[..., i]
        omega = _peak_advance(now, lobe, turn, k_held, hop, n_fft)
        lock[..., start:] = _spread(peaks, now, omega, k_held)
        locked = np.isfinite(lock[..., start:])
        own = out[..., start:].astype(np.float64)  # a frame's own, within LOCK_RANGE of which the mean is kept
        level = np.minimum(np.maximum(np.sqrt(lobe), own / LOCK_RANGE), own * LOCK_RANGE).astype(np.float32)
        out[..., start:] = np.where(locked, level, out[..., start:])
    keep = m - 1
    state = PeakState(np.ascontiguousarray(full_p[..., -keep:]), np.ascontiguousarray(full_a[..., -keep:]),
                      None if coded_prev is None else np.array(coded_prev), np.array(was))
    return lock, out, state


def lobe_offset(below: npt.NDArray[np.float64], peak: npt.NDArray[np.float64], above: npt.NDArray[np.float64]
                ) -> npt.NDArray[np.float64]:
    """A peak's power and its neighbours' (any shape, float64) -> the offset in bins, in [-1/2, 1/2], of the
    tone whose Hann main lobe that is: with r = sqrt(larger neighbour / peak) clipped to [1/2, 1], d = (2 r - 1)
    / (r + 1), negative where the bin below is the larger (Grandke, "Interpolation algorithms for discrete
    Fourier transforms of weighted signals", IEEE Trans. Instrum. Meas. 1983: the lobe falls as sin(pi x) /
    (x (1 - x^2)) at x bins from the tone, so the neighbour on the tone's side over the peak is (1 + d) /
    (2 - d)). A lobe narrower than Hann's (a decoded one may be) reads as a tone on the bin, not beside it."""
    up = above >= below
    r = np.clip(np.sqrt(np.where(up, above, below) / peak), 0.5, 1.0)
    d = (2 * r - 1) / (r + 1)
    out: npt.NDArray[np.float64] = np.where(up, d, -d)
    return out


def _peak_advance(now: npt.NDArray[np.float64], lobe: npt.NDArray[np.float64], turn: npt.NDArray[np.complex128],
                  k_held: int, hop: int, n_fft: int) -> npt.NDArray[np.float64]:
    """Mean power over N and M frames `[rows, F, T]` and the coded bins' summed advance phasors `[rows, K, T]`
    -> the advance of a peak at each bin `[rows, F, T]`, radians in [-pi, pi]: a peak next to the coded band
    (q - 1 < K) the coded bins' from q - 2 on, weighted by their mean power (the coded phase is the input's,
    the prediction is not); any other the frequency its main lobe gives (`lobe_offset`)."""
    q = np.arange(now.shape[1], dtype=np.float64)[None, :, None]
    d = np.zeros(now.shape)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):  # bins with Q = 0 are no peaks
        d[:, 1:-1] = lobe_offset(lobe[:, :-2], lobe[:, 1:-1], lobe[:, 2:])
    out = np.mod(2 * np.pi * (q + d) * hop / n_fft, 2 * np.pi)
    out = np.where(out > np.pi, out - 2 * np.pi, out)
    for b in range(1, min(k_held + 1, now.shape[1])):
        lo = max(0, b - 2)
        acc = now[:, lo] * turn[:, lo]
        for k in range(lo + 1, k_held):  # in order, one bin after the other: the same bits in any block
            acc = acc + now[:, k] * turn[:, k]
        out[:, b] = np.angle(acc)
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
