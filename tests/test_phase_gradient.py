"""The phase-gradient start (`codec_rt.phase_gradient`, FORMAT.md 6.5): a phase from the magnitude alone that
an inverse STFT turns into the signal, block by block as a whole file, and the decoder option that uses it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from codec_rt import Codec, stft
from codec_rt.decoder import StreamDecoder
from codec_rt.phase import refine
from codec_rt.phase_gradient import (
    SPAN,
    GradientStart,
    PhaseStart,
    band_harmonics,
    gradient_phase,
    gradient_run,
    gradient_steps,
)

N_FFT, HOP, RATE = 512, 128, 16000
DATA = Path(__file__).parent / "data"


def resynth(x: np.ndarray, phase: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Signal `[N]` -> (its STFT magnitude's inverse STFT with the gradient start (or `phase`), magnitude)."""
    mag = np.abs(stft.stft(x, N_FFT, HOP))
    if phase is None:
        phase = gradient_phase(np.log(np.maximum(mag, 1e-5)), N_FFT, HOP)
    return refine(mag, phase, N_FFT, HOP, len(x), 0), mag


def convergence_db(y: np.ndarray, mag: np.ndarray) -> float:
    return float(20 * np.log10(np.linalg.norm(np.abs(stft.stft(y, N_FFT, HOP)) - mag) / np.linalg.norm(mag)))


