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
from training.losses import advance_loss, anti_wrap, anti_wrapping_losses  # noqa: E402

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


def test_the_advance_loss_is_zero_for_a_steady_tone_s_own_advance() -> None:
    """A tone between bins advances by 2 pi f hop / rate a frame in every bin near it: predicting that advance
    less the bin centre's scores 0, a bin-centred guess does not, and weak bins weigh little."""
    n_fft, hop, rate, f = 256, 64, 16000, 300.0
    k = torch.arange(n_fft // 2 + 1, dtype=torch.float32)[:, None]
    t = torch.arange(12, dtype=torch.float32)[None]
    phase = torch.remainder(2 * np.pi * f * hop / rate * t + k, 2 * np.pi)[None] - np.pi  # any start per bin
    logmag = torch.full_like(phase, -20.0)
    logmag[:, 3:7] = 0.0  # the tone's bins
    own = (2 * np.pi * f * hop / rate - 2 * np.pi * k * hop / n_fft).expand(-1, 12)[None]
    assert float(advance_loss(own + 2 * np.pi, phase, logmag, hop, n_fft)) < 1e-4
    assert float(advance_loss(torch.zeros_like(own), phase, logmag, hop, n_fft)) > 0.1


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


# ------------------------------------------------------------------ phase head 2: a phase network on the magnitude

def _head2_config(**kw: int) -> ModelConfig:
    from models.autoencoder import PhaseNet

    return ModelConfig(channels=3, hidden=8, phase_context=PhaseNet.context_frames(), **kw)


def test_phase_context_is_checked_and_left_out_when_zero() -> None:
    from codec_rt import ModelError

    assert "phase_context" not in ModelConfig().to_dict()
    assert ModelConfig.from_dict(_head2_config().to_dict()) == _head2_config()
    with pytest.raises(ModelError, match="phase_context"):
        ModelConfig(time_downsamples=0, causal=1, phase_context=3).validate()
    with pytest.raises(ModelError, match="phase_context"):  # time stride 2 x hop 128 is not a multiple of 512
        ModelConfig(time_downsamples=1, phase_context=3).validate()
    with pytest.raises(ValueError, match="phase_context"):
        SpecAutoencoder(ModelConfig(), phase_head=2)
    # The lookahead grows by the phase network's context (frames).
    assert _head2_config().lookahead_frames == ModelConfig().lookahead_frames + _head2_config().phase_context


def test_phase_advance_is_checked_and_left_out_when_zero() -> None:
    from codec_rt import ModelError

    assert "phase_advance" not in ModelConfig().to_dict()  # older configs (and model ids) read as before
    adv = ModelConfig(time_downsamples=0, causal=1, phase_advance=1)
    assert ModelConfig.from_dict(adv.to_dict()) == adv and adv.to_dict()["phase_advance"] == 1
    with pytest.raises(ModelError, match="phase_advance"):
        ModelConfig(phase_advance=1).validate()  # not causal
    with pytest.raises(ModelError, match="phase_advance"):
        ModelConfig(time_downsamples=0, causal=1, phase_advance=2).validate()


def test_training_on_the_advance_declares_it_in_the_checkpoint(tmp_path: Path) -> None:
    env = {**os.environ, "MAX_AUDIO_SECONDS": "1", "MODEL_HIDDEN": "8", "MODEL_CHANNELS": "3", "BATCH_SIZE": "2",
           "THREADS": "1", "N_FFT": "256", "HOP": "64", "CAUSAL": "1", "TIME_DOWNSAMPLES": "0",
           "FREQ_DOWNSAMPLES": "4", "PHASE_HEAD": "1", "PHASE_LOSS": "advance", "RESULTS_DIR": str(tmp_path)}
    r = subprocess.run([sys.executable, "-m", "training.train", str(DATA), "--epochs", "1"], capture_output=True,
                       text=True, env=env, check=False)
    assert r.returncode == 0, r.stderr
    assert torch.load(tmp_path / "model_last.pth", weights_only=False)["config"]["phase_advance"] == 1


def test_a_causal_advance_model_exports_and_streams_as_it_decodes(tmp_path: Path) -> None:
    """A causal model whose phase output is the advance (PHASE_LOSS=advance): exported, its blobs decode with
    the advance integrated (not as a frame's phase), and a stream pushed in small pieces, its blocks
    carrying the last frame across, gives the samples of the whole file."""
    pytest.importorskip("onnxscript")
    from codec_rt import Codec, StreamDecoder
    from export.export import export

    cfg = ModelConfig(n_fft=256, hop=64, channels=3, hidden=8, freq_downsamples=4, time_downsamples=0, causal=1,
                      phase_advance=1)
    torch.manual_seed(0)
    model = SpecAutoencoder(cfg, phase_head=1).eval()
    export(model, tmp_path / "adv", phase_iters=1)
    codec = Codec.load(tmp_path / "adv")
    assert codec.model.config.phase_advance == 1
    x = np.sin(2 * np.pi * 300 * np.arange(2 * 16000) / 16000).astype(np.float32)[None] * 0.3
    blob = codec.encode(x, 16000, framed=True)
    whole, _ = codec.decode(blob)
    dec = StreamDecoder(codec.model)
    parts = [dec.push(blob[i : i + 97]) for i in range(0, len(blob), 97)] + [dec.flush()]
    assert np.array_equal(np.concatenate([p for p in parts if p.size], axis=1), whole)
    # Without iterations the audio is 6.5's recursion, as the spec reader (written from FORMAT.md) has it; the
    # same graph read as a frame's phase would give other samples.
    from spec_reader.audio import decode_audio
    from spec_reader.model import load_model

    spec_model = load_model(tmp_path / "adv")
    ref, _ = codec.decode(blob, phase_iters=0)
    np.testing.assert_allclose(decode_audio(blob, spec_model, iters=0), ref, atol=1e-4 * float(np.abs(ref).max()))
    spec_model.cfg["phase_advance"] = 0
    assert not np.allclose(decode_audio(blob, spec_model, iters=0), ref, atol=1e-2 * float(np.abs(ref).max()))


def test_phase_network_windows_with_the_configured_context_are_exact() -> None:
    """The decoder's output frames [160, 200) from the latent steps `decoder_steps` names equal the whole
    graph's (to float rounding: torch's convolutions sum in an order that depends on the length), while the
    steps the magnitude alone needs give another phase: the network's context is what widened them. Its clock
    runs on the graph's own frame index, which starts on a multiple of n_fft / hop whatever the window."""
    from dataclasses import replace

    cfg = _head2_config()
    torch.manual_seed(0)
    model = SpecAutoencoder(cfg, phase_head=2, phase_hidden=16).eval()
    z = torch.randn(1, cfg.channels, cfg.latent_bins, 70)
    s = cfg.time_stride

    def window(c: ModelConfig) -> torch.Tensor:
        a, b = c.decoder_steps(160, 200)
        return model.decoder(z[..., a:b])[..., 160 - s * a : 200 - s * a]

    with torch.no_grad():
        y = model.decoder(z)[..., 160:200]
        assert torch.allclose(window(cfg), y, atol=1e-5)
        narrow = window(replace(cfg, phase_context=0))
    assert torch.allclose(narrow[:, 0], y[:, 0], atol=1e-5)
    assert not torch.allclose(narrow[:, 1], y[:, 1], atol=1e-4)


def test_a_steady_tone_needs_no_learning_to_advance_its_phase() -> None:
    """With its outputs at a constant angle, the network's phase advances by 2 pi k hop / n_fft per frame at
    bin k, as a tone at the bin's centre does."""
    from models.autoencoder import PhaseNet

    net = PhaseNet(257, 8, 4)
    for layer in (net.real, net.imag):
        torch.nn.init.zeros_(layer.weight)
    torch.nn.init.constant_(net.real.bias, 1.0)
    torch.nn.init.zeros_(net.imag.bias)
    with torch.no_grad():
        ph = net(torch.zeros(1, 257, 12))[0]
    want = 2 * np.pi * torch.arange(257.0)[:, None] * 128 / 512
    d = torch.remainder(torch.diff(ph, dim=-1) - want, 2 * np.pi)
    assert float(torch.minimum(d, 2 * np.pi - d).max()) < 1e-4


def test_a_phase_network_trains_merges_exports_and_decodes(tmp_path: Path) -> None:
    """`training.phase_train`: train on a cache (here a tiny one made of a real clip), merge into a codec
    checkpoint, export with 0 phase iterations, and code a file; it decodes to the same
    samples (to float rounding) whatever the decoder's block size, and the phase is no longer the codec's
    own regressed one."""
    pytest.importorskip("onnxscript")
    import soundfile as sf

    from codec_rt import Codec, StreamDecoder
    from codec_rt.level import normalizing_gain
    from export.export import export, load_checkpoint
    from training import phase_train
    from training import stft_torch as st

    torch.manual_seed(0)
    codec_cfg = ModelConfig(channels=3, hidden=8, coder=1)
    codec = SpecAutoencoder(codec_cfg).eval()
    codec_ck = tmp_path / "codec.pth"
    torch.save({"config": codec_cfg.to_dict(), "model": codec.state_dict(), "epoch": 1, "step": 1}, codec_ck)
    x, sr = sf.read(DATA / "speech_fr_16k.flac", dtype="float32")
    x = x * normalizing_gain(x[None])[0]
    with torch.no_grad():
        feats = st.to_features(st.stft(torch.from_numpy(x)[None], 512, 128))
        dec = codec.decoder(torch.round(codec.encoder(feats)))[..., : feats.shape[-1]]
    cache = tmp_path / "cache.npz"
    np.savez(cache, dec=dec[0, 0].numpy().astype(np.float16), phase=feats[0, 1].numpy().astype(np.float16),
             mag=feats[0, 0].numpy().astype(np.float16), lengths=np.array([feats.shape[-1]]),
             checkpoint=str(codec_ck))
    pn = tmp_path / "pn.pth"
    phase_train.main(["train", str(cache), "-o", str(pn), "--minutes", "0.05", "--batch", "1", "--frames", "64",
                      "--hidden", "16", "--resynth", "1"])
    merged = tmp_path / "merged.pth"
    phase_train.main(["merge", str(pn), "-o", str(merged)])
    model = load_checkpoint(merged)
    assert model.phase_head == 2 and model.cfg.phase_context > 0
    export(model, tmp_path / "onnx", phase_iters=0)
    rt = Codec.load(tmp_path / "onnx")
    assert rt.model.phase_iters == 0 and rt.config.phase_context == model.cfg.phase_context
    blob = rt.encode(x[None] * 0.3, sr, framed=True)
    a, _ = rt.decode(blob)
    stream = StreamDecoder(rt, block_frames=40)  # other blocks: their windows hold the network's context too
    b = np.concatenate([stream.push(blob), stream.flush()], axis=1)
    assert np.isfinite(a).all() and a.shape == b.shape and np.abs(a - b).max() < 1e-5
    with torch.no_grad():
        y = model.decoder(torch.round(model.encoder(feats)))[..., : feats.shape[-1]]
    assert not torch.allclose(y[:, 1], dec[:, 1])
