"""A phase from the magnitude alone, for the non-causal predicted-phase mode: the phase-gradient start.

A regression decoder's own phase output is a poor start for Griffin-Lim (docs/TRAINING.md: PESQ-WB 1.3 as
is). For a Gaussian window, the STFT's log-magnitude `s` fixes the phase's gradient (Portnoff 1979; used for
phase retrieval by Prusa, Balazs and Sondergaard, "A noniterative method for reconstruction of phase from
STFT magnitude", IEEE/ACM TASLP 2017, "PGHI"):

    energy's time offset from the centre:   d = lambda' n_fft^2 (ds/dn) / (2 pi)   (samples)
    phase change from bin k to k + 1:       -2 pi (d + n_fft / 2) / n_fft      (frames taken from their start)

with the Hann window read as the Gaussian `exp(-pi n^2 / (lambda' n_fft^2))`, lambda' = 0.25645 (ltfat's
`pghi`). PGHI integrates this and the time-direction gradient (the instantaneous frequency, from ds/dk)
from the strongest coefficient outwards with a heap; here, as in a phase vocoder with identity phase
locking (Laroche and Dolson 1999), each frame's spectral peaks go on from the frame before at their
instantaneous frequency, and every other bin is locked to its nearest peak along the frequency-direction
gradient. A peak's frequency is the vertex of the parabola through its log-magnitude and its neighbours':
PGHI's Gaussian slope misread the decoders' lobes, narrower and more lopsided than the window's, and put a
1 kHz tone at 978 Hz. One vectorised step per frame, exactly the recursion of docs/FORMAT.md 6.5 ("phase
start"), which another runtime reproduces.

A click is no peak that goes on from the frame before: the frames around an isolated impulse (a frame's
energy TRANSIENT_DB above the frames REACH hops either side) take the phase of one impulse at their energy
centroid instead, spread over a millisecond by a chirp (a phase vocoder's transient reset, after Bammer and
Doerfler, "Invertible phase vocoder with transient handling", DAFx 2017, and Roebel, "A new approach to
transient processing in the phase vocoder", DAFx 2003). The recursion above smeared each click over the
window (docs/fidelity.md, "Pre-echo"); Griffin-Lim then holds those frames.

With a stored low band (mode low_band_phase), a voiced frame's peaks in the band's width above it go on at
the frequency of their nearest harmonic of the band's pitch where they lie within a quarter of a bin of it
(`band_harmonics`, `pitch.AheadPitch`): the decoded magnitude's peak alone misplaced a harmonic-rich tone's
partials by 7 cents.

It works on the decoded log-magnitude (after the postfilter, before the level gain: a gain that steps at a
packet boundary is not a time gradient). A file is decoded in overlapping blocks: each block goes on from
the phase that the block before gave its first frame, and the energies of the frames before it
(`GradientStart`), so the blocks agree where they overlap and a block decode is the whole-file recursion,
sample for sample.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from .config import ModelConfig
from .errors import CodecError
from .phase import impulse_phase
from .pitch import AheadPitch

LAMBDA = 0.25645  # the Hann window's Gaussian, lambda' n_fft^2 (ltfat `pghi`, Prusa et al. 2017)
PEAK_RANGE = math.log(1000.0)  # peaks: within 60 dB (natural log of 1000) of the frame's strongest bin
MAX_BIN_SHIFT = 1.5  # a frequency's distance from its bin, at most (bins)
TWO_PI = 2 * math.pi
TRANSIENT_DB = 20.0  # an impulse: a frame this far above the frames REACH hops either side (dB of energy)
FLOOR_DB = -20.0  # and louder than this: 40 dB under a frame of noise at the level gain's working RMS (0.05)
REACH = 3  # frames either side of an impulse's peak frame that must be TRANSIENT_DB below it
SPAN = 2  # frames either side of the peak frame that take the impulse's phase
CONTEXT = REACH + SPAN  # frames either side whose energy a frame's transient test reads
# The band's harmonics move a peak by at most this (bins): a partial farther from the band's harmonics is
# another sound's (a DTMF pair's 697 Hz tone went to 679 Hz beside its own skirt's "pitch"; docs/TRAINING.md).
HARMONIC_TOLERANCE = 0.25

F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]


class Band(NamedTuple):
    """Mode low_band_phase's stored band of a block's frames: magnitude `[C, K, T]` (before the level gain)
    and phase `[C, K, T]` radians, of a `config` model."""

    mag: npt.ArrayLike
    phase: npt.NDArray[np.floating]
    config: ModelConfig


class PhaseStart(enum.IntEnum):
    """Where the non-causal predicted-phase refinement starts (decoder metadata `codec_rt.phase_start`)."""

    PREDICTED = 0  # the decoder graph's phase output
    GRADIENT = 1  # the phase-gradient start of this module

    @classmethod
    def parse(cls, value: object) -> PhaseStart:
        """A phase start from its name ("predicted", "gradient", as the CLI says them) or value (0, 1);
        CodecError for anything else (a bool too)."""
        if isinstance(value, str) and value.upper() in cls.__members__:
            return cls[value.upper()]
        if isinstance(value, bool) or value not in (0, 1):
            raise CodecError("phase_start must be 0 or 'predicted' (the graph's) or 1 or 'gradient' (the gradient "
                             f"start), got {value!r}")
        return cls(value)


@dataclass(frozen=True)
class GradientSteps:
    """What the phase-gradient recursion needs of a run of frames, all from its magnitude: computed apart
    (on any thread), so that only the recursion itself runs block after block. Frame-major: `[T, R, F]`,
    R the rows (channels) of the log-magnitude `[..., F, T]` it came from."""

    shape: tuple[int, ...]  # the log-magnitude's
    near: npt.NDArray[np.intp]  # each bin's nearest peak, flat over the rows
    step: F64  # a bin's phase from its peak's in the frame before: the peak's advance, the bin's offset
    nu: F64  # `[T, R, F]` each bin's frequency, bins (a peak's: its parabola's vertex)
    first: F64  # `[R, F]` a bin's phase from its peak's in the first frame (a file's first: peaks at 0)
    energy: F64  # `[T, R]` each frame's energy, dB (`frame_energy`)
    n_fft: int
    hop: int


def gradient_steps(logmag: npt.ArrayLike, n_fft: int, hop: int) -> GradientSteps:
    """Log-magnitude (natural log) of consecutive frames `[..., F, T]` -> the recursion's inputs
    (`gradient_phase`). Time gradients are central differences inside the frames given, 0 at their ends."""
    s_in = np.asarray(logmag, dtype=np.float64)
    n_bins, count = s_in.shape[-2:]
    rows = int(np.prod(s_in.shape[:-2], dtype=np.int64))
    # Worked frame-major, `[T, R, F]`, bins on the last axis, as the recursion reads its inputs.
    s = np.ascontiguousarray(np.moveaxis(s_in.reshape(rows, n_bins, count), -1, 0))
    bins = np.arange(n_bins, dtype=np.float64)
    # a peak's frequency: the vertex of the parabola through its bin and the two beside it (log-magnitude)
    lo, mid, hi = s[..., :-2], s[..., 1:-1], s[..., 2:]
    den = lo - 2 * mid + hi
    shift = np.zeros_like(s)
    np.divide(0.5 * (lo - hi), den, out=shift[..., 1:-1], where=den < 0)
    nu = bins + np.clip(shift, -MAX_BIN_SHIFT, MAX_BIN_SHIFT)
    ds_dn = np.zeros_like(s)
    ds_dn[1:-1] = (s[2:] - s[:-2]) / (2 * hop)
    d = np.clip(LAMBDA * n_fft * n_fft * ds_dn / TWO_PI, -2.0 * hop, 2.0 * hop)
    grad = -TWO_PI * (d + n_fft / 2) / n_fft
    along = np.zeros_like(s)  # the gradient integrated from bin 0 (trapezoidal rule)
    along[..., 1:] = np.cumsum(0.5 * (grad[..., 1:] + grad[..., :-1]), axis=-1)
    half = math.pi * hop / n_fft  # half a frame's advance per bin of frequency
    adv = 2 * half * nu  # a frame's advance at each bin's frequency
    # Each frame's peaks, and each bin's nearest peak (the lower on a tie; a frame with none: the bin itself),
    # depend on the magnitude alone: found for every frame at once.
    idx = np.arange(n_bins, dtype=np.int32)  # (32-bit: half the memory traffic of the default)
    peak = np.zeros(s.shape, dtype=bool)
    peak[..., 1:-1] = (s[..., 1:-1] >= s[..., :-2]) & (s[..., 1:-1] > s[..., 2:])
    peak &= s > s.max(axis=-1, keepdims=True) - PEAK_RANGE
    left = np.maximum.accumulate(np.where(peak, idx, np.int32(-1)), axis=-1)
    right = np.minimum.accumulate(np.where(peak, idx, np.int32(n_bins))[..., ::-1], axis=-1)[..., ::-1]
    near = np.where((left >= 0) & ((idx - left <= right - idx) | (right >= n_bins)), left, right)
    np.copyto(near, idx, where=near >= n_bins)
    # A bin's step from the frame before: its peak's advance and its offset from the peak along the
    # frequency-direction gradient, all known from the magnitude; only the peak's phase comes from the
    # recursion. (Summed in this order, not the spec's, they differ from it by a few ulps: 6.5 is not
    # bit-exact across back ends.) One gather of every bin's peak, over all frames and rows at once.
    flat = near + (np.arange(rows, dtype=np.intp) * n_bins)[:, None]  # [T, R, F]: within its frame
    at_peak = (flat + (np.arange(count, dtype=np.intp) * (rows * n_bins))[:, None, None]).ravel()
    step = (adv - along).ravel().take(at_peak).reshape(s.shape)
    step += along
    first = along[0] - along[0].ravel().take(flat[0]).reshape(rows, n_bins) if count else np.zeros((rows, n_bins))
    return GradientSteps(s_in.shape, flat.reshape(count, rows * n_bins), step, nu, first, frame_energy(s), n_fft, hop)


def band_harmonics(steps: GradientSteps, pitch: npt.ArrayLike, band: int) -> GradientSteps:
    """`steps` with the peaks in bins `[band, 2 band)` of each voiced frame that lie within HARMONIC_TOLERANCE
    of a harmonic of the stored low band's pitch going on at that harmonic's frequency (mode low_band_phase:
    FORMAT.md 6.5, "Non-causal, mode 2: the band's harmonics"). pitch: `[R, T]` cycles a sample, 0 where
    unvoiced (`pitch.AheadPitch`)."""
    count, rows, n_bins = steps.nu.shape
    f = np.moveaxis(np.asarray(pitch, np.float64), -1, 0).reshape(count, rows, 1)
    voiced = f > 0
    f = np.where(voiced, f, 1.0)
    near = steps.near.reshape(count, rows, n_bins) - (np.arange(rows) * n_bins)[:, None]  # each bin's peak
    at_peak = np.take_along_axis(steps.nu, near, axis=-1)
    h = np.maximum(1.0, np.floor(at_peak / (steps.n_fft * f) + 0.5))
    target = h * steps.n_fft * f
    move = voiced & (near >= band) & (near < 2 * band) & (np.abs(target - at_peak) <= HARMONIC_TOLERANCE)
    delta = np.where(move, (TWO_PI * steps.hop / steps.n_fft) * (target - at_peak), 0.0)
    return replace(steps, step=steps.step + delta)


def frame_energy(s: F64) -> F64:
    """Log-magnitudes, frame-major `[T, R, F]` -> each frame's energy `[T, R]`, dB: 10 log10 of the sum
    over bins of exp(2 s), computed stably."""
    top = s.max(axis=-1)
    total = np.sum(np.exp(2 * (s - top[..., None])), axis=-1)
    out: F64 = (10 / math.log(10)) * (2 * top + np.log(total))
    return out


def transients(energy: F64, before: F64 | None, hop: int) -> tuple[npt.NDArray[np.bool_], F64]:
    """Frames' energies `[T, R]` (dB; `before` `[B, R]`: up to CONTEXT frames just before them, None at a
    file's start) -> (the frames that take an impulse's phase `[T, R]`, the impulse's offset from each one's
    centre `[T, R]`, samples). An impulse's peak frame `p` is louder than the REACH frames before it and no
    quieter than the REACH after (frames that do not exist: -inf), louder than FLOOR_DB, and TRANSIENT_DB
    louder than frames p - REACH and p + REACH; frames p - SPAN .. p + SPAN take an impulse at their energy
    centroid, the later peak's where two overlap. Frames near the end of what is given may differ from the
    whole file's: a block decoder keeps CONTEXT frames of margin (`grid.min_margin_frames`). FORMAT.md 6.5."""
    prior = np.zeros((0, energy.shape[1])) if before is None else before
    e = np.concatenate([np.full((REACH, energy.shape[1]), -np.inf), prior, energy,
                        np.full((REACH, energy.shape[1]), -np.inf)])
    lo, n = REACH + len(prior), len(energy)
    held, offset = np.zeros(energy.shape, dtype=bool), np.zeros(energy.shape)
    mid = e[REACH:-REACH]
    peak = (mid > FLOOR_DB) & (mid - np.maximum(e[: -2 * REACH], e[2 * REACH :]) > TRANSIENT_DB)
    for j in range(1, REACH + 1):
        peak &= (mid > e[REACH - j : len(e) - REACH - j]) & (mid >= e[REACH + j : len(e) - REACH + j])
    for p, r in zip(*np.nonzero(peak), strict=True):
        a, b = max(p + REACH - SPAN, REACH), min(p + REACH + SPAN + 1, lo + n)  # in `e`
        if b <= lo:
            continue
        # (frames counted from the peak: a block and the whole file sum the same numbers)
        power = np.power(10.0, (e[a:b, r] - e[p + REACH, r]) / 10)  # relative to the peak's: no overflow
        centroid = float(np.sum(np.arange(a - p - REACH, b - p - REACH) * power) / np.sum(power))  # frames
        for i in range(max(a, lo), b):
            held[i - lo, r] = True
            offset[i - lo, r] = min(max(hop * (centroid - (i - p - REACH)), -2.0 * hop), 2.0 * hop)
    return held, offset


