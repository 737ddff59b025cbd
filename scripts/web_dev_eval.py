#!/usr/bin/env python3
"""The JavaScript runtime against the Python one on the development set (issue 14's acceptance figures).

    python scripts/web_dev_eval.py [--speech data/dev/speech] [--limit 40] [--json OUT.json]

For every shipped point, on the development speech (`benchmarks.dev_eval.pick`: 40 clips of >= 1.5 s) coded
mono in both layouts, and framed in stereo: one talker panned (mid/side), two talkers hard left and right
(mid/side, and channel by channel):
- codec-rt (Python) encodes each clip; JavaScript (`web/dev_eval.mjs`, onnxruntime-node) decodes the blob
  with the model's defaults and with refinement off; the decodes are compared with codec-rt's by the
  log-spectral distance of docs/FORMAT.md section 10 (per channel, at the model rate);
- JavaScript encodes each clip; codec-rt decodes both runtimes' blobs and PESQ-WB (pesq) scores each
  against the input.
Prints a markdown table (means over clips and channels; LSD also its maximum).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from pesq import pesq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from spec_reader.audio import lsd, power  # noqa: E402

from benchmarks.dev_eval import pick  # noqa: E402
from codec_rt import Codec, ladder  # noqa: E402
from codec_rt.audio_in import read_audio  # noqa: E402


def clip_sets(files: list[Path]) -> dict[str, list[tuple[np.ndarray, int]]]:
    """mono: each clip; panned: one talker off centre (right 0.6 times the left, 0.5 ms later), of the even
    clips; talkers: two talkers hard left and right (clips 2i and 2i + 1, cut to the shorter)."""
    mono = []
    for f in files:
        x, sr = read_audio(f)
        mono.append((np.ascontiguousarray(x[:1], np.float32), sr))
    panned, talkers = [], []
    for (a, sr), (b, _) in zip(mono[0::2], mono[1::2], strict=False):
        d = sr // 2000
        right = np.concatenate([np.zeros((1, d), np.float32), 0.6 * a[:, : a.shape[1] - d]], axis=1)
        panned.append((np.ascontiguousarray(np.concatenate([a, right]), np.float32), sr))
        n = min(a.shape[1], b.shape[1])
        talkers.append((np.ascontiguousarray(np.concatenate([a[:, :n], b[:, :n]]), np.float32), sr))
    return {"mono": mono, "panned": panned, "talkers": talkers}


# (clips, layout, stereo coding): mono both layouts; a panned talker as mid/side; two talkers both ways
VARIANTS = {"mono-framed": ("mono", True, True), "mono-whole": ("mono", False, True),
            "panned-ms": ("panned", True, True), "talkers-ms": ("talkers", True, True),
            "talkers-independent": ("talkers", True, False)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--speech", type=Path, default=REPO / "data" / "dev" / "speech")
    ap.add_argument("--limit", type=int, default=40)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--variants", default=",".join(VARIANTS), help=f"of {', '.join(VARIANTS)}")
    a = ap.parse_args()
    sets = clip_sets(pick(a.speech, a.limit, 1.5))
    tmp = Path(tempfile.mkdtemp(prefix="web_dev_eval_"))
    variants = [VARIANTS[v] for v in a.variants.split(",")]
    items: list[dict[str, Any]] = []
    jobs: dict[str, list[dict[str, Any]]] = {"decodes": [], "encodes": []}
    for point in ladder.models():
        codec = Codec.load(point.path)
        for kind, framed, joint in variants:
            for i, (x, sr) in enumerate(sets[kind]):
                blob = codec.encode(x, sr, framed=framed, joint_stereo=joint)
                # (a causal model codes a pair channel by channel whatever is asked)
                stereo = ", mid/side" if blob[5] >= 4 and blob[56] >> 4 else ", independent"
                coding = ("framed" if framed else "whole") + ("" if kind == "mono" else stereo)
                key = f"{point.path.name}_{kind}_{coding.replace(', ', '_').replace('/', '')}_{i}"
                (tmp / f"{key}.cra").write_bytes(blob)
                x.astype("<f4").tofile(tmp / f"{key}.in.f32")
                for tag, iters in (("on", None), ("off", 0)):
                    jobs["decodes"].append({"blob": str(tmp / f"{key}.cra"), "model": str(point.path),
                                            "phaseIters": iters, "out": str(tmp / f"{key}.js_{tag}.f32")})
                jobs["encodes"].append({"input": str(tmp / f"{key}.in.f32"), "channels": x.shape[0],
                                        "samples": x.shape[1], "rate": sr, "model": str(point.path),
                                        "framed": framed, "jointStereo": joint, "out": str(tmp / f"{key}.js.cra")})
                items.append({"key": key, "point": point.path.name, "kind": kind, "coding": coding,
                              "causal": codec.config.causal, "x": x, "sr": sr, "blob": blob})
    (tmp / "jobs.json").write_text(json.dumps(jobs))
    node = subprocess.run(["node", str(REPO / "web" / "dev_eval.mjs"), str(tmp / "jobs.json")], check=True,
                          capture_output=True, text=True)
    times = json.loads(node.stdout)
    rows: dict[tuple[str, str], dict[str, list[float]]] = {}
    codecs = {p.path.name: Codec.load(p.path) for p in ladder.models()}
    for it in items:
        codec = codecs[it["point"]]
        cfg = codec.config
        x, sr = it["x"], it["sr"]
        r = rows.setdefault((it["point"], f"{it['kind']} {it['coding']}"),
                            {"lsd_on": [], "lsd_off": [], "pesq_py": [], "pesq_js": []})
        py_on, _ = codec.decode(it["blob"])
        py_off, _ = codec.decode(it["blob"], phase_iters=0)
        c, n = py_on.shape
        js_on = np.fromfile(tmp / f"{it['key']}.js_on.f32", "<f4").reshape(c, n)
        js_off = np.fromfile(tmp / f"{it['key']}.js_off.f32", "<f4").reshape(c, n)
        js_blob = (tmp / f"{it['key']}.js.cra").read_bytes()
        py_of_js, _ = codec.decode(js_blob)
        if "mid/side" in it["coding"]:  # the coded channels, mid and side, that each runtime refined
            for p_, j_ in ((py_on[0] + py_on[1], js_on[0] + js_on[1]), (py_on[0] - py_on[1], js_on[0] - js_on[1])):
                r.setdefault("lsd_coded", []).append(lsd(power(p_, cfg.n_fft, cfg.hop), power(j_, cfg.n_fft, cfg.hop)))
        for ch in range(c):
            r["lsd_on"].append(lsd(power(py_on[ch], cfg.n_fft, cfg.hop), power(js_on[ch], cfg.n_fft, cfg.hop)))
            r["lsd_off"].append(lsd(power(py_off[ch], cfg.n_fft, cfg.hop), power(js_off[ch], cfg.n_fft, cfg.hop)))
            r["pesq_py"].append(float(pesq(sr, x[ch], py_on[ch], "wb")))
            r["pesq_js"].append(float(pesq(sr, x[ch], py_of_js[ch], "wb")))
    out = []
    print("| point | coded | clips x channels | LSD JS vs Python decode, dB (mean / max) | LSD, refinement off | "
          "PESQ-WB, Python blob | PESQ-WB, JS blob | difference |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for (pt, variant), r in rows.items():
        d = {k: float(np.mean(v)) for k, v in r.items()}
        out.append({"point": pt, "variant": variant, "n": len(r["lsd_on"]), "lsd_on_max": max(r["lsd_on"]),
                    "lsd_off_max": max(r["lsd_off"]), **d})
        print(f"| {pt} | {variant} | {len(r['lsd_on'])} | {d['lsd_on']:.3f} / {max(r['lsd_on']):.3f} | "
              f"{d['lsd_off']:.4f} | {d['pesq_py']:.3f} | {d['pesq_js']:.3f} | {d['pesq_js'] - d['pesq_py']:+.3f} |")
    for (pt, variant), r in rows.items():
        if "lsd_coded" in r:
            print(f"{pt} {variant}: LSD of the coded mid and side channels {np.mean(r['lsd_coded']):.3f} / "
                  f"{max(r['lsd_coded']):.3f} dB (mean / max)")
    print(f"JavaScript: {times['decodeMs'] / 1000:.1f} s decoding, {times['encodeMs'] / 1000:.1f} s encoding in all")
    if a.json:
        a.json.write_text(json.dumps({"rows": out, "node_ms": times}, indent=1))


if __name__ == "__main__":
    main()
