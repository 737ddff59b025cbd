"""Average the weights of checkpoints of one run (the same architecture): each floating tensor the mean of
theirs, the rest (config, prior's step counters) from the first, the step count from the last. Checkpoint
averaging along one trajectory (Izmailov et al., "Averaging weights leads to wider optima and better
generalization", UAI 2018); LADDER.md stage 20 uses it.

    python scripts/average_weights.py A.pth B.pth -o OUT.pth
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("checkpoints", nargs="+", type=Path)
    p.add_argument("-o", "--out", type=Path, required=True)
    a = p.parse_args()
    cks = [torch.load(c, map_location="cpu", weights_only=False) for c in a.checkpoints]
    out = dict(cks[0])
    if any(set(c["model"]) != set(out["model"]) for c in cks):
        raise SystemExit("the checkpoints' tensors differ: not one architecture")
    out["model"] = {k: torch.stack([c["model"][k].float() for c in cks]).mean(0).to(v.dtype)
                    if v.is_floating_point() else v for k, v in out["model"].items()}
    out["step"] = cks[-1]["step"]
    out["averaged"] = [f"{c.name} (step {ck['step']})" for c, ck in zip(a.checkpoints, cks, strict=True)]
    torch.save(out, a.out)
    print(f"{a.out}: the mean of {len(cks)} checkpoints' weights")


if __name__ == "__main__":
    main()
