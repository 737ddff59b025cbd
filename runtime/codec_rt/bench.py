"""Latency and speed benchmark: `codec-rt bench` (also `python -m benchmarks.latency` from a checkout).

What one run measures, on the same audio (real speech tiled to `seconds`, 16 kHz mono):

- per-chunk latency of the streaming coder for `chunk_ms` chunks (20 ms): the time of each
  `StreamEncoder.push`, of each `StreamDecoder.push` fed what the encoder returned, and of the two together
  (`roundtrip`); p50 / p95 / p99 / max, plus the real-time factor (processing seconds per audio second) and
  the throughput (audio seconds per second) of the whole stream;
- the whole-file API (`Codec.encode(framed=True)`, `Codec.decode`): real-time factor and throughput;
- onnxruntime against the same model in torch eager mode (when torch, the repository's `export` package and
  the model's checkpoint are there: found in checkpoints/ by its model id): both graphs on the same
  features (the first 20 s, in one call each), best of `repeats`;
- each of the above on 1 and 2 threads (`threads`): onnxruntime's intra-op threads, the decoder's block
  workers, torch.set_num_threads;
- opusenc + opusdec on the same audio at about the same bitrate, against `codec-rt encode` + `codec-rt
  decode` of the same file (fresh processes, so the CLI's start-up counts, as it does for opus-tools);
- the CLI's cold start: `codec-rt --help`, and the encode of 0.1 s of audio, in fresh processes;
- the shipped low-latency (causal) model streamed as live audio is: frames and decoder blocks of one chunk,
  on 1 thread (per-chunk timings, its actual bitrate with that framing, its streamed latency).

It prints the three targets as ratios measured in this run, and writes JSON (schema "codec-rt-bench/1"):

    schema            "codec-rt-bench/1"
    created           ISO 8601 time (UTC)
    machine           {cpu: model name, cores: logical CPUs, platform, python, load_average: [1, 5, 15 min]}
    versions          {codec_rt, onnxruntime, numpy, torch (null if absent), opus_tools (null if absent)}
    onnxruntime       {available_providers: [...], providers_used: [...] (the sessions' own list, in use)}
    input             {path, seconds, sample_rate, channels}
    models            [{model_id, path, kbps (nominal, null off the ladder), low_latency, coder, window_ms,
                        lookahead_ms,
                        latency_ms (window + lookahead, ModelConfig.latency_ms), stream_latency_ms (with the
                        streaming frame and blocks, stream.stream_latency_ms)}], every shipped model
    model             the timed model: {model_id, path, kbps_actual, frame_steps, block_frames,
                        margin_frames, phase_iters, stream_latency_ms (with these frames and blocks)}
    runs              [{threads, chunk_ms,
                        stream_encode, stream_decode, stream_roundtrip:
                            {chunks, p50_ms, p95_ms, p99_ms, max_ms, mean_ms, rtf, throughput, cpu_seconds},
                        file_encode, file_decode: {seconds, rtf, throughput, cpu_seconds},
                        torch_eager: {same_model, checkpoint, ort_seconds, torch_seconds, speedup,
                                      ort_cpu_seconds, torch_cpu_seconds, speedup_cpu} or null}]
    low_latency       {model_id, kbps_actual, frame_steps, block_frames, phase_iters, stream_latency_ms,
                       stream_encode, stream_decode, stream_roundtrip (as in runs)} or null (no such model,
                       or --model given)
    opus              {bitrate_kbps, encode_seconds, decode_seconds, total_seconds, encode_cpu_seconds,
                       decode_cpu_seconds, total_cpu_seconds} or null
    cli               {help_seconds, tiny_encode_seconds, encode_seconds, decode_seconds, total_seconds, and
                       the same keys with _cpu_seconds} (fresh processes: the cold starts the median of
                       `repeats`, the encode and decode of the whole input once, as opus's)
    targets           {cli_vs_opus: {value, target: "<= 1.0", met}, cli_vs_opus_cpu: {...},
                       onnxruntime_vs_torch: {value, target: ">= 2.0", met},
                       chunk_p99_ms: {value, target: "<= 1.0", met},
                       chunk_p99_ms_low_latency: {...} (the low-latency model's stream)}
                        (value null, met null where a part was not measured; single-thread figures)

Timings are wall-clock (time.perf_counter) after a warm-up, with the CPU seconds beside them (the process's,
or a child's user + system): on a shared machine wall time moves with the load (which is recorded), CPU time
much less. cpu_seconds counts every thread, so with 2 threads it can exceed the wall time. No GPU is needed;
`provider="cuda"` is used exactly as asked or refused (ProviderError), and `providers_used` shows what ran.
"""

