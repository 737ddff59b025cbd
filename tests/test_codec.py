"""The Python API on the shipped default model and real audio."""

from pathlib import Path

import numpy as np
import pytest
import soxr

from codec_rt import AudioError, Codec, CodecError, ModelMismatchError, ProviderError, blob, metrics
from codec_rt.config import Stereo


def test_speech_round_trip_keeps_shape_rate_and_quality(codec: Codec, speech: tuple[np.ndarray, int]) -> None:
    x, sr = speech
    data = codec.encode(x, sr)
    y, sr2 = codec.decode(data)
    assert sr2 == sr and y.shape == x.shape and y.dtype == np.float32
    # 32 kbps over the coded signal: the audio and the lead-in and lead-out around it (FORMAT.md 7.1)
    coded = blob.read_header(data)[0].coded_length(sr)
    assert 8 * len(data) / (coded / sr) / 1000 <= 32.0
    # Far from transparent, but clearly intelligible speech: a broken model or pipeline scores ~0.5 STOI
    # and ~1.05 PESQ (the shipped model: 0.93 and 1.9 on this clip).
    pytest.importorskip("pystoi", reason="STOI needs the metrics extra (pystoi)")
    assert metrics.stoi(x, y, sr) > 0.85
    pesq = metrics.pesq_wb(x, y, sr)
    assert pesq is None or pesq > 1.7


def test_store_phase_is_near_lossless(codec: Codec, speech: tuple[np.ndarray, int]) -> None:
    x, sr = speech
    y_pred, _ = codec.decode(codec.encode(x, sr))
    data = codec.encode(x, sr, mode="store_phase")
    y, _ = codec.decode(data)
    assert y.shape == x.shape
    assert metrics.lsd(x, y) < metrics.lsd(x, y_pred)
    assert metrics.si_sdr(x, y) > 10.0  # the stored phase follows the original waveform
    pytest.importorskip("pystoi", reason="STOI needs the metrics extra (pystoi)")
    assert metrics.stoi(x, y, sr) > metrics.stoi(x, y_pred, sr)


def test_stereo_music_at_44k(codec: Codec, music: tuple[np.ndarray, int]) -> None:
    x, sr = music
    data = codec.encode(x, sr)
    y, sr2 = codec.decode(data)
    # Both mid and side carry this music: by default its channels are coded on their own (mid/side would mix them).
    assert (sr2, y.shape) == (44100, x.shape) and blob.read_header(data)[0].stereo == Stereo.INDEPENDENT
    # Coded as independent channels, swapping them swaps the output.
    y, _ = codec.decode(codec.encode(x, sr, joint_stereo=False))
    y_swapped, _ = codec.decode(codec.encode(x[::-1].copy(), sr, joint_stereo=False))
    np.testing.assert_allclose(y_swapped, y[::-1], atol=1e-5)


def test_48k_mono_and_odd_lengths(codec: Codec, speech: tuple[np.ndarray, int]) -> None:
    x16, _ = speech
    x48 = soxr.resample(x16[0], 16000, 48000).astype(np.float32)[None, :48001]
    for n in (48001, 1000, 1, 0):
        y, sr = codec.decode(codec.encode(x48[:, :n], 48000))
        assert sr == 48000 and y.shape == (1, n)


@pytest.mark.parametrize("bits", [4, 8, 12])
def test_more_bits_cost_more_bytes(codec: Codec, speech: tuple[np.ndarray, int], bits: int) -> None:
    x, sr = speech
    sizes = {b: len(codec.encode(x, sr, bits=b)) for b in (bits - 1, bits)}
    assert sizes[bits] > sizes[bits - 1]


def test_fewer_than_3_bits_are_refused_and_still_decode(codec: Codec, speech: tuple[np.ndarray, int],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """With 1 or 2 bits no code lies near zero: the fixed-width model decoded speech at full scale (99 % of
    its samples soft-clipped at 1 bit). Encoders refuse them; a blob that has them still decodes."""
    from codec_rt import latent

    x, sr = speech
    for bits in (1, 2):
        with pytest.raises(CodecError, match="at least 3"):
            codec.encode(x, sr, bits=bits)
    monkeypatch.setattr(latent, "MIN_ENCODE_BITS", 1)  # as an earlier release wrote them
    old = codec.encode(x[:, :sr], sr, bits=2)
    monkeypatch.undo()
    y, _ = codec.decode(old)
    assert y.shape == (1, sr) and np.isfinite(y).all()


def test_encoding_is_deterministic(codec: Codec, speech: tuple[np.ndarray, int]) -> None:
    x, sr = speech
    assert codec.encode(x, sr) == codec.encode(x.copy(), sr)


@pytest.mark.parametrize(
    "audio,rate",
    [
        (np.zeros(100, np.float32), 16000),  # not [C, N]
        (np.zeros((1, 100), np.int16), 16000),  # not float
        (np.full((1, 100), np.nan, np.float32), 16000),
        (np.zeros((1, 100), np.float32), 0),
        (np.zeros((65, 100), np.float32), 16000),
    ],
)
def test_bad_audio_is_an_audio_error(codec: Codec, audio: np.ndarray, rate: int) -> None:
    with pytest.raises(AudioError):
        codec.encode(audio, rate)


def test_bad_options_are_codec_errors(codec: Codec, speech: tuple[np.ndarray, int]) -> None:
    x, sr = speech
    with pytest.raises(CodecError):
        codec.encode(x, sr, bits=17)
    with pytest.raises(CodecError):
        codec.encode(x, sr, mode="lossless")
    # rate-aware rounding weighs entropy tables, which a fixed-width model has not
    with pytest.raises(CodecError, match="rate_lambda is for a range-coded model"):
        codec.encode(x, sr, rate_lambda=0.3)
    # a number in 0..1000: above, float64 costs overflow and every value would go down (more bytes, not fewer)
    for lam in (-0.1, float("nan"), float("inf"), 1e308, "0.3", True, [0.3], 1j, np.array([0.3, 0.4])):
        for framed in (False, True):
            with pytest.raises(CodecError, match="rate_lambda must be"):
                Codec.load(bitrate=12).encode(x, sr, rate_lambda=lam, framed=framed)


def test_cuda_where_unavailable_is_an_error_not_a_fallback() -> None:
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("CUDA is available here")
    with pytest.raises(ProviderError, match="cuda"):
        Codec.load(provider="cuda")


def test_blob_from_another_model_names_both_ids(codec: Codec, speech: tuple[np.ndarray, int], tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    other_id = "00000000deadbeef"
    for role in ("encoder", "decoder"):
        m = onnx.load(str(codec.model.path / f"{role}.onnx"))
        for p in m.metadata_props:
            if p.key == "codec_rt.model_id":
                p.value = other_id
        onnx.save(m, str(tmp_path / f"{role}.onnx"))
    other = Codec.load(tmp_path)
    x, sr = speech
    with pytest.raises(ModelMismatchError) as e:
        other.decode(codec.encode(x, sr))
    assert codec.model_id in str(e.value) and other_id in str(e.value)