def gradient_run(
    steps: GradientSteps, seed: F64 | None = None, before: F64 | None = None
) -> tuple[F64, npt.NDArray[np.bool_]]:
    """The recursion over `steps` -> (the frames' phase `[..., F, T] float64` in [0, 2 pi), the frames that
    took an impulse's phase `[..., T]`). `seed` `[..., F]`: the phase of the first frame, as a previous call
    gave it (a block that goes on), with `before` the energies of up to CONTEXT frames before it; None: the
    first frame of a file, its peaks at phase 0."""
    count = steps.shape[-1]
    rows, n_bins = steps.step.shape[1:]
    held, offset = transients(steps.energy, before, steps.hop)
    if count == 0:
        return np.zeros(steps.shape), np.zeros((*steps.shape[:-2], 0), dtype=bool)
    out_t = np.empty((count, rows * n_bins))
    if seed is None:
        _wrap(steps.first.ravel(), out_t[0])
    else:
        out_t[0] = np.asarray(seed, dtype=np.float64).ravel()
    near, step = steps.near, steps.step.reshape(count, rows * n_bins)
    clicks, cur = out_t.reshape(count, rows, n_bins), np.empty(rows * n_bins)
    # the frames that take an impulse's phase (not a seed: that is the frame as the block before gave it)
    impulses = set(np.flatnonzero(held.any(axis=1)).tolist()) - ({0} if seed is not None else set())
    for t in range(count):
        if t:
            out_t[t - 1].take(near[t], out=cur, mode="clip")  # (mode "raise" copies `out` first)
            cur += step[t]
            _wrap(cur, out_t[t])
        if t in impulses:
            clicks[t, held[t]] = impulse_phase(offset[t, held[t]], steps.n_fft, n_bins)
    out: F64 = np.moveaxis(out_t.reshape(count, rows, n_bins), 0, -1).reshape(steps.shape)
    return out, np.moveaxis(held, 0, -1).reshape(steps.shape[:-2] + (count,))


