"""The pitch of a blob's stored low band, for the causal decoder's voiced frames (FORMAT.md 6.5, "Causal,
mode 2: voiced frames") and for the non-causal phase-gradient start's harmonics above the band ("Non-causal,
mode 2: the band's harmonics": `AheadPitch`, one frame later).

A causal decoder cannot take a partial's frequency from frames it has not seen, and the decoded magnitude
places it to a fraction of a bin only: each bin went on at its own bin's or peak's rate and the harmonics
of a voice drifted apart. With the low band's phase stored (mode low_band_phase, bins up to 450 Hz), the
decoder holds a voice's first harmonics as they were, so it can hear its pitch with no lookahead and no
bits: the low band's signal from the frames decoded so far, and YIN's cumulative-mean-normalized
difference over its newest samples (de Cheveigne and Kawahara, "YIN, a fundamental frequency estimator for
speech and music", JASA 2002, steps 1 to 5, without its step 6). A voiced frame's bins then go on at the
frequency of their nearest harmonic of that pitch (`harmonic_advance`). Thresholds and the segment's end
were chosen on development speech (docs/TRAINING.md, "The low band's pitch").

Frame t covers samples `[t hop - n_fft / 2, t hop + n_fft / 2)` (stft.py). Its pitch is read from the low
band's overlap-add of frames `0 .. t`, divided by their window-square sum (at least 1e-3), over the
`n_fft + tau_max` samples that end `n_fft - hop` samples after frame t's first: frame t has reached them,
and no later frame is needed. The difference compares the newest `n_fft` samples with those `tau` earlier.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from . import stft
from .config import ModelConfig

F_MIN = 70.0  # Hz, the lowest pitch looked for (YIN's search range for speech)
F_MAX = 400.0  # Hz, the highest; a pitch below a bin's spacing still names every harmonic
THRESHOLD = 0.15  # YIN's absolute threshold on the normalized difference (their step 4)
VOICED = 0.35  # a frame is voiced where the normalized difference at its period is below this
# The band's harmonics (non-causal) want a clearer pitch, as a voice's, not a mix's: YIN's own threshold. On
# development music PESQ-WB 3.43 -> 3.50 against VOICED, speech within 0.004 (docs/TRAINING.md).
AHEAD_VOICED = THRESHOLD
SILENCE = 1e-7  # and where its newest samples' mean square is above this (the model's level: -70 dB re 1)
NORM_FLOOR = 1e-3  # the least window-square sum divided by, as RTISI's (phase.py)

F64 = npt.NDArray[np.float64]


def lags(sample_rate: int) -> tuple[int, int]:
    """(tau_min, tau_max): the periods searched, samples, `floor(sample_rate / F_MAX)` and `/ F_MIN`."""
    return math.floor(sample_rate / F_MAX), math.floor(sample_rate / F_MIN)


def _fft_size(n: int) -> int:
    """The least size >= n whose only prime factors are 2, 3 and 5 (fast for numpy's pocketfft)."""
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


def yin(seg: F64, window: int, tau_min: int, tau_max: int, voiced_below: float = VOICED) -> F64:
    """Signals `[..., window + tau_max]` -> each one's period `[...]` in samples, 0 where it is unvoiced:
    YIN's difference between the newest `window` samples and those `tau` earlier, normalized by its mean
    over `1 .. tau`; the first `tau >= tau_min` below THRESHOLD where it falls, then on down to its local
    minimum (none: the least, the first of equals); voiced if that is below `voiced_below`, lower than at `tau - 1`
    (a dip, not the far side of one below `tau_min`: a pitch above F_MAX is then heard an octave or more
    down, whose harmonics are its partials too) and the newest samples are not near silent; refined by the
    parabola through it and its neighbours."""
    length = window + tau_max
    # A circular correlation of `length` points or more: lag m = tau_max - tau reads seg[i + m], i + m < length,
    # so nothing wraps.
    size = _fft_size(length)
    newest = seg[..., length - window :]
    # d(tau) = sum (a - b_tau)^2 = |a|^2 + |b_tau|^2 - 2 a.b_tau, the cross term for every tau by one FFT
    cross = np.fft.irfft(np.conj(np.fft.rfft(newest, size)) * np.fft.rfft(seg, size), size)
    taus = np.arange(tau_max + 1)
    cross = cross[..., length - window - taus]
    power = np.concatenate([np.zeros(seg.shape[:-1] + (1,)), np.cumsum(seg * seg, axis=-1)], axis=-1)
    lagged = power[..., length - taus] - power[..., length - window - taus]
    energy = lagged[..., :1]
    diff = np.maximum(energy + lagged - 2 * cross, 0.0)
    diff[..., 0] = 0.0
    total = np.cumsum(diff[..., 1:], axis=-1)
    cmnd = np.ones_like(diff)
    np.divide(diff[..., 1:] * taus[1:], total, out=cmnd[..., 1:], where=total > 0)
    search = cmnd[..., tau_min:]
    below = (search < THRESHOLD) & (search < cmnd[..., tau_min - 1 : -1])  # below, and falling
    first = np.where(below.any(axis=-1), np.argmax(below, axis=-1), np.argmin(search, axis=-1))
    # from the first below the threshold, on to where the difference stops falling
    rising = np.concatenate([search[..., 1:] >= search[..., :-1], np.ones(search.shape[:-1] + (1,), bool)], -1)
    rising &= np.arange(search.shape[-1]) >= first[..., None]
    pick = np.where(below.any(axis=-1), np.argmax(rising, axis=-1), first)
    tau = pick + tau_min
    at = np.take_along_axis(cmnd, tau[..., None], axis=-1)[..., 0]
    left = np.take_along_axis(cmnd, np.maximum(tau - 1, 0)[..., None], axis=-1)[..., 0]
    right = np.take_along_axis(cmnd, np.minimum(tau + 1, tau_max)[..., None], axis=-1)[..., 0]
    den = left - 2 * at + right
    inner = (tau >= 1) & (tau < tau_max) & (den > 0)
    shift = np.zeros_like(at)
    np.divide(0.5 * (left - right), den, out=shift, where=inner)
    voiced = (at < voiced_below) & (at < left) & (np.mean(newest * newest, axis=-1) > SILENCE)
    out: F64 = np.where(voiced, tau + shift, 0.0)
    return out


def _band_frames(mag: npt.ArrayLike, phase: npt.ArrayLike, n_fft: int) -> F64:
    """Magnitude and phase of a low band `[R, K, T]` -> its windowed frames `[R, T, n_fft]` (w * irfft)."""
    m, p = np.asarray(mag, np.float64), np.asarray(phase, np.float64)
    rows, k, count = m.shape
    spec = np.zeros((rows, count, n_fft // 2 + 1), np.complex128)
    spec[..., :k] = np.moveaxis(m * np.exp(1j * p), -1, 1)
    out: F64 = np.fft.irfft(spec, n_fft, axis=-1) * stft.window(n_fft)
    return out


def _reach(cfg: ModelConfig) -> int:
    """Frames before frame t that its segment still covers."""
    return -(-(cfg.n_fft + lags(cfg.sample_rate)[1]) // cfg.hop)


def _frames_pitch(frames: F64, first: int, cfg: ModelConfig, voiced_below: float = VOICED) -> F64:
    """The windowed low-band frames `[R, reach + T, n_fft]` of frames `first - reach .. first + T - 1` (those
    before 0 are zeros) -> the pitch of the last T `[R, T]`, cycles a sample (0: unvoiced)."""
    n_fft, hop = cfg.n_fft, cfg.hop
    tau_min, tau_max = lags(cfg.sample_rate)
    length, reach = n_fft + tau_max, _reach(cfg)
    rows, count = frames.shape[0], frames.shape[1] - reach
    w2 = stft.window(n_fft) ** 2
    exists = np.arange(first - reach, first + count) >= 0
    early = min(count, max(0, reach - first))  # the stream's first frames, whose segments reach before it
    seg = np.zeros((rows, count, length))
    norm = np.zeros((early + 1, length))  # those rows' window-square sums, then every later row's
    for d in range(reach + 1):  # frame t - d, placed in frame t's segment (fixed order: blocks agree)
        pos = length - (n_fft - hop) - d * hop  # its first sample, from the segment's first
        lo, hi = max(pos, 0), min(pos + n_fft, length)
        if hi <= lo:
            continue
        seg[..., lo:hi] += frames[:, reach - d : reach - d + count, lo - pos : hi - pos]
        norm[:early, lo:hi] += exists[reach - d : reach - d + early, None] * w2[lo - pos : hi - pos]
        norm[early, lo:hi] += w2[lo - pos : hi - pos]
    seg[:, :early] /= np.maximum(norm[:early], NORM_FLOOR)
    seg[:, early:] /= np.maximum(norm[early], NORM_FLOOR)
    period = yin(seg, n_fft, tau_min, tau_max, voiced_below)
    out: F64 = np.divide(1.0, period, out=np.zeros_like(period), where=period > 0)
    return out


class LowBandPitch:
    """The pitch of one stream's stored low band, frame after frame, decoded in blocks in order: keeps the
    windowed low-band frames that the next block's first segments still reach."""

    def __init__(self, voiced_below: float = VOICED) -> None:
        self.frames: F64 | None = None  # `[R, reach, n_fft]` the last windowed low-band frames (zeros before 0)
        self.count = 0  # frames so far
        self.voiced_below = voiced_below

    def block(self, mag: npt.ArrayLike, phase: npt.ArrayLike, cfg: ModelConfig) -> F64:
        """Magnitude and stored phase of the low band `[R, K, T]` (bins `[0, K)`, before the level gain;
        radians) of the stream's next T frames of a `cfg` model -> their pitch `[R, T]`, in cycles a sample
        (0: unvoiced)."""
        new = _band_frames(mag, phase, cfg.n_fft)
        reach = _reach(cfg)
        past = np.zeros((new.shape[0], reach, cfg.n_fft)) if self.frames is None else self.frames
        frames = np.concatenate([past, new], axis=1)
        out = _frames_pitch(frames, self.count, cfg, self.voiced_below)
        self.frames = frames[:, -reach:].copy()
        self.count += new.shape[1]
        return out


class AheadPitch:
    """The pitch of a non-causal stream's stored low band, for the phase-gradient start's harmonics
    (FORMAT.md 6.5, "Non-causal, mode 2: the band's harmonics"), decoded in overlapping blocks in order:
    frame t's pitch is the one `LowBandPitch` hears at frame t + 1, whose segment ends with frame t's last
    sample (the causal estimate lags the frame by about a hop: centred so, development speech scored 0.10
    PESQ-WB higher, docs/TRAINING.md), voiced where the normalized difference is below AHEAD_VOICED; a
    block's last frame takes its own. Each frame's own estimate is made once, as `LowBandPitch` makes it
    frame after frame, and kept while a later block's window still holds the frame, so that every frame's
    pitch is the whole file's."""

    def __init__(self) -> None:
        self.track = LowBandPitch(AHEAD_VOICED)  # every frame up to `track.count` heard
        self.frame = 0  # the next block's first frame
        self.own: F64 | None = None  # `[R, track.count - frame]` the estimates of frames from `frame` on

    def block(self, mag: npt.ArrayLike, phase: npt.ArrayLike, cfg: ModelConfig, w0: int, next_w0: int) -> F64:
        """The low band `[R, K, T]` (as `LowBandPitch.block`) of frames `[w0, w0 + T)` -> their pitch `[R, T]`,
        cycles a sample (0: unvoiced); keeps what frame `next_w0`'s block needs. ValueError for a block out of
        order (its first frame neither 0 nor the one kept, or it leaves a gap)."""
        if w0 > 0 and (self.own is None or self.frame != w0):
            raise ValueError(f"low-band pitch: block from frame {w0} out of order (expected {self.frame})")
        m, p = np.asarray(mag), np.asarray(phase)
        count, heard = m.shape[-1], self.track.count - w0 if w0 > 0 else 0
        if w0 == 0 and self.track.count:  # a stream decoded again from its start
            self.track = LowBandPitch(AHEAD_VOICED)
        if heard > count:
            raise ValueError(f"low-band pitch: block of {count} frames from {w0} ends before frame {w0 + heard}")
        fresh = self.track.block(m[..., heard:], p[..., heard:], cfg)
        own = fresh if heard == 0 or self.own is None else np.concatenate([self.own, fresh], axis=1)
        if w0 <= next_w0 < w0 + count:
            self.frame, self.own = next_w0, own[:, next_w0 - w0 :].copy()
        out: F64 = np.concatenate([own[:, 1:], own[:, -1:]], axis=1)
        return out


def harmonic_advance(pitch: F64, n_bins: int, n_fft: int, hop: int) -> F64:
    """Pitch `[...]` (cycles a sample, > 0) -> each bin's phase advance over one hop `[..., n_bins]`,
    radians: that of its nearest harmonic, `h = max(1, floor(k / (n_fft pitch) + 1/2))` times the pitch."""
    f = np.asarray(pitch, np.float64)[..., None]
    k = np.arange(n_bins, dtype=np.float64)
    h = np.maximum(1.0, np.floor(k / (n_fft * f) + 0.5))
    out: F64 = 2 * math.pi * hop * h * f
    return out
