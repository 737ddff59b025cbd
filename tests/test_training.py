"""`codec-train` on real clips: progress lines, checkpoint, resume, knobs from the environment."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

DATA = Path(__file__).parent / "data"


def train(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "MAX_AUDIO_SECONDS": "1", "MODEL_HIDDEN": "8", "BATCH_SIZE": "2", "THREADS": "1",
                "RESULTS_DIR": str(tmp_path / "results"), **env}
    return subprocess.run([sys.executable, "-m", "training.train", str(DATA), *args], capture_output=True,
                          text=True, env=full_env, check=False)


def test_train_checkpoint_and_resume(tmp_path: Path) -> None:
    r = train(tmp_path, "--epochs", "2", MODEL_CHANNELS="4")
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("epoch ")]
    assert len(lines) == 2
    for term in ("mag", "phase", "wave", "mel"):
        assert f" {term} " in lines[0]
    ckpt = torch.load(tmp_path / "results" / "model_last.pth", weights_only=False)
    assert ckpt["epoch"] == 2 and ckpt["config"]["channels"] == 4  # MODEL_CHANNELS came from the environment

    r = train(tmp_path, "--epochs", "3", "--resume", MODEL_CHANNELS="4")
    assert r.returncode == 0, r.stderr
    assert "resumed from" in r.stdout and "epoch 3/3" in r.stdout and "epoch 1/" not in r.stdout
    assert torch.load(tmp_path / "results" / "model_last.pth", weights_only=False)["epoch"] == 3


def test_resume_refuses_another_architecture(tmp_path: Path) -> None:
    assert train(tmp_path, "--epochs", "1", MODEL_CHANNELS="4").returncode == 0
    r = train(tmp_path, "--epochs", "2", "--resume", MODEL_CHANNELS="6")
    assert r.returncode != 0 and "trained with" in r.stderr
