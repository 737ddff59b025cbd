"""What a model could reach before rate training: its ceiling on development speech, and its phase against
Griffin-Lim on the same magnitudes (issue 13, items 1 and 2).

    python -m benchmarks.ceiling checkpoints/rd12k.pth results/phase/model_last.pth --limit 20 \
        --json results/ceiling.json

For each checkpoint and each development clip (`benchmarks.clips`: the middle 10 s of `--limit` files of
data/dev/speech, level-normalized as the runtime normalizes), the decoder is fed its encoder's latent
unrounded ("float": as if bits were free) and, for a range-coded model, rounded to integers as the runtime
codes it ("rounded"), and its output is turned into audio in each of these ways:

- `gl`: the decoded magnitude with the runtime's Griffin-Lim (`codec_rt.phase.refine`, 32 iterations) from the
  decoded phase, as shipped models decode;
- `learned`: the decoded magnitude with the decoded phase as is (0 iterations): a learned phase head's output;
- `gl_zero`: the decoded magnitude with 32 iterations from zero phase (what Griffin-Lim gets with no help);
- `true_phase`: the decoded magnitude with the input's phase (an oracle: the magnitude's own ceiling).

Also once per clip: the input's own magnitude with 32 iterations from zero phase (`input_gl`: the ceiling of
phase retrieval). Scores: PESQ-WB and STOI at 16 kHz (`benchmarks.scoring`), and the seconds the phase step
took per second of audio on one thread. A candidate worth rate training reaches PESQ-WB >= 3.6 in
"float / true_phase" or "float / learned".
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from codec_rt import phase, stft
from codec_rt.level import normalizing_gain
from export.export import load_checkpoint
from models import SpecAutoencoder
from models.autoencoder import PhaseNet

from .clips import load_set
from .scoring import score

ITERS = 32


def _audio(mag: np.ndarray, ph: np.ndarray, n_fft: int, hop: int, length: int, iters: int) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    y = phase.refine(mag, ph, n_fft, hop, length, iters)
    return y, time.perf_counter() - t0


def _means(sums: dict[str, list[tuple[float, float, float]]]) -> dict[str, dict[str, float]]:
    """Per way, the clips' (PESQ-WB, STOI, phase seconds per second) -> their means."""
    return {k: {"pesq": float(np.nanmean([v[0] for v in vs])), "stoi": float(np.nanmean([v[1] for v in vs])),
                "phase_s_per_s": float(np.mean([v[2] for v in vs]))} for k, vs in sums.items()}


def _print(title: str, rows: dict[str, dict[str, float]]) -> None:
    print(title)
    for name, r in rows.items():
        print(f"  {name:22s} PESQ-WB {r['pesq']:.2f}  STOI {r['stoi']:.3f}  phase {r['phase_s_per_s']:.3f} s/s")


def evaluate(model: SpecAutoencoder, clips: list[Any]) -> dict[str, dict[str, float]]:
    """{"<latent> / <phase>": {pesq, stoi, phase_s_per_s}} means over `clips` (module docstring)."""
    cfg = model.cfg
    sums: dict[str, list[tuple[float, float, float]]] = {}
    for clip in clips:
        x = clip.audio * normalizing_gain(clip.audio[None])[0]
        feats = stft.encoder_features(x[None], cfg)
        true_phase = feats[0, 1]
        seconds = x.size / cfg.sample_rate
        with torch.no_grad():
            z = model.encoder(torch.from_numpy(feats))
            latents = {"float": z}
            if model.prior is not None:
                latents["rounded"] = torch.round(z)
            outs = {k: model.decoder(v)[..., : feats.shape[-1]].numpy()[0] for k, v in latents.items()}
        ways: dict[str, tuple[np.ndarray, np.ndarray, int]] = {}
        for name, y in outs.items():
            mag = np.exp(np.minimum(y[0], 12.0))
            ways[f"{name} / gl"] = (mag, y[1], ITERS)
            ways[f"{name} / learned"] = (mag, y[1], 0)
            ways[f"{name} / gl_zero"] = (mag, np.zeros_like(y[1]), ITERS)
            ways[f"{name} / true_phase"] = (mag, true_phase, 0)
        ways["input / gl_zero"] = (np.exp(feats[0, 0]), np.zeros_like(true_phase), ITERS)
        for name, (mag, ph, iters) in ways.items():
            y, took = _audio(mag, ph, cfg.n_fft, cfg.hop, x.size, iters)
            s = score(x, y, lag=0)
            sums.setdefault(name, []).append((s["pesq_wb"], s["stoi"], took / seconds))
    return _means(sums)


