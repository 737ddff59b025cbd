"""A corpus for `codec-rt batch`: real speech and music (tests/data) cut into clips at mixed sample rates,
channel counts and formats, in nested folders, with some bad files among them.

    python -m benchmarks.batch_corpus OUT --clips 100 --bad 2 --seconds 2
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
RATES = (8000, 16000, 22050, 44100, 48000)
FORMATS = ("wav", "flac", "ogg")


def _sources() -> list[tuple[np.ndarray, int]]:
    out = []
    for name in ("speech_fr_16k.flac", "music_44k_stereo.ogg"):
        x, sr = sf.read(str(DATA / name), dtype="float32", always_2d=True)
        out.append((x, sr))
    return out


def make_corpus(root: Path, clips: int, bad: int = 2, seconds: float = 2.0, seed: int = 0) -> list[Path]:
    """Write `clips` good clips of about `seconds` each and `bad` unreadable files under `root` -> the good
    clips' paths. Deterministic for a seed."""
    rng = np.random.default_rng(seed)
    sources = _sources()
    good: list[Path] = []
    for i in range(clips):
        x, sr = sources[i % len(sources)]
        rate, fmt, channels = RATES[i % len(RATES)], FORMATS[(i // 2) % len(FORMATS)], 1 + (i // 3) % 2
        n = max(1, int(seconds * sr * rng.uniform(0.75, 1.25)))
        start = int(rng.integers(0, x.shape[0]))
        clip = np.resize(np.roll(x, -start, axis=0), (n, x.shape[1]))  # tiled from a random start
        if channels == 1:
            clip = clip.mean(axis=1, keepdims=True)
        elif clip.shape[1] == 1:  # stereo from mono speech: the right channel a little later
            clip = np.stack([clip[:, 0], np.roll(clip[:, 0], 40)], axis=1)
        if rate != sr:
            clip = soxr.resample(clip, sr, rate).astype(np.float32)
        path = root / f"set{i % 4}" / (f"sub{i % 3}" if i % 2 else "") / f"clip{i:04d}.{fmt}"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), 0.8 * clip, rate)
        good.append(path)
    for j in range(bad):
        path = root / f"set{j % 4}" / f"bad{j:02d}.{FORMATS[j % 2]}"
        path.parent.mkdir(parents=True, exist_ok=True)
        # not audio at all, and a header with nothing after it
        path.write_bytes(b"this is not audio\n" * 10 if j % 2 == 0 else b"fLaC\x00\x00\x00\x22" + bytes(8))
    return good


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out", type=Path)
    p.add_argument("--clips", type=int, default=100)
    p.add_argument("--bad", type=int, default=2)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    good = make_corpus(a.out, a.clips, a.bad, a.seconds, a.seed)
    print(f"{len(good)} clips and {a.bad} bad files under {a.out}")


if __name__ == "__main__":
    main()
