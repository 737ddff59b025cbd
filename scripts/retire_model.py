"""Retire a shipped point before its folder is replaced: copy it to models/retired/<id>/ and write the blobs
that tests/test_retired.py decodes forever (this release's framed and whole layouts of the first second of
tests/data/speech_fr_16k.flac, and what this release decodes them to with refinement, postfilter and
high-pass off).

    python scripts/retire_model.py rd12k ll12k     # then export the new ones and run scripts/write_ladder.py
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf

from codec_rt import Codec
from codec_rt.ladder import MODELS_DIR

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("folders", nargs="+", help="shipped model folders under runtime/codec_rt/models")
    a = p.parse_args()
    x, sr = sf.read(DATA / "speech_fr_16k.flac", dtype="float32")
    x = x[None, :sr]
    for folder in a.folders:
        codec = Codec.load(MODELS_DIR / folder)
        dest = MODELS_DIR / "retired" / codec.model_id
        if dest.exists():
            raise SystemExit(f"{dest} exists already")
        shutil.copytree(MODELS_DIR / folder, dest, ignore=shutil.ignore_patterns("*.md"))
        for layout, framed in (("framed", True), ("whole", False)):
            data = codec.encode(x, sr, framed=framed, joint_stereo=False)
            y, _ = codec.decode(data, phase_iters=0, contrast=1.0, highpass=False)
            (DATA / "retired" / f"{codec.model_id}_{layout}.cra").write_bytes(data)
            np.save(DATA / "retired" / f"{codec.model_id}_{layout}.npy", y)
        print(f"{folder} ({codec.model_id}) -> {dest.relative_to(REPO)}, with its blobs in tests/data/retired/")


if __name__ == "__main__":
    main()
