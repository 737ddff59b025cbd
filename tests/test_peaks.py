"""A causal decoder's steady peaks (FORMAT.md 6.5, "Causal: steady peaks"): a steady tone keeps one frequency
where the model's predicted advance wanders, whatever blocks the frames arrive in, and nothing else moves."""

from __future__ import annotations

import numpy as np
import pytest

from codec_rt import Codec, peaks, phase, stft

CFG = Codec.load(low_latency=True).config  # the low-latency model's STFT: 256 / 64 at 16 kHz
N_FFT, HOP, SR = CFG.n_fft, CFG.hop, CFG.sample_rate


def _tone(f: float, seconds: float = 2.0) -> np.ndarray:
    return (0.1 * np.sin(2 * np.pi * f * np.arange(int(seconds * SR)) / SR))[None].astype(np.float32)


def _wandering(x: np.ndarray, jitter: float, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """x's magnitude `[1, F, T]` and its true advance less the bins' centres, jittered (a model's prediction)."""
    spec = stft.stft(x, N_FFT, HOP)
    k = np.arange(spec.shape[1])[:, None]
    adv = np.diff(np.angle(spec), axis=-1, prepend=0.0) - 2 * np.pi * k * HOP / N_FFT
    rng = np.random.default_rng(seed)
    return np.abs(spec).astype(np.float32), (adv + jitter * rng.standard_normal(adv.shape)).astype(np.float32)


def _locks(mag: np.ndarray, adv: np.ndarray, sizes: list[int], held: np.ndarray | None = None,
           pitch: np.ndarray | None = None) -> np.ndarray:
    state, out, t = None, [], 0
    while t < mag.shape[-1]:
        n = sizes[len(out) % len(sizes)]
        part = slice(t, t + n)
        lock, state = peaks.steady_peaks(mag[..., part], adv[..., part], None if held is None else held[..., part],
                                         None if pitch is None else pitch[..., part], state, CFG)
        out.append(lock)
        t += n
    return np.concatenate(out, axis=-1)


def _spur_db(y: np.ndarray, f: float) -> float:
    """The strongest component 15 to 80 Hz from f against the tone (the fidelity suite's measure)."""
    mid = y[SR // 2 : -SR // 2]
    spec = np.abs(np.fft.rfft(mid * np.hanning(mid.size)))
    freqs = np.fft.rfftfreq(mid.size, 1 / SR)
    near = (np.abs(freqs - f) > 15) & (np.abs(freqs - f) <= 80)
    return float(20 * np.log10(spec[near].max() / spec[np.abs(freqs - f) <= 10].max()))


def _decode(mag: np.ndarray, adv: np.ndarray, lock: np.ndarray | None) -> np.ndarray:
    tail = np.zeros((1, N_FFT - HOP), np.float32)
    ola, _, _ = phase.causal_frames(mag, adv, tail, N_FFT, HOP, 3, True, lock=lock)
    n = ola.shape[1]
    return (ola / phase.window_square_sum(-N_FFT // 2, n, N_FFT, HOP))[0, N_FFT // 2 :]


def test_a_steady_tones_bins_all_take_its_mean_advance() -> None:
    """1 kHz (bin 16), its advance jittered by 0.6 rad a frame: once 2N frames are in, the main lobe's bins
    take one advance, the mean of the peak bin's last N, and the decoded tone has no components beside it."""
    x = _tone(1000.0)
    mag, adv = _wandering(x, 0.6)
    lock = _locks(mag, adv, [mag.shape[-1]])
    n, t = peaks.PEAK_FRAMES, 100
    assert np.isfinite(lock[0, 14:19, 2 * n :]).all()
    assert np.isnan(lock[0, :10]).all() and np.isnan(lock[0, 24:]).all()  # nothing far from it
    assert np.allclose(lock[0, 14:19, t], lock[0, 16, t])
    mean = np.angle(np.exp(1j * (2 * np.pi * 16 * HOP / N_FFT + adv[0, 16, t - n + 1 : t + 1])).sum())
    assert abs(np.angle(np.exp(1j * (lock[0, 16, t] - mean)))) < 1e-5
    assert _spur_db(_decode(mag, adv, lock), 1000.0) < -30


@pytest.mark.parametrize("sizes", [[1], [5], [3, 1, 7]])
def test_blocks_of_any_size_lock_alike(sizes: list[int]) -> None:
    """A locked bin's phase integrates its advance: a stream must lock to the same bits as a whole file, for
    a peak of its own (1 kHz) and one next to the coded band (440 Hz, from the coded phase)."""
    mag, adv = _wandering(_tone(1000.0, 1.0), 0.3)
    assert np.array_equal(_locks(mag, adv, sizes), _locks(mag, adv, [mag.shape[-1]]), equal_nan=True)
    x = _tone(440.0, 1.0)
    mag, adv = _wandering(x, 0.3)
    held = np.angle(stft.stft(x, N_FFT, HOP)[:, :7]).astype(np.float32)
    whole = _locks(mag, adv, [mag.shape[-1]], held)
    assert np.isfinite(whole).any()
    assert np.array_equal(_locks(mag, adv, sizes, held), whole, equal_nan=True)


def test_noise_voiced_frames_and_the_coded_band_are_left_alone() -> None:
    """A tone at 440 Hz next to a coded band of 7 bins: the bins under it never lock, the others take the coded
    band's advance (the input's), not the wandering prediction; voiced frames lock nothing."""
    x = _tone(440.0)
    mag, adv = _wandering(x, 0.5)
    spec = stft.stft(x, N_FFT, HOP)
    held = np.angle(spec[:, :7]).astype(np.float32)
    lock = _locks(mag, adv, [16], held)
    assert np.isnan(lock[0, :7]).all()
    true = 2 * np.pi * 440.0 * HOP / SR
    assert np.allclose(np.angle(np.exp(1j * (lock[0, 7:10, 40:-20] - true))), 0, atol=1e-3)
    voiced = np.full((1, mag.shape[-1]), 0.01)
    assert np.isnan(_locks(mag, adv, [16], held, voiced)).all()
    rng = np.random.default_rng(5)
    noise = np.abs(stft.stft(rng.standard_normal((1, 2 * SR)).astype(np.float32), N_FFT, HOP)).astype(np.float32)
    locked = np.isfinite(_locks(noise, np.zeros_like(noise), [16])).mean()
    assert locked < 0.01
