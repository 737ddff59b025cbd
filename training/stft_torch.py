"""Torch twin of `codec_rt.stft`, differentiable, for the training losses. Same framing, same window,
same features; `tests/test_stft.py` holds the two equal."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from codec_rt.config import ModelConfig
from codec_rt.stft import MAG_FLOOR, n_frames


def _window(n_fft: int, device: torch.device) -> torch.Tensor:
    return torch.hann_window(n_fft, periodic=True, dtype=torch.float32, device=device)


def stft(x: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """`[B, N] float32` -> `[B, n_fft // 2 + 1, T] complex64`."""
    n = x.shape[-1]
    t = n_frames(n, hop)
    total = n_fft + hop * (t - 1)
    xp = F.pad(x, (n_fft // 2, total - n - n_fft // 2))
    return torch.stft(xp, n_fft, hop, window=_window(n_fft, x.device), center=False, return_complex=True)


def istft(spec: torch.Tensor, n_fft: int, hop: int, length: int) -> torch.Tensor:
    """`[B, F, T] complex` -> `[B, length] float32` (weighted overlap-add, as in the NumPy version)."""
    t = spec.shape[-1]
    w = _window(n_fft, spec.device)
    frames = torch.fft.irfft(spec, n=n_fft, dim=-2) * w[:, None]  # [B, n_fft, T]
    total = n_fft + hop * (t - 1)
    out = F.fold(frames, (1, total), (1, n_fft), stride=(1, hop))[:, 0, 0, :]
    wsum = F.fold((w**2)[None, :, None].expand(1, n_fft, t), (1, total), (1, n_fft), stride=(1, hop))[0, 0, 0]
    out = out / wsum.clamp_min(1e-8)
    start = n_fft // 2
    y = out[:, start : start + length]
    return F.pad(y, (0, length - y.shape[-1]))


def to_features(spec: torch.Tensor, phase_floor: bool = False) -> torch.Tensor:
    """`[B, F, T] complex` -> `[B, 2, F, T]`: log-magnitude, phase (0 under MAG_FLOOR with `phase_floor`)."""
    mag = spec.abs()
    phase = torch.angle(spec)
    if phase_floor:
        phase = torch.where(mag < MAG_FLOOR, torch.zeros_like(phase), phase)
    return torch.stack([torch.log(mag.clamp_min(MAG_FLOOR)), phase], dim=1)


def encoder_features(x: torch.Tensor, cfg: ModelConfig) -> torch.Tensor:
    """`[B, N] float32` at the model's rate -> `[B, 2, F, T]`: what the model's encoder reads (`codec_rt.stft
    .encoder_features`)."""
    return to_features(stft(x, cfg.n_fft, cfg.hop), bool(cfg.phase_floor))


def from_features(feats: torch.Tensor) -> torch.Tensor:
    """`[B, 2, F, T]` -> `[B, F, T] complex64`."""
    return torch.polar(torch.exp(feats[:, 0]), feats[:, 1])
