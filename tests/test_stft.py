import numpy as np
import pytest

from codec_rt import ModelError, stft
from codec_rt.config import ModelConfig


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


def _steady_tone() -> np.ndarray:
    """3 kHz at 16 kHz: 12 whole cycles a 64-sample hop, so every frame past the edges is the same frame."""
    return (0.5 * np.sin(2 * np.pi * 3000 * np.arange(16000) / 16000))[None].astype(np.float32)


def test_a_floored_bin_reads_as_phase_zero_so_a_steady_tone_gives_steady_features() -> None:
    spec = stft.stft(_steady_tone(), 256, 64)
    floored = np.abs(spec) < np.float32(stft.MAG_FLOOR)
    assert floored[:, :, 10:-10].mean() > 0.5  # most bins of a pure tone are float rounding
    plain, zeroed = stft.to_features(spec), stft.to_features(spec, phase_floor=True)
    np.testing.assert_array_equal(zeroed[:, 0], plain[:, 0])  # the log-magnitude is untouched
    np.testing.assert_array_equal(zeroed[:, 1][~floored], plain[:, 1][~floored])
    assert not zeroed[:, 1][floored].any()
    inner = slice(10, -10)  # frames whose window lies wholly inside the tone
    assert np.ptp(plain[..., inner], axis=-1).max() > 1.0  # rounding's angles wander frame to frame
    assert np.ptp(zeroed[..., inner], axis=-1).max() < 1e-3  # the encoder's input is as steady as the tone


def test_torch_twin_zeroes_the_same_floored_phases() -> None:
    torch = pytest.importorskip("torch")
    from training import stft_torch

    spec = stft.stft(_steady_tone(), 256, 64)
    for phase_floor in (False, True):
        feats_t = stft_torch.to_features(torch.from_numpy(spec), phase_floor).numpy()
        np.testing.assert_allclose(feats_t, stft.to_features(spec, phase_floor), atol=1e-5)


def test_encoder_features_follow_the_models_phase_floor() -> None:
    x = _steady_tone()
    spec = stft.stft(x, 256, 64)
    for phase_floor in (0, 1):
        cfg = ModelConfig(n_fft=256, hop=64, phase_floor=phase_floor)
        np.testing.assert_array_equal(stft.encoder_features(x, cfg), stft.to_features(spec, bool(phase_floor)))


def test_phase_floor_is_checked_and_left_out_when_zero() -> None:
    assert "phase_floor" not in ModelConfig().to_dict()  # older configs (and model ids) read as before
    pf = ModelConfig(phase_floor=1)
    assert ModelConfig.from_dict(pf.to_dict()) == pf and pf.to_dict()["phase_floor"] == 1
    with pytest.raises(ModelError, match="phase_floor"):
        ModelConfig(phase_floor=2).validate()