def evaluate_phase_net(path: Path, clips: list[Any]) -> dict[str, dict[str, float]]:
    """A `training.phase_train` checkpoint against Griffin-Lim on its codec's decoded magnitude (rounded
    latent): the learned phase as is, and as the start of 8 or 32 Griffin-Lim iterations instead of the
    codec's regressed phase (`gl`, `gl 8`)."""
    ck = torch.load(path, map_location="cpu", weights_only=False)
    model = load_checkpoint(Path(ck["codec"]))
    net = PhaseNet(ck["n_bins"], ck["hidden"], model.cfg.n_fft // model.cfg.hop)
    net.load_state_dict(ck["phase_net"])
    net.eval()
    cfg = model.cfg
    sums: dict[str, list[tuple[float, float, float]]] = {}
    for clip in clips:
        x = clip.audio * normalizing_gain(clip.audio[None])[0]
        feats = stft.encoder_features(x[None], cfg)
        with torch.no_grad():
            z = model.encoder(torch.from_numpy(feats))
            y = model.decoder(torch.round(z) if model.prior is not None else z)[..., : feats.shape[-1]]
            t0 = time.perf_counter()
            learned = net(y[:, 0])[0].numpy()
            net_s = time.perf_counter() - t0
        y = y.numpy()[0]
        mag = np.exp(np.minimum(y[0], 12.0))
        seconds = x.size / cfg.sample_rate
        ways = {"gl": (y[1], ITERS, 0.0), "gl 8": (y[1], 8, 0.0), "learned": (learned, 0, net_s),
                "learned + gl 8": (learned, 8, net_s), "learned + gl": (learned, ITERS, net_s)}
        for name, (ph, iters, extra) in ways.items():
            out, took = _audio(mag, ph, cfg.n_fft, cfg.hop, x.size, iters)
            s = score(x, out, lag=0)
            sums.setdefault(name, []).append((s["pesq_wb"], s["stoi"], (took + extra) / seconds))
    return _means(sums)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("checkpoints", type=Path, nargs="*")
    p.add_argument("--phase-net", type=Path, nargs="*", default=[], help="training.phase_train checkpoints")
    p.add_argument("--data", type=Path, default=Path("data/dev/speech"))
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--seconds", type=float, default=10.0, help="the middle of each file, at most")
    p.add_argument("--json", type=Path, default=None)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    clips = load_set(a.data, a.limit, 1.5, a.seconds)
    result: dict[str, Any] = {"clips": len(clips), "data": str(a.data), "iters": ITERS, "models": {}}
    for ck in a.checkpoints:
        model = load_checkpoint(ck)
        rows = evaluate(model, clips)
        result["models"][str(ck)] = {"config": model.cfg.to_dict(), "phase_head": model.phase_head,
                                     "parameters": sum(p.numel() for p in model.parameters()), "rows": rows}
        _print(f"{ck} ({result['models'][str(ck)]['parameters']} parameters, phase_head {model.phase_head})", rows)
    for ck in a.phase_net:
        rows = evaluate_phase_net(ck, clips)
        result["models"][str(ck)] = {"rows": rows}
        _print(f"{ck} (phase network)", rows)
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
