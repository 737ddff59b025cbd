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

It works on the decoded log-magnitude (after the postfilter, before the level gain: a gain that steps at a
packet boundary is not a time gradient). A file is decoded in overlapping blocks: each block goes on from
the phase that the block before gave its first frame (`GradientStart`), so the blocks agree where they
overlap and a block decode is the whole-file recursion, sample for sample.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

LAMBDA = 0.25645  # the Hann window's Gaussian, lambda' n_fft^2 (ltfat `pghi`, Prusa et al. 2017)
PEAK_RANGE = math.log(1000.0)  # peaks: within 60 dB (natural log of 1000) of the frame's strongest bin
MAX_BIN_SHIFT = 1.5  # a frequency's distance from its bin, at most (bins)
TWO_PI = 2 * math.pi

F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]


class PhaseStart(enum.IntEnum):
    """Where the non-causal predicted-phase refinement starts (decoder metadata `codec_rt.phase_start`)."""

    PREDICTED = 0  # the decoder graph's phase output
    GRADIENT = 1  # the phase-gradient start of this module


@dataclass(frozen=True)
class GradientSteps:
    """What the phase-gradient recursion needs of a run of frames, all from its magnitude: computed apart
    (on any thread), so that only the recursion itself runs block after block. Frame-major: `[T, R, F]`,
    R the rows (channels) of the log-magnitude `[..., F, T]` it came from."""

    shape: tuple[int, ...]  # the log-magnitude's
    near: npt.NDArray[np.intp]  # each bin's nearest peak, flat over the rows
    step: F64  # a bin's phase from its peak's in the frame before: the peak's advance, the bin's offset
    first: F64  # `[R, F]` a bin's phase from its peak's in the first frame (a file's first: peaks at 0)


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
    return GradientSteps(s_in.shape, flat.reshape(count, rows * n_bins), step, first)


def gradient_run(steps: GradientSteps, seed: F64 | None = None) -> F64:
    """The recursion over `steps` -> the frames' phase `[..., F, T] float64` in [0, 2 pi). `seed` `[..., F]`:
    the phase of the first frame, as a previous call gave it (a block that goes on); None: the first frame
    of a file, its peaks at phase 0."""
    count = steps.shape[-1]
    if count == 0:
        return np.zeros(steps.shape)
    rows, n_bins = steps.step.shape[1:]
    out_t = np.empty((count, rows * n_bins))
    if seed is None:
        _wrap(steps.first.ravel(), out_t[0])
    else:
        out_t[0] = np.asarray(seed, dtype=np.float64).ravel()
    near, step = steps.near, steps.step.reshape(count, rows * n_bins)
    cur = np.empty(rows * n_bins)
    for t in range(1, count):
        out_t[t - 1].take(near[t], out=cur, mode="clip")  # (mode "raise" copies `out` first)
        cur += step[t]
        _wrap(cur, out_t[t])
    out: F64 = np.moveaxis(out_t.reshape(count, rows, n_bins), 0, -1).reshape(steps.shape)
    return out


def _wrap(x: F64, out: F64) -> None:
    """`out` = the angles `x` wrapped into [0, 2 pi) (to within an ulp), by floor: `np.mod` is several times
    slower, and this runs once per frame. Each frame is wrapped, not the run at its end, so that a block that
    goes on from a frame's phase repeats the whole run's arithmetic exactly."""
    np.multiply(x, 1 / TWO_PI, out=out)
    np.floor(out, out=out)
    out *= -TWO_PI
    out += x


def gradient_phase(logmag: npt.ArrayLike, n_fft: int, hop: int, seed: F64 | None = None) -> F64:
    """Log-magnitude (natural log) of consecutive frames `[..., F, T]` -> their phase `[..., F, T] float64`,
    in [0, 2 pi), for frames taken from their first sample (stft.py): `gradient_run` of `gradient_steps`.
    `seed` `[..., F]`: the phase of the first frame, as a previous call gave it (a block that goes on);
    None: the first frame of a file, its peaks at phase 0."""
    return gradient_run(gradient_steps(logmag, n_fft, hop), seed)


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
    where the next block's window starts."""

    def __init__(self) -> None:
        self.frame = 0
        self.seed: F64 | None = None

    def block(self, logmag: npt.ArrayLike, n_fft: int, hop: int, w0: int, next_w0: int) -> F64:
        """The frames `[w0, w0 + T)` of `logmag` `[..., F, T]` -> their phase; keeps frame `next_w0`'s.
        ValueError for a block out of order (its first frame is neither 0 nor the one kept)."""
        return self.steps(gradient_steps(logmag, n_fft, hop), w0, next_w0)

    def steps(self, steps: GradientSteps, w0: int, next_w0: int) -> F64:
        """`block` from the frames' `gradient_steps`, computed beforehand (in parallel with other blocks')."""
        if w0 > 0 and (self.seed is None or self.frame != w0):
            raise ValueError(f"gradient start: block from frame {w0} out of order (expected {self.frame})")
        phi = gradient_run(steps, self.seed if w0 > 0 else None)
        if w0 <= next_w0 < w0 + phi.shape[-1]:
            self.frame, self.seed = next_w0, phi[..., next_w0 - w0].copy()
        return phi
