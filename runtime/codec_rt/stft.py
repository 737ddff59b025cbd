"""The codec's front end: NumPy STFT and inverse STFT, the one definition the whole project uses.

Framing (why it restores any length exactly): the signal `[N]` is zero-padded by `n_fft // 2` on the
left and on the right up to `n_fft + hop * (T - 1)` samples, with `T = N // hop + 1` frames, so every
input sample sits under at least one full-weight window. The window is a periodic Hann. The inverse is
weighted overlap-add divided by the summed squared window, then the left pad is dropped and the result
cut to `N`. Zero padding (not reflection) keeps inputs shorter than one frame legal.

The model sees two channels per bin: `log(max(|X|, MAG_FLOOR))` and `angle(X)` in [-pi, pi].
`training/stft_torch.py` is the torch twin; a test holds the two equal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from .config import ModelConfig

MAG_FLOOR = 1e-5

F32 = npt.NDArray[np.float32]
C64 = npt.NDArray[np.complex64]


def window(n_fft: int) -> npt.NDArray[np.float64]:
    """Periodic Hann window `[n_fft] float64`."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)


def n_frames(n_samples: int, hop: int) -> int:
    """Number of STFT frames for a signal of `n_samples` samples."""
    return n_samples // hop + 1


def stft(x: npt.ArrayLike, n_fft: int, hop: int) -> C64:
    """Complex STFT of `x [..., N]` -> `[..., n_fft // 2 + 1, T] complex64`."""
    xa = np.asarray(x, dtype=np.float64)
    n = xa.shape[-1]
    t = n_frames(n, hop)
    total = n_fft + hop * (t - 1)
    pad = [(0, 0)] * (xa.ndim - 1) + [(n_fft // 2, total - n - n_fft // 2)]
    xp = np.pad(xa, pad)
    idx = np.arange(n_fft)[None, :] + hop * np.arange(t)[:, None]
    frames = xp[..., idx] * window(n_fft)  # [..., T, n_fft]
    spec = np.fft.rfft(frames, axis=-1)
    return np.swapaxes(spec, -1, -2).astype(np.complex64)


def frames_of(seg: npt.ArrayLike, n_fft: int, hop: int, n: int) -> C64:
    """Frames 0..n-1 of `seg [..., n_fft + hop * (n - 1)]`, whose sample 0 is n_fft / 2 before frame 0's
    centre -> `[..., n_fft // 2 + 1, n] complex64`: `stft`'s frames of a stretch of a longer signal, with the
    same arithmetic."""
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n)[:, None]
    frames = np.asarray(seg, dtype=np.float64)[..., idx] * window(n_fft)
    return np.swapaxes(np.fft.rfft(frames, axis=-1), -1, -2).astype(np.complex64)


def istft(spec: npt.ArrayLike, n_fft: int, hop: int, length: int) -> F32:
    """Inverse of `stft`: `[..., n_fft // 2 + 1, T] complex` -> `[..., length] float32`."""
    s = np.asarray(spec, dtype=np.complex128)
    t = s.shape[-1]
    frames = np.fft.irfft(np.swapaxes(s, -1, -2), n=n_fft, axis=-1) * window(n_fft)  # [..., T, n_fft]
    out = _overlap_add(frames, hop)
    wsum = _overlap_add(np.broadcast_to(window(n_fft) ** 2, (t, n_fft)), hop)
    out /= np.maximum(wsum, 1e-8)
    start = n_fft // 2
    y = out[..., start : start + length]
    if y.shape[-1] < length:  # only when `length` exceeds what the frames cover
        y = np.pad(y, [(0, 0)] * (y.ndim - 1) + [(0, length - y.shape[-1])])
    return y.astype(np.float32)


def _overlap_add(frames: npt.NDArray[np.float64], hop: int) -> npt.NDArray[np.float64]:
    """`[..., T, n_fft]` -> `[..., n_fft + hop * (T - 1)]`, summing frames placed `hop` apart."""
    t, n_fft = frames.shape[-2:]
    total = n_fft + hop * (t - 1)
    if n_fft % hop == 0:  # the usual case: add n_fft / hop shifted block views, no Python loop over frames
        r = n_fft // hop
        blocks = frames.reshape(frames.shape[:-1] + (r, hop))
        out = np.zeros(frames.shape[:-2] + (t + r - 1, hop))
        for k in range(r):
            out[..., k : k + t, :] += blocks[..., :, k, :]
        return out.reshape(frames.shape[:-2] + (total,))
    out = np.zeros(frames.shape[:-2] + (total,))
    for i in range(t):
        out[..., i * hop : i * hop + n_fft] += frames[..., i, :]
    return out


def to_features(spec: npt.ArrayLike, phase_floor: bool = False) -> F32:
    """`[..., F, T] complex` -> `[..., 2, F, T] float32`: log-magnitude and phase. With `phase_floor`
    (`ModelConfig.phase_floor`), a bin whose magnitude is under MAG_FLOOR has phase 0: its angle is float
    rounding."""
    s = np.asarray(spec)
    mag = np.abs(s)
    phase = np.angle(s)
    if phase_floor:
        phase = np.where(mag < np.float32(MAG_FLOOR), 0.0, phase)  # |X| is float32 (complex64)
    return np.stack([np.log(np.maximum(mag, MAG_FLOOR)), phase], axis=-3).astype(np.float32)


def encoder_features(x: npt.ArrayLike, cfg: ModelConfig) -> F32:
    """Audio `[..., N]` at the model's rate -> `[..., 2, F, T] float32`: the features a model's encoder reads
    (its STFT, and its `phase_floor`)."""
    return to_features(stft(x, cfg.n_fft, cfg.hop), bool(cfg.phase_floor))


def from_features(feats: npt.ArrayLike) -> C64:
    """Inverse of `to_features`: `[..., 2, F, T] float32` -> `[..., F, T] complex64`."""
    f = np.asarray(feats, dtype=np.float64)
    return np.asarray(np.exp(f[..., 0, :, :] + 1j * f[..., 1, :, :]), dtype=np.complex64)


def flatness(power: npt.ArrayLike, axis: int = -1) -> npt.NDArray[np.float64]:
    """Spectral flatness (Wiener entropy) of power spectra along `axis`: their geometric over their arithmetic
    mean, each with 1e-30 added, in float64; 1 for white noise, near 0 for a tone. What the causal decoder's
    clicks and a causal model's level match read as flat (docs/FORMAT.md 6.5, 7.7). Source: Johnston,
    "Transform coding of audio signals using perceptual noise criteria", IEEE JSAC 6(2), 1988."""
    p = np.asarray(power, dtype=np.float64)
    flat: npt.NDArray[np.float64] = np.exp(np.mean(np.log(p + 1e-30), axis=axis)) / (np.mean(p, axis=axis) + 1e-30)
    return flat


def window_sums(x: npt.NDArray[Any], n: int) -> npt.NDArray[Any]:
    """`[..., T]` -> `[..., T - n + 1]`: each run of n consecutive values along the last axis summed, in order,
    one term after the other. numpy's own reductions may pair terms differently for arrays of different
    lengths; the causal decoder's rules sum the same frames to the same bits whatever block they arrive in."""
    count = x.shape[-1] - n + 1
    out: npt.NDArray[Any] = np.array(x[..., :count])
    for j in range(1, n):
        out += x[..., j : j + count]
    return out
