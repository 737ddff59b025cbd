"""ONNX against torch, and the shipped model against the committed checkpoint it was exported from."""

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxscript")

from codec_rt import Codec
from codec_rt.config import Coder, ModelConfig
from codec_rt.model import Model
from export.export import export, load_checkpoint, model_id, parity
from models import SpecAutoencoder

REPO = Path(__file__).resolve().parents[1]
CHECKPOINT = REPO / "checkpoints" / "default.pth"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[SpecAutoencoder, Path]:
    model = load_checkpoint(CHECKPOINT)
    out = tmp_path_factory.mktemp("model")
    export(model, out)
    return model, out


def test_onnx_matches_torch_on_real_speech(exported: tuple[SpecAutoencoder, Path], speech: tuple) -> None:
    model, out = exported
    x, _ = speech
    assert parity(model, out, x[0] * 10) <= 1e-4


@pytest.mark.parametrize("frames", [1, 2, 3, 4, 5, 31, 130])
def test_any_number_of_frames(exported: tuple[SpecAutoencoder, Path], frames: int) -> None:
    model, out = exported
    cfg = model.cfg
    feats = np.random.default_rng(frames).standard_normal((2, 2, cfg.n_bins, frames)).astype(np.float32)
    rt = Model.load(out)
    z = rt.encode(feats)
    assert z.shape == (2, cfg.channels, cfg.latent_bins, cfg.latent_steps(frames))
    y = rt.decode(z)
    assert y.shape == (2, 2, cfg.n_bins, cfg.latent_steps(frames) * cfg.time_stride)
    with torch.no_grad():
        y_t, _ = model(torch.from_numpy(feats))
    np.testing.assert_allclose(y[..., :frames], y_t.numpy(), atol=1e-4)


def test_metadata_describes_the_model(exported: tuple[SpecAutoencoder, Path]) -> None:
    model, out = exported
    rt = Model.load(out)
    assert rt.config == model.cfg
    meta = rt.encoder.get_modelmeta().custom_metadata_map
    assert int(meta["sample_rate"]) == model.cfg.sample_rate and int(meta["hop"]) == model.cfg.hop
    assert rt.model_id == model_id(model)


def test_every_ladder_point_is_its_committed_checkpoint() -> None:
    """checkpoints/<dir>.pth holds the weights and entropy model of each point."""
    from codec_rt import ladder

    for point in ladder.models():
        name = point.path.name
        tables = Codec.load(point.path).model.entropy  # a coder-2 model's tables come from export
        assert model_id(load_checkpoint(CHECKPOINT.parent / f"{name}.pth"), tables) == point.model_id, name


def test_different_weights_get_a_different_id() -> None:
    torch.manual_seed(0)
    a = SpecAutoencoder(ModelConfig())
    torch.manual_seed(1)
    b = SpecAutoencoder(ModelConfig())
    assert model_id(a) != model_id(b) and len(model_id(a)) == 16


def test_context_export_makes_a_coder_2_model_that_codes_fewer_bytes(tmp_path: Path, speech: tuple) -> None:
    """`codec-export --context-data` counts context tables from packed training audio: the model becomes
    coder 2, round-trips through Codec, its id covers the tables, and on audio like its training audio
    (another part of the same recording) it codes fewer bytes than the same weights with coder 1."""
    import soundfile as sf

    from codec_rt import blob
    from export.export import main as export_main

    torch.manual_seed(0)
    model = SpecAutoencoder(ModelConfig(channels=2, hidden=8, coder=1)).eval()
    ckpt = tmp_path / "m.pth"
    torch.save({"config": model.cfg.to_dict(), "model": model.state_dict(), "epoch": 0}, ckpt)
    x, sr = speech
    train, held_out = x[0, : 8 * sr], x[:, 8 * sr :]
    packed = tmp_path / "pack.flac"
    sf.write(packed, train, sr, subtype="PCM_16")
    np.save(f"{packed}.lengths.npy", np.array([2 * sr] * 4, np.int64))
    export_main([str(ckpt), "-o", str(tmp_path / "ctx"), "--context-data", str(packed), "--context-clips", "4"])
    export_main([str(ckpt), "-o", str(tmp_path / "plain")])
    ctx, plain = Codec.load(tmp_path / "ctx"), Codec.load(tmp_path / "plain")
    assert (ctx.config.coder, plain.config.coder) == (2, 1)
    assert ctx.model.entropy is not None and ctx.model.entropy.context == 1
    assert ctx.model_id == model_id(model, ctx.model.entropy) != plain.model_id == model_id(model)
    data = ctx.encode(held_out, sr)
    assert blob.read_header(data)[0].coder == Coder.CONTEXT
    y, _ = ctx.decode(data, phase_iters=0)
    y_plain, _ = plain.decode(plain.encode(held_out, sr), phase_iters=0)
    np.testing.assert_allclose(y, y_plain, atol=1e-5)  # the same symbols, other bytes
    assert len(data) < len(plain.encode(held_out, sr))
