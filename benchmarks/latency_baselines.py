"""The baselines of the latency harness (benchmarks/latency.py), each timed on the run's own audio: the same
model's graphs in torch eager mode (its checkpoint found in checkpoints/ by model id), opusenc + opusdec at
about the same bitrate, and the `codec-rt` command line in fresh processes (cold start, encode, decode).

Each returns None when its tool is missing (torch, the repository's export package, the checkpoint, or
opus-tools), so the harness reports "not measured" instead of failing.
"""

from __future__ import annotations

import json
import logging
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from codec_rt import Codec, CodecError, stft
from codec_rt.bench import timed

try:
    import torch

    from export import export
except ImportError:  # the harness still times the runtime and opus without them
    torch = None  # type: ignore[assignment]
    export = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]
REPO = Path(__file__).resolve().parents[1]
CHECKPOINTS = REPO / "checkpoints"  # the timed model's checkpoint is found there by its model id
TORCH_SECONDS = 20.0  # onnxruntime vs torch: both graphs over the first 20 s in one call (memory grows with it)


def torch_version() -> str | None:
    return None if torch is None else str(torch.__version__)


def find_checkpoint(codec: Codec, folder: Path = CHECKPOINTS) -> Path | None:
    """The checkpoint in `folder` whose weights, shipped with `codec`'s entropy tables, are `codec`'s model
    (None if none, or no torch). A context-coded model's tables come from export, not from the checkpoint,
    so the id is computed with the shipped tables whatever the coder."""
    if export is None:
        return None
    for path in sorted(folder.glob("*.pth")):
        try:
            if export.model_id(export.load_checkpoint(path), codec.model.entropy) == codec.model_id:
                return path
        except Exception as e:  # noqa: BLE001 - any unreadable checkpoint is just not the one
            log.info("skipping %s: %s", path, e)
    return None


def torch_vs_ort(codec: Codec, x: F32, threads: int, repeats: int,
                 checkpoint: Path | None = None) -> dict[str, Any] | None:
    """`codec`'s two graphs in torch eager mode against onnxruntime on the same features (the first
    `TORCH_SECONDS` of `x [1, n]` at the model's rate, one call each, best of `repeats`) -> {same_model,
    checkpoint, ort_seconds, torch_seconds, speedup, ort_cpu_seconds, torch_cpu_seconds, speedup_cpu}, or
    None when torch, the export package or the checkpoint is missing."""
    if torch is None or export is None:
        return None
    checkpoint = checkpoint or find_checkpoint(codec)
    if checkpoint is None or not checkpoint.is_file():
        return None
    model = export.load_checkpoint(checkpoint)
    cfg = codec.config
    feats = stft.encoder_features(x[:, : int(TORCH_SECONDS * cfg.sample_rate)], cfg)
    torch.set_num_threads(threads)
    tx = torch.from_numpy(feats)

    def run_torch() -> None:
        with torch.no_grad():
            model.decoder(model.encoder(tx))

    def run_ort() -> None:
        codec.model.decode(codec.model.encode(feats))

    run_torch()  # warm-up
    run_ort()
    (t_torch, c_torch), (t_ort, c_ort) = timed(run_torch, repeats), timed(run_ort, repeats)
    return {"same_model": export.model_id(model, codec.model.entropy) == codec.model_id,
            "checkpoint": str(checkpoint), "ort_seconds": t_ort, "torch_seconds": t_torch,
            "speedup": t_torch / t_ort, "ort_cpu_seconds": c_ort, "torch_cpu_seconds": c_torch,
            "speedup_cpu": c_torch / c_ort if c_ort > 0 else None}


