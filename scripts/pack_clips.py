"""Pack random windows of a training set into one FLAC + lengths file (`codec-train --packed`).

    python scripts/pack_clips.py data/train/speech data/train/music -o pack/train.flac --seconds 3 --per-file 1

`--max-clips N` keeps a seeded random N of the windows (in their order), for a copy that fits the 64 MiB a
GPU machine's call can carry (`scripts/gpu_job.sh`).

A compact, quick-to-load copy of a training set, small enough to carry to a GPU machine. Windows are a seeded
random choice: `--per-file` windows of `--seconds` from each file (fewer if the file is short), mono, 16 kHz.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import soundfile as sf

from training.data import list_audio, load_mono


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("folders", nargs="+", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--per-file", type=str, default="1", help="windows per file, or FOLDER_SUBSTRING=N,...,default")
    p.add_argument("--sample-rate", type=int, default=16000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-clips", type=int, default=0, help="keep a random subset of this many windows (0: all)")
    a = p.parse_args()
    rules = dict(r.split("=") for r in a.per_file.split(",") if "=" in r)
    default = int(next((r for r in a.per_file.split(",") if "=" not in r), "1"))
    rng = np.random.default_rng(a.seed)
    win = int(a.seconds * a.sample_rate)
    clips = []
    for f in list_audio(a.folders):
        n = next((int(v) for k, v in rules.items() if k in str(f)), default)
        try:
            x = load_mono(f, a.sample_rate)
        except (RuntimeError, sf.LibsndfileError):
            continue
        if x.size < a.sample_rate // 4 or np.abs(x).max() < 1e-3:
            continue
        for _ in range(n if x.size > win else 1):
            s = int(rng.integers(0, max(x.size - win, 0) + 1))
            clips.append(np.clip(x[s : s + win], -1, 1))
    if 0 < a.max_clips < len(clips):
        keep = np.sort(np.random.default_rng([a.seed, 1]).choice(len(clips), a.max_clips, replace=False))
        clips = [clips[i] for i in keep]
    a.output.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(a.output), np.concatenate(clips), a.sample_rate, subtype="PCM_16")
    np.save(str(a.output) + ".lengths.npy", np.array([c.size for c in clips], np.int64))
    total = sum(c.size for c in clips) / a.sample_rate
    print(f"{len(clips)} clips, {total / 60:.1f} min, {a.output.stat().st_size / 2**20:.1f} MiB -> {a.output}")


if __name__ == "__main__":
    main()
