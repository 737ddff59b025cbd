"""The learned phase: the parallel-estimation head, the anti-wrapping losses, a checkpoint that trains and
exports with it, and a decoder that declares its own default phase iterations (0: the graph's phase as is)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from codec_rt.config import ModelConfig  # noqa: E402
from models import SpecAutoencoder  # noqa: E402
from training.losses import anti_wrap, anti_wrapping_losses  # noqa: E402

DATA = Path(__file__).parent / "data"


def test_anti_wrap_is_the_distance_to_the_nearest_turn() -> None:
    x = torch.tensor([0.0, 2 * np.pi, -2 * np.pi + 0.1, np.pi - 0.01, 5.0])
    assert torch.allclose(anti_wrap(x), torch.tensor([0.0, 0.0, 0.1, np.pi - 0.01, 2 * np.pi - 5.0]), atol=1e-5)


def test_losses_ignore_whole_turns_and_see_shifts() -> None:
    g = torch.Generator().manual_seed(0)
    target = torch.rand(2, 9, 11, generator=g) * 2 * np.pi - np.pi
    mask = torch.ones_like(target)
    turns = 2 * np.pi * torch.randint(-3, 4, target.shape, generator=g)
    for v in anti_wrapping_losses(target + turns, target, mask).values():
        assert float(v) < 1e-5
    # A constant offset is an instantaneous-phase error only: group delay and frequency are unchanged.
    shifted = anti_wrapping_losses(target + 0.3, target, mask)
    assert abs(float(shifted["ip"]) - 0.3) < 1e-5 and float(shifted["gd"]) < 1e-5 and float(shifted["iaf"]) < 1e-5


def test_losses_skip_bins_without_signal() -> None:
    target = torch.zeros(1, 4, 4)
    pred = torch.zeros(1, 4, 4)
    pred[0, 3, 3] = 2.0  # wrong only where the mask says there is nothing
    mask = torch.ones_like(target)
    mask[0, 3, 3] = 0
    assert all(float(v) == 0 for v in anti_wrapping_losses(pred, target, mask).values())


def test_the_phase_head_outputs_an_angle_and_keeps_the_shapes() -> None:
    cfg = ModelConfig(channels=3, hidden=8)
    model = SpecAutoencoder(cfg, phase_head=1)
    x = torch.randn(2, 2, cfg.n_bins, 13)
    y, _ = model(x)
    assert y.shape == x.shape
    assert float(y[:, 1].abs().max()) <= np.pi + 1e-6


def test_a_phase_head_trains_exports_and_decodes_without_iterations(tmp_path: Path) -> None:
    """Fine-tuned from a regressed-phase checkpoint, the magnitude output is kept; the export declares 0
    phase iterations, which the runtime then uses by default."""
    env = {**os.environ, "MAX_AUDIO_SECONDS": "1", "MODEL_HIDDEN": "8", "MODEL_CHANNELS": "4", "BATCH_SIZE": "2",
           "THREADS": "1"}

    def train(out: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "training.train", str(DATA), "--epochs", "1", *args],
                              capture_output=True, text=True, env={**env, "RESULTS_DIR": str(out), **extra},
                              check=False)

    r = train(tmp_path / "plain")
    assert r.returncode == 0, r.stderr
    plain = tmp_path / "plain" / "model_last.pth"
    r = train(tmp_path / "head", "--init-from", str(plain), PHASE_HEAD="1", PHASE_LOSS="antiwrap",
              LEARNING_RATE="0")
    assert r.returncode == 0, r.stderr
    assert all(f" {t} " in r.stdout for t in ("ip", "gd", "iaf"))
    head_ck = torch.load(tmp_path / "head" / "model_last.pth", weights_only=False)
    plain_ck = torch.load(plain, weights_only=False)
    assert head_ck["arch"] == {"phase_head": 1}
    w_head, w_plain = head_ck["model"]["decoder.up.4.weight"], plain_ck["model"]["decoder.up.4.weight"]
    assert w_head.shape[1] == 3 and torch.equal(w_head[:, :1], w_plain[:, :1])  # lr 0: the copy itself
    r = train(tmp_path / "head", "--resume", PHASE_HEAD="0")
    assert r.returncode != 0 and "phase_head" in r.stderr

    pytest.importorskip("onnxscript")
    from codec_rt import Codec
    from export.export import export, load_checkpoint

    model = load_checkpoint(tmp_path / "head" / "model_last.pth")
    assert model.phase_head == 1
    export(model, tmp_path / "onnx", phase_iters=0)
    codec = Codec.load(tmp_path / "onnx")
    assert codec.model.phase_iters == 0
    x = np.sin(2 * np.pi * 440 * np.arange(16000) / 16000).astype(np.float32)[None] * 0.3
    blob = codec.encode(x, 16000)
    default, _ = codec.decode(blob)
    none, _ = codec.decode(blob, phase_iters=0)
    refined, _ = codec.decode(blob, phase_iters=4)
    assert np.array_equal(default, none) and not np.allclose(default, refined)


@pytest.mark.parametrize("value", ["-1", "ten", "10001", " 3"])
def test_a_bad_phase_iters_in_the_metadata_is_a_model_error(
        model_with_decoder_metadata: Callable[[str, str], Path], value: str) -> None:
    from codec_rt import ModelError
    from codec_rt.model import Model

    with pytest.raises(ModelError, match="phase_iters"):
        Model.load(model_with_decoder_metadata("codec_rt.phase_iters", value))


def test_the_unrolled_griffin_lim_of_the_loss_is_the_runtimes() -> None:
    """WAVE_PHASE=gl trains the magnitude through the same iterations the runtime decodes with, and passes
    gradients back to the magnitude."""
    import soundfile as sf

    from codec_rt import phase, stft
    from training.losses import unrolled_griffin_lim

    x, _ = sf.read(DATA / "speech_fr_16k.flac", dtype="float32")
    x = x[:8000]
    mag = np.abs(stft.stft(x[None], 512, 128)).astype(np.float32)
    start = np.random.default_rng(0).uniform(-np.pi, np.pi, mag.shape).astype(np.float32)
    want = phase.refine(mag, start, 512, 128, x.size, 6)
    m = torch.from_numpy(mag).requires_grad_()
    got = unrolled_griffin_lim(m, torch.from_numpy(start), 512, 128, x.size, 6)
    assert float((got.detach() - torch.from_numpy(want)).abs().max()) < 1e-4 * float(np.abs(want).max()) * 10
    got.abs().mean().backward()
    assert m.grad is not None and bool(torch.isfinite(m.grad).all()) and float(m.grad.abs().max()) > 0


def test_training_through_griffin_lim_runs(tmp_path: Path) -> None:
    env = {**os.environ, "MAX_AUDIO_SECONDS": "1", "MODEL_HIDDEN": "8", "MODEL_CHANNELS": "4", "BATCH_SIZE": "2",
           "THREADS": "1", "RESULTS_DIR": str(tmp_path), "WAVE_PHASE": "gl"}
    r = subprocess.run([sys.executable, "-m", "training.train", str(DATA), "--epochs", "1"], capture_output=True,
                       text=True, env=env, check=False)
    assert r.returncode == 0, r.stderr
    assert "epoch 1/1" in r.stdout and " wave " in r.stdout
