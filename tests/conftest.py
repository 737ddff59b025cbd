"""Fixtures, and which tests are runtime tests.

The runtime tests need only the installed package without extras and tests/ and docs/: the clean-install job
of .ci/run runs them against the wheel, from a copy of those folders alone. The test modules in `NEEDS` need
more (torch and the training code, test dependencies, the checkout's other folders); where any of it is
missing they skip whole, with the reason. A single test of a runtime module that needs an extra (torch, onnx,
pesq, pystoi) skips by itself (pytest.importorskip).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

DATA = Path(__file__).parent / "data"
REPO = DATA.parents[1]

# Module -> what it needs beyond the runtime: importable modules, or paths in the checkout (ending in "/" or a
# file name).
NEEDS: dict[str, tuple[str, ...]] = {
    "test_ceiling.py": ("torch", "benchmarks/", "checkpoints/"),
    "test_export.py": ("torch", "onnxscript", "checkpoints/"),
    "test_fidelity.py": ("benchmarks/",),
    "test_fuzz_blob.py": ("hypothesis", "scripts/fuzz_blob.py"),
    "test_latency_bench.py": ("benchmarks/",),
    "test_memory_bench.py": ("benchmarks/",),
    "test_model.py": ("torch",),
    "test_phase_head.py": ("torch",),
    "test_rate_quality.py": ("benchmarks/",),
    "test_synth.py": ("training/",),
    "test_training.py": ("torch",),
    "test_training_ddp.py": ("torch",),
    "test_batch_ray.py": ("ray",),
    "test_write_ladder.py": ("scripts/write_ladder.py",),
}


def _missing(need: str) -> bool:
    if need.endswith("/") or need.endswith(".py"):
        return not (REPO / need).exists()
    return importlib.util.find_spec(need) is None


class _Unavailable(pytest.Module):
    """A test module whose needs are missing here: collected as one skip that names them, never imported."""

    def __init__(self, *, missing: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.missing = missing

    def collect(self) -> list[pytest.Item | pytest.Collector]:
        pytest.skip(f"{self.path.name} needs {', '.join(self.missing)}, missing here (not a runtime test)")


def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    missing = [n for n in NEEDS.get(module_path.name, ()) if _missing(n)]
    return _Unavailable.from_parent(parent, path=module_path, missing=missing) if missing else None


@pytest.fixture(scope="session")
def speech() -> tuple[np.ndarray, int]:
    """Real speech (asterisk fr_CA_f_June, the held-out development voice), `[1, N] float32` at 16 kHz."""
    x, sr = sf.read(DATA / "speech_fr_16k.flac", dtype="float32", always_2d=True)
    return np.ascontiguousarray(x.T), sr


@pytest.fixture(scope="session")
def music() -> tuple[np.ndarray, int]:
    """Real music (Wesnoth soundtrack excerpt), stereo 44.1 kHz, `[2, N] float32`."""
    x, sr = sf.read(DATA / "music_44k_stereo.ogg", dtype="float32", always_2d=True)
    return np.ascontiguousarray(x.T), sr


@pytest.fixture(scope="session")
def codec():  # type: ignore[no-untyped-def]
    """The shipped fixed-width model (the one with `bits`); the ladder's points have tests/test_ladder.py."""
    from codec_rt import Codec

    return Codec.load(fixed_width=True)


@pytest.fixture
def model_with_decoder_metadata(tmp_path: Path) -> Callable[[str, str], Path]:
    """model_with_decoder_metadata(key, value) -> a copy of the golden range-coded model under tmp_path whose
    decoder also carries metadata `key` = `value` (skips without onnx, the dev extra, which edits the graph)."""
    onnx = pytest.importorskip("onnx", reason="editing a graph's metadata needs onnx (the dev extra)")

    def make(key: str, value: str) -> Path:
        for name in ("encoder.onnx", "decoder.onnx"):
            m = onnx.load(str(DATA / "golden_model_range" / name))
            if name == "decoder.onnx":
                m.metadata_props.add(key=key, value=value)
            onnx.save(m, str(tmp_path / name))
        return tmp_path

    return make


@pytest.fixture(scope="session")
def make_clips(speech: tuple[np.ndarray, int], music: tuple[np.ndarray, int]) -> Callable[..., list[Path]]:
    """make_clips(root, n, bad=0, seconds=1.5, seed=0) -> the paths of `n` clips written under `root`: real
    speech and music, at 8, 16, 22.05, 44.1 and 48 kHz, mono and stereo, wav, flac and ogg, in nested
    folders; and `bad` unreadable files beside them (not audio; a FLAC header with nothing after it)."""
    import soxr

    def make(root: Path, n: int, bad: int = 0, seconds: float = 1.5, seed: int = 0) -> list[Path]:
        rng = np.random.default_rng(seed)
        clips = []
        for i in range(n):
            x, sr = (speech, music)[i % 2]
            rate, fmt = (8000, 16000, 22050, 44100, 48000)[i % 5], ("wav", "flac", "ogg")[(i // 2) % 3]
            n_samples = int(seconds * sr * rng.uniform(0.75, 1.25))
            y = np.resize(np.roll(x, -int(rng.integers(x.shape[1])), axis=1), (x.shape[0], n_samples))
            y = y.mean(axis=0, keepdims=True) if (i // 3) % 2 == 0 else np.stack([y[0], np.roll(y[-1], 40)])
            path = root / f"set{i % 4}" / (f"sub{i % 3}" if i % 2 else "") / f"clip{i:04d}.{fmt}"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(str(path), 0.8 * soxr.resample(y.T, sr, rate), rate)
            clips.append(path)
        for j in range(bad):
            path = root / f"set{j % 4}" / f"bad{j:02d}.{('wav', 'flac')[j % 2]}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"this is not audio\n" * 10 if j % 2 == 0 else b"fLaC\x00\x00\x00\x22" + bytes(8))
        return clips

    return make
