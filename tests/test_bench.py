"""`codec-rt bench` times an installation on its own: no repository files, torch or opus-tools (run here from
an empty directory; tests/test_torch_free.py runs it from a plain `pip install .`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from codec_rt import bench, ladder

STREAM_KEYS = {"chunks", "p50_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms", "rtf", "throughput", "cpu_seconds"}


def codec_rt(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codec_rt", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def test_bench_times_every_shipped_model_on_synthetic_speech(tmp_path: Path) -> None:
    r = codec_rt("bench", "--seconds", "0.5", "--threads", "1", "--json", "b.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    result = json.loads((tmp_path / "b.json").read_text())
    assert result["schema"] == bench.SCHEMA and result["input"]["source"] == "synthetic"
    assert [m["model_id"] for m in result["models"]] == [p.model_id for p in ladder.points()]
    for m in result["models"]:
        assert m["name"] in r.stdout and m["kbps_actual"] > 0 and m["latency_ms"] <= m["stream_latency_ms"]
        (run,) = m["runs"]
        assert run["threads"] == 1 and run["file_decode"]["throughput"] > 0
        s = run["stream_roundtrip"]
        assert set(s) == STREAM_KEYS and s["chunks"] == 26  # 25 pushes of 20 ms and the flush
        assert s["p50_ms"] <= s["p95_ms"] <= s["p99_ms"] <= s["max_ms"]
        # A low-latency model is timed as live audio: one 20 ms chunk per packet and per decoder block.
        if m["low_latency"]:
            assert m["margin_frames"] == 0 and m["stream_latency_ms"] <= 40.0
    # each point timed in its own mode: 24 kbps is the 12 kbps model with the low band's phase in the blob
    coded = {m["kbps"]: m for m in result["models"] if not m["low_latency"]}
    assert [m["mode"] for m in result["models"]] == [p.mode for p in ladder.points()]
    assert coded[24.0]["model_id"] == coded[12.0]["model_id"]
    assert coded[24.0]["kbps_actual"] > coded[12.0]["kbps_actual"] + 5
    # and with its rounding: 10 kbps is the 12 kbps model rounded rate-aware
    assert [m["rate_lambda"] for m in result["models"]] == [p.rate_lambda for p in ladder.points()]
    # and with its band: 18 kbps is the 12 kbps model with a narrower one than 24's
    assert [(m["phase_bins"], m["phase_bits"]) for m in result["models"]] == \
        [(p.phase_bins, p.phase_bits) for p in ladder.points()]
    assert coded[12.0]["kbps_actual"] + 3 < coded[18.0]["kbps_actual"] < coded[24.0]["kbps_actual"] - 3
    assert coded[10.0]["model_id"] == coded[12.0]["model_id"]
    assert coded[10.0]["kbps_actual"] < coded[12.0]["kbps_actual"]


def test_bench_takes_an_input_file_and_one_model(tmp_path: Path) -> None:
    t = np.arange(8000) / 8000
    sf.write(tmp_path / "tone.wav", 0.3 * np.sin(2 * np.pi * 440 * t)[:, None].repeat(2, axis=1), 8000)
    r = codec_rt("bench", "--input", "tone.wav", "--seconds", "0.3", "--threads", "1", "--bitrate", "6",
                 "--json", "b.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    result = json.loads((tmp_path / "b.json").read_text())
    assert result["input"] == {"source": "tone.wav", "seconds": 0.3, "sample_rate": 16000, "channels": 1}
    assert [m["kbps"] for m in result["models"]] == [6.0]
    # An existing JSON file is kept unless --force.
    r = codec_rt("bench", "--seconds", "0.3", "--threads", "1", "--bitrate", "6", "--json", "b.json", cwd=tmp_path)
    assert r.returncode == 2 and "--force" in r.stderr


def test_the_synthetic_input_is_deterministic_speech_with_pauses() -> None:
    x = bench.speech_like(3.0)
    assert x.shape == (1, 48000) and x.dtype == np.float32
    assert np.array_equal(x, bench.speech_like(3.0))
    level = 20 * np.log10(np.sqrt(np.mean(x.reshape(-1, 320) ** 2, axis=1)) + 1e-9)  # per 20 ms
    assert level.max() > -25 and level.min() < -45  # loud syllables, quiet pauses


@pytest.mark.parametrize("args", [("--provider", "cuda"), ("--input", "missing.wav")])
def test_bad_options_are_a_clean_error(tmp_path: Path, args: tuple[str, str]) -> None:
    import onnxruntime as ort

    if args[0] == "--provider" and "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("CUDA is available here")
    r = codec_rt("bench", "--seconds", "0.3", "--threads", "1", "--bitrate", "6", *args, cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith("codec-rt: error:")
