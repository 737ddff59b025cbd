"""Speed timer of the installed runtime: `codec-rt bench`. It needs nothing but codec-rt itself.

For each model timed (default: every shipped model; or `--model DIR`, `--bitrate`, `--low-latency`) and each
thread count (default 1 and 2: onnxruntime's intra-op threads and the stream's workers), on the same audio
(`--input FILE`, mixed to mono, resampled to 16 kHz and tiled to `--seconds`; default: a synthetic,
speech-like signal generated here):

- the stream: `StreamEncoder.push` of each `chunk_ms` chunk (20 ms) and `StreamDecoder.push` of what it
  returned, timed per chunk (p50 / p95 / p99 / max, encode, decode and the two together), with the
  real-time factor (processing seconds per audio second) and throughput (audio seconds per second);
- the whole-file API, `Codec.encode(framed=True)` and `Codec.decode`: real-time factor and throughput.

Streams use each model's default framing: packets of about 1 s and decoder blocks of 128 STFT frames (margin
24) for a non-causal model; one chunk per packet and per decoder block for a low-latency (causal) model, as
live audio is coded. Timings are wall-clock (time.perf_counter) after a warm-up, with the process's CPU
seconds beside them (all threads: with 2 threads they can exceed the wall time).

`--json FILE` writes the figures (schema "codec-rt-timer/2"):

    schema, created (ISO 8601, UTC), provider
    machine     {cpu, cores, platform, python, load_average: [1, 5, 15 min] or null}
    versions    {codec_rt, onnxruntime, numpy}
    input       {source: the file, or "synthetic", seconds, sample_rate, channels}
    models      [{name, mode (the point's encode mode), rate_lambda (its rounding), phase_bins, phase_bits
                  (its low band; null: the model's), model_id,
                  kbps (nominal, null off the ladder), low_latency, coder, window_ms, lookahead_ms,
                  latency_ms (ModelConfig.latency_ms),
                  kbps_actual (framed, this input), packet_steps, block_frames, margin_frames, phase_iters,
                  stream_latency_ms (this framing),
                  runs: [{threads, chunk_ms, stream_encode, stream_decode, stream_roundtrip:
                              {chunks, p50_ms, p95_ms, p99_ms, max_ms, mean_ms, rtf, throughput, cpu_seconds},
                          file_encode, file_decode: {seconds, rtf, throughput, cpu_seconds}}]}]

The repository's harness, `python -m benchmarks.latency`, builds on these timings, with its baselines: the
training framework's eager mode, opus-tools, and the command line's cold start.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from . import ladder
from .audio_in import read_audio
from .codec import Codec
from .config import ModelConfig

# The stream's framing defaults and latency; re-pointed here only when the stream's layers move.
from .decoder import StreamDecoder, default_phase_iters
from .encoder import StreamEncoder
from .errors import AudioError, CodecError
from .grid import BLOCK_FRAMES, MARGIN_FRAMES, packet_steps_for, stream_latency_ms
from .version import __version__

F32 = npt.NDArray[np.float32]
SCHEMA = "codec-rt-timer/2"
RATE = 16000  # the shipped models' rate: the input is timed at it, so no resampling is timed
SYNTHETIC_SECONDS = 8.0  # the synthetic signal's length before tiling
WARMUP_SECONDS = 3.0

# Vowel formants F1, F2, F3 in Hz (averages of adult speakers), for the synthetic signal.
VOWELS = ((730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480), (570, 840, 2410),
          (660, 1720, 2410), (440, 1020, 2240))
BANDWIDTHS = (80.0, 100.0, 150.0)


def speech_like(seconds: float, rate: int = RATE, seed: int = 0) -> F32:
    """A deterministic speech-like signal -> `[1, n] float32` at `rate`, about -20 dBFS when active.

    Words of 1 to 4 syllables, and pauses between them; a syllable is an optional fricative (shaped noise)
    or plosive burst, then a vowel: harmonics of a falling, slightly jittered pitch (90 to 180 Hz) through
    three formant resonances that glide between vowels. `SYNTHETIC_SECONDS` are made and tiled to `seconds`.
    """
    n = max(1, int(round(seconds * rate)))
    base = min(n, int(SYNTHETIC_SECONDS * rate))
    rng = np.random.default_rng(seed)
    f0, voiced, noise = np.zeros(base), np.zeros(base), np.zeros(base)
    formants = np.zeros((3, base))
    i, vowel = 0, VOWELS[0]
    while i < base:
        start_f0 = rng.uniform(120, 180)
        word = int(rng.integers(1, 5))
        for s in range(word):
            consonant = int(rng.uniform(0.010, 0.090) * rate) if rng.random() < 0.6 else 0
            noise[i : i + consonant] = rng.uniform(0.2, 0.6)
            formants[:, i : i + consonant] = np.array(vowel)[:, None]
            i += consonant
            length = int(rng.uniform(0.08, 0.22) * rate)
            vowel = VOWELS[int(rng.integers(len(VOWELS)))]
            formants[:, i : i + length] = np.array(vowel)[:, None]
            f0[i : i + length] = start_f0 * (1 - 0.25 * (s + np.linspace(0, 1, len(f0[i : i + length]))) / word)
            voiced[i : i + length] = rng.uniform(0.6, 1.0)
            i += length
        i += int(rng.uniform(0.06, 0.25) * rate)  # pause
    smooth = np.hanning(max(3, int(0.03 * rate)))
    smooth /= smooth.sum()
    formants = np.stack([np.convolve(f, smooth, mode="same") for f in formants])
    voiced, noise = np.convolve(voiced, smooth, mode="same"), np.convolve(noise, smooth, mode="same")
    f0 = np.maximum(np.convolve(f0, smooth, mode="same"), 90.0)
    f0 *= 1 + 0.01 * rng.standard_normal(base).cumsum() / np.sqrt(rate)  # a slow wander, ~1 % a second
    phase = 2 * np.pi * np.cumsum(f0) / rate
    y = np.zeros(base)
    for k in range(1, int(0.45 * rate / 90.0) + 1):
        f = k * f0
        gain = np.ones(base)
        for fk, bw in zip(formants, BANDWIDTHS, strict=True):  # a cascade of resonances, peaks at fk
            gain *= fk**2 / np.sqrt((fk**2 - f**2) ** 2 + (bw * f) ** 2)
        y += np.where(f < 0.45 * rate, gain / k, 0.0) * np.sin(k * phase)
    y *= voiced
    hiss = np.diff(rng.standard_normal(base + 1))  # rising with frequency, like a fricative
    y = y / (np.sqrt(np.mean(y**2)) + 1e-9) + 0.5 * noise * hiss + 1e-3 * rng.standard_normal(base)
    active = (voiced + noise) > 0.05
    y *= 0.1 / (np.sqrt(np.mean(y[active] ** 2)) if active.any() else 1.0)
    y = np.clip(y, -0.99, 0.99)
    return np.ascontiguousarray(np.tile(y, -(-n // base))[:n][None, :], dtype=np.float32)


def load_input(path: Path, seconds: float, rate: int = RATE) -> F32:
    """The audio file `path` mixed to mono at `rate` and tiled (or cut) to `seconds` -> `[1, n] float32`
    (AudioError if it is unreadable or empty)."""
    import soxr

    x, sr = read_audio(path)
    mono = x.mean(axis=0)
    if mono.size == 0:
        raise AudioError(f"{path} holds no audio")
    if sr != rate:
        mono = soxr.resample(mono, sr, rate).astype(np.float32)
    n = max(1, int(round(seconds * rate)))
    return np.ascontiguousarray(np.tile(mono, -(-n // len(mono)))[:n][None, :], dtype=np.float32)


@dataclass(frozen=True)
class Framing:
    """How a stream is cut: latent steps per packet, decoder blocks and margins in STFT frames, phase
    iterations, and the resulting algorithmic latency (ms)."""

    packet_steps: int
    block_frames: int
    margin_frames: int
    phase_iters: int
    stream_latency_ms: float


def framing(cfg: ModelConfig, chunk_ms: float = 20.0, packet_steps: int | None = None,
            block_frames: int | None = None, margin_frames: int | None = None, live: bool | None = None,
            phase_iters: int | None = None) -> Framing:
    """A model's framing: each value given, else the default; `live` (default: a causal model) is one
    `chunk_ms` chunk per packet and per decoder block, no margin; otherwise packets of about 1 s and blocks of
    `BLOCK_FRAMES` with `MARGIN_FRAMES` of margin. `phase_iters`: the decoder's declared default (`Model`)."""
    live = bool(cfg.causal) if live is None else live
    chunk_frames = max(1, int(round(chunk_ms / 1000 * cfg.sample_rate / cfg.hop)))
    if packet_steps is None:
        packet_steps = max(1, chunk_frames // cfg.time_stride) if live else packet_steps_for(cfg)
    if block_frames is None:
        block_frames = chunk_frames if live else BLOCK_FRAMES
    if margin_frames is None:
        margin_frames = 0 if live else MARGIN_FRAMES
    iters = default_phase_iters(cfg, phase_iters)
    return Framing(packet_steps, block_frames, margin_frames, iters,
                   stream_latency_ms(cfg, packet_steps, block_frames, margin_frames, iters))


def stats(times: Sequence[float], audio_seconds: float, cpu: float) -> dict[str, Any]:
    """Per-chunk `times` (s) of a stream of `audio_seconds` -> percentiles (ms), real-time factor, throughput."""
    ms = np.asarray(times) * 1000.0
    total = float(np.sum(times))
    return {
        "chunks": len(times),
        "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
        "p99_ms": float(np.percentile(ms, 99)), "max_ms": float(ms.max()), "mean_ms": float(ms.mean()),
        "rtf": total / audio_seconds, "throughput": audio_seconds / total if total > 0 else None,
        "cpu_seconds": cpu,
    }


def stream_run(codec: Codec, x: F32, rate: int, chunk_ms: float, fr: Framing, workers: int) -> dict[str, Any]:
    """`x [C, n]` at `rate` streamed in `chunk_ms` chunks through a StreamEncoder and a StreamDecoder ->
    `stats` of each chunk's encode, decode and both (keys stream_encode, stream_decode, stream_roundtrip)."""
    step = max(1, int(round(rate * chunk_ms / 1000)))
    enc = StreamEncoder(codec, rate, x.shape[0], packet_steps=fr.packet_steps)
    dec = StreamDecoder(codec, block_frames=fr.block_frames, margin_frames=fr.margin_frames, workers=workers)
    t_enc, t_dec = [], []
    c_enc = c_dec = 0.0
    clock, cpu = time.perf_counter, time.process_time
    for i in range(0, x.shape[1] + step, step):  # the last chunk also ends the stream
        last = i >= x.shape[1]
        c0, t0 = cpu(), clock()
        data = enc.flush() if last else enc.push(x[:, i : i + step])
        t1, c1 = clock(), cpu()
        dec.push(data)
        if last:
            dec.flush()
        t2, c2 = clock(), cpu()
        t_enc.append(t1 - t0)
        t_dec.append(t2 - t1)
        c_enc, c_dec = c_enc + c1 - c0, c_dec + c2 - c1
    seconds = x.shape[1] / rate
    both = [a + b for a, b in zip(t_enc, t_dec, strict=True)]
    return {"stream_encode": stats(t_enc, seconds, c_enc), "stream_decode": stats(t_dec, seconds, c_dec),
            "stream_roundtrip": stats(both, seconds, c_enc + c_dec)}


def timed(fn: Callable[[], object], repeats: int = 1) -> tuple[float, float]:
    """Best wall-clock seconds of `repeats` calls of `fn`, and the CPU seconds of that call (all threads)."""
    best = (float("inf"), 0.0)
    for _ in range(max(1, repeats)):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        best = min(best, (time.perf_counter() - t0, time.process_time() - c0))
    return best


def file_run(codec: Codec, x: F32, rate: int, fr: Framing, blob: bytes | None = None) -> dict[str, Any]:
    """The whole-file encode (framed as `fr`) and decode of `x` -> {file_encode, file_decode}: seconds, rtf,
    throughput, cpu_seconds. `blob`: that encode's bytes where the caller has them (else made here)."""
    if blob is None:
        blob = codec.encode(x, rate, framed=True, packet_steps=fr.packet_steps)
    audio_seconds = x.shape[1] / rate
    row = {}
    for key, fn in (("file_encode", lambda: codec.encode(x, rate, framed=True, packet_steps=fr.packet_steps)),
                    ("file_decode", lambda: codec.decode(blob))):
        wall, cpu = timed(fn)
        row[key] = {"seconds": wall, "rtf": wall / audio_seconds, "throughput": audio_seconds / wall,
                    "cpu_seconds": cpu}
    return row


def time_codec(codec: Codec, x: F32, rate: int, chunk_ms: float, fr: Framing, threads: int,
               file: bool = True) -> dict[str, Any]:
    """One run: a warm-up stream of the first seconds, then `stream_run` and (with `file`) `file_run`."""
    warm = x[:, : min(x.shape[1], int(WARMUP_SECONDS * rate))]
    stream_run(codec, warm, rate, chunk_ms, fr, threads)
    row: dict[str, Any] = {"threads": threads, "chunk_ms": chunk_ms}
    row.update(stream_run(codec, x, rate, chunk_ms, fr, threads))
    if file:
        row.update(file_run(codec, x, rate, fr))
    return row


def model_info(codec: Codec, kbps: float | None, low_latency: bool) -> dict[str, Any]:
    """A model's nominal rate and latency: {model_id, kbps, low_latency, coder, window_ms, lookahead_ms,
    latency_ms}."""
    cfg = codec.config
    window = 1000.0 * cfg.n_fft / cfg.sample_rate
    return {"model_id": codec.model_id, "kbps": kbps, "low_latency": low_latency, "coder": cfg.coder,
            "window_ms": window, "lookahead_ms": cfg.latency_ms - window, "latency_ms": cfg.latency_ms}


def shipped(bitrate: float | None = None, low_latency: bool = False) -> list[ladder.LadderPoint]:
    """The shipped points to time: every one, or the one `Codec.load(bitrate=..., low_latency=...)` picks."""
    if bitrate is None and not low_latency:
        return list(ladder.points())
    return [ladder.choose(bitrate, low_latency)]


def machine() -> dict[str, Any]:
    """The CPU, its logical cores, the platform, Python and the load average."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}


def run(
    input: Path | None = None,
    seconds: float = 60.0,
    model: Path | None = None,
    bitrate: float | None = None,
    low_latency: bool = False,
    provider: str = "cpu",
    threads: Sequence[int] = (1, 2),
    chunk_ms: float = 20.0,
    packet_steps: int | None = None,
    block_frames: int | None = None,
    margin_frames: int | None = None,
    progress: Callable[[str], None] = lambda s: None,
) -> dict[str, Any]:
    """Time the models -> the JSON-ready result (module docstring). CodecError (ProviderError, AudioError,
    ...) for a bad model, provider, input or option."""
    if model is not None and (bitrate is not None or low_latency):
        raise CodecError("choose a model directory or a bitrate / low latency, not both")
    x = speech_like(seconds) if input is None else load_input(input, seconds)
    targets = [ladder.LadderPoint.of_folder(model)] if model is not None else shipped(bitrate, low_latency)
    rows = []
    for point in targets:
        kbps = point.kbps if model is None else None
        base = Codec.for_point(point, provider)
        fr = framing(base.config, chunk_ms, packet_steps, block_frames, margin_frames,
                     phase_iters=base.model.phase_iters)
        blob = base.encode(x, RATE, framed=True, packet_steps=fr.packet_steps)
        row = {"name": point.path.name, "mode": point.mode, "rate_lambda": point.rate_lambda,
               "phase_bins": point.phase_bins, "phase_bits": point.phase_bits,
               **model_info(base, kbps, point.low_latency or bool(base.config.causal)),
               "kbps_actual": 8 * len(blob) / (x.shape[1] / RATE) / 1000, "packet_steps": fr.packet_steps,
               "block_frames": fr.block_frames, "margin_frames": fr.margin_frames, "phase_iters": fr.phase_iters,
               "stream_latency_ms": fr.stream_latency_ms, "runs": []}
        for n in threads:
            progress(f"{row['name']}, {n} thread(s)")
            row["runs"].append(time_codec(Codec.for_point(point, provider, n), x, RATE, chunk_ms, fr, n))
        rows.append(row)
    return {
        "schema": SCHEMA,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "provider": provider, "machine": machine(),
        "versions": {"codec_rt": __version__, "onnxruntime": ort.__version__, "numpy": np.__version__},
        "input": {"source": "synthetic" if input is None else str(input), "seconds": x.shape[1] / RATE,
                  "sample_rate": RATE, "channels": 1},
        "models": rows,
    }


def report(result: dict[str, Any]) -> str:
    """The result as a table: one line per model and thread count."""
    m, inp = result["machine"], result["input"]
    load = " ".join(f"{v:.2f}" for v in m["load_average"]) if m["load_average"] else "n/a"
    source = "synthetic speech-like audio" if inp["source"] == "synthetic" else inp["source"]
    chunk = next((r["chunk_ms"] for row in result["models"] for r in row["runs"]), 0.0)
    lines = [f"codec-rt bench: {inp['seconds']:g} s of {source} ({inp['sample_rate']} Hz mono); {m['cpu']} "
             f"({m['cores']} CPUs, load {load}); onnxruntime {result['versions']['onnxruntime']} on "
             f"{result['provider']}",
             "                                 latency ms    encode          decode          stream          "
             f"per {chunk:g} ms chunk (encode + decode), ms",
             "model        kbps  actual thr  model stream  RTF     x real  RTF     x real  RTF     x real  "
             "p50     p95     p99     max"]
    for row in result["models"]:
        kbps = "-" if row["kbps"] is None else f"{row['kbps']:g}"
        for r in row["runs"]:
            fe, fd, st = r["file_encode"], r["file_decode"], r["stream_roundtrip"]
            lines.append(
                f"{row['name'][:11]:11s} {kbps:>5s} {row['kbps_actual']:7.2f} {r['threads']:3d} "
                f"{row['latency_ms']:6.0f} {row['stream_latency_ms']:6.0f}  "
                + "  ".join(f"{s['rtf']:.4f} {s['throughput']:7.1f}" for s in (fe, fd, st))
                + f"  {st['p50_ms']:.3f}  {st['p95_ms']:.3f}  {st['p99_ms']:6.2f} {st['max_ms']:7.2f}")
    return "\n".join(lines)


def to_json(result: dict[str, Any]) -> bytes:
    return (json.dumps(result, indent=2) + "\n").encode()