@pytest.mark.parametrize("freq", [440.0, 1000.0, 1010.0, 3333.0])
def test_a_tone_comes_back_at_its_level_and_pitch_with_no_iteration(freq: float) -> None:
    t = np.arange(2 * RATE) / RATE
    x = 0.3 * np.sin(2 * np.pi * freq * t)
    y, mag = resynth(x)
    assert convergence_db(y, mag) < -30  # a zero phase gives about 0 dB
    mid = slice(RATE // 2, -RATE // 2)
    assert abs(20 * np.log10(np.std(y[mid]) / np.std(x[mid]))) < 0.1
    spec = np.abs(np.fft.rfft(y[mid] * np.hanning(RATE)))
    assert abs(int(np.argmax(spec)) - freq) <= 1  # 1 Hz bins: the tone is not moved


def test_speech_resynthesized_with_no_iteration_fits_its_magnitude(speech: tuple[np.ndarray, int]) -> None:
    x = speech[0][0, : 4 * RATE].astype(np.float64)
    y, mag = resynth(x)
    y0, _ = resynth(x, np.zeros_like(mag))
    assert convergence_db(y, mag) < -15 < convergence_db(y0, mag)


def clicks_on(x: np.ndarray, at: list[int], seed: int = 3) -> np.ndarray:
    """`x` `[N]` with a click (a 2 ms burst, 0.5 peak, decaying) starting at each sample in `at`."""
    rng, y = np.random.default_rng(seed), x.astype(np.float64).copy()
    for i in at:
        y[i : i + 160] += 0.5 * np.exp(-np.arange(160) / 30) * np.sign(rng.standard_normal(160))
    return y


@pytest.mark.parametrize(("block", "margin"), [(128, 24), (16, 7)])
def test_blocks_that_go_on_from_each_other_equal_the_whole_recursion(
        speech: tuple[np.ndarray, int], block: int, margin: int) -> None:
    # clicks on quiet speech, some across the blocks' seams, so that the impulses' frames are tested there too
    x = clicks_on(0.05 * speech[0][0, : 3 * RATE], [HOP * f for f in (14, 30, 101, 126, 250, 331)])
    logmag = np.log(np.maximum(np.abs(stft.stft(x, N_FFT, HOP)), 1e-5))[None]
    whole, _ = gradient_run(gradient_steps(logmag, N_FFT, HOP))
    assert np.array_equal(whole, gradient_phase(logmag, N_FFT, HOP))
    start, parts, held, b, frames = GradientStart(), [], [], 0, logmag.shape[-1]
    while b * block < frames:
        w0, w1 = max(0, block * b - margin), min(frames, block * (b + 1) + margin)
        phi, h = start.block(logmag[..., w0:w1], N_FFT, HOP, w0, block * (b + 1) - margin)
        parts.append(phi[..., block * b - w0 : block * (b + 1) - w0])
        held.append(h[..., block * b - w0 : block * (b + 1) - w0])
        b += 1
    assert np.array_equal(np.concatenate(parts, axis=-1), whole)
    took = np.concatenate(held, axis=-1)[0]
    assert np.array_equal(took, gradient_run(gradient_steps(logmag, N_FFT, HOP))[1][0])
    assert took.sum() == 6 * (2 * SPAN + 1)  # every click's frames, none of the speech's
    with pytest.raises(ValueError, match="out of order"):
        GradientStart().block(logmag[..., 100:200], N_FFT, HOP, 100, 204)


def test_a_click_comes_back_without_pre_echo_with_no_iteration() -> None:
    """The recursion alone carried each click's peaks on from the noise before it and smeared the click over
    its frames: -4 to -7 dB of energy in the 20 ms before a click against the 20 ms after (with the
    impulses: -13 to -16; the input: -30)."""
    onsets = [RATE // 2 + k * RATE // 3 for k in range(4)]
    x = clicks_on(1e-3 * np.random.default_rng(0).standard_normal(2 * RATE), onsets)
    y, _ = resynth(x)
    n = RATE // 50
    for i in onsets:
        assert 10 * np.log10(np.sum(y[i - n : i] ** 2) / np.sum(y[i : i + n] ** 2)) < -12, i
    assert np.abs(y).max() < 1.5 * np.abs(x).max()  # spread over a millisecond: no impulse twice as high


def test_the_decoder_option_streams_as_it_decodes_and_beats_the_raw_graph_phase(
        speech: tuple[np.ndarray, int]) -> None:
    codec = Codec.load(bitrate=12)
    x = speech[0][:, : 5 * RATE]
    blob = codec.encode(x, RATE, framed=True)
    y, _ = codec.decode(blob, phase_iters=0, phase_start=PhaseStart.GRADIENT)
    dec = StreamDecoder(codec.model, phase_iters=0, phase_start=PhaseStart.GRADIENT)
    pieces = [dec.push(blob[i : i + 333]) for i in range(0, len(blob), 333)] + [dec.flush()]
    assert np.array_equal(np.concatenate([p for p in pieces if p.size], axis=1), y)
    raw, _ = codec.decode(blob, phase_iters=0, phase_start=PhaseStart.PREDICTED)
    target = np.abs(stft.stft(x[0], N_FFT, HOP))
    assert convergence_db(y[0], target) < convergence_db(raw[0], target) - 3


def test_the_phase_start_in_the_metadata_is_read_and_a_bad_one_refused(
        model_with_decoder_metadata: Callable[[str, str], Path]) -> None:
    from codec_rt import ModelError
    from codec_rt.model import Model

    assert Model.load(model_with_decoder_metadata("codec_rt.phase_start", "1")).phase_start == PhaseStart.GRADIENT
    assert Model.load(DATA / "golden_model_range").phase_start == PhaseStart.PREDICTED  # absent: the graph's
    for bad in ("2", "01", " 1", "gradient"):
        with pytest.raises(ModelError, match="phase_start"):
            Model.load(model_with_decoder_metadata("codec_rt.phase_start", bad))


def test_the_shipped_non_causal_points_decode_from_the_gradient_start() -> None:
    """With 8 Griffin-Lim iterations after it, but at 6 kbps none: there they cost STOI (LADDER.md stage 21)."""
    from codec_rt import ladder
    from codec_rt.decoder import default_phase_iters
    from codec_rt.model import Model

    for kbps, iters in ((3, 8), (6, 0), (12, 8), (32, 8)):
        model = Model.load(ladder.select(kbps, False))
        assert model.phase_start == PhaseStart.GRADIENT  # LADDER.md stage 9, docs/MEASURED.md
        assert default_phase_iters(model.config, model.phase_iters) == iters, kbps
    causal = Model.load(ladder.select(12, True))
    assert causal.phase_start == PhaseStart.PREDICTED  # a causal model's phase is RTISI's


@pytest.mark.parametrize("bad", [2, -1, "griffin", "", 1.5, True])  # "gradient" is a name: tests/test_bad_input.py
def test_a_bad_phase_start_is_a_codec_error(bad: object) -> None:
    from codec_rt import CodecError

    with pytest.raises(CodecError, match="phase_start"):
        StreamDecoder(phase_start=bad)  # type: ignore[arg-type]


def test_the_gradient_start_takes_more_margin_frames_and_says_so(speech: tuple[np.ndarray, int]) -> None:
    from codec_rt import CodecError
    from codec_rt.grid import min_margin_frames
    from codec_rt.phase_gradient import CONTEXT

    codec = Codec.load(bitrate=12)
    blob = codec.encode(speech[0][:, : 3 * RATE], RATE, framed=True)
    least = min_margin_frames(codec.model.config, refine=True, gradient=True)
    assert least == min_margin_frames(codec.model.config, refine=True) + CONTEXT
    whole, _ = codec.decode(blob, phase_iters=8, phase_start=PhaseStart.GRADIENT)
    dec = StreamDecoder(codec.model, phase_iters=8, phase_start=PhaseStart.GRADIENT, margin_frames=least)
    y = np.concatenate([dec.push(blob), dec.flush()], axis=1)
    assert y.shape == whole.shape
    assert 10 * np.log10(np.sum(whole**2) / np.sum((y - whole) ** 2)) > 15  # a narrower margin, nearly the same audio
    with pytest.raises(CodecError, match=f"margin_frames must be at least {least}"):
        StreamDecoder(codec.model, phase_iters=8, phase_start=PhaseStart.GRADIENT, margin_frames=least - 1).push(blob)


@pytest.mark.parametrize("start", [PhaseStart.PREDICTED, PhaseStart.GRADIENT])
def test_the_least_margin_keeps_the_output_highpass_clean(speech: tuple[np.ndarray, int], start: PhaseStart) -> None:
    """Each block's DC is removed over the samples all their frames cover: the window's edges, where fewer
    frames overlap, were summed in too, and with the least margin the blocks came out with errors up to 7
    times the speech's peak (SNR against the whole-file decode -23 to +8 dB). With a plain inverse STFT the
    blocks now match it but for the DC measured over a shorter span near their edges (26 to 38 dB)."""
    from codec_rt.grid import min_margin_frames

    codec = Codec.load(bitrate=12)
    blob = codec.encode(speech[0][:, : 3 * RATE], RATE, framed=True)
    whole, _ = codec.decode(blob, phase_iters=0, phase_start=start)
    least = min_margin_frames(codec.model.config, refine=False, gradient=start == PhaseStart.GRADIENT)
    for frames in (4, 16):
        dec = StreamDecoder(codec.model, phase_iters=0, phase_start=start, block_frames=frames, margin_frames=least)
        y = np.concatenate([dec.push(blob), dec.flush()], axis=1)
        assert np.abs(y - whole).max() < 0.05 * np.abs(whole).max(), frames
        assert 10 * np.log10(np.sum(whole**2) / np.sum((y - whole) ** 2)) > 20, frames


def test_a_voiced_frames_peaks_just_above_the_band_go_on_at_its_harmonics() -> None:
    """Mode low_band_phase (6.5, "Non-causal, mode 2"): with the band's pitch at 200 Hz, a partial at 803 Hz
    (bin 25.7, in [K, 2 K) for K = 22, 0.1 bin from 800 Hz) goes on at 800 Hz, its nearest harmonic; one in
    the band (610 Hz), one above 2 K (1510 Hz) and one 0.96 bin from a harmonic (1030 Hz: another sound's) go
    on as before, and so does every peak of an unvoiced frame."""
    n_fft, hop, sr, k = 512, 128, 16000, 22
    t = np.arange(sr) / sr
    x = sum(np.sin(2 * np.pi * f * t) for f in (610.0, 803.0, 1030.0, 1510.0))
    lm = np.log(np.abs(stft.stft(x[None], n_fft, hop)[0]) + 1e-6)
    steps = gradient_steps(lm, n_fft, hop)
    pitch = np.full((1, lm.shape[1]), 200.0 / sr)
    pitch[0, :40] = 0.0
    before, after = gradient_run(steps)[0], gradient_run(band_harmonics(steps, pitch, k))[0]

    def advance(phi: np.ndarray, hz: float) -> np.ndarray:  # each frame's, radians, at the bin nearest hz
        expected = 2 * np.pi * hop * hz / sr
        return np.mod(np.diff(phi[round(hz * n_fft / sr)]) - expected + np.pi, 2 * np.pi) - np.pi + expected

    voiced = slice(41, lm.shape[1] - 5)
    np.testing.assert_allclose(advance(after, 803)[voiced], 2 * np.pi * hop * 800 / sr, atol=1e-9)
    assert np.all(np.abs(advance(before, 803)[voiced] - 2 * np.pi * hop * 803 / sr) < 0.05)  # within 1 Hz
    for hz in (610.0, 1030.0, 1510.0):
        np.testing.assert_allclose(advance(after, hz)[voiced], advance(before, hz)[voiced], atol=1e-9)
    np.testing.assert_allclose(after[:, :40], before[:, :40], atol=1e-9)
