"""The synthetic training signals (training/synth.py) are what their kinds say: the fidelity suite's faults
can only be trained away if tones are tones, round-number tones sit on STFT bin centres, backgrounds sit
far below their speech bursts, and a batch mixes them in at the asked share, reproducibly."""

from __future__ import annotations

import numpy as np
import pytest

from training.data import ClipSet
from training.synth import KINDS, synth_clip

RATE = 16000
N = 2 * RATE


def _peaks(x: np.ndarray, k: int) -> np.ndarray:
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return np.sort(np.argsort(spec)[-k:]) * RATE / x.size


def test_every_kind_is_finite_and_at_the_same_peak_level() -> None:
    rng = np.random.default_rng(0)
    speech = rng.standard_normal(N).astype(np.float32)
    for kind in KINDS:
        for _ in range(5):
            x = synth_clip(kind, N, RATE, rng, speech)
            assert x.shape == (N,) and x.dtype == np.float32 and np.isfinite(x).all()
            assert np.isclose(np.abs(x).max(), 0.5, atol=1e-6), kind


def test_a_tone_is_one_frequency_and_half_of_them_sit_on_a_bin_centre() -> None:
    rng = np.random.default_rng(1)
    centred = 0
    for _ in range(40):
        x = synth_clip("tone", N, RATE, rng).astype(np.float64)
        on = np.abs(x) > 0
        steady = x[np.argmax(on) : N - np.argmax(on[::-1])]
        spec = np.abs(np.fft.rfft(steady * np.hanning(steady.size)))
        f = np.argmax(spec) * RATE / steady.size
        assert 35 <= f <= 7900
        # a single line: everything 100 Hz away from the peak is 40 dB down
        far = np.abs(np.arange(spec.size) * RATE / steady.size - f) > 100
        assert spec[far].max() < spec.max() * 1e-2
        centred += abs(f / (RATE / 512) - round(f / (RATE / 512))) < 0.02
    assert 10 <= centred <= 35


def test_tones_start_at_the_first_sample_or_after_silence_abruptly_or_ramped() -> None:
    """The onsets the suite checks, all three: from sample 0, switched on after silence (the 12 kbps point
    burst 1.5 to 2.4 dB there while training only ramped such starts), and faded in after silence."""
    rng = np.random.default_rng(2)
    kinds = {"first sample": 0, "abrupt after silence": 0, "ramped after silence": 0}
    for _ in range(80):
        x = synth_clip("tone", N, RATE, rng).astype(np.float64)
        start = int(np.argmax(np.abs(x) > 0))
        ms = RATE // 1000  # the first millisecond's peak against the steady peak
        abrupt = np.abs(x[start : start + ms]).max() > 0.3 * np.abs(x).max()
        kinds["first sample" if start == 0 else "abrupt after silence" if abrupt else "ramped after silence"] += 1
    assert all(n >= 10 for n in kinds.values()), kinds


def test_a_tonal_signal_over_noise_has_a_recordings_floor_and_no_silence() -> None:
    """`over_noise`: a tone, chord or harmonic tone with white noise 40 to 90 dB under it, so no bin sits at the
    features' floor, as none does in a recording."""
    rng = np.random.default_rng(4)
    for _ in range(20):
        x = synth_clip("over_noise", N, RATE, rng).astype(np.float64)
        assert (x != 0).all()
        spec = np.abs(np.fft.rfft(x * np.hanning(x.size))) ** 2
        floor_db = 10 * np.log10(np.median(spec) / spec.max())
        assert -140 < floor_db < -30, floor_db  # the noise, spread over the bins, under the lines


def test_bursts_sit_far_above_their_background() -> None:
    rng = np.random.default_rng(2)
    speech = (0.3 * np.sin(2 * np.pi * 200 * np.arange(N) / RATE)).astype(np.float32)
    for _ in range(10):
        x = synth_clip("bursts", N, RATE, rng, speech).astype(np.float64)
        level = 20 * np.log10(np.sqrt(np.mean(x.reshape(-1, 160) ** 2, axis=1)) + 1e-12)
        assert level.max() - np.median(level) >= 20


def test_unknown_kinds_and_missing_speech_are_refused() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown kind"):
        synth_clip("noise", N, RATE, rng)
    with pytest.raises(ValueError, match="speech"):
        synth_clip("bursts", N, RATE, rng)


def test_batches_mix_in_the_share_asked_for_and_repeat_with_the_seed() -> None:
    clips = ClipSet.__new__(ClipSet)
    speech = np.random.default_rng(3).standard_normal(N).astype(np.float32) * 0.1
    clips.clips, clips.sample_rate, clips.max_len = [speech.copy() for _ in range(64)], RATE, N

    def batches(synth: float) -> list[np.ndarray]:
        return clips.batches(8, np.random.default_rng(7), synth)

    plain = np.concatenate(batches(0.0))
    assert all(np.allclose(row / np.abs(row).max(), speech / np.abs(speech).max(), atol=1e-5) for row in plain)
    mixed = np.concatenate(batches(0.5))
    replaced = sum(not np.allclose(row / np.abs(row).max(), speech / np.abs(speech).max(), atol=1e-5) for row in mixed)
    assert 16 <= replaced <= 48
    assert all(np.array_equal(a, b) for a, b in zip(batches(0.5), batches(0.5), strict=True))


def test_labelled_batches_mark_exactly_the_synthetic_rows() -> None:
    clips = ClipSet.__new__(ClipSet)
    speech = np.random.default_rng(3).standard_normal(N).astype(np.float32) * 0.1
    clips.clips, clips.sample_rate, clips.max_len = [speech.copy() for _ in range(64)], RATE, N
    labelled = clips.labelled_batches(8, np.random.default_rng(7), 0.5)
    plain = clips.batches(8, np.random.default_rng(7), 0.5)
    assert all(np.array_equal(a, b) for (a, _), b in zip(labelled, plain, strict=True))
    for batch, synthetic in labelled:
        is_speech = [np.allclose(r / np.abs(r).max(), speech / np.abs(speech).max(), atol=1e-5) for r in batch]
        assert synthetic.dtype == bool and list(synthetic) == [not s for s in is_speech]
