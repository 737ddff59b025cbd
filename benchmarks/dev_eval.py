"""Round-trip the development set through the runtime and report mean figures.

    python -m benchmarks.dev_eval data/dev/speech --limit 40 --json results/dev_eval.json

Files are chosen deterministically (sorted, every k-th, clips of at least `--min-seconds`), coded with
`codec_rt.Codec` (the shipped model unless `--model`), and scored against the original at its own rate.
Bitrate is 8 * blob bytes / seconds, header included.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from codec_rt import Codec
from codec_rt.audio_in import read_audio
from codec_rt.decoder import default_phase_iters
from codec_rt.metrics import round_trip_report


def pick(folder: Path, limit: int, min_seconds: float) -> list[Path]:
    import soundfile as sf

    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in {".wav", ".flac", ".ogg"})
    files = [p for p in files if sf.info(str(p)).duration >= min_seconds]
    step = max(1, len(files) // limit) if limit > 0 else 1
    return files[::step][:limit] if limit > 0 else files


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("folder", type=Path)
    p.add_argument("--model", type=Path, default=None)
    p.add_argument("--bits", type=int, default=None)
    p.add_argument("--mode", default="predicted", choices=["predicted", "store_phase", "low_band_phase"])
    p.add_argument("--phase-bins", type=int, default=None, help="low_band_phase: bins stored (default: the mode's)")
    p.add_argument("--phase-bits", type=int, default=None, help="stored phase: bits a code (default: the mode's)")
    p.add_argument("--phase-iters", type=int, default=None, help="default: the model's")
    p.add_argument("--contrast", type=float, default=None, help="postfilter contrast (default: the model's)")
    p.add_argument("--limit", type=int, default=40)
    p.add_argument("--min-seconds", type=float, default=1.5)
    p.add_argument("--json", type=Path, default=None)
    a = p.parse_args(argv)
    codec = Codec.load(a.model)
    if a.phase_iters is None:
        a.phase_iters = default_phase_iters(codec.config, codec.model.phase_iters)
    files = pick(a.folder, a.limit, a.min_seconds)
    if not files:
        sys.exit(f"no audio files of at least {a.min_seconds} s under {a.folder}")
    rows = []
    total_bytes, total_seconds = 0, 0.0
    for f in files:
        x, sr = read_audio(f)
        data = codec.encode(x, sr, bits=a.bits, mode=a.mode, phase_bins=a.phase_bins, phase_bits=a.phase_bits)
        y, _ = codec.decode(data, phase_iters=a.phase_iters, contrast=a.contrast)
        r = round_trip_report(x, y, sr, len(data))
        rows.append({"file": str(f), **r})
        total_bytes += len(data)
        total_seconds += x.shape[1] / sr
    keys = ["kbps", "pesq_wb", "stoi", "si_sdr_db", "snr_db", "lsd_db", "compression_ratio"]
    mean = {k: float(np.mean([r[k] for r in rows if r[k] is not None])) for k in keys}
    summary = {
        "model_id": codec.model_id, "bits": a.bits or codec.config.default_bits, "mode": a.mode,
        "phase_bins": a.phase_bins, "phase_bits": a.phase_bits,
        "phase_iters": a.phase_iters, "contrast": a.contrast,
        "files": len(rows), "seconds": round(total_seconds, 2),
        "kbps_overall": 8 * total_bytes / total_seconds / 1000, "mean": mean,
        "max_kbps": max(r["kbps"] for r in rows),
    }
    print(json.dumps(summary, indent=2))
    if a.json:
        a.json.write_text(json.dumps({"summary": summary, "files": rows}, indent=2))


if __name__ == "__main__":
    main()
