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