from __future__ import annotations

import datetime
import importlib
import json
import logging
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import soundfile as sf

from . import __version__, ladder
from .codec import Codec
from .config import ModelConfig
from .errors import CodecError
from .stream import (
    BLOCK_FRAMES,
    MARGIN_FRAMES,
    StreamDecoder,
    StreamEncoder,
    default_phase_iters,
    frame_steps_for,
    stream_latency_ms,
)

log = logging.getLogger(__name__)

SCHEMA = "codec-rt-bench/1"
F32 = npt.NDArray[np.float32]
REPO = Path(__file__).resolve().parents[2]
DEFAULT_INPUT = REPO / "tests" / "data" / "speech_fr_16k.flac"
DEFAULT_CHECKPOINTS = REPO / "checkpoints"  # the timed model's checkpoint is found there by its model id
TORCH_SECONDS = 20.0  # onnxruntime vs torch: both graphs over the first 20 s in one call


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_input(path: Path, seconds: float, rate: int = 16000) -> F32:
    """Real audio from `path`, mono at `rate`, tiled (or cut) to `seconds` -> `[1, n] float32`."""
    import soxr

    x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    mono = x.mean(axis=1)
    if sr != rate:
        mono = soxr.resample(mono, sr, rate).astype(np.float32)
    n = max(1, int(round(seconds * rate)))
    reps = -(-n // max(1, len(mono)))
    return np.ascontiguousarray(np.tile(mono, reps)[:n][None, :], dtype=np.float32)


def _stats(times: list[float], audio_seconds: float, cpu: float) -> dict[str, Any]:
    ms = np.array(times) * 1000.0
    total = float(np.sum(times))
    return {
        "chunks": len(times),
        "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
        "p99_ms": float(np.percentile(ms, 99)), "max_ms": float(ms.max()), "mean_ms": float(ms.mean()),
        "rtf": total / audio_seconds, "throughput": audio_seconds / total if total > 0 else None,
        "cpu_seconds": cpu,
    }


def stream_run(codec: Codec, x: F32, rate: int, chunk_ms: float, frame_steps: int, block_frames: int,
               margin_frames: int, workers: int) -> dict[str, Any]:
    """Per-chunk timings of a stream through StreamEncoder and StreamDecoder."""
    step = max(1, int(round(rate * chunk_ms / 1000)))
    enc = StreamEncoder(codec, rate, x.shape[0], frame_steps=frame_steps)
    dec = StreamDecoder(codec, block_frames=block_frames, margin_frames=margin_frames, workers=workers)
    t_enc, t_dec = [], []
    c_enc = c_dec = 0.0
    clock, cpu = time.perf_counter, time.process_time
    for i in range(0, x.shape[1] + step, step):  # the last chunk also ends the stream
        c0, t0 = cpu(), clock()
        data = enc.push(x[:, i : i + step]) if i < x.shape[1] else enc.flush()
        t1, c1 = clock(), cpu()
        if i < x.shape[1]:
            dec.push(data)
        else:
            dec.push(data)
            dec.flush()
        t2, c2 = clock(), cpu()
        t_enc.append(t1 - t0)
        t_dec.append(t2 - t1)
        c_enc, c_dec = c_enc + c1 - c0, c_dec + c2 - c1
    seconds = x.shape[1] / rate
    both = [a + b for a, b in zip(t_enc, t_dec, strict=True)]
    return {"stream_encode": _stats(t_enc, seconds, c_enc), "stream_decode": _stats(t_dec, seconds, c_dec),
            "stream_roundtrip": _stats(both, seconds, c_enc + c_dec)}


def _timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Best wall-clock seconds of `repeats` calls, and the CPU seconds of that call (all threads)."""
    best = (float("inf"), 0.0)
    for _ in range(max(1, repeats)):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        best = min(best, (time.perf_counter() - t0, time.process_time() - c0))
    return best


def find_checkpoint(codec: Codec, folder: Path = DEFAULT_CHECKPOINTS) -> Path | None:
    """The checkpoint in `folder` whose weights are the model of `codec` (None if none, or no torch). A
    context-coded model's id also covers its tables, which come from export, not from the checkpoint."""
    try:
        export: Any = importlib.import_module("export.export")
    except ImportError:
        return None
    for path in sorted(folder.glob("*.pth")):
        try:
            if _shipped_id(export, export.load_checkpoint(path), codec) == codec.model_id:
                return path
        except Exception as e:  # noqa: BLE001 - any unreadable checkpoint is just not the one
            log.info("skipping %s: %s", path, e)
    return None


def _shipped_id(export: Any, model: Any, codec: Codec) -> str:
    """The id of the checkpoint `model` shipped with `codec`'s entropy tables: those of a matching coder-1
    checkpoint are its prior's, a coder-2 model's come from export."""
    return str(export.model_id(model, codec.model.entropy))


def torch_vs_ort(codec: Codec, x: F32, threads: int, repeats: int, checkpoint: Path | None) -> dict[str, Any] | None:
    """The model's two graphs in torch eager mode against onnxruntime, on the same features (None when
    torch, the repository's export package or the model's checkpoint is missing)."""
    try:  # by name: the runtime never imports torch statically
        torch: Any = importlib.import_module("torch")
        export: Any = importlib.import_module("export.export")
    except ImportError:
        return None
    checkpoint = checkpoint or find_checkpoint(codec)
    if checkpoint is None or not checkpoint.is_file():
        return None
    from . import stft

    model = export.load_checkpoint(checkpoint)
    cfg = codec.config
    x = x[:, : int(TORCH_SECONDS * cfg.sample_rate)]  # whole-file graphs: memory grows with the length
    feats = stft.to_features(stft.stft(x, cfg.n_fft, cfg.hop))
    torch.set_num_threads(threads)
    tx = torch.from_numpy(feats)

    def run_torch() -> None:
        with torch.no_grad():
            model.decoder(model.encoder(tx))

    def run_ort() -> None:
        codec.model.decode(codec.model.encode(feats))

    run_torch()
    run_ort()
    (t_torch, c_torch), (t_ort, c_ort) = _timed(run_torch, repeats), _timed(run_ort, repeats)
    return {"same_model": _shipped_id(export, model, codec) == codec.model_id, "checkpoint": str(checkpoint),
            "ort_seconds": t_ort, "torch_seconds": t_torch,
            "speedup": t_torch / t_ort, "ort_cpu_seconds": c_ort, "torch_cpu_seconds": c_torch,
            "speedup_cpu": c_torch / c_ort if c_ort > 0 else None}


def _child(args: list[str], cwd: Path | None = None) -> tuple[float, float]:
    """Run a command -> (wall seconds, CPU seconds of the child: user + system); CodecError if it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode:
        raise CodecError(f"{' '.join(args)} failed: {r.stderr.strip()[-300:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _cli(args: list[str], cwd: Path) -> tuple[float, float]:
    """`codec-rt ARGS` in a fresh process -> (wall, CPU) seconds."""
    return _child([sys.executable, "-m", "codec_rt", *args], cwd)


def _median(fn: Callable[[], tuple[float, float]], repeats: int) -> tuple[float, float]:
    """Median wall and median CPU seconds of `repeats` runs."""
    runs = [fn() for _ in range(max(1, repeats))]
    return float(statistics.median(r[0] for r in runs)), float(statistics.median(r[1] for r in runs))


def opus_run(wav: Path, kbps: float, work: Path) -> dict[str, Any] | None:
    """opusenc + opusdec (opus-tools) on `wav` at about `kbps`, once each, as the CLI's encode and decode of
    the same file are timed; None if they are not installed."""
    enc, dec = shutil.which("opusenc"), shutil.which("opusdec")
    if enc is None or dec is None:
        return None
    rate = max(6.0, round(kbps))
    opus, out = work / "o.opus", work / "o.wav"
    e, ec = _median(lambda: _child([enc, "--quiet", "--bitrate", f"{rate:g}", str(wav), str(opus)]), 1)
    d, dc = _median(lambda: _child([dec, "--quiet", "--rate", "16000", str(opus), str(out)]), 1)
    # opus-tools 0.2 decodes to 16 kHz with --rate, as codec-rt decodes to the input's rate.
    return {"bitrate_kbps": rate, "encode_seconds": e, "decode_seconds": d, "total_seconds": e + d,
            "encode_cpu_seconds": ec, "decode_cpu_seconds": dc, "total_cpu_seconds": ec + dc}


def _version(cmd: str) -> str | None:
    exe = shutil.which(cmd)
    if exe is None:
        return None
    r = subprocess.run([exe, "--version"], capture_output=True, text=True)
    return (r.stdout or r.stderr).splitlines()[0].strip() if (r.stdout or r.stderr) else None


def model_rows() -> list[dict[str, Any]]:
    """Every shipped model with its latency."""
    rows = []
    for p in ladder.points():
        try:
            c = Codec.load(p.path)
        except CodecError as e:
            log.warning("warning: %s", e)
            continue
        rows.append(_model_row(c, p.kbps, p.low_latency))
    return rows


def _model_row(c: Codec, kbps: float | None, low_latency: bool = False) -> dict[str, Any]:
    cfg: ModelConfig = c.config
    window = 1000.0 * cfg.n_fft / cfg.sample_rate
    return {"model_id": c.model_id, "path": str(c.model.path), "kbps": kbps, "low_latency": low_latency,
            "coder": cfg.coder,
            "window_ms": window, "lookahead_ms": cfg.latency_ms - window, "latency_ms": cfg.latency_ms,
            "stream_latency_ms": stream_latency_ms(cfg, frame_steps_for(cfg))}


def run(
    input: Path = DEFAULT_INPUT,
    seconds: float = 600.0,
    model: Path | None = None,
    provider: str = "cpu",
    threads: tuple[int, ...] = (1, 2),
    chunk_ms: float = 20.0,
    repeats: int = 3,
    frame_steps: int | None = None,
    block_frames: int = BLOCK_FRAMES,
    margin_frames: int = MARGIN_FRAMES,
    torch: bool = True,
    checkpoint: Path | None = None,
    cli: bool = True,
    opus: bool = True,
    progress: Callable[[str], None] = lambda s: None,
) -> dict[str, Any]:
    """Run the benchmark -> the JSON-ready result (see the module docstring)."""
    if not input.is_file():
        raise CodecError(f"benchmark input {input} does not exist; give one with --input")
    rate = 16000
    x = load_input(input, seconds, rate)
    audio_seconds = x.shape[1] / rate
    base = Codec.load(model, provider)
    steps = frame_steps_for(base.config) if frame_steps is None else frame_steps
    blob = base.encode(x, rate, framed=True, frame_steps=steps)
    kbps_actual = 8 * len(blob) / audio_seconds / 1000
    result: dict[str, Any] = {
        "schema": SCHEMA,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(),
                    "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None},
        "versions": {"codec_rt": __version__, "onnxruntime": ort.__version__, "numpy": np.__version__,
                     "torch": _torch_version() if torch else None, "opus_tools": _version("opusenc") if opus else None},
        "onnxruntime": {"available_providers": ort.get_available_providers(),
                        "providers_used": sorted(set(base.model.encoder.get_providers())
                                                 | set(base.model.decoder.get_providers()))},
        "input": {"path": str(input), "seconds": audio_seconds, "sample_rate": rate, "channels": 1},
        "models": model_rows() if model is None else [_model_row(base, None)],
        "model": {"model_id": base.model_id, "path": str(base.model.path), "kbps_actual": kbps_actual,
                  "frame_steps": steps, "block_frames": block_frames, "margin_frames": margin_frames,
                  "phase_iters": default_phase_iters(base.config),
                  "stream_latency_ms": stream_latency_ms(base.config, steps, block_frames, margin_frames)},
        "runs": [],
    }
    if model is None and not any(m["model_id"] == base.model_id for m in result["models"]):
        result["models"].append(_model_row(base, None))
    for n in threads:
        progress(f"{n} thread(s): streaming")
        codec = Codec.load(model, provider, threads=n)
        warm = x[:, : min(x.shape[1], 3 * rate)]
        stream_run(codec, warm, rate, chunk_ms, steps, block_frames, margin_frames, n)  # warm-up
        row: dict[str, Any] = {"threads": n, "chunk_ms": chunk_ms}
        row.update(stream_run(codec, x, rate, chunk_ms, steps, block_frames, margin_frames, n))
        progress(f"{n} thread(s): whole file")
        for key, fn in (("file_encode", lambda: codec.encode(x, rate, framed=True, frame_steps=steps)),  # noqa: B023
                        ("file_decode", lambda: codec.decode(blob))):  # noqa: B023
            wall, cpu = _timed(fn, 1)
            row[key] = {"seconds": wall, "rtf": wall / audio_seconds, "throughput": audio_seconds / wall,
                        "cpu_seconds": cpu}
        row["torch_eager"] = None
        if torch:
            progress(f"{n} thread(s): onnxruntime vs torch eager")
            row["torch_eager"] = torch_vs_ort(codec, x, n, repeats, checkpoint)
        result["runs"].append(row)
    result["low_latency"] = None
    if model is None and any(p.low_latency for p in ladder.points()):
        progress("the low-latency model, streamed chunk by chunk")
        result["low_latency"] = low_latency_run(x, rate, chunk_ms, provider)
    result["opus"], result["cli"] = None, None
    with tempfile.TemporaryDirectory(prefix="codec-rt-bench-") as tmp:
        work = Path(tmp)
        wav = work / "in.wav"
        sf.write(str(wav), x[0], rate, subtype="PCM_16")
        if opus:
            progress("opusenc + opusdec")
            result["opus"] = opus_run(wav, kbps_actual, work)
        if cli:
            progress("the command line")
            sf.write(str(work / "tiny.wav"), x[0, : rate // 10], rate, subtype="PCM_16")
            model_args = [] if model is None else ["--model", str(model)]
            cli_row: dict[str, Any] = {}
            for key, args in (("help", ["--help"]), ("tiny_encode", ["encode", "tiny.wav", "-o", "tiny.cra"]),
                              ("encode", ["encode", "in.wav", "-o", "in.cra"]),
                              ("decode", ["decode", "in.cra", "-o", "out.wav"])):
                extra = [] if key == "help" else ["--force", *model_args]
                times = repeats if key in ("help", "tiny_encode") else 1  # the long runs once, as opus's
                wall, cpu = _median(lambda a=args + extra: _cli(a, work), times)  # type: ignore[misc]
                cli_row[f"{key}_seconds"], cli_row[f"{key}_cpu_seconds"] = wall, cpu
            cli_row["total_seconds"] = cli_row["encode_seconds"] + cli_row["decode_seconds"]
            cli_row["total_cpu_seconds"] = cli_row["encode_cpu_seconds"] + cli_row["decode_cpu_seconds"]
            result["cli"] = cli_row
    result["targets"] = targets(result)
    return result


def low_latency_run(x: F32, rate: int, chunk_ms: float, provider: str) -> dict[str, Any]:
    """The shipped low-latency model as a live stream: frames and decoder blocks of one `chunk_ms` chunk
    (so the decoder plays each chunk as soon as it is encoded), on 1 thread."""
    codec = Codec.load(provider=provider, threads=1, low_latency=True)
    cfg = codec.config
    frames = max(1, int(round(chunk_ms / 1000 * cfg.sample_rate / cfg.hop)))
    steps = max(1, frames // cfg.time_stride)
    seconds = x.shape[1] / rate
    blob = codec.encode(x, rate, framed=True, frame_steps=steps)
    stream_run(codec, x[:, : min(x.shape[1], 3 * rate)], rate, chunk_ms, steps, frames, 0, 1)  # warm-up
    iters = default_phase_iters(cfg)
    return {"model_id": codec.model_id, "kbps_actual": 8 * len(blob) / seconds / 1000, "frame_steps": steps,
            "block_frames": frames, "phase_iters": iters,
            "stream_latency_ms": stream_latency_ms(cfg, steps, frames, 0, iters),
            **stream_run(codec, x, rate, chunk_ms, steps, frames, 0, 1)}


def _torch_version() -> str | None:
    try:
        return str(importlib.import_module("torch").__version__)
    except ImportError:
        return None


def targets(result: dict[str, Any]) -> dict[str, Any]:
    """The three targets of the issue, as ratios from this run (single-thread figures)."""
    one = next((r for r in result["runs"] if r["threads"] == 1), result["runs"][0] if result["runs"] else None)
    cli, opus = result.get("cli"), result.get("opus")
    ratio = cli["total_seconds"] / opus["total_seconds"] if cli and opus else None
    ratio_cpu = cli["total_cpu_seconds"] / opus["total_cpu_seconds"] if cli and opus else None
    te = one.get("torch_eager") if one else None
    speed = te["speedup"] if te else None
    p99 = one["stream_roundtrip"]["p99_ms"] if one else None
    ll = result.get("low_latency")
    p99_ll = ll["stream_roundtrip"]["p99_ms"] if ll else None

    def row(value: float | None, target: str, ok: Callable[[float], bool]) -> dict[str, Any]:
        return {"value": value, "target": target, "met": None if value is None else bool(ok(value))}

    return {
        "cli_vs_opus": row(ratio, "<= 1.0", lambda v: v <= 1.0),
        "cli_vs_opus_cpu": row(ratio_cpu, "<= 1.0", lambda v: v <= 1.0),
        "onnxruntime_vs_torch": row(speed, ">= 2.0", lambda v: v >= 2.0),
        "chunk_p99_ms": row(p99, "<= 1.0", lambda v: v <= 1.0),
        "chunk_p99_ms_low_latency": row(p99_ll, "<= 1.0", lambda v: v <= 1.0),
    }


def _stream_lines(row: dict[str, Any]) -> list[str]:
    """The per-chunk timings of a streamed run (`stream_run`'s keys), one line each."""
    lines = []
    for k in ("stream_encode", "stream_decode", "stream_roundtrip"):
        s = row[k]
        lines.append(f"    {k:17s} p50 {s['p50_ms']:.3f} p95 {s['p95_ms']:.3f} p99 {s['p99_ms']:.2f} max "
                     f"{s['max_ms']:.1f} ms; RTF {s['rtf']:.4f}, {s['throughput']:.1f} x real time "
                     f"({s['cpu_seconds']:.2f} s CPU)")
    return lines


def report(result: dict[str, Any]) -> str:
    """A human-readable summary of a result."""
    lines = [f"codec-rt bench: {result['input']['seconds']:.0f} s of speech, {result['machine']['cpu']} "
             f"({result['machine']['cores']} CPUs, load {result['machine']['load_average']}), onnxruntime "
             f"{result['versions']['onnxruntime']} on {', '.join(result['onnxruntime']['providers_used'])}"]
    for m in result["models"]:
        kbps = f"{m['kbps']:g} kbps" if m["kbps"] is not None else "(not shipped)"
        kbps += ", low latency" if m.get("low_latency") else ""
        lines.append(f"  model {m['model_id']} {kbps}: latency {m['latency_ms']:.1f} ms (window {m['window_ms']:.1f} "
                     f"+ lookahead {m['lookahead_ms']:.1f}); streamed {m['stream_latency_ms']:.0f} ms")
    for r in result["runs"]:
        m = result["model"]
        lines.append(f"  {r['threads']} thread(s), {r['chunk_ms']:g} ms chunks, model {m['model_id']} "
                     f"({m['kbps_actual']:.2f} kbps; frames of {m['frame_steps']} steps, blocks of "
                     f"{m['block_frames']} + 2 x {m['margin_frames']} frames: streamed latency "
                     f"{m['stream_latency_ms']:.0f} ms):")
        lines += _stream_lines(r)
        for k in ("file_encode", "file_decode"):
            s = r[k]
            lines.append(f"    {k:17s} {s['seconds']:.2f} s; RTF {s['rtf']:.4f}, {s['throughput']:.1f} x real time "
                         f"({s['cpu_seconds']:.2f} s CPU)")
        te = r["torch_eager"]
        if te:
            lines.append(f"    torch eager {te['torch_seconds']:.3f} s vs onnxruntime {te['ort_seconds']:.3f} s: "
                         f"{te['speedup']:.2f}x; CPU {te['torch_cpu_seconds']:.3f} vs {te['ort_cpu_seconds']:.3f} s "
                         f"(same model: {te['same_model']})")
    ll = result.get("low_latency")
    if ll:
        lines.append(f"  low-latency model {ll['model_id']} streamed live ({ll['kbps_actual']:.2f} kbps with frames of "
                     f"{ll['frame_steps']} steps, blocks of {ll['block_frames']} frames: streamed latency "
                     f"{ll['stream_latency_ms']:.0f} ms), 1 thread:")
        lines += _stream_lines(ll)
    if result.get("opus"):
        o = result["opus"]
        lines.append(f"  opusenc {o['encode_seconds']:.2f} s + opusdec {o['decode_seconds']:.2f} s at "
                     f"{o['bitrate_kbps']:g} kbps (CPU {o['encode_cpu_seconds']:.2f} + "
                     f"{o['decode_cpu_seconds']:.2f} s)")
    if result.get("cli"):
        c = result["cli"]
        lines.append(f"  codec-rt encode {c['encode_seconds']:.2f} s + decode {c['decode_seconds']:.2f} s (CPU "
                     f"{c['encode_cpu_seconds']:.2f} + {c['decode_cpu_seconds']:.2f} s); cold start: --help "
                     f"{c['help_seconds']:.2f} s ({c['help_cpu_seconds']:.2f} CPU), tiny encode "
                     f"{c['tiny_encode_seconds']:.2f} s ({c['tiny_encode_cpu_seconds']:.2f} CPU)")
    lines.append("  targets:")
    for name, t in result["targets"].items():
        value = "n/a" if t["value"] is None else f"{t['value']:.3f}"
        met = {None: "not measured", True: "met", False: "MISSED"}[t["met"]]
        lines.append(f"    {name:22s} {value:>9s} (target {t['target']}): {met}")
    return "\n".join(lines)


def write_json(result: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(result, indent=2) + "\n")
