"""`codec-rt batch --engine ray` against a real Ray cluster: one started by `ray start --head` on 127.0.0.1
with 2 CPUs for this module, and one started by the batch itself. Skipped where Ray is not installed
(`pip install codec-rt[ray]`)."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from codec_rt import Codec
from codec_rt.audio_in import read_audio

pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'codec-rt[ray]'")
MakeClips = Callable[..., list[Path]]  # conftest.make_clips

# The cluster and its clients authenticate with a token of this module's own (not the user's ~/.ray).
ENV = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A 2-CPU Ray cluster on 127.0.0.1 -> its address; stopped by ending the `ray start` that runs it."""
    port = _free_port()
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Ray's socket paths must stay short
    log = Path(temp) / "start.log"
    with open(log, "w") as f:
        head = subprocess.Popen(
            [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block", "--node-ip-address",
             "127.0.0.1", "--port", str(port), "--num-cpus", "2", "--include-dashboard", "false",
             "--disable-usage-stats", "--temp-dir", temp], stdout=f, stderr=subprocess.STDOUT, env=ENV,
            start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while "Ray runtime started" not in log.read_text():
            assert head.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        yield f"127.0.0.1:{port}"
    finally:
        head.send_signal(signal.SIGTERM)  # `ray start --block` stops the processes it started
        try:
            head.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()
        subprocess.run(["rm", "-rf", temp], check=False)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codec_rt", *args], capture_output=True, text=True, env=ENV)


def statuses(results: Path) -> list[str]:
    return [json.loads(line)["status"] for line in results.read_text().splitlines()]


def same_as_encode(clips: list[Path], src: Path, dst: Path) -> None:
    codec = Codec.load()
    for clip in clips:
        x, sr = read_audio(clip)
        assert (dst / clip.relative_to(src)).with_suffix(".cra").read_bytes() == codec.encode(x, sr, framed=True)


def test_encode_and_decode_on_a_cluster(make_clips: MakeClips, cluster: str, tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    clips = make_clips(src, 10, bad=2, seconds=1.5)
    r = run("batch", "encode", str(src), "-o", str(dst), "--engine", "ray", "--address", cluster)
    assert r.returncode == 1 and "10 coded, 0 already done, 2 failed" in r.stderr, r.stderr
    same_as_encode(clips, src, dst)
    r = run("batch", "encode", str(src), "-o", str(dst), "--engine", "ray", "--address", cluster)
    assert r.returncode == 1 and "0 coded, 10 already done, 2 failed" in r.stderr, r.stderr

    local = tmp_path / "local"
    assert run("batch", "decode", str(dst), "-o", str(local), "--workers", "1").returncode == 0
    r = run("batch", "decode", str(dst), "-o", str(tmp_path / "ray"), "--engine", "ray", "--address", cluster)
    assert r.returncode == 0 and "10 coded" in r.stderr, r.stderr
    for wav in local.rglob("*.wav"):
        assert (tmp_path / "ray" / wav.relative_to(local)).read_bytes() == wav.read_bytes()


def _actors() -> list[int]:
    """Processes of the batch's actors (Ray titles them ray::Coder...)."""
    pids = []
    for p in Path("/proc").iterdir():
        try:
            if p.name.isdigit() and (p / "cmdline").read_bytes().startswith(b"ray::Coder"):
                pids.append(int(p.name))
        except OSError:
            pass
    return pids


def test_a_worker_killed_mid_batch_costs_only_a_retry(make_clips: MakeClips, cluster: str,
                                                       tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    clips = make_clips(src, 24, bad=0, seconds=6.0, seed=1)
    proc = subprocess.Popen([sys.executable, "-m", "codec_rt", "batch", "encode", str(src), "-o", str(dst),
                             "--engine", "ray", "--address", cluster], stderr=subprocess.PIPE, text=True, env=ENV)
    log, killed = dst / "batch_results.jsonl", None
    deadline = time.monotonic() + 180
    while killed is None and proc.poll() is None and time.monotonic() < deadline:
        actors = _actors()
        if log.exists() and log.read_text().count("\n") >= 1 and actors:
            killed = log.read_text().count("\n")
            os.kill(actors[0], signal.SIGKILL)
        time.sleep(0.02)
    _, stderr = proc.communicate(timeout=300)
    assert killed is not None and killed < len(clips), "the batch ended before a worker could be killed"
    assert proc.returncode == 0 and "24 coded, 0 already done, 0 failed" in stderr, stderr
    assert statuses(log) == ["ok"] * 24
    same_as_encode(clips, src, dst)
    assert not list(dst.rglob(".*.part*"))


def test_a_local_cluster_started_for_the_run(make_clips: MakeClips, tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    clips = make_clips(src, 3, bad=0, seconds=1.0)
    r = run("batch", "encode", str(src), "-o", str(dst), "--engine", "ray", "--workers", "2")
    assert r.returncode == 0 and "3 coded" in r.stderr, r.stderr
    same_as_encode(clips, src, dst)


def test_an_unreachable_cluster_or_a_missing_gpu_is_one_line_before_any_work(make_clips: MakeClips,
                                                                              tmp_path: Path) -> None:
    """A HOST:PORT nothing listens on is refused in seconds (Ray itself retried for 10 minutes), and a
    cluster without a GPU for --provider cuda at once (its actors would wait for one for ever)."""
    src = tmp_path / "src"
    make_clips(src, 1, seconds=0.5)
    run = [sys.executable, "-m", "codec_rt", "batch", "encode", str(src), "--engine", "ray"]
    t0 = time.monotonic()
    r = subprocess.run([*run, "-o", str(tmp_path / "a"), "--address", f"127.0.0.1:{_free_port()}"],
                       capture_output=True, text=True, env=ENV, timeout=120)
    assert r.returncode == 2 and r.stderr.startswith("codec-rt: error: cannot reach the Ray cluster"), r.stderr
    assert time.monotonic() - t0 < 60 and not (tmp_path / "a").exists()
    r = subprocess.run([*run, "-o", str(tmp_path / "b"), "--workers", "1", "--provider", "cuda"],
                       capture_output=True, text=True, env=ENV, timeout=300)
    assert r.returncode == 2 and "no GPU for --provider cuda" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
