"""Training data: folders of wav/flac/ogg, mixed to mono, resampled to the model rate, held in memory."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from codec_rt.level import normalizing_gain

from .synth import random_kind, synth_clip

log = logging.getLogger(__name__)
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg"}


def list_audio(folders: list[Path]) -> list[Path]:
    """Audio files under `folders`, sorted, following symlinked folders (data/ links to /usr/share)."""
    files: list[Path] = []
    for folder in folders:
        for root, _, names in os.walk(folder, followlinks=True):
            files += [Path(root) / n for n in names if Path(n).suffix.lower() in AUDIO_SUFFIXES]
    return sorted(files)


def load_mono(path: Path, sample_rate: int) -> np.ndarray:
    """`[N] float32` at `sample_rate`."""
    x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    if sr != sample_rate:
        x = soxr.resample(x, sr, sample_rate).astype(np.float32)
    return x


class ClipSet:
    """Up to `max_files` clips (a seeded random choice), each cropped per epoch to `max_seconds`."""

    def __init__(self, folders: list[Path], sample_rate: int, max_files: int, max_seconds: float, seed: int) -> None:
        files = list_audio(folders)
        if not files:
            raise SystemExit(f"no wav/flac/ogg files under {[str(f) for f in folders]}")
        rng = np.random.default_rng(seed)
        rng.shuffle(files)  # type: ignore[arg-type]
        self.clips: list[np.ndarray] = []
        for p in files:
            if len(self.clips) >= max_files > 0:
                break
            try:
                x = load_mono(p, sample_rate)
            except (RuntimeError, sf.LibsndfileError) as e:
                log.warning("skipping %s: %s", p, e)
                continue
            if x.size >= sample_rate // 4 and np.abs(x).max() > 1e-3:
                self.clips.append(x)
        self.sample_rate = sample_rate
        self.max_len = int(max_seconds * sample_rate) if max_seconds > 0 else 0
        hours = sum(c.size for c in self.clips) / sample_rate / 3600
        log.info("loaded %d clips, %.2f h, from %d candidate files", len(self.clips), hours, len(files))

    @classmethod
    def from_packed(cls, path: Path, sample_rate: int, max_files: int, max_seconds: float, seed: int) -> ClipSet:
        """Clips stored end to end in one mono file at `sample_rate` (`scripts/pack_clips.py`), their lengths
        in `<path>.lengths.npy`: a compact copy of a training set, quick to load and to move to another machine."""
        x, sr = sf.read(str(path), dtype="float32")
        if sr != sample_rate or x.ndim != 1:
            raise SystemExit(f"{path}: packed clips must be mono at {sample_rate} Hz")
        lengths = np.load(str(path) + ".lengths.npy")
        if int(lengths.sum()) != x.size:
            raise SystemExit(f"{path}: lengths do not add up to the audio")
        clips = np.split(x, np.cumsum(lengths)[:-1])
        order = np.random.default_rng(seed).permutation(len(clips))
        if max_files > 0:
            order = order[:max_files]
        self = cls.__new__(cls)
        self.clips = [clips[i] for i in sorted(order)]
        self.sample_rate = sample_rate
        self.max_len = int(max_seconds * sample_rate) if max_seconds > 0 else 0
        hours = sum(c.size for c in self.clips) / sample_rate / 3600
        log.info("loaded %d of %d packed clips, %.2f h", len(self.clips), len(clips), hours)
        return self

    def batches(self, batch_size: int, rng: np.random.Generator, synth: float = 0.0) -> list[np.ndarray]:
        """One epoch: every clip once, randomly cropped, level-normalized, zero-padded into `[B, N]` batches.
        With `synth` > 0, that fraction of the items is replaced by a synthetic clip of the same length
        (`synth.py`: tones, chords, sweeps, backgrounds under speech bursts, clicks)."""
        return [b for b, _ in self.labelled_batches(batch_size, rng, synth)]

    def labelled_batches(
        self, batch_size: int, rng: np.random.Generator, synth: float = 0.0
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """`batches`, each with a `[B] bool` mask of its synthetic rows (the same draws, so the same batches)."""
        order = rng.permutation(len(self.clips))
        out = []
        for i in range(0, len(order), batch_size):
            items, made = [], []
            for j in order[i : i + batch_size]:
                c = self.clips[j]
                if self.max_len and c.size > self.max_len:
                    s = int(rng.integers(0, c.size - self.max_len + 1))
                    c = c[s : s + self.max_len]
                is_synth = synth > 0 and rng.random() < synth  # no draw at synth 0: older runs keep their crops
                if is_synth:
                    c = synth_clip(random_kind(rng), c.size, self.sample_rate, rng, speech=c)
                # Same normalization as the runtime, with +-6 dB jitter so the model tolerates level changes.
                g = normalizing_gain(c[None])[0] * 10 ** (rng.uniform(-6, 6) / 20)
                items.append(c * g)
                made.append(is_synth)
            n = max(x.size for x in items)
            out.append((np.stack([np.pad(x, (0, n - x.size)) for x in items]).astype(np.float32), np.array(made)))
        return out
