"""`codec-train` under torchrun on 2 CPU processes (gloo): the same steps as one process with the same global
batches, a checkpoint written by rank 0 alone, and resume under torchrun or alone from either."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

torch = pytest.importorskip("torch")
if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
    pytest.skip("this torch has no gloo backend", allow_module_level=True)

DATA = Path(__file__).parent / "data"
# A fixed-width model without quantizer noise: its steps are deterministic, so one process and two can be
# compared (with noise, each rank draws its own: the same in distribution only).
KNOBS = {"MAX_AUDIO_SECONDS": "1", "MODEL_HIDDEN": "8", "MODEL_CHANNELS": "4", "BATCH_SIZE": "3", "THREADS": "1",
         "QAT_BITS": "0", "CODER": "0"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def train(data: Path, results: Path, procs: int, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **KNOBS, "RESULTS_DIR": str(results), "GLOO_SOCKET_IFNAME": "lo"}
    launch = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", str(procs),
              "--master_addr", "127.0.0.1", "--master_port", str(_free_port())] if procs > 1 else [sys.executable]
    r = subprocess.run([*launch, "-m", "training.train", str(data), *args], capture_output=True, text=True, env=env,
                       timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def checkpoint(results: Path) -> dict:  # type: ignore[type-arg]
    return torch.load(results / "model_last.pth", weights_only=False)


def assert_same_state(a: dict, b: dict) -> None:  # type: ignore[type-arg]
    assert a["model"].keys() == b["model"].keys()
    for k in a["model"]:
        torch.testing.assert_close(a["model"][k], b["model"][k], rtol=1e-5, atol=1e-6, msg=k)
    # Adam's moments: gradients summed in another order differ in their last bits, which shows in relative
    # terms only in elements near zero; compared as whole tensors
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values(), strict=True):
        for k in ("exp_avg", "exp_avg_sq"):
            assert torch.linalg.norm(sa[k] - sb[k]) <= 1e-4 * torch.linalg.norm(sa[k]), k
    assert (a["epoch"], a["step"]) == (b["epoch"], b["step"])


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """5 clips of real speech and music: 4 longer than the 1 s crop, one shorter (padded in its batch)."""
    root = tmp_path_factory.mktemp("clips")
    speech, sr = sf.read(str(DATA / "speech_fr_16k.flac"), dtype="float32")
    music, msr = sf.read(str(DATA / "music_44k_stereo.ogg"), dtype="float32")
    sf.write(str(root / "a.flac"), speech[: 2 * sr], sr)
    sf.write(str(root / "b.flac"), speech[sr:], sr)
    sf.write(str(root / "c.wav"), music[: msr * 3 // 2], msr)
    sf.write(str(root / "d.wav"), music[msr:], msr)
    sf.write(str(root / "e.flac"), speech[sr // 2: sr // 2 + sr * 6 // 10], sr)  # 0.6 s
    return root


@pytest.fixture(scope="module")
def one_epoch(clips: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """One epoch alone and on 2 processes -> their results folders, and the 2-process run's output. Two
    steps: 3 clips (rows split 2 + 1: the ranks' losses weigh unevenly), then 2."""
    alone, two = tmp_path_factory.mktemp("alone"), tmp_path_factory.mktemp("two")
    train(clips, alone, 1, "--epochs", "1")
    r = train(clips, two, 2, "--epochs", "1")
    return alone, two, r.stdout


def test_two_processes_take_the_same_steps_as_one(one_epoch: tuple[Path, Path, str]) -> None:
    alone, two, stdout = one_epoch
    a, b = checkpoint(alone), checkpoint(two)
    assert a["step"] == 2 and b["world_size"] == 2 and a["world_size"] == 1
    assert_same_state(a, b)
    lines = [ln for ln in stdout.splitlines() if ln.startswith("epoch ")]
    assert len(lines) == 1 and " mag " in lines[0]  # rank 0 alone prints


def test_resume_under_torchrun_and_alone(one_epoch: tuple[Path, Path, str], tmp_path: Path) -> None:
    """The 2-process checkpoint resumed alone, and the 1-process one under torchrun, reach the same epoch 2."""
    alone, two, _ = one_epoch
    for src, dst in ((alone, tmp_path / "then_two"), (two, tmp_path / "then_alone")):
        shutil.copytree(src, dst)
    data = Path(checkpoint(alone)["args"]["data"][0])
    r2 = train(data, tmp_path / "then_two", 2, "--epochs", "2", "--resume")
    r1 = train(data, tmp_path / "then_alone", 1, "--epochs", "2", "--resume")
    for r in (r1, r2):
        assert "resumed from" in r.stdout and "epoch 2/2" in r.stdout and "epoch 1/" not in r.stdout
    a, b = checkpoint(tmp_path / "then_alone"), checkpoint(tmp_path / "then_two")
    assert a["epoch"] == b["epoch"] == 2 and a["step"] == 4
    assert_same_state(a, b)
    # the second epoch moved the weights: the runs agree on steps taken, not on steps skipped
    assert any(not torch.allclose(v, checkpoint(alone)["model"][k]) for k, v in a["model"].items())


def test_uneven_shards_weigh_each_row_once() -> None:
    from training.distributed import Ranks

    batch = np.arange(10, dtype=np.float32).reshape(5, 2)
    shards = [Ranks(r, 2).shard(batch) for r in range(2)]
    assert [len(s) for s, _ in shards] == [3, 2]
    assert sum(w for _, w in shards) / 2 == pytest.approx(1.0)  # the weights average to one
    np.testing.assert_array_equal(np.concatenate([s for s, _ in shards]), batch)
    rows, weight = Ranks(2, 3).shard(batch[:2])  # a rank left without a row
    assert weight == 0.0 and len(rows) == 1
