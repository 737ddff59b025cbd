"""The torch autoencoder's geometry: any frame count, the extra downsample, the documented latent shape."""

import pytest

torch = pytest.importorskip("torch")

from codec_rt.config import ModelConfig  # noqa: E402
from models import SpecAutoencoder  # noqa: E402


@pytest.mark.parametrize("freq_down,time_down", [(3, 2), (4, 2), (3, 0), (4, 4)])
@pytest.mark.parametrize("frames", [1, 7, 64])
def test_shapes_for_any_frame_count(freq_down: int, time_down: int, frames: int) -> None:
    cfg = ModelConfig(channels=3, hidden=4, freq_downsamples=freq_down, time_downsamples=time_down)
    model = SpecAutoencoder(cfg)
    x = torch.randn(2, 2, cfg.n_bins, frames)
    y, z = model(x)
    assert y.shape == x.shape
    assert z.shape == (2, 3, cfg.latent_bins, cfg.latent_steps(frames))


def test_extra_downsample_halves_the_latent() -> None:
    assert ModelConfig(freq_downsamples=4).latent_bins == 17 and ModelConfig().latent_bins == 33
