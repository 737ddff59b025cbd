"""Make a fixed-width point from a range-coded one: the same weights, coded at a fixed number of bits a value.

    python scripts/fixed_width.py checkpoints/rd12k.pth checkpoints/fixed32k.pth

The fixed-width coder (config `coder` 0) maps each latent channel of a packet onto `2**bits` levels spanning
its own max |value| (`codec_rt/quantize.py`, FORMAT.md), so it needs no entropy tables and no rounding grid:
any encoder's latent fits it. The entropy prior (`prior.*`) and the optimizer state are dropped; the config,
architecture and training arguments are kept with `coder` set to 0. Export the result as any checkpoint
(`codec-export OUT -o DIR`, without `--context-data`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", type=Path, help="a range-coded point's checkpoint (config coder 1 or 2)")
    p.add_argument("out", type=Path)
    a = p.parse_args()
    ck = torch.load(a.checkpoint, map_location="cpu", weights_only=False)
    if ck["config"].get("coder", 0) == 0:
        raise SystemExit(f"{a.checkpoint} is fixed-width already")
    sd = {k: v for k, v in ck["model"].items() if not k.startswith("prior.")}
    out = {k: ck[k] for k in ("arch", "epoch", "step") if k in ck} | {
        "config": ck["config"] | {"coder": 0}, "model": sd, "fixed_width_from": str(a.checkpoint)}
    if "args" in ck:
        out["args"] = ck["args"] | {"coder": 0}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(out, a.out)
    print(f"wrote {a.out}: {a.checkpoint} coded at a fixed width")


if __name__ == "__main__":
    main()
