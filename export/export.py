"""`codec-export CHECKPOINT -o MODEL_DIR`: write `encoder.onnx` and `decoder.onnx` and check them.

Each graph has a dynamic batch and time axis and carries the model's constants in `metadata_props`
(see `codec_rt.model`). The model id is the first 16 hex digits of the SHA-256 over every weight of
the checkpoint (names sorted, float32 little-endian bytes) and, for a range-coded model, of its entropy
tables (JSON), so a blob names the exact weights and tables.
With `--context-data PACKED` a range-coded checkpoint is exported as coder 2: its context tables are counted
from the latents of `--context-clips` clips of that packed training audio (`scripts/pack_clips.py`), picked
with a fixed seed, so the same checkpoint and pack give the same graphs and id.
After writing, onnxruntime is run against torch on real audio: the max abs difference of latent and
output is printed, and the command fails above `--tolerance` (1e-4).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import torch

from codec_rt import entropy, stft
from codec_rt.config import ModelConfig
from codec_rt.entropy import EntropyTables
from codec_rt.level import normalizing_gain
from codec_rt.model import Model, write_checksums
from models import SpecAutoencoder
from training.data import load_mono

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PARITY_AUDIO = REPO / "tests" / "data" / "speech_fr_16k.flac"


def load_checkpoint(path: Path) -> SpecAutoencoder:
    ck = torch.load(path, map_location="cpu", weights_only=False)
    arch = ck.get("arch", {})
    model = SpecAutoencoder(ModelConfig.from_dict(ck["config"]), phase_head=arch.get("phase_head", 0),
                            phase_hidden=arch.get("phase_hidden", 256))
    model.load_state_dict(ck["model"])
    return model.eval()


def prior_tables(model: SpecAutoencoder) -> EntropyTables | None:
    """The context-free tables of a range-coded model (coder 1), from its trained prior."""
    return model.prior.tables() if model.prior is not None else None


def model_id(model: SpecAutoencoder, tables: EntropyTables | None = None) -> str:
    """The id of `model` shipped with `tables` (default: its prior's tables, or none for coder 0)."""
    tables = tables if tables is not None else prior_tables(model)
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().astype("<f4").tobytes())
    if tables is not None:
        h.update(tables.to_json().encode())
    return h.hexdigest()[:16]


def training_symbols(model: SpecAutoencoder, base: EntropyTables, packed: Path, clips: int,
                     seed: int = 0) -> list[np.ndarray]:
    """Latent symbols `[C, F, T] int32` of `clips` clips of packed training audio, coded as the runtime codes
    them (level-normalized, rounded, clipped to the prior's tables `base`)."""
    import soundfile as sf

    cfg = model.cfg
    wav, sr = sf.read(packed, dtype="float32")
    if sr != cfg.sample_rate or wav.ndim != 1:
        raise SystemExit(f"{packed}: expected mono {cfg.sample_rate} Hz audio packed by scripts/pack_clips.py")
    lengths = np.load(f"{packed}.lengths.npy")
    starts = np.concatenate([[0], np.cumsum(lengths)])
    pick = np.random.default_rng(seed).choice(len(lengths), min(clips, len(lengths)), replace=False)
    out = []
    for i in sorted(pick):
        x = wav[starts[i] : starts[i + 1]]
        x = x * normalizing_gain(x[None])[0]
        feats = torch.from_numpy(stft.encoder_features(x[None], cfg))
        with torch.no_grad():
            z = model.encoder(feats)[0].numpy()
        out.append(entropy.to_symbols(z, base))
    return out


def decoding_metadata(contrast: float | None = None, phase_iters: int | None = None,
                      energy_match: bool = False, phase_start: int = 0) -> dict[str, str | None]:
    """The decoder's metadata entries for its decoding defaults (docs/FORMAT.md 3.6): key -> value, or None
    where the option is the runtime's default and the key is left out."""
    return {
        "codec_rt.contrast": None if contrast is None else repr(float(contrast)),
        "codec_rt.phase_iters": None if phase_iters is None else str(int(phase_iters)),
        "codec_rt.energy_match": "1" if energy_match else None,
        "codec_rt.phase_start": str(int(phase_start)) if phase_start else None,
    }


def set_metadata(m: onnx.ModelProto, values: dict[str, str | None]) -> None:
    """Set (a value) or remove (None) entries of a graph's `metadata_props`, keeping the others."""
    props = {p.key: p.value for p in m.metadata_props}
    for key, value in values.items():
        props.pop(key, None)
        if value is not None:
            props[key] = value
    del m.metadata_props[:]
    for k, v in props.items():
        m.metadata_props.add(key=k, value=v)


def _metadata(cfg: ModelConfig, mid: str, role: str, tables: EntropyTables | None,
              contrast: float | None = None, phase_iters: int | None = None,
              energy_match: bool = False, phase_start: int = 0) -> dict[str, str | None]:
    layout = (f"[B, {cfg.channels}, {cfg.latent_bins}, ceil(T / {cfg.time_stride})] float32 "
              f"(batch, latent channels, frequency rows, time steps)")
    meta: dict[str, str | None] = {
        "codec_rt.role": role, "codec_rt.config": cfg.to_json(), "codec_rt.model_id": mid,
        "sample_rate": str(cfg.sample_rate), "n_fft": str(cfg.n_fft), "hop": str(cfg.hop),
        "window": "periodic hann", "channels": str(cfg.channels), "latent_layout": layout,
    }
    if tables is not None:
        meta["codec_rt.entropy"] = tables.to_json()
    if role == "decoder":
        meta.update(decoding_metadata(contrast, phase_iters, energy_match, phase_start))
    return meta