def _wrap(x: F64, out: F64) -> None:
    """`out` = the angles `x` wrapped into [0, 2 pi) (to within an ulp), by floor: `np.mod` is several times
    slower, and this runs once per frame. Each frame is wrapped, not the run at its end, so that a block that
    goes on from a frame's phase repeats the whole run's arithmetic exactly."""
    np.multiply(x, 1 / TWO_PI, out=out)
    np.floor(out, out=out)
    out *= -TWO_PI
    out += x


def gradient_phase(logmag: npt.ArrayLike, n_fft: int, hop: int) -> F64:
    """Log-magnitude (natural log) of a file's frames `[..., F, T]` -> their phase `[..., F, T] float64`,
    in [0, 2 pi), for frames taken from their first sample (stft.py): `gradient_run` of `gradient_steps`."""
    return gradient_run(gradient_steps(logmag, n_fft, hop))[0]


SHARED_SPREAD = 0.5  # a frame's channels share the joint start where their log-magnitudes' median spread is below


def joint_start(logmag: npt.ArrayLike) -> tuple[F64, npt.NDArray[np.bool_]]:
    """Log-magnitudes of channels coded one by one `[C, F, T]` -> (the log of the root of their summed squared
    magnitudes `[1, F, T] float64`, computed stably; the frames `[T]` that start from its phase). A frame
    shares it where its channels carry one sound at different levels: the median over bins of the spread of
    their log-magnitudes, each channel at its own level gain, is at most SHARED_SPREAD; elsewhere, different
    sounds keep their own (FORMAT.md 6.5, "channels coded one by one")."""
    s = np.asarray(logmag, dtype=np.float64)
    top = s.max(axis=0, keepdims=True)
    joint: F64 = top + 0.5 * np.log(np.sum(np.exp(2 * (s - top)), axis=0, keepdims=True))
    shared: npt.NDArray[np.bool_] = np.median(top[0] - s.min(axis=0), axis=0) <= SHARED_SPREAD
    return joint, shared


