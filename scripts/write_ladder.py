"""Write runtime/codec_rt/models/ladder.json from the model folders there (their ids from the ONNX metadata).

    python scripts/write_ladder.py rd3k=3:tonal_band_phase rd6k=6:tonal_band_phase:rate_lambda=0.005 \
        rd12k=10:tonal_band_phase:rate_lambda=0.3 rd12k=12:tonal_band_phase \
        rd12k=18:low_band_phase:phase_bins=16,phase_bits=3 rd12k=24:low_band_phase \
        --low-latency ll12k=12:low_band_phase:tracks=1 --fixed-width fixed32k=32:tonal_band_phase --default 12

`FOLDER=KBPS:MODE` makes a point that encodes in MODE (`codec-rt encode --mode`) unless asked otherwise: a model
may serve more than one point. `FOLDER=KBPS:MODE:KEY=VALUE,...` adds the point's encode options:
`rate_lambda` (its rate-aware rounding), `phase_bins` and `phase_bits` (the band of a point with one), `tracks=1`
(steady partials as sinusoidal tracks, format 1.12).
`--low-latency FOLDER=KBPS` points (causal models) form a ladder of their own (`codec-rt encode --low-latency`), and
so do `--fixed-width FOLDER=KBPS` points (coder 0, picked by `codec-rt encode --bits`).
The `retired` list is kept, and a point this run replaces joins it: copy its folder to models/retired/<id>/
first (a blob of every model that shipped must keep decoding); the script refuses to drop a model otherwise.
"""

from __future__ import annotations

import argparse
import json

from codec_rt import ladder
from codec_rt.config import Coder, Mode
from codec_rt.errors import CodecError
from codec_rt.ladder import MODELS_DIR
from codec_rt.latent import coding_options
from codec_rt.model import Model


def _point(item: str, low_latency: bool, fixed_width: bool) -> dict[str, object]:
    """`FOLDER=KBPS[:MODE[:KEY=VALUE,...]]` -> its ladder.json point, checked by the runtime's reader and
    against the model (SystemExit, ValueError or CodecError for one that the runtime would refuse)."""
    folder, _, rest = item.partition("=")
    kbps, _, rest = rest.partition(":")
    mode, _, extra = rest.partition(":")
    options: dict[str, object] = {}
    for kv in filter(None, extra.split(",")):
        key, eq, value = kv.partition("=")
        if key not in ("rate_lambda", "phase_bins", "phase_bits", "tracks") or not eq or key in options:
            raise SystemExit(f"{item}: the options are rate_lambda, phase_bins, phase_bits and tracks, each once, "
                             "as KEY=VALUE")
        if key == "tracks" and value not in ("0", "1"):
            raise SystemExit(f"{item}: tracks is 0 or 1")
        options[key] = float(value) if key == "rate_lambda" else value == "1" if key == "tracks" else int(value)
    model = Model.load(MODELS_DIR / folder)
    if bool(model.config.causal) != low_latency:
        raise SystemExit(f"{folder}: low-latency points must be causal models, the others not")
    if (model.config.coder == Coder.FIXED) != fixed_width:
        raise SystemExit(f"{folder}: fixed-width points must be coder 0 models, the others range-coded")
    point: dict[str, object] = {"kbps": float(kbps), "dir": folder, "model_id": model.model_id}
    point |= {"low_latency": True} if low_latency else {}
    point |= {"fixed_width": True} if fixed_width else {}
    if mode:
        point["mode"] = Mode.parse(mode).name.lower()
    point |= options
    read = ladder.point_from_dict(point)  # what the runtime reads, or its error
    # and what the model can encode with
    coding_options(model.config, None, read.mode, read.phase_bits, False, read.phase_bins, read.rate_lambda,
                   read.tracks)
    return point


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("points", nargs="+", help="FOLDER=KBPS, FOLDER=KBPS:MODE or FOLDER=KBPS:MODE:KEY=VALUE,...")
    p.add_argument("--low-latency", nargs="*", default=[], help="FOLDER=KBPS of causal (low-latency) models")
    p.add_argument("--fixed-width", nargs="*", default=[], help="FOLDER=KBPS of fixed-width (coder 0) models")
    p.add_argument("--default", type=float, required=True, help="kbps of the default point")
    a = p.parse_args()
    points = []
    kinds = [(i, False, False) for i in a.points] + [(i, True, False) for i in a.low_latency] + \
        [(i, False, True) for i in a.fixed_width]
    for item, low_latency, fixed_width in kinds:
        try:
            points.append(_point(item, low_latency, fixed_width))
        except (ValueError, TypeError, KeyError, CodecError) as e:
            raise SystemExit(f"{item}: {e}") from None
    if a.default not in [pt["kbps"] for pt in points if not pt.get("low_latency") and not pt.get("fixed_width")]:
        raise SystemExit(f"--default {a.default} is not one of the points")
    old = json.loads((MODELS_DIR / "ladder.json").read_text())
    retired = old.get("retired", [])
    kept = {pt["model_id"] for pt in points} | {r["model_id"] for r in retired}
    for gone in (pt for pt in old["points"] if pt["model_id"] not in kept):
        folder = f"retired/{gone['model_id']}"
        if not (MODELS_DIR / folder / "decoder.onnx").is_file():
            raise SystemExit(f"{gone['dir']} ({gone['model_id']}) would no longer decode: copy it to models/{folder}")
        retired.append({"model_id": gone["model_id"], "dir": folder, "was": f"{gone['dir']}, {gone['kbps']:g} kbps"})
    text = json.dumps({"default_kbps": a.default, "points": points, "retired": retired}, indent=2) + "\n"
    (MODELS_DIR / "ladder.json").write_text(text)
    print(text, end="")


if __name__ == "__main__":
    main()
