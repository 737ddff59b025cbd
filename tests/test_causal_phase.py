"""The causal phase of the low-latency decoder (`phase.causal_frames`, RTISI without lookahead), on the
true magnitudes of real speech: it must sound like the speech, and cutting the frames into chunks of any
sizes must not change a sample (the state carries everything)."""

import numpy as np
import pytest

from codec_rt import metrics, phase, stft

N_FFT, HOP = 256, 64  # the low-latency model's STFT


def _causal(mag: np.ndarray, sizes: list[int], adv: np.ndarray | None = None, iters: int = 3) -> np.ndarray:
    """Frames `[C, F, T]` pushed in chunks of `sizes` (cycled) -> the whole overlap-add, normalized. adv: the
    frames' phase advances (`advance=True`)."""
    tail = np.zeros(mag.shape[:1] + (N_FFT - HOP,), np.float32)
    pieces, t, k, last = [], 0, 0, None
    while t < mag.shape[-1]:
        n = sizes[k % len(sizes)]
        init = None if adv is None else adv[..., t : t + n]
        out, tail, last = phase.causal_frames(mag[..., t : t + n], init, tail, N_FFT, HOP, iters, adv is not None, last)
        pieces.append(out)
        t, k = t + n, k + 1
    ola = np.concatenate([*pieces, tail], axis=-1)
    return ola / phase.window_square_sum(-N_FFT // 2, ola.shape[-1], N_FFT, HOP, mag.shape[-1])


def test_causal_phase_rebuilds_speech_from_its_magnitude(speech: tuple[np.ndarray, int]) -> None:
    x, sr = speech
    x = x[:, : 3 * sr]
    y = _causal(np.abs(stft.stft(x, N_FFT, HOP)), [5])[:, N_FFT // 2 : N_FFT // 2 + x.shape[1]]
    # No phase at all (zeros) scores about 1.1 PESQ-WB; Griffin-Lim with 32 iterations from zeros about 2.4.
    pytest.importorskip("pesq", reason="PESQ needs the metrics extra (pesq)")
    pytest.importorskip("pystoi", reason="STOI needs the metrics extra (pystoi)")
    assert metrics.pesq_wb(x, y, sr) > 3.0
    assert metrics.stoi(x, y, sr) > 0.97


@pytest.mark.parametrize("sizes", [[1], [3, 1, 7], [64]])
def test_chunk_sizes_do_not_change_a_sample(speech: tuple[np.ndarray, int], sizes: list[int]) -> None:
    x = speech[0][:, 8000:16000]
    mag = np.abs(stft.stft(x, N_FFT, HOP))
    assert np.array_equal(_causal(mag, sizes), _causal(mag, [mag.shape[-1]]))


def test_window_square_sum_counts_the_frames_over_each_sample() -> None:
    n_frames = 9
    win2 = stft.window(N_FFT) ** 2
    brute = np.zeros(N_FFT + HOP * (n_frames - 1))
    for t in range(n_frames):
        brute[t * HOP : t * HOP + N_FFT] += win2
    got = phase.window_square_sum(-N_FFT // 2, brute.size, N_FFT, HOP, n_frames)
    assert np.allclose(got, np.maximum(brute, 1e-8), atol=1e-6)
    # Without a last frame, the samples past the 9th frame count the frames that would follow.
    open_end = phase.window_square_sum(-N_FFT // 2, brute.size, N_FFT, HOP)
    assert np.allclose(open_end[: n_frames * HOP], got[: n_frames * HOP])
    assert open_end[-1] > got[-1]


def _tone_level_db(y: np.ndarray, f: float, sr: int) -> float:
    """Level of y within 10 Hz of f against a unit-amplitude sine's, over its steady middle (Hann)."""
    mid = y[sr // 2 : -sr // 2]
    spec = np.abs(np.fft.rfft(mid * np.hanning(mid.size)))
    band = np.abs(np.fft.rfftfreq(mid.size, 1 / sr) - f) <= 10
    return float(20 * np.log10(np.sqrt(np.sum(spec[band] ** 2)) / (np.sum(np.hanning(mid.size)) / 2)))


@pytest.mark.parametrize("sizes", [[1], [5], [3, 1, 7]])
def test_a_phase_advance_keeps_a_tone_between_bins_at_its_frequency(sizes: list[int]) -> None:
    """A 300 Hz tone (bin 4.8) whose magnitude is blurred towards bin 5, as a decoder's is: RTISI alone moves it
    to where the magnitude says; started from the frame before advanced by the tone's own advance, it stays."""
    sr, f = 16000, 300.0
    x = np.sin(2 * np.pi * f * np.arange(3 * sr) / sr)[None].astype(np.float32)
    spec = stft.stft(x, N_FFT, HOP)
    mag = np.abs(spec)
    mag[:, 4] *= 0.5  # the peak's shape now says about 320 Hz
    k = np.arange(mag.shape[1])[:, None]
    adv = np.diff(np.angle(spec), axis=-1, prepend=0.0) - 2 * np.pi * k * HOP / N_FFT
    at = slice(N_FFT // 2, N_FFT // 2 + x.shape[1])
    plain = _causal(mag, [5])[0, at]
    advanced = _causal(mag, sizes, adv, iters=1)[0, at]
    assert _tone_level_db(advanced, f, sr) > -3.0
    assert _tone_level_db(plain, f, sr) < -10.0
    assert np.array_equal(advanced, _causal(mag, [mag.shape[-1]], adv, iters=1)[0, at])  # chunking changes nothing


def _clicky(frames: int = 40, at: int = 20) -> np.ndarray:
    """`[2, F, frames]` magnitudes: row 0 quiet noise with a click's flat frame at `at`, row 1 silence then a
    1 kHz tone from `at` on (peaky, as loud)."""
    rng = np.random.default_rng(1)
    n_bins = N_FFT // 2 + 1
    noise = 1e-3 * np.abs(rng.standard_normal((n_bins, frames)))
    noise[:, at] = 0.5 * np.abs(1 + 0.3 * rng.standard_normal(n_bins))
    tone = np.full((n_bins, frames), 1e-5)
    tone[14:19, at:] = [[0.5], [4.0], [12.0], [4.0], [0.5]]
    return np.stack([noise, tone]).astype(np.float32)


def test_a_click_is_a_flat_frame_far_over_the_frames_before() -> None:
    """A flat frame 15 dB and more over the 3 before begins a click (1), the frame after it is its second (2);
    a tone's onset, as loud but peaky, is none; nor is a frame that has fewer than 3 frames before it in the
    stream (FORMAT.md 6.5)."""
    clicks, _ = phase.causal_clicks(_clicky(), None)
    assert clicks[0, 19:23].tolist() == [0, 1, 2, 0] and clicks[0].sum() == 3 and not clicks[1].any()
    early, _ = phase.causal_clicks(_clicky(at=2), None)
    assert not early.any()


def test_clicks_are_found_however_the_frames_arrive() -> None:
    mag = _clicky(41, at=21)
    whole, _ = phase.causal_clicks(mag, None)
    parts, history = [], None
    for a, b in ((0, 1), (1, 20), (20, 22), (22, 41)):
        part, history = phase.causal_clicks(mag[..., a:b], history)
        parts.append(part)
    np.testing.assert_array_equal(np.concatenate(parts, axis=-1), whole)


def test_a_click_is_placed_in_its_first_frames_newest_hop() -> None:
    """Clicks on quiet noise, at every offset within a hop, through the causal recursion on their true
    magnitude with the phase it computes: without the rule the first frame spreads each over its whole
    window, 12 ms before it; with it the 20 ms before a click hold far less than the 20 ms after (the
    fidelity suite's limit: -10 dB; placed in the middle of the hop, a pulse centred there had half its energy
    before an onset late in the hop: -3.4 dB)."""
    rng = np.random.default_rng(2)
    x = 10 ** (-50 / 20) * rng.standard_normal(28000)
    onsets = [3000 + 1900 * k + 11 * k for k in range(12)]  # at every offset within a hop
    for i in onsets:
        x[i : i + 160] += 0.5 * np.exp(-np.arange(160) / 30) * np.sign(rng.standard_normal(160))
    mag = np.abs(stft.stft(x[None].astype(np.float32), N_FFT, HOP))
    tail = np.zeros((1, N_FFT - HOP), np.float32)

    def pre_echo(clicks: np.ndarray | None) -> float:  # the worst click's
        ola, rest, _ = phase.causal_frames(mag, None, tail, N_FFT, HOP, 1, clicks=clicks)
        full = np.concatenate([ola, rest], axis=-1)
        y = (full / phase.window_square_sum(-N_FFT // 2, full.shape[-1], N_FFT, HOP, mag.shape[-1]))[0, N_FFT // 2 :]
        return max(10 * np.log10(np.sum(y[i - 320 : i] ** 2) / np.sum(y[i : i + 320] ** 2)) for i in onsets)

    clicks, _ = phase.causal_clicks(mag, None)
    assert (clicks == 1).sum() == len(onsets)
    assert pre_echo(None) > -6 and pre_echo(clicks) < -15