def block_steps(
    logmag: npt.ArrayLike, n_fft: int, hop: int, joint: bool
) -> tuple[GradientSteps, npt.NDArray[np.bool_] | None]:
    """A block's log-magnitudes `[C, F, T]` -> the recursion's inputs, of the channels and, with `joint`
    (channels coded one by one), of their joint as row C; and the frames `[T]` that take the joint's phase
    (`joint_start`), None without `joint`."""
    if not joint:
        return gradient_steps(logmag, n_fft, hop), None
    s = np.asarray(logmag, dtype=np.float64)
    j, shared = joint_start(s)
    return gradient_steps(np.concatenate([s, j]), n_fft, hop), shared


def causal_joint(logmag: npt.ArrayLike, mag: F32, init: F32 | None) -> tuple[F32, F32 | None, npt.NDArray[np.bool_]]:
    """For the causal decoder (`phase.causal_frames` with `shared`): channels coded one by one, their
    log-magnitudes before the gain and their magnitudes `[C, F, T]`, and the phase or phase advance they
    start from (or None) -> the same with the channels' joint appended as row C (its magnitude `exp` of
    `joint_start`'s, its start the louder channel's in each bin), and the frames `[T]` where the channels
    take the joint's phase (FORMAT.md 6.5, "channels coded one by one")."""
    s = np.asarray(logmag, dtype=np.float32)
    joint, shared = joint_start(s)
    mags: F32 = np.concatenate([mag, np.exp(joint).astype(np.float32)])
    if init is None:
        return mags, None, shared
    louder = np.argmax(s, axis=0)[None]  # the first channel where they are equal
    inits: F32 = np.concatenate([init, np.take_along_axis(init, louder, axis=0)]).astype(np.float32)
    return mags, inits, shared


