"""The entropy model of a range-coded codec (`ModelConfig.coder = 1`): a logistic density per (latent
channel, frequency row), learned with the codec. In training it gives the rate term (bits of the latent
with uniform quantization noise); at export it becomes the integer tables of `codec_rt.entropy`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from codec_rt.entropy import MAX_TABLE_SIZE, EntropyTables, quantize_probs

MIN_SCALE = 0.05
TAIL = 1e-6  # density mass beyond which a table's logistic range ends
# Symbols added to each end of that range. Inputs unlike the training audio (steady tones, chirps, impulse
# trains) push latents a few symbols past it, where the quantizer clipped them and tones lost level
# (docs/fidelity.md); each added symbol costs only its frequency of 1 / 2**precision.
MARGIN = 12


class LatentPrior(nn.Module):
    def __init__(self, channels: int, bins: int) -> None:
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(channels, bins, 1))
        self.log_scale = nn.Parameter(torch.zeros(channels, bins, 1))

    def scale(self) -> torch.Tensor:
        return self.log_scale.exp().clamp_min(MIN_SCALE)

    def bits(self, y: torch.Tensor) -> torch.Tensor:
        """-log2 P(y) of the integer bin around each value of y `[B, C, F, T]` (same shape)."""
        s = self.scale()
        upper, lower = (y - self.loc + 0.5) / s, (y - self.loc - 0.5) / s
        # Evaluate on the side of the density where the sigmoids are not both near 1 (precision).
        sign = -torch.sign(upper + lower).detach()
        p = (torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower)).abs()
        return -torch.log2(p.clamp_min(1e-9))

    def tables(self, precision: int = 16) -> EntropyTables:
        """Integer frequency tables: each (channel, row) density over the integers from its TAIL quantiles
        widened by MARGIN symbols each side, tails folded into the ends."""
        loc = self.loc.detach().double().cpu().numpy()[..., 0]
        s = self.scale().detach().double().cpu().numpy()[..., 0]
        k = math.log(1 / TAIL - 1)  # logistic quantile of TAIL
        offsets, freqs = [], []
        for mu, sc in zip(loc.ravel(), s.ravel(), strict=True):
            half = min(math.ceil(k * sc) + MARGIN, (MAX_TABLE_SIZE - 2) // 2)
            lo, hi = round(mu) - half, round(mu) + half
            edges = np.arange(lo, hi + 2) - 0.5
            cdf = 1 / (1 + np.exp(-(edges - mu) / sc))
            cdf[0], cdf[-1] = 0.0, 1.0
            offsets.append(lo)
            freqs.append(quantize_probs(np.diff(cdf), precision))
        c, b = loc.shape
        return EntropyTables(c, b, precision, tuple(offsets), tuple(freqs))
