import numpy as np

from codec_rt import postfilter


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
