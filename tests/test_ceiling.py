"""benchmarks/ceiling.py measures what it says: on real speech, the input's own magnitude with Griffin-Lim
scores near transparent, the shipped 12 kbps model's magnitude with the true phase scores above the same
magnitude with Griffin-Lim, and its regressed phase used as is scores lowest (why it is refined)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("torch")
pytest.importorskip("pesq")

from benchmarks import ceiling  # noqa: E402
from benchmarks.clips import Clip  # noqa: E402
from export.export import load_checkpoint  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def test_the_oracles_order_as_expected() -> None:
    x, sr = sf.read(REPO / "tests" / "data" / "speech_fr_16k.flac", dtype="float32")
    clip = Clip("speech_fr_16k.flac", "tests/data/speech_fr_16k.flac", 0.0, x[: 3 * sr])
    rows = ceiling.evaluate(load_checkpoint(REPO / "checkpoints" / "rd12k.pth"), [clip])
    assert set(rows) == {f"{lat} / {way}" for lat in ("float", "rounded")
                         for way in ("gl", "learned", "gl_zero", "true_phase")} | {"input / gl_zero"}
    assert rows["input / gl_zero"]["pesq"] > 3.5
    assert rows["float / true_phase"]["pesq"] > rows["float / gl"]["pesq"] > rows["float / learned"]["pesq"]
    assert all(np.isfinite(r["stoi"]) and r["phase_s_per_s"] > 0 for r in rows.values())
