"""Deterministic evaluation clips: the same files and the same excerpts on every machine and every run.

Files are sorted by path (folders are followed through symlinks, as `scripts/prepare_data.sh` lays the
music out as links into the Debian packages), those shorter than `min_seconds` are dropped, and `limit`
of them are taken evenly spaced over the list, so a small subset still spans every source and album.
Each clip is the middle `clip_seconds` of its file (whole files when shorter), mixed to mono and
resampled to 16 kHz: the middle skips fade-ins and silent intros of music tracks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf
import soxr

RATE = 16000
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg"}


@dataclass(frozen=True)
class Clip:
    name: str  # path relative to the set's folder
    path: str
    start_s: float  # excerpt start in the file
    audio: npt.NDArray[np.float32]  # [N] mono at 16 kHz

    @property
    def seconds(self) -> float:
        return float(self.audio.shape[0] / RATE)


def pick_files(folder: Path, limit: int, min_seconds: float) -> list[Path]:
    """Sorted audio files under `folder`, at least `min_seconds` long; `limit` evenly spaced (0: all)."""
    files = sorted(
        Path(root) / n
        for root, _, names in os.walk(folder, followlinks=True)
        for n in names
        if Path(n).suffix.lower() in AUDIO_SUFFIXES
    )
    files = [f for f in files if sf.info(str(f)).duration >= min_seconds]
    if limit <= 0 or limit >= len(files):
        return files
    return [files[i * len(files) // limit] for i in range(limit)]


def load_clip(path: Path, folder: Path, clip_seconds: float) -> Clip:
    """The middle `clip_seconds` of `path`, mono, 16 kHz, float32."""
    info = sf.info(str(path))
    n = int(round(clip_seconds * info.samplerate))
    start = max(0, (info.frames - n) // 2)
    x, sr = sf.read(str(path), start=start, frames=n, dtype="float32", always_2d=True)
    mono = np.ascontiguousarray(x.mean(axis=1), dtype=np.float32)
    if sr != RATE:
        mono = np.asarray(soxr.resample(mono, sr, RATE, quality="HQ"), dtype=np.float32)
    return Clip(str(path.relative_to(folder)), str(path), start / sr, mono)


def load_set(folder: Path, limit: int, min_seconds: float, clip_seconds: float) -> list[Clip]:
    return [load_clip(f, folder, clip_seconds) for f in pick_files(folder, limit, min_seconds)]
