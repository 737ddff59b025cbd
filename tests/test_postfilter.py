from pathlib import Path

import numpy as np
import pytest

from codec_rt import postfilter
from codec_rt.postfilter import DEFAULT_CONTRAST


def test_contrast_deepens_peaks_and_keeps_frame_energy() -> None:
    rng = np.random.default_rng(0)
    lm = rng.normal(-4, 2, (2, 257, 30)).astype(np.float32)
    out = postfilter.enhance(lm, 1.15)
    energy = lambda x: np.sum(np.exp(2 * x.astype(np.float64)), axis=-2)  # noqa: E731
    np.testing.assert_allclose(energy(out), energy(lm), rtol=1e-4)
    spread = lambda x: x.std(axis=-2)  # noqa: E731
    np.testing.assert_allclose(spread(out), 1.15 * spread(lm), rtol=1e-4)


def test_contrast_one_is_identity() -> None:
    lm = np.zeros((1, 4, 3), np.float32)
    assert postfilter.enhance(lm, 1.0) is lm


def test_a_model_carries_its_own_default_contrast(speech: tuple[np.ndarray, int]) -> None:
    """The 3 kbps point's decoder says contrast 1.0 in its metadata (it scores higher STOI so); decoding
    without a contrast uses it, other models keep the runtime's default."""
    from codec_rt import Codec

    c3 = Codec.load(bitrate=3)
    assert c3.model.contrast == 1.0 and Codec.load().model.contrast == DEFAULT_CONTRAST
    x, sr = speech
    data = c3.encode(x[:, :sr], sr)
    y, _ = c3.decode(data, phase_iters=2)
    np.testing.assert_array_equal(y, c3.decode(data, phase_iters=2, contrast=1.0)[0])
    assert not np.allclose(y, c3.decode(data, phase_iters=2, contrast=DEFAULT_CONTRAST)[0])


def test_a_bad_contrast_in_the_metadata_is_a_model_error(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from codec_rt import ModelError
    from codec_rt.model import Model

    src = Path(__file__).parent / "data" / "golden_model_range"
    for name in ("encoder.onnx", "decoder.onnx"):
        m = onnx.load(str(src / name))
        if name == "decoder.onnx":
            m.metadata_props.add(key="codec_rt.contrast", value="7")
        onnx.save(m, str(tmp_path / name))
    with pytest.raises(ModelError, match="contrast"):
        Model.load(tmp_path)


def _swinging(frames: int = 40) -> np.ndarray:
    """`[1, 3, frames]` log-magnitude: bin 0 a steady tone's swing (+-1.6 dB, period 5, as the low-latency
    model gave a 100 Hz tone), bin 1 a sound that rises 3 dB every 5 frames, bin 2 silence then an onset."""
    t = np.arange(frames)
    swing = 3.0 + np.log(10) / 20 * np.array([-0.9, -0.7, 2.3, -0.2, -0.7])[t % 5]
    rise = 1.0 + np.log(10) / 20 * 3.0 * (t // 5)
    onset = np.where(t < 20, -8.0, 2.0)
    return np.stack([swing, rise, onset])[None].astype(np.float32)


def test_steady_bins_lose_their_swing_and_moving_bins_are_left() -> None:
    lm = _swinging()
    out, _ = postfilter.steady(lm, None)
    np.testing.assert_array_equal(out[..., :9], lm[..., :9])  # fewer than 2 L frames seen: as they were
    mean = 0.5 * np.log(np.mean(np.exp(2 * lm[0, 0, :5].astype(np.float64))))
    np.testing.assert_allclose(out[0, 0, 9:], mean, atol=1e-6)  # the swing is gone, its power kept
    np.testing.assert_array_equal(out[0, 1], lm[0, 1])  # 3 dB a span is not steady
    np.testing.assert_array_equal(out[0, 2, 18:26], lm[0, 2, 18:26])  # the onset and the frames after it


def test_steady_bins_are_the_same_however_the_frames_arrive() -> None:
    """A stream decodes as a whole file does: the history carries the frames before each block."""
    lm = _swinging(41)
    whole, _ = postfilter.steady(lm, None)
    parts, history = [], None
    for a, b in ((0, 3), (3, 12), (12, 13), (13, 41)):
        part, history = postfilter.steady(lm[..., a:b], history)
        parts.append(part)
    np.testing.assert_array_equal(np.concatenate(parts, axis=-1), whole)
