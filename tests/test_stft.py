import numpy as np
import pytest

from codec_rt import stft


@pytest.mark.parametrize("n", [0, 1, 100, 511, 512, 513, 16000, 16001])
def test_istft_of_stft_restores_signal_and_length(n: int) -> None:
    x = np.random.default_rng(n).uniform(-1, 1, (2, n)).astype(np.float32)
    spec = stft.stft(x, 512, 128)
    assert spec.shape == (2, 257, stft.n_frames(n, 128))
    y = stft.istft(spec, 512, 128, n)
    assert y.shape == x.shape and y.dtype == np.float32
    np.testing.assert_allclose(y, x, atol=1e-5)


def test_features_round_trip(speech: tuple[np.ndarray, int]) -> None:
    x, _ = speech
    spec = stft.stft(x, 512, 128)
    feats = stft.to_features(spec)
    assert feats.shape == (1, 2, 257, spec.shape[-1])
    y = stft.istft(stft.from_features(feats), 512, 128, x.shape[1])
    np.testing.assert_allclose(y, x, atol=1e-4)  # the 1e-5 magnitude floor is the only loss


def test_torch_twin_matches_numpy(speech: tuple[np.ndarray, int]) -> None:
    torch = pytest.importorskip("torch")
    from training import stft_torch

    x, _ = speech
    spec = stft.stft(x, 512, 128)
    spec_t = stft_torch.stft(torch.from_numpy(x), 512, 128).numpy()
    np.testing.assert_allclose(spec_t, spec, atol=1e-3 * np.abs(spec).max())
    feats_t = stft_torch.to_features(torch.from_numpy(spec)).numpy()
    np.testing.assert_allclose(feats_t, stft.to_features(spec), atol=1e-5)
    y_t = stft_torch.istft(torch.from_numpy(spec), 512, 128, x.shape[1]).numpy()
    np.testing.assert_allclose(y_t, stft.istft(spec, 512, 128, x.shape[1]), atol=1e-5)