class GradientStart:
    """The phase-gradient start of one stream decoded in blocks, in order: remembers the phase of the frame
    where the next block's window starts, and the energies of the CONTEXT frames before it; in mode
    low_band_phase, the stored band's pitch (`pitch.AheadPitch`)."""

    def __init__(self) -> None:
        self.frame = 0
        self.seed: F64 | None = None
        self.before: F64 | None = None
        self.pitch = AheadPitch()

    def block(self, logmag: npt.ArrayLike, n_fft: int, hop: int, w0: int, next_w0: int
              ) -> tuple[F64, npt.NDArray[np.bool_]]:
        """The frames `[w0, w0 + T)` of `logmag` `[..., F, T]` -> (their phase, the frames that took an
        impulse's `[..., T]`); keeps frame `next_w0`'s. ValueError for a block out of order (its first frame
        is neither 0 nor the one kept)."""
        return self.steps(gradient_steps(logmag, n_fft, hop), w0, next_w0)

    def steps(self, steps: GradientSteps, w0: int, next_w0: int, band: Band | None = None
              ) -> tuple[F64, npt.NDArray[np.bool_]]:
        """`block` from the frames' `gradient_steps`, computed beforehand (in parallel with other blocks').
        band: mode low_band_phase's stored band of these frames, whose pitch places its harmonics above it
        (`band_harmonics`; rows beyond the band's, the channels' joint, take the first's pitch)."""
        if w0 > 0 and (self.seed is None or self.frame != w0):
            raise ValueError(f"gradient start: block from frame {w0} out of order (expected {self.frame})")
        if band is not None:
            pitch = self.pitch.block(band.mag, band.phase, band.config, w0, next_w0)
            extra = steps.nu.shape[1] - pitch.shape[0]
            pitch = np.concatenate([pitch, np.repeat(pitch[:1], extra, axis=0)]) if extra else pitch
            steps = band_harmonics(steps, pitch, band.phase.shape[-2])
        go_on = w0 > 0
        phi, held = gradient_run(steps, self.seed if go_on else None, self.before if go_on else None)
        if w0 <= next_w0 < w0 + phi.shape[-1]:
            energy = steps.energy if self.before is None or not go_on else np.concatenate([self.before, steps.energy])
            at = next_w0 - w0 + (len(energy) - len(steps.energy))
            self.frame, self.seed = next_w0, phi[..., next_w0 - w0].copy()
            self.before = energy[max(0, at - CONTEXT) : at].copy()
        return phi, held
