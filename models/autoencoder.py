"""The fully-convolutional spectrogram autoencoder.

Input `[B, 2, F, T]`: log-magnitude and phase of the STFT of `codec_rt.stft` (F = n_fft // 2 + 1).

Encoder: `freq_downsamples` Conv2d blocks of stride 2 (k=3, p=1, so F -> ceil(F / 2)); the first
`time_downsamples` of them also stride 2 in time, the others stride in frequency only (finer time
resolution in the latent is what helps the phase most). Then a bottleneck ResBlock and a 1x1 projection
to `channels` latent channels: latent `[B, channels, F', ceil(T / 2**time_downsamples)]`.

Decoder: the mirror, ConvTranspose2d blocks (k=4 along a strided axis, p=1, exact 2x), predicting both
log-magnitude and phase, so decoding never needs the stored phase. The phase is either regressed as an
angle (`phase_head=0`, the shipped models) or, with `phase_head=1`, predicted as a pseudo real and imaginary
part by two parallel outputs of the last layer and taken as their angle inside the graph (the parallel
estimation architecture of Ai and Ling, "Neural speech phase prediction based on parallel estimation
architecture and anti-wrapping losses", ICASSP 2023): the output is wrapped by construction, so the
anti-wrapping losses of `training/losses.py` train it. With `phase_head=2` a separate phase network
(`PhaseNet`, the same parallel estimation over a 1-D convolution stack) predicts the phase from the decoded
log-magnitude, trained on a frozen codec's output (`training/phase_train.py`); its time context is the
config's `phase_context`. Either way the graph's I/O is the same.

Padding and cropping: the encoder zero-pads time up to a multiple of the time stride. The decoder crops
frequency back to F inside the graph (F is fixed by the STFT); it returns `time_stride * T'` frames and the
caller crops time to the real frame count (`SpecAutoencoder.forward` does; the runtime does it from the
blob's sample count), because the latent alone cannot know how many frames were padded.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from codec_rt.config import ModelConfig

from .prior import LatentPrior

# Fixed affine scaling of the features into the range the convolutions like (log-magnitudes of level-
# normalized audio have mean about -6 and spread about 4; phase spans 2 pi). Part of both graphs, so the
# graph I/O stays raw log-magnitude and phase. Without it, Adam needs thousands of steps to move the output
# bias to the mean.
LOGMAG_MEAN, LOGMAG_STD = -6.0, 4.0


class CausalConv2d(nn.Conv2d):
    """k=3 convolution padded in time on the left only: output frame t sees input frames t-2..t."""

    def __init__(self, c_in: int, c_out: int, stride: tuple[int, int] = (1, 1)) -> None:
        super().__init__(c_in, c_out, 3, stride=stride, padding=(1, 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, (2, 0)))


def conv3(c_in: int, c_out: int, causal: bool, stride: tuple[int, int] = (1, 1)) -> nn.Conv2d:
    return CausalConv2d(c_in, c_out, stride) if causal else nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1)


class ResBlock(nn.Module):
    def __init__(self, ch: int, causal: bool = False) -> None:
        super().__init__()
        self.conv1 = conv3(ch, ch, causal)
        self.conv2 = conv3(ch, ch, causal)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.leaky_relu(self.conv1(F.leaky_relu(x, 0.2)), 0.2))


def _strides(cfg: ModelConfig) -> list[tuple[int, int]]:
    return [(2, 2 if i < cfg.time_downsamples else 1) for i in range(cfg.freq_downsamples)]


class Encoder(nn.Module):
    """`[B, 2, F, T] float32` -> latent `[B, channels, F', ceil(T / time_stride)] float32`."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.time_stride = cfg.time_stride
        layers: list[nn.Module] = []
        c_in = 2
        for s in _strides(cfg):
            layers += [conv3(c_in, cfg.hidden, bool(cfg.causal), s), nn.LeakyReLU(0.2)]
            c_in = cfg.hidden
        self.down = nn.Sequential(*layers)
        self.res = ResBlock(cfg.hidden, bool(cfg.causal))
        self.proj = nn.Conv2d(cfg.hidden, cfg.channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad = (-x.shape[-1]) % self.time_stride
        x = torch.cat([(x[:, :1] - LOGMAG_MEAN) / LOGMAG_STD, x[:, 1:2] / math.pi], dim=1)
        x = F.pad(x, (0, pad))
        return self.proj(self.res(self.down(x)))


PHASE_DILATIONS = (1, 2, 4)


class _Res1d(nn.Module):
    def __init__(self, ch: int, dilation: int) -> None:
        super().__init__()
        self.c1 = nn.Conv1d(ch, ch, 3, padding=dilation, dilation=dilation)
        self.c2 = nn.Conv1d(ch, ch, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.c2(F.leaky_relu(self.c1(F.leaky_relu(x, 0.1)), 0.1))


def frame_rotation(n_bins: int, frames: int, period: int, device: torch.device | None = None) -> torch.Tensor:
    """`[F, T]`: the phase 2 pi k (t mod period) / period that a sinusoid at bin k's centre gains from frame 0
    to frame t, where period = n_fft / hop."""
    t = torch.arange(frames, device=device) % period
    k = torch.arange(n_bins, device=device)
    return (2 * math.pi / period) * (torch.outer(k, t) % period).float()  # within one turn: float32 stays exact


class PhaseNet(nn.Module):
    """Decoded log-magnitude `[B, F, T]` -> phase `[B, F, T]`, for frames whose first one has an index that
    is a multiple of `period` = n_fft / hop (a decoder graph's output always does: its time stride times
    hop is a multiple of n_fft, which `ModelConfig.validate` checks for phase head 2).

    Parallel estimation (Ai and Ling, ICASSP 2023): a 1-D convolution stack over time with the frequency
    bins as channels, two parallel outputs taken as a pseudo real and imaginary part, the phase their angle.
    A convolution is the same at every frame while a steady tone's phase advances from frame to frame, so
    the network predicts the phase less `frame_rotation` (constant in time for a bin-centred tone) and is
    told each frame's index modulo `period` (one-hot) for what does not advance so (onsets).
    """

    def __init__(self, n_bins: int, hidden: int, period: int) -> None:
        super().__init__()
        self.n_bins, self.period = n_bins, period
        self.inp = nn.Conv1d(n_bins + period, hidden, 7, padding=3)
        self.blocks = nn.Sequential(*[_Res1d(hidden, d) for d in PHASE_DILATIONS])
        self.real = nn.Conv1d(hidden, n_bins, 3, padding=1)
        self.imag = nn.Conv1d(hidden, n_bins, 3, padding=1)

    @staticmethod
    def context_frames() -> int:
        """Frames on each side that one output frame depends on (every convolution is centred)."""
        return 3 + sum(d + 1 for d in PHASE_DILATIONS) + 1

    def forward(self, logmag: torch.Tensor) -> torch.Tensor:
        frames = logmag.shape[-1]
        clock = F.one_hot(torch.arange(frames, device=logmag.device) % self.period, self.period)
        clock = clock.t().to(logmag.dtype)[None].expand(logmag.shape[0], -1, -1)
        x = torch.cat([(logmag - LOGMAG_MEAN) / LOGMAG_STD, clock], dim=1)
        h = F.leaky_relu(self.blocks(self.inp(x)), 0.1)
        rot = frame_rotation(self.n_bins, frames, self.period, logmag.device)
        return torch.atan2(self.imag(h), self.real(h)) + rot


class Decoder(nn.Module):
    """latent `[B, channels, F', T']` -> `[B, 2, F, T' * time_stride] float32` (log-magnitude, phase)."""

    def __init__(self, cfg: ModelConfig, phase_head: int = 0, phase_hidden: int = 256) -> None:
        super().__init__()
        self.n_bins = cfg.n_bins
        self.phase_head = phase_head
        self.proj = nn.Conv2d(cfg.channels, cfg.hidden, 1)
        self.res = ResBlock(cfg.hidden, bool(cfg.causal))
        layers: list[nn.Module] = []
        strides = list(reversed(_strides(cfg)))
        for i, (sf, st) in enumerate(strides):
            last = i == len(strides) - 1
            # A causal decoder upsamples frequency only (kernel 1 in time): time context comes from the
            # causal convolutions before it.
            kt, pt = (1, 0) if cfg.causal else (4 if st == 2 else 3, 1)
            c_out = (3 if phase_head == 1 else 2) if last else cfg.hidden
            layers.append(nn.ConvTranspose2d(cfg.hidden, c_out, (4, kt), stride=(sf, st), padding=(1, pt)))
            if not last:
                layers.append(nn.LeakyReLU(0.2))
        self.up = nn.Sequential(*layers)
        # Head 2 keeps the regressed phase output unused, so a codec's weights load into it unchanged.
        self.phase_net = PhaseNet(cfg.n_bins, phase_hidden, cfg.n_fft // cfg.hop) if phase_head == 2 else None

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        y = self.up(F.leaky_relu(self.res(self.proj(z)), 0.2))
        # The phase channel is an angle modulo 2 pi: it is never wrapped, only used through exp(i phase).
        y = y[:, :, : self.n_bins, :]
        logmag = y[:, :1] * LOGMAG_STD + LOGMAG_MEAN
        if self.phase_net is not None:
            phase = self.phase_net(logmag[:, 0])[:, None]
        elif self.phase_head == 1:
            phase = torch.atan2(y[:, 2:3], y[:, 1:2])
        else:
            phase = y[:, 1:2] * math.pi
        return torch.cat([logmag, phase], dim=1)


class SpecAutoencoder(nn.Module):
    """With `cfg.coder` 1 or 2 it also holds the latent's entropy model (`prior`) and decodes the latent
    rounded to integers, as the runtime does (straight-through gradient while training).

    `phase_head` (1: parallel-estimation phase; 2: a phase network on the decoded magnitude, see the module
    docstring) and `phase_hidden` (its width) change only the decoder's inside; checkpoints keep them under
    "arch", beside the runtime's config."""

    def __init__(self, cfg: ModelConfig, phase_head: int = 0, phase_hidden: int = 256) -> None:
        super().__init__()
        if (phase_head == 2) != (cfg.phase_context == PhaseNet.context_frames()):
            raise ValueError(f"phase head 2 needs phase_context {PhaseNet.context_frames()}, and only it")
        self.cfg = cfg
        self.phase_head = phase_head
        self.phase_hidden = phase_hidden
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg, phase_head, phase_hidden)
        self.prior = LatentPrior(cfg.channels, cfg.latent_bins) if cfg.coder in (1, 2) else None

    def forward(self, x: torch.Tensor, noise_bits: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (reconstruction `[B, 2, F, T]`, latent). `noise_bits` simulates the fixed-width quantizer
        while training (coder 0)."""
        z = self.encoder(x)
        if self.prior is not None:
            zq = z + (torch.round(z) - z).detach()
        else:
            zq = z if noise_bits is None else quant_noise(z, noise_bits)
        return self.decoder(zq)[..., : x.shape[-1]], z

    def rate_bits(self, z: torch.Tensor) -> torch.Tensor:
        """Bits of each latent value `[B, C, F, T]` under the prior, with uniform noise standing in for rounding."""
        assert self.prior is not None
        return self.prior.bits(z + torch.rand_like(z) - 0.5)


def quant_noise(z: torch.Tensor, bits: float) -> torch.Tensor:
    """Uniform noise of one quantizer step of `codec_rt.quantize` (per-channel max-norm, 2**bits levels)."""
    scale = z.detach().abs().amax(dim=(-2, -1), keepdim=True).clamp_min(1e-8)
    step = 2.0 * scale / (2.0**bits - 1.0)
    return z + (torch.rand_like(z) - 0.5) * step
