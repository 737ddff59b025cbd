"""A causal decoder's steady peaks (FORMAT.md 6.5, "Causal: steady peaks"): a steady tone keeps one frequency
and one level where the model's predicted advance and magnitude wander, whatever blocks the frames arrive
in, and nothing else moves."""

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


def _locks(mag: np.ndarray, sizes: list[int], held: np.ndarray | None = None,
           pitch: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The rule over `mag` in blocks of `sizes` frames (cycled) -> (locks, magnitudes), all frames."""
    state, locks, mags, t = None, [], [], 0
    while t < mag.shape[-1]:
        n = sizes[len(locks) % len(sizes)]
        part = slice(t, t + n)
        lock, out, state = peaks.steady_peaks(mag[..., part], None if held is None else held[..., part],
                                              None if pitch is None else pitch[..., part], state, CFG)
        locks.append(lock)
        mags.append(out)
        t += n
    return np.concatenate(locks, axis=-1), np.concatenate(mags, axis=-1)


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


def _pitch_hz(y: np.ndarray, f: float) -> float:
    """The strongest peak within 30 Hz of f in the steady middle, refined on a parabola (the suite's way)."""
    mid = y[SR // 2 : -SR // 2]
    pad = 16 * mid.size
    spec = np.abs(np.fft.rfft(mid * np.hanning(mid.size), pad))
    lo, hi = int((f - 30) * pad / SR), int((f + 30) * pad / SR)
    k = lo + int(np.argmax(spec[lo:hi]))
    a, b, c = np.log(spec[k - 1 : k + 2])
    return float((k + 0.5 * (a - c) / (a - 2 * b + c)) * SR / pad)


def test_a_steady_tone_takes_its_lobes_frequency_and_its_mean_level() -> None:
    """1010 Hz (bin 16.16), its advance jittered by 0.6 rad and its magnitude by 1.5 dB a frame (the model's
    wander): once M frames are in, the main lobe's bins take the frequency of its mean power's shape and their
    mean magnitude, and the decoded tone keeps its pitch, with no components beside it."""
    f = 1010.0
    mag, adv = _wandering(_tone(f), 0.6)
    gain = 10 ** (1.5 * np.random.default_rng(4).standard_normal(mag.shape[-1]) / 20)
    mag = (mag * gain).astype(np.float32)
    lock, out = _locks(mag, [mag.shape[-1]])
    m, t = peaks.LOBE_FRAMES, 100
    assert np.isnan(lock[..., : m - 1]).all() and np.isfinite(lock[0, 14:19, m:]).all()
    assert np.isnan(lock[0, :10]).all() and np.isnan(lock[0, 24:]).all()  # nothing far from it
    true = 2 * np.pi * f * HOP / SR
    assert abs(np.angle(np.exp(1j * (lock[0, 16, t] - true)))) < 2e-3  # 0.1 Hz
    mean = np.sqrt((mag[0, 14:19, t - m + 1 : t + 1].astype(np.float64) ** 2).mean(axis=-1))
    assert np.allclose(out[0, 14:19, t], mean, rtol=1e-6)
    assert np.array_equal(out[0, :10], mag[0, :10]) and np.array_equal(out[0, 24:], mag[0, 24:])
    y = _decode(out, adv, lock)
    assert _spur_db(y, f) < -30 and abs(_pitch_hz(y, f) - f) < 0.3
    assert _spur_db(_decode(mag, adv, None), f) > -30  # the suite's limit, as the wander alone leaves it


def test_a_peak_locks_at_its_own_level_not_one_it_left() -> None:
    """1 kHz from 250 ms into the file, 6 dB down from 1.25 s: no frame locks at a level the mean of the
    silence before the onset or of the louder part before the step holds, but within 1 dB of its own (once
    the STFT's window has passed the step, and before the file's end), and it locks again at its new level."""
    t = np.arange(2 * SR) / SR
    x = (np.where(t < 0.25, 0.0, np.where(t < 1.25, 0.2, 0.1)) * np.sin(2 * np.pi * 1000 * t))[None]
    mag = np.abs(stft.stft(x.astype(np.float32), N_FFT, HOP)).astype(np.float32)
    lock, out = _locks(mag, [16])
    step = int(1.25 * SR) // HOP
    locked = np.flatnonzero(np.isfinite(lock[0, 16]))
    assert locked.size and (locked > int(0.25 * SR) // HOP).all()
    tail = mag.shape[-1] - N_FFT // HOP  # from here on the frames reach past the file's end
    after = step + N_FFT // HOP + peaks.PEAK_FRAMES
    settled = locked[(locked < step) | ((locked >= after) & (locked < tail))]
    err = 20 * np.log10(out[0, 16, settled] / mag[0, 16, settled])
    assert np.abs(err).max() < 1.0
    assert ((locked >= after) & (locked < tail)).any()  # at its new level


def test_a_locked_tone_ends_with_its_frames() -> None:
    """1 kHz stopping at 1 s: the locked bins' magnitude follows the frames' own down (within 6 dB of it),
    so the tone does not go on at its mean level after it stopped."""
    t = np.arange(2 * SR) / SR
    mag, adv = _wandering((np.where(t < 1.0, 0.2, 0.0) * np.sin(2 * np.pi * 1000 * t))[None], 0.0)
    lock, out = _locks(mag, [16])
    assert np.isfinite(lock[0, 16, SR // HOP - 10])
    assert (out <= peaks.LOCK_RANGE * mag).all()
    y = _decode(out, adv, lock)
    ref = np.sqrt(np.mean(y[SR // 2 : SR - SR // 16] ** 2))
    db = [20 * np.log10(np.sqrt(np.mean(y[SR + i : SR + i + 80] ** 2)) / ref + 1e-12) for i in (80, 160)]
    assert db[0] < -25 and db[1] < -50


@pytest.mark.parametrize("offset", [-0.45, -0.2, 0.0, 0.3, 0.5])
def test_lobe_offset_is_exact_for_a_hann_window(offset: float) -> None:
    """A tone `offset` bins from bin 32: its Hann spectrum's power at bins 31 to 33 gives the offset back."""
    n = np.arange(N_FFT)
    x = np.hanning(N_FFT + 1)[:-1] * np.cos(2 * np.pi * (32 + offset) * n / N_FFT + 0.3)
    p = np.abs(np.fft.rfft(x)) ** 2
    assert peaks.lobe_offset(p[31:32], p[32:33], p[33:34])[0] == pytest.approx(offset, abs=2e-3)


@pytest.mark.parametrize("sizes", [[1], [5], [3, 1, 7]])
def test_blocks_of_any_size_lock_alike(sizes: list[int]) -> None:
    """A locked bin's phase integrates its advance: a stream must lock to the same bits, and keep the same
    magnitudes, as a whole file, for a peak of its own (1 kHz) and one next to the coded band (440 Hz, from
    the coded phase)."""
    mag, _ = _wandering(_tone(1000.0, 1.0), 0.3)
    for got, want in zip(_locks(mag, sizes), _locks(mag, [mag.shape[-1]]), strict=True):
        assert np.array_equal(got, want, equal_nan=True)
    x = _tone(440.0, 1.0)
    mag, _ = _wandering(x, 0.3)
    held = np.angle(stft.stft(x, N_FFT, HOP)[:, :7]).astype(np.float32)
    whole = _locks(mag, [mag.shape[-1]], held)
    assert np.isfinite(whole[0]).any()
    for got, want in zip(_locks(mag, sizes, held), whole, strict=True):
        assert np.array_equal(got, want, equal_nan=True)


def test_noise_voiced_frames_and_the_coded_band_are_left_alone() -> None:
    """A tone at 440 Hz next to a coded band of 7 bins: the bins under it never lock, the others take the coded
    band's advance (the input's), not the wandering prediction; voiced frames lock nothing."""
    x = _tone(440.0)
    mag, _ = _wandering(x, 0.5)
    spec = stft.stft(x, N_FFT, HOP)
    held = np.angle(spec[:, :7]).astype(np.float32)
    lock, _ = _locks(mag, [16], held)
    assert np.isnan(lock[0, :7]).all()
    true = 2 * np.pi * 440.0 * HOP / SR
    assert np.allclose(np.angle(np.exp(1j * (lock[0, 7:10, 60:-20] - true))), 0, atol=1e-3)
    voiced = np.full((1, mag.shape[-1]), 0.01)
    assert np.isnan(_locks(mag, [16], held, voiced)[0]).all()
    rng = np.random.default_rng(5)
    noise = np.abs(stft.stft(rng.standard_normal((1, 2 * SR)).astype(np.float32), N_FFT, HOP)).astype(np.float32)
    locked = np.isfinite(_locks(noise, [16])[0]).mean()
    assert locked < 0.01
