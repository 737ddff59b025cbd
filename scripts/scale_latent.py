"""Seed a higher-rate ladder point from a lower one: the same codec with a finer latent quantization step.

    python scripts/scale_latent.py checkpoints/rd12k.pth results/rd24/init.pth --factor 2

The latent is rounded to integers, so a codec whose encoder's last 1x1 projection is scaled by `factor` and
whose decoder's first 1x1 projection is scaled by 1 / `factor` computes the same function before rounding, and
rounds with a step 1 / `factor` as fine: about log2(factor) more bits per coded value, and less rounding noise.
The entropy prior's location and scale move with the latent. Rate training (`INIT_FROM=OUT`) then settles it.
Writes a checkpoint with the model's weights and config only (a fresh optimizer, step 0).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--factor", type=float, required=True, help="latent scale (> 1: a finer step, more bits)")
    a = p.parse_args()
    if not a.factor > 0:
        raise SystemExit(f"--factor must be positive, got {a.factor}")
    ck = torch.load(a.checkpoint, map_location="cpu", weights_only=False)
    sd = {k: v.clone() for k, v in ck["model"].items()}
    sd["encoder.proj.weight"] *= a.factor
    sd["encoder.proj.bias"] *= a.factor
    sd["decoder.proj.weight"] /= a.factor  # the decoder's bias is added after the projection: unchanged
    if "prior.loc" in sd:
        sd["prior.loc"] *= a.factor
        sd["prior.log_scale"] += math.log(a.factor)
    out = {k: ck[k] for k in ("config", "arch", "args") if k in ck} | {
        "model": sd, "epoch": 0, "step": 0, "scaled_from": str(a.checkpoint), "latent_factor": a.factor}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(out, a.out)
    print(f"wrote {a.out}: {a.checkpoint} with its latent x {a.factor:g}")


if __name__ == "__main__":
    main()
