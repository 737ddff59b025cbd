"""Griffin-Lim's frames get their energy back where a model asks for it (`codec_rt.energy_match`, FORMAT.md
3.6 and 6.5): a magnitude no signal has comes out of Griffin-Lim with less energy than it holds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from codec_rt import phase, stft

DATA = Path(__file__).parent / "data"
N_FFT, HOP, RATE = 512, 128, 16000


def narrowed_tone(seconds: float = 2.0) -> tuple[np.ndarray, np.ndarray, int]:
    """The STFT magnitude of a 1 kHz tone (on a bin's centre) with its main lobe's side bins 2.4 nats low, as
    a regression decoder narrowed it, and its own phase; and the signal's length."""
    n = int(seconds * RATE)
    x = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(n) / RATE)
    spec = stft.stft(x[None], N_FFT, HOP)[0]
    mag = np.abs(spec)
    b = 1000 * N_FFT // RATE
    mag[[b - 1, b + 1]] *= np.exp(-2.4)
    return mag.astype(np.float32), np.angle(spec).astype(np.float32), n


def db_energy(y: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(np.square(y[RATE // 4 : -RATE // 4], dtype=np.float64))))


def test_matching_energy_returns_the_level_griffin_lim_loses() -> None:
    mag, ph, n = narrowed_tone()
    half = N_FFT // 2
    plain = phase.refine_frames(mag, ph, N_FFT, HOP, 32, half, half + n)[half : half + n]
    matched = phase.refine_frames(mag, ph, N_FFT, HOP, 32, half, half + n, match_energy=True)[half : half + n]
    frames = stft.stft(matched[None], N_FFT, HOP)[0]
    assert db_energy(matched) - db_energy(plain) > 1.0  # Griffin-Lim alone lost over 1 dB here
    got = np.square(np.abs(frames[:, 8:-8]).astype(np.float64)).sum()
    want = np.square(mag[:, 8:-8].astype(np.float64)).sum()
    assert abs(10 * np.log10(got / want)) < 0.5  # the frames hold the magnitude's energy again
    # no refinement, nothing to match
    np.testing.assert_array_equal(phase.refine_frames(mag, ph, N_FFT, HOP, 0, half, half + n, match_energy=True),
                                  phase.refine_frames(mag, ph, N_FFT, HOP, 0, half, half + n))


def test_a_frame_griffin_lim_left_silent_is_not_blown_up() -> None:
    mag, ph, n = narrowed_tone(0.5)
    mag[:, 20] = 0.0  # a silent frame among loud ones: it gains at most a factor ENERGY_RANGE
    half = N_FFT // 2
    plain = phase.refine_frames(mag, ph, N_FFT, HOP, 8, half, half + n)
    matched = phase.refine_frames(mag, ph, N_FFT, HOP, 8, half, half + n, match_energy=True)
    assert np.all(np.isfinite(matched))
    assert np.abs(matched).max() <= phase.ENERGY_RANGE * np.abs(plain).max() + 1e-6


@pytest.mark.parametrize("value", ["2", "yes", ""])
def test_a_bad_energy_match_in_the_metadata_is_a_model_error(
        model_with_decoder_metadata: Callable[[str, str], Path], value: str) -> None:
    from codec_rt import ModelError
    from codec_rt.model import Model

    with pytest.raises(ModelError, match="energy_match"):
        Model.load(model_with_decoder_metadata("codec_rt.energy_match", value))
    assert Model.load(DATA / "golden_model_range").energy_match is False  # absent: off
