"""Write runtime/codec_rt/models/ladder.json from the model folders there (their ids from the ONNX metadata).

    python scripts/write_ladder.py rd3k=3 rd6k=6 rd12k=12 fixed32k=32 --low-latency ll16k=16 --default 12

`--low-latency FOLDER=KBPS` points (causal models) form a ladder of their own (`codec-rt encode --low-latency`).
"""

from __future__ import annotations

import argparse
import json

from codec_rt.ladder import MODELS_DIR
from codec_rt.model import Model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("points", nargs="+", help="FOLDER=KBPS")
    p.add_argument("--low-latency", nargs="*", default=[], help="FOLDER=KBPS of causal (low-latency) models")
    p.add_argument("--default", type=float, required=True, help="kbps of the default point")
    a = p.parse_args()
    points = []
    for item, low_latency in [(i, False) for i in a.points] + [(i, True) for i in a.low_latency]:
        folder, kbps = item.split("=")
        model = Model.load(MODELS_DIR / folder)
        if bool(model.config.causal) != low_latency:
            raise SystemExit(f"{folder}: low-latency points must be causal models, the others not")
        point = {"kbps": float(kbps), "dir": folder, "model_id": model.model_id}
        points.append(point | {"low_latency": True} if low_latency else point)
    if a.default not in [pt["kbps"] for pt in points if not pt.get("low_latency")]:
        raise SystemExit(f"--default {a.default} is not one of the points")
    text = json.dumps({"default_kbps": a.default, "points": points}, indent=2) + "\n"
    (MODELS_DIR / "ladder.json").write_text(text)
    print(text, end="")


if __name__ == "__main__":
    main()
