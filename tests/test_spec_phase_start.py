"""docs/FORMAT.md 6.5's phase-gradient start (`codec_rt.phase_start`, 3.6), as the spec reader has it from the
text alone: the same phase as codec-rt's `phase_gradient.gradient_phase`, and a model that declares it decodes
as codec-rt's block decoder does (section 10: within 0.5 dB LSD; with `I = 0` the blocks equal the whole-file
recursion, so in practice the waveforms agree too)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from spec_reader.audio import decode_audio, hann, impulses, lsd, phase_start, power
from spec_reader.model import load_model

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
RD12K = REPO / "runtime" / "codec_rt" / "models" / "rd12k"


def wrapped(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b| as an angle, in [0, pi]."""
    diff = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    return np.asarray(np.abs(np.angle(np.exp(1j * diff))), np.float64)


def synthetic_logmag(n_fft: int, hop: int, frames: int, seed: int = 0) -> np.ndarray:
    """Natural-log STFT magnitude [n_fft / 2 + 1, frames] of a few tones (one gliding, one starting late)
    in noise."""
    rng = np.random.default_rng(seed)
    sr, n = 16000, hop * (frames - 1)
    t = np.arange(n) / sr
    x = 0.5 * np.sin(2 * np.pi * 440.0 * t) + 0.3 * np.sin(2 * np.pi * (1000.0 * t + 400.0 * t**2))
    x += 0.2 * np.sin(2 * np.pi * 2345.6 * t + 1.0) * (t > t[-1] / 3) + 0.01 * rng.standard_normal(n)
    x *= (t < t[-1] * 0.45) | (t > t[-1] * 0.55)  # a gap, with a click inside (6.5, "Impulses")
    i = int(n * 0.5)
    m = len(x[i : i + hop])
    x[i : i + m] += np.exp(-np.arange(m) / (hop / 4)) * np.sign(rng.standard_normal(m))
    xp = np.pad(x, (n_fft // 2, n_fft // 2))
    idx = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
    return np.log(np.abs(np.fft.rfft(xp[idx] * hann(n_fft))).T + 1e-6)


@pytest.mark.parametrize(("n_fft", "hop", "frames"), [(512, 128, 300), (256, 64, 257), (512, 128, 3)])
def test_spec_phase_start_equals_codec_rt(n_fft: int, hop: int, frames: int) -> None:
    from codec_rt.phase_gradient import GradientStart, gradient_phase

    lm = synthetic_logmag(n_fft, hop, frames)
    spec = phase_start(lm, n_fft, hop)
    assert spec.shape == lm.shape and spec.dtype == np.float64
    if frames > 100:
        assert impulses(lm, hop)[0].sum() == 5  # the click's frames
    assert spec.min() >= 0 and spec.max() < 2 * np.pi
    assert wrapped(spec, gradient_phase(lm, n_fft, hop)).max() < 1e-9
    # also codec-rt's block by block (6.9): windows of 128 frames and 24 of context, each from the one before
    start, parts = GradientStart(), []
    for b in range(-(-frames // 128)):
        w0, w1 = max(0, 128 * b - 24), min(128 * (b + 1) + 24, frames)
        phi, _ = start.block(lm[:, w0:w1], n_fft, hop, w0, max(0, 128 * (b + 1) - 24))
        parts.append(phi[:, 128 * b - w0 : min(128 * (b + 1), frames) - w0])
    assert wrapped(spec, np.concatenate(parts, axis=1)).max() < 1e-9


def test_spec_phase_start_on_random_logmag_with_ties() -> None:
    """Quantised random log-magnitudes (plateaus, so the tie rules of `peak` and `p(k)` matter) and a frame
    of silence (no peak)."""
    from codec_rt.phase_gradient import gradient_phase

    rng = np.random.default_rng(1)
    lm = np.round(rng.normal(0, 2, (129, 200)))
    lm[:, 50] = -5.0
    assert wrapped(phase_start(lm, 256, 64), gradient_phase(lm, 256, 64)).max() < 1e-9


def _set_metadata(model_dir: Path, key: str, value: str) -> None:
    """Write a decoder metadata entry as is, without the runtime's check (export.decoding_defaults checks)."""
    import onnx

    path = model_dir / "decoder.onnx"
    m = onnx.load(str(path))
    props = {p.key: p.value for p in m.metadata_props} | {key: value}
    del m.metadata_props[:]
    for k, v in props.items():
        m.metadata_props.add(key=k, value=v)
    path.write_bytes(m.SerializeToString())
    from codec_rt.model import write_checksums

    write_checksums(model_dir)  # an edited graph is a new file: its sum, or loading calls it damaged


def test_spec_reader_reads_phase_start(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    from codec_rt.errors import ModelError
    from codec_rt.model import Model

    assert load_model(RD12K).phase_start in (0, 1)
    for value in ("1", "0", "2", "01", "", " 1", "true"):
        d = tmp_path / f"m{len(list(tmp_path.iterdir()))}"
        shutil.copytree(RD12K, d)
        _set_metadata(d, "codec_rt.phase_start", value)
        if value in ("0", "1"):
            assert load_model(d).phase_start == int(value)
            assert int(Model.load(d).phase_start) == int(value)
        else:
            with pytest.raises(AssertionError):
                load_model(d)
            with pytest.raises(ModelError):
                Model.load(d)


@pytest.fixture(scope="module")
def gradient_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """rd12k with `codec_rt.phase_start` 1 and `codec_rt.phase_iters` 0, set as export.decoding_defaults does."""
    pytest.importorskip("onnx")
    from export.decoding_defaults import set_defaults

    d = tmp_path_factory.mktemp("phase_start") / "rd12k"
    shutil.copytree(RD12K, d)
    set_defaults(d, {"phase_start": "1", "phase_iters": "0"})
    return d


def test_a_phase_start_model_decodes_as_codec_rt_does(gradient_model: Path) -> None:
    """Section 10: the phase-gradient start with I = 0, spec reader (whole channel) against codec-rt's block
    decoder (blocks of 128 frames, each going on from the block before), on the test speech (3.6 s: 4 blocks),
    whole and framed; and the start is not the graph's phase (another decode)."""
    from codec_rt import Codec

    codec, m = Codec.load(gradient_model), load_model(gradient_model)
    assert (m.phase_start, m.phase_iters) == (1, 0)
    assert int(codec.model.phase_start) == 1 and codec.model.phase_iters == 0
    n_fft, hop = m.cfg["n_fft"], m.cfg["hop"]
    x, sr = sf.read(DATA / "speech_fr_16k.flac", dtype="float32", always_2d=True)
    clip = np.ascontiguousarray(x.T)
    for framed in (False, True):
        data = codec.encode(clip, sr, framed=framed)
        ref, _ = codec.decode(data)
        y = decode_audio(data, m)
        assert y.shape == ref.shape
        p_ref, p = power(ref[0], n_fft, hop), power(y[0], n_fft, hop)
        dist = lsd(p_ref, p)
        snr = 10 * np.log10(np.sum(ref.astype(np.float64) ** 2) / np.sum((ref - y) ** 2))
        print(f"framed={framed}: LSD {dist:.2e} dB, SNR {snr:.1f} dB, max |diff| / max|ref| "
              f"{np.abs(ref - y).max() / np.abs(ref).max():.2e}")
        assert dist < 0.5
        # the graph's phase, as a reader that predates the key would decode: other audio
        other = decode_audio(data, m, start=0)
        assert lsd(p_ref, power(other[0], n_fft, hop)) > 10 * dist


def test_a_pair_coded_channel_by_channel_shares_the_start_as_the_spec_says(gradient_model: Path) -> None:
    """6.5, channels coded one by one: frames where the channels carry one sound at different levels start
    both from their joint log-magnitude's phase, the others from their own. A panned talker (the right 0.5
    of the left with noise of its own 60 dB down) and two different talkers, with I = 0, spec reader against
    codec-rt; the panned pair comes out correlated as it went in, where their own starts decorrelate it."""
    from codec_rt import Codec
    from codec_rt.phase_gradient import joint_start

    codec, m = Codec.load(gradient_model), load_model(gradient_model)
    x, sr = sf.read(DATA / "speech_fr_16k.flac", dtype="float32")
    rng = np.random.default_rng(0)
    half = x.shape[0] // 2
    pairs = {"panned": np.stack([x, 0.5 * x + 10 ** (-60 / 20) * np.std(0.5 * x) * rng.standard_normal(x.shape[0])]),
             "talkers": np.stack([x[:half], x[half : 2 * half]])}
    for name, pair in pairs.items():
        data = codec.encode(pair.astype(np.float32), sr, framed=True, joint_stereo=False)
        ref, _ = codec.decode(data)
        y = decode_audio(data, m)
        assert y.shape == ref.shape
        np.testing.assert_allclose(y, ref, rtol=0, atol=1e-4 * float(np.abs(ref).max()), err_msg=name)
        if name == "panned":
            assert np.corrcoef(ref)[0, 1] > 0.99
    # a frame is shared by the spread of its channels' log-magnitudes (each before its level gain)
    lm = np.log(np.abs(rng.standard_normal((2, 257, 3))) + 1e-3)
    lm[1, :, 0] = lm[0, :, 0] - 0.3
    assert joint_start(lm)[1].tolist() == [True, False, False]


def partial_cents(y: np.ndarray, rate: int, f: float) -> float:
    """The frequency of the peak within 20 Hz of `f` in the steady middle second of `y`, cents from `f`: its
    Hann-windowed spectrum zero-padded 16 times, refined by the parabola through the peak's log-magnitude."""
    mid = y[len(y) // 2 - rate // 2 : len(y) // 2 + rate // 2].astype(np.float64)
    size = 16 * len(mid)
    mag = np.log(np.abs(np.fft.rfft(mid * np.hanning(len(mid)), size)) + 1e-12)
    lo, hi = int((f - 20) * size / rate), int((f + 20) * size / rate)
    k = lo + int(np.argmax(mag[lo:hi]))
    shift = 0.5 * (mag[k - 1] - mag[k + 1]) / (mag[k - 1] - 2 * mag[k] + mag[k + 1])
    return float(1200 * np.log2((k + shift) * rate / size / f))


def test_the_band_harmonics_of_mode_2_decode_as_the_spec_says() -> None:
    """6.5, "non-causal, mode 2: the band's harmonics": the 24 kbps point (the 12 kbps model in mode
    low_band_phase, I = 0) on the test speech (3.6 s: 4 blocks, the band's pitch carried across them) and on
    a harmonic-rich 200 Hz tone, whole and framed, a pair channel by channel too: spec reader (whole channel)
    against codec-rt's block decoder, sample by sample; without the rule (a reader that predates it) the
    tone's partials above the band come back elsewhere."""
    from codec_rt import Codec
    from codec_rt.ladder import MODELS_DIR

    point = Path(MODELS_DIR) / "rd12k"  # the package's (the wheel's, in the clean-install job)
    codec, m = Codec.load(point), load_model(point)
    x, sr = sf.read(DATA / "speech_fr_16k.flac", dtype="float32")
    t = np.arange(2 * sr) / sr
    saw = sum(0.3 / k * np.sin(2 * np.pi * 200 * k * t) for k in range(1, 30))
    clips = {"speech": x[None], "harmonic-rich": saw[None], "pair": np.stack([x, 0.5 * x])}
    for name, clip in clips.items():
        for framed in (False, True):
            data = codec.encode(clip.astype(np.float32), sr, mode="low_band_phase", framed=framed,
                                joint_stereo=False)
            ref, _ = codec.decode(data)
            y = decode_audio(data, m)
            np.testing.assert_allclose(y, ref, rtol=0, atol=1e-4 * float(np.abs(ref).max()), err_msg=name)
            if name == "harmonic-rich":  # its 800 Hz partial, above the band's 700 Hz, in cents
                cents = [partial_cents(out[0], sr, 800.0) for out in (y, decode_audio(data, m, harmonics=False))]
                assert abs(cents[0]) < 1 < 3 < abs(cents[1]), cents
