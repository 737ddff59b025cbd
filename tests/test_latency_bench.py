"""The latency harness (benchmarks/latency.py, from a checkout) runs on a tiny input and writes JSON of its
documented schema, docs/latency.json's; its baselines (torch eager, opus-tools) are timed when present."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks import latency, latency_baselines
from codec_rt import Codec, ladder

REPO = Path(__file__).resolve().parents[1]

NUM = (int, float)
STREAM = {k: NUM for k in ("chunks", "p50_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms", "rtf", "throughput",
                           "cpu_seconds")}
FILE = {k: NUM for k in ("seconds", "rtf", "throughput", "cpu_seconds")}
POINT = {"model_id": str, "kbps": NUM, "low_latency": bool, "mode": str, "rate_lambda": NUM,
         "phase_bins": (int, type(None)), "phase_bits": (int, type(None)), "kbps_actual": NUM, "encode_seconds": NUM,
         "decode_seconds": NUM, "encode_cpu_per_second": NUM, "decode_cpu_per_second": NUM}
TARGET = {"value": (*NUM, type(None)), "target": str, "met": (bool, type(None))}
SCHEMA: dict[str, Any] = {
    "schema": str, "created": str,
    "machine": {"cpu": str, "cores": int, "platform": str, "python": str, "load_average": list},
    "versions": {"codec_rt": str, "onnxruntime": str, "numpy": str, "torch": (str, type(None)),
                 "opus_tools": (str, type(None))},
    "onnxruntime": {"available_providers": list, "providers_used": list},
    "input": {"path": str, "seconds": NUM, "sample_rate": int, "channels": int},
    "models": [{"model_id": str, "mode": str, "path": str, "kbps": (*NUM, type(None)), "low_latency": bool,
                "coder": int,
                "window_ms": NUM,
                "lookahead_ms": NUM, "latency_ms": NUM, "stream_latency_ms": NUM}],
    "model": {"model_id": str, "path": str, "kbps_actual": NUM, "packet_steps": int, "block_frames": int,
              "margin_frames": int, "phase_iters": int, "stream_latency_ms": NUM},
    "runs": [{"threads": int, "chunk_ms": NUM, "stream_encode": STREAM, "stream_decode": STREAM,
              "stream_roundtrip": STREAM, "file_encode": FILE, "file_decode": FILE,
              "torch_eager": ({"same_model": bool, "checkpoint": str, "ort_seconds": NUM, "torch_seconds": NUM,
                               "speedup": NUM, "ort_cpu_seconds": NUM, "torch_cpu_seconds": NUM, "speedup_cpu": NUM},
                              type(None))}],
    "points": list,
    "low_latency": ({"model_id": str, "kbps_actual": NUM, "packet_steps": int, "block_frames": int,
                     "phase_iters": int, "stream_latency_ms": NUM, "stream_encode": STREAM,
                     "stream_decode": STREAM, "stream_roundtrip": STREAM}, type(None)),
    "opus": ({k: NUM for k in ("bitrate_kbps", "encode_seconds", "decode_seconds", "total_seconds",
                               "encode_cpu_seconds", "decode_cpu_seconds", "total_cpu_seconds")}, type(None)),
    "cli": ({f"{k}{s}": NUM for k in ("help", "tiny_encode", "encode", "decode", "total")
             for s in ("_seconds", "_cpu_seconds")}, type(None)),
    "javascript": ({"node": str, "cpu": str, "rows": list}, type(None)),
    "targets": {k: TARGET for k in ("cli_vs_opus", "cli_vs_opus_cpu", "onnxruntime_vs_torch", "chunk_p99_ms",
                                    "chunk_p99_ms_low_latency")},
}


def check(value: Any, spec: Any, where: str = "result") -> None:
    """`value` has exactly the keys and types of `spec` (a dict, a one-element list, a type or a tuple of
    alternatives, where a dict alternative is a nested spec)."""
    if isinstance(spec, tuple) and any(isinstance(s, dict) for s in spec):
        if value is None and type(None) in spec:
            return
        spec = next(s for s in spec if isinstance(s, dict))
    if isinstance(spec, dict):
        assert isinstance(value, dict), where
        assert set(value) == set(spec), (where, set(value) ^ set(spec))
        for k, s in spec.items():
            check(value[k], s, f"{where}.{k}")
    elif isinstance(spec, list):
        assert isinstance(value, list) and value, where
        for i, v in enumerate(value):
            check(v, spec[0], f"{where}[{i}]")
    else:
        allowed = spec if isinstance(spec, tuple) else (spec,)
        assert isinstance(value, allowed), (where, value)
        assert bool in allowed or not isinstance(value, bool), (where, value)  # a bool is not a number here


def test_the_harness_runs_on_a_tiny_input_and_keeps_its_schema() -> None:
    result = latency.run(seconds=1.0, threads=(1, 2), repeats=1, torch=False, cli=False, opus=False, javascript=False)
    check(result, SCHEMA)
    assert result["schema"] == latency.SCHEMA == "codec-rt-bench/2"
    assert result["onnxruntime"]["providers_used"] == ["CPUExecutionProvider"]
    one = result["runs"][0]["stream_roundtrip"]
    assert one["chunks"] == 51 and one["p50_ms"] <= one["p95_ms"] <= one["p99_ms"] <= one["max_ms"]
    assert result["targets"]["chunk_p99_ms"]["value"] == one["p99_ms"]
    assert result["targets"]["onnxruntime_vs_torch"] == {"value": None, "target": ">= 2.0", "met": None}
    shipped = next(m for m in result["models"] if m["model_id"] == result["model"]["model_id"])
    assert shipped["latency_ms"] == pytest.approx(shipped["window_ms"] + shipped["lookahead_ms"])
    # The low-latency model is streamed live: one 20 ms chunk per packet and per decoder block.
    ll = result["low_latency"]
    assert ll is not None and ll["stream_roundtrip"]["chunks"] == 51
    row = next(m for m in result["models"] if m["model_id"] == ll["model_id"])
    assert row["low_latency"] and row["latency_ms"] <= 20.0 and ll["stream_latency_ms"] <= 40.0
    assert result["targets"]["chunk_p99_ms_low_latency"]["value"] == ll["stream_roundtrip"]["p99_ms"]
    assert "targets:" in latency.report(result)
    # The timings and the JSON name the phase iterations the decoders declare, as the CLI decodes.
    assert result["model"]["phase_iters"] == Codec.load().model.phase_iters
    assert ll["phase_iters"] == Codec.load(low_latency=True).model.phase_iters
    # Every shipped point's decode cost per second of audio.
    check(result["points"], [POINT], "result.points")
    assert [p["model_id"] for p in result["points"]] == [p.model_id for p in ladder.points()]
    assert all(p["decode_cpu_per_second"] > 0 and p["kbps_actual"] > 0 for p in result["points"])


def test_the_harness_command_writes_the_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    r = subprocess.run([sys.executable, "-m", "benchmarks.latency", "--seconds", "0.5", "--threads", "1",
                        "--no-torch", "--no-opus", "--no-cli", "--no-javascript", "--json", str(out)],
                       capture_output=True, text=True, timeout=300, cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert "chunk_p99_ms" in r.stdout and "latency" in r.stdout
    result = json.loads(out.read_text())
    check(result, SCHEMA)
    assert result["opus"] is None and result["cli"] is None
    assert "CPU seconds per second of audio" in r.stdout


def test_onnxruntime_against_torch_eager_on_the_same_model() -> None:
    if latency_baselines.torch is None or latency_baselines.export is None:
        pytest.skip("torch and the repository's export package are needed (pip install .[train])")
    result = latency.run(seconds=1.0, threads=(1,), repeats=1, cli=False, opus=False, javascript=False)
    check(result, SCHEMA)
    te = result["runs"][0]["torch_eager"]
    if te is None:
        pytest.skip(f"no checkpoint of model {result['model']['model_id']} in {latency_baselines.CHECKPOINTS}")
    assert te["same_model"] and te["speedup"] == te["torch_seconds"] / te["ort_seconds"]
    assert result["targets"]["onnxruntime_vs_torch"]["value"] == te["speedup"]
    assert result["versions"]["torch"] == latency_baselines.torch.__version__


def test_the_command_line_against_opus_tools() -> None:
    if shutil.which("opusenc") is None or shutil.which("opusdec") is None:
        pytest.skip("opus-tools (opusenc, opusdec) is not installed")
    result = latency.run(seconds=1.0, threads=(1,), repeats=1, torch=False, javascript=False)
    check(result, SCHEMA)
    cli, opus = result["cli"], result["opus"]
    assert opus["bitrate_kbps"] >= 6 and result["versions"]["opus_tools"].startswith("opusenc")
    assert result["targets"]["cli_vs_opus"]["value"] == cli["total_seconds"] / opus["total_seconds"]
    assert cli["total_cpu_seconds"] == cli["encode_cpu_seconds"] + cli["decode_cpu_seconds"]


def test_javascript_decoding_beside_python() -> None:
    js = latency_baselines.javascript_run()
    if js is None:
        pytest.skip("node, web/'s packages or its reference data are missing (bash web/ci.sh sets them up)")
    from codec_rt import ladder

    assert {r["point"] for r in js["rows"]} == {p.path.name for p in ladder.points()}  # every shipped point
    for r in js["rows"]:
        assert all(r["row"][f"{k}:{m}"] > 0 for k in ("python", "native", "wasm") for m in ("on", "off"))


def test_a_failing_javascript_run_is_left_out_not_the_whole_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    """web/bench.mjs failing (its reference data older than the shipped models) costs its row, with the
    reason logged, not the ten minutes of timings before it."""
    if shutil.which("node") is None:
        pytest.skip("node is needed")
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "test" / "ref").mkdir(parents=True)
    (tmp_path / "bench.mjs").write_text('console.error("Error: the references are stale"); process.exit(1);\n')
    monkeypatch.setattr(latency_baselines, "WEB", tmp_path)
    assert latency_baselines.javascript_run() is None
    assert "the references are stale" in caplog.text and "web/ci.sh" in caplog.text