def _export(module: torch.nn.Module, example: torch.Tensor, path: Path, in_name: str, out_name: str,
            meta: dict[str, str | None]) -> None:
    batch, time = torch.export.Dim("batch", min=1, max=1024), torch.export.Dim("time", min=1, max=2**24)
    torch.onnx.export(
        module, (example,), str(path), input_names=[in_name], output_names=[out_name],
        dynamic_shapes=({0: batch, 3: time},), dynamo=True, external_data=False, verbose=False,
    )
    m = onnx.load(str(path))
    del m.metadata_props[:]  # the exporter's own entries are not the format's
    set_metadata(m, meta)
    onnx.save(m, str(path))


def export(model: SpecAutoencoder, out_dir: Path, tables: EntropyTables | None = None,
           contrast: float | None = None, phase_iters: int | None = None, energy_match: bool = False,
           phase_start: int = 0) -> str:
    """Write both graphs into `out_dir`; returns the model id. `tables`: context tables to ship instead of
    the prior's (the model becomes coder 2). `contrast`, `phase_iters`: the decoder's default postfilter
    contrast and phase iterations (None: the runtime's defaults; 0 iterations for a learned phase).
    `energy_match`: Griffin-Lim's frames get their energy back (`codec_rt.phase.refine_frames`).
    `phase_start` 1: the refinement starts from the phase-gradient start (`codec_rt.phase_gradient`)."""
    cfg = model.cfg
    if tables is not None:
        if model.prior is None or not tables.context:
            raise ValueError("context tables need a range-coded model")
        cfg = replace(cfg, coder=2)
    else:
        tables = prior_tables(model)
    out_dir.mkdir(parents=True, exist_ok=True)
    mid = model_id(model, tables)
    feats = torch.randn(1, 2, cfg.n_bins, 64)
    with torch.no_grad():
        z = model.encoder(feats)
    for role, module, example, names in (("encoder", model.encoder, feats, ("features", "latent")),
                                         ("decoder", model.decoder, z, ("latent", "features"))):
        meta = _metadata(cfg, mid, role, tables, contrast, phase_iters, energy_match, phase_start)
        _export(module, example, out_dir / f"{role}.onnx", *names, meta)
    write_checksums(out_dir)
    return mid


def parity(model: SpecAutoencoder, model_dir: Path, audio: np.ndarray) -> float:
    """Max abs difference between torch and onnxruntime on `audio [N]`: of the latent, of the decoded
    log-magnitude, and of the decoded phase (modulo 2 pi) times the bin's magnitude over the loudest bin's. A
    phase network's angle comes from a pseudo real and imaginary part, and where both are near zero float
    rounding turns it by more than where it is heard."""
    cfg = model.cfg
    feats = stft.encoder_features(audio[None], cfg)
    rt = Model.load(model_dir)
    z_rt = rt.encode(feats)
    y_rt = rt.decode(z_rt)
    with torch.no_grad():
        z_t = model.encoder(torch.from_numpy(feats)).numpy()
        y_t = model.decoder(torch.from_numpy(z_rt)).numpy()
    dphi = np.angle(np.exp(1j * (y_rt[:, 1] - y_t[:, 1])))
    weight = np.exp(y_t[:, 0] - y_t[:, 0].max())
    return float(max(np.abs(z_rt - z_t).max(), np.abs(y_rt[:, 0] - y_t[:, 0]).max(), np.abs(dphi * weight).max()))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="codec-export", description="checkpoint -> encoder.onnx + decoder.onnx")
    p.add_argument("checkpoint", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True, help="model directory to write")
    p.add_argument("--audio", type=Path, default=DEFAULT_PARITY_AUDIO, help="real audio for the parity check")
    p.add_argument("--tolerance", type=float, default=1e-4)
    p.add_argument("--context-data", type=Path, help="packed training audio: export as coder 2 (context tables)")
    p.add_argument("--context-clips", type=int, default=600, help="clips of it to count the tables from")
    p.add_argument("--contrast", type=float, help="the decoder's default postfilter contrast (0.5..2.0)")
    p.add_argument("--phase-iters", type=int, help="the decoder's default phase iterations (0: its learned phase)")
    p.add_argument("--energy-match", action="store_true",
                   help="the decoder rescales Griffin-Lim's frames to their target energy (metadata energy_match)")
    p.add_argument("--phase-start", type=int, choices=[0, 1], default=0,
                   help="where the phase refinement starts: 0 the graph's phase, 1 the phase-gradient start")
    a = p.parse_args(argv)
    model = load_checkpoint(a.checkpoint)
    tables = None
    if a.context_data is not None:
        base = prior_tables(model)
        if base is None:
            raise SystemExit("--context-data needs a range-coded checkpoint (coder 1)")
        tables = entropy.fit_context_tables(training_symbols(model, base, a.context_data, a.context_clips), base)
    if a.contrast is not None and not 0.5 <= a.contrast <= 2.0:
        raise SystemExit("--contrast must be in 0.5..2.0")
    if a.phase_iters is not None and not 0 <= a.phase_iters <= 10_000:
        raise SystemExit("--phase-iters must be in 0..10000")
    mid = export(model, a.output, tables, a.contrast, a.phase_iters, a.energy_match, a.phase_start)
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
