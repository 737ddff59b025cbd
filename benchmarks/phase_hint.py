"""What a few bits of true phase are worth: the low STFT bins' phase sent beside a codec's latent.

    python -m benchmarks.phase_hint checkpoints/rd12k.pth --limit 20 --hints 16:4,24:4,32:4,24:3 \
        --json results/phase_hint.json

Griffin-Lim cannot recover the phase of close partials (a chord, a low voice's harmonics), and that, not
the decoded magnitude, is what limits the offline points (issue 13: the 12 kbps magnitudes score PESQ-WB
4.15 with the true phase). This measures the middle road before any format holds it: the encoder sends the
phase of STFT bins `[0, B)` of every frame, quantized on the circle to `b` bits, and the decoder holds those
bins at it while the runtime's phase-gradient start and Griffin-Lim fill in the rest (here plain
Griffin-Lim over the whole clip, not the runtime's accelerated one by blocks: figures for comparing ways,
not the runtime's own; docs/rate_quality.md has those).

For each checkpoint and development clip (`benchmarks.clips`, level-normalized as the runtime does), the
decoder is fed its encoder's rounded latent, its log-magnitude goes through the runtime's postfilter
(`--contrast`), and the audio is built:
- `baseline`: the phase-gradient start (`codec_rt.phase_gradient`, FORMAT.md 6.5) and `--iters` iterations
  of Griffin-Lim, as the shipped non-causal points of 12 and 16 kbps decode;
- `B:b`: the same with bins `[0, B)` held at the quantized true phase through every iteration.

Quantization is closed-loop and predictive: each frame's phase is predicted from the two coded frames before
it (constant instantaneous frequency, `2 p[t-1] - p[t-2]`; the first two frames by the bin centre's
advance), and the residual wrapped to [-pi, pi) is rounded to one of 2**b steps. The side rate is the
zeroth-order entropy of the codes pooled over clips and bins (what one static table a bin would reach,
roughly), and, for scale, their entropy given the same bin's code in the frame before (a context a range
coder could use); both at the STFT frame rate, in kbps. Scores: PESQ-WB and STOI (`benchmarks.scoring`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from codec_rt import phase, postfilter, stft
from codec_rt.level import normalizing_gain
from codec_rt.phase_gradient import gradient_phase
from export.export import load_checkpoint

from .clips import load_set
from .scoring import score

F64 = npt.NDArray[np.float64]
TWO_PI = 2 * np.pi


def wrap(x: F64) -> F64:
    """Angles -> the same in [-pi, pi)."""
    return np.asarray((x + np.pi) % TWO_PI - np.pi)


def quantize(phase: F64, bins: int, bits: int, n_fft: int, hop: int) -> tuple[F64, npt.NDArray[np.int64]]:
    """True phase `[F, T]` radians -> (its coded phase `[bins, T]`, the codes `[bins, T]` in [0, 2**bits)),
    closed-loop against the prediction from the coded frames before (module docstring)."""
    t_count = phase.shape[1]
    centre = TWO_PI * np.arange(bins) * hop / n_fft
    step = TWO_PI / 2**bits
    coded = np.zeros((bins, t_count))
    codes = np.zeros((bins, t_count), np.int64)
    for t in range(t_count):
        if t >= 2:
            pred = 2 * coded[:, t - 1] - coded[:, t - 2]
        elif t == 1:
            pred = coded[:, 0] + centre
        else:
            pred = np.zeros(bins)
        c = np.round(wrap(phase[:bins, t] - pred) / step).astype(np.int64) % 2**bits
        codes[:, t] = c
        coded[:, t] = wrap(pred + c * step)
    return coded, codes


def entropy(codes: npt.NDArray[np.int64], levels: int) -> tuple[float, float]:
    """Codes `[bins, T]` -> (bits a code, zeroth order; bits a code given the bin's code in the frame before)."""
    def h(counts: F64) -> float:
        p = counts[counts > 0] / counts.sum()
        return float(-(p * np.log2(p)).sum())

    h0 = h(np.bincount(codes.ravel(), minlength=levels).astype(np.float64))
    joint = np.bincount((codes[:, :-1] * levels + codes[:, 1:]).ravel(), minlength=levels * levels)
    prev = np.bincount(codes[:, :-1].ravel(), minlength=levels)
    return h0, h(joint.astype(np.float64)) - h(prev.astype(np.float64))


def griffin_lim(mag: F64, start: F64, held: F64 | None, iters: int, n_fft: int, hop: int, length: int) -> F64:
    """Magnitude and start phase `[F, T]` -> audio `[length]`; bins `[0, len(held))` held at `held`."""
    ph = start.copy()
    k = 0 if held is None else held.shape[0]
    ph[:k] = held if held is not None else ph[:k]
    for _ in range(iters):
        y = stft.istft((mag * np.exp(1j * ph))[None], n_fft, hop, length)[0]
        ph = np.angle(stft.stft(y[None], n_fft, hop)[0])
        ph[:k] = held if held is not None else ph[:k]
    return np.asarray(stft.istft((mag * np.exp(1j * ph))[None], n_fft, hop, length)[0], np.float64)


def causal(mag: npt.NDArray[np.float32], init: npt.NDArray[np.floating], held: F64 | None, iters: int, n_fft: int,
           hop: int, length: int, advance: bool) -> npt.NDArray[np.float32]:
    """A causal model's decode (`phase.causal_frames`, frame by frame): magnitude and the graph's phase
    output `[F, T]` -> audio `[length]`; bins `[0, len(held))` held at `held`."""
    tail = np.zeros(n_fft - hop, np.float32)
    ola, _, _ = phase.causal_frames(mag, init if advance or iters == 0 else None, tail, n_fft, hop, iters, advance,
                                    held=held)
    y = ola / phase.window_square_sum(-(n_fft // 2), ola.shape[-1], n_fft, hop)
    return np.ascontiguousarray(y[n_fft // 2 : n_fft // 2 + length], np.float32)


def evaluate(ck: Path, clips: list[Any], hints: list[tuple[int, int]], iters: int, contrast: float,
             causal_iters: int = 1) -> dict[str, Any]:
    """{way: {pesq, stoi, kbps_h0, kbps_h1}} means over `clips` for one checkpoint (module docstring)."""
    model = load_checkpoint(ck)
    cfg = model.cfg
    n_fft, hop = cfg.n_fft, cfg.hop
    scores: dict[str, list[tuple[float, float]]] = {}
    codes: dict[str, list[npt.NDArray[np.int64]]] = {}
    for clip in clips:
        x = clip.audio * normalizing_gain(clip.audio[None])[0]
        feats = stft.encoder_features(x[None], cfg)
        with torch.no_grad():
            z = model.encoder(torch.from_numpy(feats))
            y = model.decoder(torch.round(z))[..., : feats.shape[-1]].numpy()[0]
        ways: dict[str, F64 | None] = {"baseline": None}
        for bins, bits in hints:
            held, c = quantize(feats[0, 1].astype(np.float64), bins, bits, n_fft, hop)
            ways[f"{bins}:{bits}"] = held
            codes.setdefault(f"{bins}:{bits}", []).append(c)
        if cfg.causal:  # no postfilter; the model's advance, then RTISI per frame, as the runtime decodes
            mag32 = np.exp(np.minimum(y[0], 12.0)).astype(np.float32)
        else:
            logmag = postfilter.enhance(np.minimum(y[0], 12.0).astype(np.float32), contrast)
            mag = np.exp(logmag.astype(np.float64))
            start = gradient_phase(logmag, n_fft, hop)
        for name, held in ways.items():
            if cfg.causal:
                out = causal(mag32, y[1], held, causal_iters, n_fft, hop, x.size, bool(cfg.phase_advance))
            else:
                out = griffin_lim(mag, start, held, iters, n_fft, hop, x.size).astype(np.float32)
            s = score(x, out, lag=0)
            scores.setdefault(name, []).append((s["pesq_wb"], s["stoi"]))
    frame_rate = cfg.sample_rate / hop
    rows: dict[str, Any] = {}
    for name, v in scores.items():
        r = {"pesq": float(np.nanmean([a for a, _ in v])), "stoi": float(np.nanmean([b for _, b in v]))}
        if name in codes:
            bins, bits = (int(t) for t in name.split(":"))
            h0, h1 = entropy(np.concatenate(codes[name], axis=1), 2**bits)
            r |= {"kbps_h0": h0 * bins * frame_rate / 1000, "kbps_h1": h1 * bins * frame_rate / 1000}
        rows[name] = r
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("checkpoints", type=Path, nargs="+")
    p.add_argument("--data", type=Path, default=Path("data/dev/speech"))
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--seconds", type=float, default=10.0, help="the middle of each file, at most")
    p.add_argument("--hints", default="16:4,24:4,32:4,24:3", help="bins:bits, comma-separated")
    p.add_argument("--iters", type=int, default=8)
    p.add_argument("--causal-iters", type=int, default=1, help="RTISI iterations a frame (a causal model)")
    p.add_argument("--contrast", type=float, default=1.15)
    p.add_argument("--json", type=Path, default=None)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    hints = [(int(b), int(q)) for b, q in (h.split(":") for h in a.hints.split(",") if h)]
    clips = load_set(a.data, a.limit, 1.5, a.seconds)
    result: dict[str, Any] = {"clips": len(clips), "data": str(a.data), "iters": a.iters, "contrast": a.contrast,
                              "models": {}}
    for ck in a.checkpoints:
        rows = evaluate(ck, clips, hints, a.iters, a.contrast, a.causal_iters)
        result["models"][str(ck)] = rows
        print(ck)
        for name, r in rows.items():
            side = f"  side {r['kbps_h0']:.2f} kbps ({r['kbps_h1']:.2f} given the frame before)" \
                if "kbps_h0" in r else ""
            print(f"  {name:10s} PESQ-WB {r['pesq']:.3f}  STOI {r['stoi']:.4f}{side}", flush=True)
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
