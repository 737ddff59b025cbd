"""`codec-export CHECKPOINT -o MODEL_DIR`: write `encoder.onnx` and `decoder.onnx` and check them.

Each graph has a dynamic batch and time axis and carries the model's constants in `metadata_props`
(see `codec_rt.onnx_model`). The model id is the first 16 hex digits of the SHA-256 over every weight of
the checkpoint (names sorted, float32 little-endian bytes) and, for a range-coded model, of its entropy
tables (JSON), so a blob names the exact weights and tables.
After writing, onnxruntime is run against torch on real audio: the max abs difference of latent and
output is printed, and the command fails above `--tolerance` (1e-4).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import onnx
import torch

from codec_rt import stft
from codec_rt.config import ModelConfig
from codec_rt.level import normalizing_gain
from codec_rt.onnx_model import OnnxModel
from models import SpecAutoencoder
from training.data import load_mono

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PARITY_AUDIO = REPO / "tests" / "data" / "speech_fr_16k.flac"


def load_checkpoint(path: Path) -> SpecAutoencoder:
    ck = torch.load(path, map_location="cpu", weights_only=False)
    model = SpecAutoencoder(ModelConfig.from_dict(ck["config"]))
    model.load_state_dict(ck["model"])
    return model.eval()


def entropy_json(model: SpecAutoencoder) -> str | None:
    return model.prior.tables().to_json() if model.prior is not None else None


def model_id(model: SpecAutoencoder) -> str:
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().astype("<f4").tobytes())
    tables = entropy_json(model)
    if tables is not None:
        h.update(tables.encode())
    return h.hexdigest()[:16]


def _metadata(model: SpecAutoencoder, mid: str, role: str) -> dict[str, str]:
    cfg = model.cfg
    layout = (f"[B, {cfg.channels}, {cfg.latent_bins}, ceil(T / {cfg.time_stride})] float32 "
              f"(batch, latent channels, frequency rows, time steps)")
    meta = {
        "codec_rt.role": role, "codec_rt.config": cfg.to_json(), "codec_rt.model_id": mid,
        "sample_rate": str(cfg.sample_rate), "n_fft": str(cfg.n_fft), "hop": str(cfg.hop),
        "window": "periodic hann", "channels": str(cfg.channels), "latent_layout": layout,
    }
    tables = entropy_json(model)
    if tables is not None:
        meta["codec_rt.entropy"] = tables
    return meta


def _export(module: torch.nn.Module, example: torch.Tensor, path: Path, in_name: str, out_name: str,
            meta: dict[str, str]) -> None:
    batch, time = torch.export.Dim("batch", min=1, max=1024), torch.export.Dim("time", min=1, max=2**24)
    torch.onnx.export(
        module, (example,), str(path), input_names=[in_name], output_names=[out_name],
        dynamic_shapes=({0: batch, 3: time},), dynamo=True, external_data=False, verbose=False,
    )
    m = onnx.load(str(path))
    del m.metadata_props[:]
    for k, v in meta.items():
        m.metadata_props.add(key=k, value=v)
    onnx.save(m, str(path))


def export(model: SpecAutoencoder, out_dir: Path) -> str:
    """Write both graphs into `out_dir`; returns the model id."""
    cfg = model.cfg
    out_dir.mkdir(parents=True, exist_ok=True)
    mid = model_id(model)
    feats = torch.randn(1, 2, cfg.n_bins, 64)
    with torch.no_grad():
        z = model.encoder(feats)
    _export(model.encoder, feats, out_dir / "encoder.onnx", "features", "latent", _metadata(model, mid, "encoder"))
    _export(model.decoder, z, out_dir / "decoder.onnx", "latent", "features", _metadata(model, mid, "decoder"))
    return mid


def parity(model: SpecAutoencoder, model_dir: Path, audio: np.ndarray) -> float:
    """Max abs difference between torch and onnxruntime (latent and decoded features) on `audio [N]`."""
    cfg = model.cfg
    feats = stft.to_features(stft.stft(audio[None], cfg.n_fft, cfg.hop))
    rt = OnnxModel.load(model_dir)
    z_rt = rt.encode(feats)
    y_rt = rt.decode(z_rt)
    with torch.no_grad():
        z_t = model.encoder(torch.from_numpy(feats)).numpy()
        y_t = model.decoder(torch.from_numpy(z_rt)).numpy()
    return float(max(np.abs(z_rt - z_t).max(), np.abs(y_rt - y_t).max()))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="codec-export", description="checkpoint -> encoder.onnx + decoder.onnx")
    p.add_argument("checkpoint", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True, help="model directory to write")
    p.add_argument("--audio", type=Path, default=DEFAULT_PARITY_AUDIO, help="real audio for the parity check")
    p.add_argument("--tolerance", type=float, default=1e-4)
    a = p.parse_args(argv)
    model = load_checkpoint(a.checkpoint)
    mid = export(model, a.output)
    audio = load_mono(a.audio, model.cfg.sample_rate)
    audio = audio * normalizing_gain(audio[None])[0]
    diff = parity(model, a.output, audio)
    sizes = {f.name: f.stat().st_size for f in sorted(a.output.glob("*.onnx"))}
    print(json.dumps({"model_id": mid, "parity_max_abs_diff": diff, "audio": str(a.audio),
                      "seconds": round(len(audio) / model.cfg.sample_rate, 2), "bytes": sizes}))
    if not diff <= a.tolerance:
        print(f"parity check failed: {diff:.3g} > {a.tolerance:g}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
