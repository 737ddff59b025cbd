"""The phase-hint measurement (benchmarks/phase_hint.py): its quantizer and its rate estimate."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch", reason="benchmarks.phase_hint loads checkpoints with torch")

from benchmarks.phase_hint import entropy, quantize, wrap  # noqa: E402
from codec_rt import stft  # noqa: E402


def test_the_coded_phase_is_within_half_a_step_of_the_true_one() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(16000).astype(np.float32)
    true = np.angle(stft.stft(x[None], 512, 128)[0])
    for bits in (2, 3, 4):
        coded, codes = quantize(true, 32, bits, 512, 128)
        assert codes.min() >= 0 and codes.max() < 2**bits
        assert np.abs(wrap(coded - true[:32])).max() <= np.pi / 2**bits + 1e-9


def test_a_steady_tone_costs_under_half_the_bits_of_noise() -> None:
    """The prediction from the two coded frames before follows a steady tone to within a step or two (its
    quantization error is fed back), but not noise, whose 4-bit codes are near uniform."""
    t = np.arange(32000) / 16000

    def bits(x: np.ndarray) -> float:
        _, codes = quantize(np.angle(stft.stft(x[None].astype(np.float32), 512, 128)[0]), 24, 4, 512, 128)
        return entropy(codes[:, 4:], 16)[0]

    tone = bits(0.5 * np.sin(2 * np.pi * 440.0 * t))
    noise = bits(np.random.default_rng(1).standard_normal(32000))
    assert noise > 3.6 and tone < 0.5 * noise