def child(args: list[str], cwd: Path | None = None) -> tuple[float, float]:
    """Run a command -> (wall seconds, CPU seconds of the child: user + system); CodecError if it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode:
        raise CodecError(f"{' '.join(args)} failed: {r.stderr.strip()[-300:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def median(fn: Callable[[], tuple[float, float]], repeats: int) -> tuple[float, float]:
    """Median wall and median CPU seconds of `repeats` runs of `fn`."""
    runs = [fn() for _ in range(max(1, repeats))]
    return float(statistics.median(r[0] for r in runs)), float(statistics.median(r[1] for r in runs))


def opus_run(wav: Path, kbps: float, work: Path) -> dict[str, Any] | None:
    """opusenc + opusdec (opus-tools) of `wav` at about `kbps` (6 at least), once each, as the command line's
    encode and decode of the same file are timed -> {bitrate_kbps, encode_seconds, decode_seconds,
    total_seconds, and the same with _cpu_seconds}; None if opus-tools is not installed."""
    enc, dec = shutil.which("opusenc"), shutil.which("opusdec")
    if enc is None or dec is None:
        return None
    rate = max(6.0, round(kbps))
    opus, out = work / "o.opus", work / "o.wav"
    e, ec = child([enc, "--quiet", "--bitrate", f"{rate:g}", str(wav), str(opus)])
    # opus-tools 0.2 decodes to 16 kHz with --rate, as codec-rt decodes to the input's rate.
    d, dc = child([dec, "--quiet", "--rate", "16000", str(opus), str(out)])
    return {"bitrate_kbps": rate, "encode_seconds": e, "decode_seconds": d, "total_seconds": e + d,
            "encode_cpu_seconds": ec, "decode_cpu_seconds": dc, "total_cpu_seconds": ec + dc}


def opus_version() -> str | None:
    exe = shutil.which("opusenc")
    if exe is None:
        return None
    r = subprocess.run([exe, "--version"], capture_output=True, text=True)
    text = (r.stdout or r.stderr).strip()
    return text.splitlines()[0].strip() if text else None


def cli_run(work: Path, model: Path | None, repeats: int) -> dict[str, Any]:
    """`codec-rt` in fresh processes in `work` (which holds in.wav and tiny.wav): the median of `repeats`
    cold starts (`--help`, the encode of tiny.wav), and the encode and decode of in.wav once, as opus's ->
    {help, tiny_encode, encode, decode, total}_seconds and the same with _cpu_seconds."""
    model_args = [] if model is None else ["--model", str(model)]
    row: dict[str, Any] = {}
    for key, args in (("help", ["--help"]), ("tiny_encode", ["encode", "tiny.wav", "-o", "tiny.cra"]),
                      ("encode", ["encode", "in.wav", "-o", "in.cra"]),
                      ("decode", ["decode", "in.cra", "-o", "out.wav"])):
        cmd = [sys.executable, "-m", "codec_rt", *args, *([] if key == "help" else ["--force", *model_args])]
        times = repeats if key in ("help", "tiny_encode") else 1
        row[f"{key}_seconds"], row[f"{key}_cpu_seconds"] = median(partial(child, cmd, work), times)
    row["total_seconds"] = row["encode_seconds"] + row["decode_seconds"]
    row["total_cpu_seconds"] = row["encode_cpu_seconds"] + row["decode_cpu_seconds"]
    return row


def head_to_head(work: Path, kbps: float, model: Path | None, repeats: int, opus: bool, cli: bool
                 ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """`opus_run` and `cli_run` in turn, `repeats` times -> (opus's row, the command line's row), each key the
    median of its runs and the totals the sums of those medians; a row is None where it was not asked for
    (or opus-tools is missing). Taking turns, a machine that slows down or speeds up during the run moves
    both sides alike (single runs minutes apart disagreed by a third: docs/STREAMING.md)."""
    opus_rows: list[dict[str, Any]] = []
    cli_rows: list[dict[str, Any]] = []
    for _ in range(max(1, repeats)):
        if opus and (row := opus_run(work / "in.wav", kbps, work)) is not None:
            opus_rows.append(row)
        if cli:
            cli_rows.append(cli_run(work, model, 1))
    return _median_row(opus_rows), _median_row(cli_rows)


def _median_row(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Rows of timings -> each key's median (other values from the first), the totals recomputed from them."""
    if not rows:
        return None
    out = {k: float(statistics.median(r[k] for r in rows)) if k.endswith("_seconds") else v
           for k, v in rows[0].items()}
    for suffix in ("_seconds", "_cpu_seconds"):
        out[f"total{suffix}"] = out[f"encode{suffix}"] + out[f"decode{suffix}"]
    return out


WEB = Path(__file__).resolve().parents[1] / "web"


def javascript_run() -> dict[str, Any] | None:
    """The JavaScript runtime's decode speed beside codec-rt's, in one run (`web/bench.mjs`: every shipped
    point's blob of the test speech, Python, Node with onnxruntime-node and with onnxruntime-web (wasm), one
    thread each) -> {node, cpu, rows: [{point, row: {seconds, python:on, native:on, wasm:on, python:off,
    native:off, wasm:off}}]} in ms, or None without node, web/'s packages or its reference data (web/ci.sh
    makes both). A failed run (reference data older than the shipped models, say) is logged and gives None:
    the other timings of the run are kept."""
    if shutil.which("node") is None or not (WEB / "node_modules").is_dir() or not (WEB / "test" / "ref").is_dir():
        return None
    out = WEB / "test" / "ref" / "bench.json"
    r = subprocess.run(["node", "bench.mjs", "--json", str(out)], cwd=WEB, capture_output=True, text=True)
    if r.returncode != 0:
        lines = r.stderr.strip().splitlines() or ["no output"]
        last = next((x for x in reversed(lines) if "Error" in x), lines[-1]).strip()
        log.warning(
            "web/bench.mjs failed (exit %d: %s); the JavaScript row is left out (bash web/ci.sh refreshes "
            "web/test/ref)", r.returncode, last)
        return None
    result: dict[str, Any] = json.loads(out.read_text())
    return result
