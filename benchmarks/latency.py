"""Latency and speed harness of codec-rt, from a checkout: the runtime's timings (`codec_rt.bench`, what
`codec-rt bench` prints) against baselines measured in the same run, with the issue's three targets as ratios.

    python -m benchmarks.latency --seconds 600 --json docs/latency.json --force     # the run of record

What one run measures, on the same audio (real speech, tests/data by default, tiled to `seconds`, 16 kHz):

- per-chunk latency of the streaming coder for `chunk_ms` chunks (20 ms): each `StreamEncoder.push`, each
  `StreamDecoder.push` fed what the encoder returned, and the two together (`roundtrip`); p50 / p95 / p99 /
  max, with the real-time factor (processing seconds per audio second) and throughput (audio seconds per
  second) of the whole stream; and the whole-file API (`Codec.encode(framed=True)`, `Codec.decode`);
- onnxruntime against the same model in torch eager mode (when torch, the repository's `export` package and
  the model's checkpoint are there: found in checkpoints/ by its model id): both graphs on the same
  features (the first 20 s, in one call each), best of `repeats`;
- each of the above on 1 and 2 threads (`threads`): onnxruntime's intra-op threads, the stream's workers,
  torch.set_num_threads;
- opusenc + opusdec on the same audio at about the same bitrate, against `codec-rt encode` + `codec-rt
  decode` of the same file (fresh processes, so the CLI's start-up counts, as it does for opus-tools), in
  turn `repeats` times, each figure the median (a shared machine's speed drifts within a run);
- the CLI's cold start: `codec-rt --help`, and the encode of 0.1 s of audio, in fresh processes;
- the shipped low-latency (causal) model streamed as live audio is: packets and decoder blocks of one
  chunk, on 1 thread (per-chunk timings, its actual bitrate with that framing, its streamed latency);
- every shipped point's whole-file encode and decode of the same audio on 1 thread, as CPU seconds per
  second of audio (what a server coding many files pays per point).

The JSON (schema "codec-rt-bench/2", docs/latency.json) keeps the name "packet_steps" for latent steps per
packet:

    schema            "codec-rt-bench/2"
    created           ISO 8601 time (UTC)
    machine           {cpu: model name, cores: logical CPUs, platform, python, load_average: [1, 5, 15 min]}
    versions          {codec_rt, onnxruntime, numpy, torch (null if absent), opus_tools (null if absent)}
    onnxruntime       {available_providers: [...], providers_used: [...] (the sessions' own list, in use)}
    input             {path, seconds, sample_rate, channels}
    models            [{model_id, mode (the point's encode mode), path, kbps (nominal, null off the ladder),
                        low_latency, coder, window_ms, lookahead_ms, latency_ms (window + lookahead,
                        ModelConfig.latency_ms), stream_latency_ms (default packets and blocks)}], every
                        shipped point
    model             the timed model: {model_id, path, kbps_actual, packet_steps, block_frames,
                        margin_frames, phase_iters, stream_latency_ms (with these packets and blocks)}
    runs              [{threads, chunk_ms,
                        stream_encode, stream_decode, stream_roundtrip:
                            {chunks, p50_ms, p95_ms, p99_ms, max_ms, mean_ms, rtf, throughput, cpu_seconds},
                        file_encode, file_decode: {seconds, rtf, throughput, cpu_seconds},
                        torch_eager: {same_model, checkpoint, ort_seconds, torch_seconds, speedup,
                                      ort_cpu_seconds, torch_cpu_seconds, speedup_cpu} or null}]
    points            [{model_id, kbps (nominal), low_latency, mode, rate_lambda, phase_bins, phase_bits (its band;
                        null: the model's), kbps_actual, encode_seconds, decode_seconds,
                        encode_cpu_per_second, decode_cpu_per_second}]: every shipped point on 1 thread, or
                        [] with --model
    low_latency       {model_id, kbps_actual, packet_steps, block_frames, phase_iters, stream_latency_ms,
                       stream_encode, stream_decode, stream_roundtrip (as in runs)} or null (no such model,
                       or --model given)
    opus              {bitrate_kbps, encode_seconds, decode_seconds, total_seconds, encode_cpu_seconds,
                       decode_cpu_seconds, total_cpu_seconds} (medians, as cli's) or null
    javascript        {node, cpu, rows: [{point, row: {seconds, python:on, native:on, wasm:on, python:off,
                       native:off, wasm:off}}]}: ms to decode the test speech per shipped point, one thread,
                       Python beside Node (onnxruntime-node and -web), or null (no node, or web/ not set up)
    cli               {help_seconds, tiny_encode_seconds, encode_seconds, decode_seconds, total_seconds, and
                       the same keys with _cpu_seconds} (fresh processes; each the median of `repeats`
                       runs taken in turn with opus's, the totals the sums of the medians)
    targets           {cli_vs_opus: {value, target: "<= 1.0", met}, cli_vs_opus_cpu: {...},
                       onnxruntime_vs_torch: {value, target: ">= 2.0", met},
                       chunk_p99_ms: {value, target: "<= 1.0", met},
                       chunk_p99_ms_low_latency: {...} (the low-latency model's stream)}
                        (value null, met null where a part was not measured; single-thread figures)

Timings are wall-clock after a warm-up, with the CPU seconds beside them (the process's, or a child's user +
system): on a shared machine wall time moves with the load (which is recorded), CPU time much less.
cpu_seconds counts every thread, so with 2 threads it can exceed the wall time. No GPU is needed;
`--provider cuda` is used exactly as asked or refused (ProviderError), and `providers_used` shows what ran.
"""

from __future__ import annotations

import datetime
import sys
import tempfile
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import onnxruntime as ort
import soundfile as sf
import typer

from benchmarks import latency_baselines as baselines
from codec_rt import Codec, CodecError, __version__, ladder
from codec_rt import bench as timer
from codec_rt.files import check_output, write_bytes

SCHEMA = "codec-rt-bench/2"
RATE = timer.RATE
DEFAULT_INPUT = baselines.REPO / "tests" / "data" / "speech_fr_16k.flac"
STREAM_KEYS = ("stream_encode", "stream_decode", "stream_roundtrip")


def model_rows() -> list[dict[str, Any]]:
    """Every shipped model with its nominal rate and latency (default packets and blocks)."""
    return [_model_row(Codec.for_point(p), p.kbps, p.low_latency) for p in ladder.points()]


def _model_row(c: Codec, kbps: float | None, low_latency: bool = False) -> dict[str, Any]:
    return {**timer.model_info(c, kbps, low_latency), "mode": c.mode, "path": str(c.model.path),
            "stream_latency_ms": timer.framing(c.config, live=False).stream_latency_ms}


def run(
    input: Path = DEFAULT_INPUT,
    seconds: float = 600.0,
    model: Path | None = None,
    provider: str = "cpu",
    threads: tuple[int, ...] = (1, 2),
    chunk_ms: float = 20.0,
    repeats: int = 3,
    packet_steps: int | None = None,
    block_frames: int = 128,
    margin_frames: int = 24,
    torch: bool = True,
    checkpoint: Path | None = None,
    cli: bool = True,
    opus: bool = True,
    javascript: bool = True,
    progress: Callable[[str], None] = lambda s: None,
) -> dict[str, Any]:
    """Run the harness -> the JSON-ready result (see the module docstring)."""
    if not input.is_file():
        raise CodecError(f"benchmark input {input} does not exist; give one with --input")
    x = timer.load_input(input, seconds, RATE)
    audio_seconds = x.shape[1] / RATE
    base = Codec.load(model, provider)
    fr = timer.framing(base.config, chunk_ms, packet_steps, block_frames, margin_frames, live=False,
                       phase_iters=base.model.phase_iters)
    kbps_actual = 8 * len(base.encode(x, RATE, framed=True, packet_steps=fr.packet_steps)) / audio_seconds / 1000
    result: dict[str, Any] = {
        "schema": SCHEMA,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": timer.machine(),
        "versions": {"codec_rt": __version__, "onnxruntime": ort.__version__, "numpy": np.__version__,
                     "torch": baselines.torch_version() if torch else None,
                     "opus_tools": baselines.opus_version() if opus else None},
        "onnxruntime": {"available_providers": ort.get_available_providers(),
                        "providers_used": sorted(set(base.model.encoder.get_providers())
                                                 | set(base.model.decoder.get_providers()))},
        "input": {"path": str(input), "seconds": audio_seconds, "sample_rate": RATE, "channels": 1},
        "models": model_rows() if model is None else [_model_row(base, None)],
        "model": {"model_id": base.model_id, "path": str(base.model.path), "kbps_actual": kbps_actual,
                  "packet_steps": fr.packet_steps, "block_frames": fr.block_frames,
                  "margin_frames": fr.margin_frames, "phase_iters": fr.phase_iters,
                  "stream_latency_ms": fr.stream_latency_ms},
        "runs": [],
    }
    if not any(m["model_id"] == base.model_id for m in result["models"]):
        result["models"].append(_model_row(base, None))
    for n in threads:
        progress(f"{n} thread(s): streaming and whole file")
        codec = Codec.load(model, provider, threads=n)
        row = timer.time_codec(codec, x, RATE, chunk_ms, fr, n)
        row["torch_eager"] = None
        if torch:
            progress(f"{n} thread(s): onnxruntime vs torch eager")
            row["torch_eager"] = baselines.torch_vs_ort(codec, x, n, repeats, checkpoint)
        result["runs"].append(row)
    result["points"] = []
    if model is None:
        progress("every shipped point, whole file, 1 thread")
        result["points"] = [point_run(p, x, provider) for p in ladder.points()]
    result["low_latency"] = None
    if model is None and any(p.low_latency for p in ladder.points()):
        progress("the low-latency model, streamed chunk by chunk")
        result["low_latency"] = low_latency_run(x, chunk_ms, provider)
    result["opus"], result["cli"] = None, None
    with tempfile.TemporaryDirectory(prefix="codec-rt-bench-") as tmp:
        work = Path(tmp)
        sf.write(str(work / "in.wav"), x[0], RATE, subtype="PCM_16")
        sf.write(str(work / "tiny.wav"), x[0, : RATE // 10], RATE, subtype="PCM_16")
        if opus or cli:
            progress(f"opusenc + opusdec and the command line, in turn, {repeats} times")
            result["opus"], result["cli"] = baselines.head_to_head(work, kbps_actual, model, repeats, opus, cli)
    result["javascript"] = None
    if javascript:
        progress("the JavaScript runtime's decoding beside codec-rt's")
        result["javascript"] = baselines.javascript_run()
    result["targets"] = targets(result)
    return result


def low_latency_run(x: timer.F32, chunk_ms: float, provider: str) -> dict[str, Any]:
    """The shipped low-latency model as a live stream: packets and decoder blocks of one `chunk_ms` chunk
    (so the decoder plays each chunk as soon as it is encoded), on 1 thread."""
    codec = Codec.load(provider=provider, threads=1, low_latency=True)
    fr = timer.framing(codec.config, chunk_ms, live=True, phase_iters=codec.model.phase_iters)
    blob = codec.encode(x, RATE, framed=True, packet_steps=fr.packet_steps)
    row = timer.time_codec(codec, x, RATE, chunk_ms, fr, 1, file=False)
    return {"model_id": codec.model_id, "kbps_actual": 8 * len(blob) / (x.shape[1] / RATE) / 1000,
            "packet_steps": fr.packet_steps, "block_frames": fr.block_frames, "phase_iters": fr.phase_iters,
            "stream_latency_ms": fr.stream_latency_ms, **{k: row[k] for k in STREAM_KEYS}}


def point_run(p: ladder.LadderPoint, x: timer.F32, provider: str) -> dict[str, Any]:
    """One shipped point's whole-file encode and decode of `x` on 1 thread, with the point's default packets
    and its decoder's declared phase iterations (what `codec-rt encode` / `decode` do)."""
    codec = Codec.for_point(p, provider, threads=1)
    fr = timer.framing(codec.config, live=False, phase_iters=codec.model.phase_iters)
    seconds = x.shape[1] / RATE
    blob = codec.encode(x, RATE, framed=True, packet_steps=fr.packet_steps)
    row = timer.file_run(codec, x, RATE, fr, blob)
    enc, dec = row["file_encode"], row["file_decode"]
    return {"model_id": codec.model_id, "kbps": p.kbps, "low_latency": p.low_latency, "mode": p.mode,
            "rate_lambda": p.rate_lambda, "phase_bins": p.phase_bins, "phase_bits": p.phase_bits,
            "kbps_actual": 8 * len(blob) / seconds / 1000, "encode_seconds": enc["seconds"],
            "decode_seconds": dec["seconds"], "encode_cpu_per_second": enc["cpu_seconds"] / seconds,
            "decode_cpu_per_second": dec["cpu_seconds"] / seconds}


def targets(result: dict[str, Any]) -> dict[str, Any]:
    """The three targets of the issue, as ratios from this run (single-thread figures)."""
    one = next((r for r in result["runs"] if r["threads"] == 1), result["runs"][0] if result["runs"] else None)
    cli, opus = result.get("cli"), result.get("opus")
    te = one.get("torch_eager") if one else None
    ll = result.get("low_latency")

    def row(value: float | None, target: str, ok: Callable[[float], bool]) -> dict[str, Any]:
        return {"value": value, "target": target, "met": None if value is None else bool(ok(value))}

    return {
        "cli_vs_opus": row(cli["total_seconds"] / opus["total_seconds"] if cli and opus else None, "<= 1.0",
                           lambda v: v <= 1.0),
        "cli_vs_opus_cpu": row(cli["total_cpu_seconds"] / opus["total_cpu_seconds"] if cli and opus else None,
                               "<= 1.0", lambda v: v <= 1.0),
        "onnxruntime_vs_torch": row(te["speedup"] if te else None, ">= 2.0", lambda v: v >= 2.0),
        "chunk_p99_ms": row(one["stream_roundtrip"]["p99_ms"] if one else None, "<= 1.0", lambda v: v <= 1.0),
        "chunk_p99_ms_low_latency": row(ll["stream_roundtrip"]["p99_ms"] if ll else None, "<= 1.0",
                                        lambda v: v <= 1.0),
    }


def _stream_lines(row: dict[str, Any]) -> list[str]:
    """The per-chunk timings of a streamed run, one line each."""
    return [f"    {k:17s} p50 {s['p50_ms']:.3f} p95 {s['p95_ms']:.3f} p99 {s['p99_ms']:.2f} max {s['max_ms']:.1f} "
            f"ms; RTF {s['rtf']:.4f}, {s['throughput']:.1f} x real time ({s['cpu_seconds']:.2f} s CPU)"
            for k, s in ((k, row[k]) for k in STREAM_KEYS)]


def report(result: dict[str, Any]) -> str:
    """A human-readable summary of a result."""
    mach = result["machine"]
    lines = [f"benchmarks.latency: {result['input']['seconds']:.0f} s of speech, {mach['cpu']} ({mach['cores']} "
             f"CPUs, load {mach['load_average']}), onnxruntime {result['versions']['onnxruntime']} on "
             f"{', '.join(result['onnxruntime']['providers_used'])}"]
    for m in result["models"]:
        kbps = (f"{m['kbps']:g} kbps" if m["kbps"] is not None else "(not shipped)") + \
            (", low latency" if m["low_latency"] else "")
        lines.append(f"  model {m['model_id']} {kbps}: latency {m['latency_ms']:.1f} ms (window {m['window_ms']:.1f} "
                     f"+ lookahead {m['lookahead_ms']:.1f}); streamed {m['stream_latency_ms']:.0f} ms")
    m = result["model"]
    for r in result["runs"]:
        lines.append(f"  {r['threads']} thread(s), {r['chunk_ms']:g} ms chunks, model {m['model_id']} "
                     f"({m['kbps_actual']:.2f} kbps; packets of {m['packet_steps']} steps, blocks of "
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
    if result["points"]:
        lines.append("  every point, whole file, 1 thread: CPU seconds per second of audio (encode / decode)")
        for pt in result["points"]:
            name = f"{pt['kbps']:g} kbps" + (" low latency" if pt["low_latency"] else "")
            lines.append(f"    {name:21s} {pt['model_id']} {pt['kbps_actual']:6.2f} kbps actual: "
                         f"{pt['encode_cpu_per_second']:.4f} / {pt['decode_cpu_per_second']:.4f}")
    ll = result["low_latency"]
    if ll:
        lines.append(f"  low-latency model {ll['model_id']} streamed live ({ll['kbps_actual']:.2f} kbps with packets "
                     f"of {ll['packet_steps']} steps, blocks of {ll['block_frames']} frames: streamed latency "
                     f"{ll['stream_latency_ms']:.0f} ms), 1 thread:")
        lines += _stream_lines(ll)
    if result["opus"]:
        o = result["opus"]
        lines.append(f"  opusenc {o['encode_seconds']:.2f} s + opusdec {o['decode_seconds']:.2f} s at "
                     f"{o['bitrate_kbps']:g} kbps (CPU {o['encode_cpu_seconds']:.2f} + "
                     f"{o['decode_cpu_seconds']:.2f} s)")
    if result["cli"]:
        c = result["cli"]
        lines.append(f"  codec-rt encode {c['encode_seconds']:.2f} s + decode {c['decode_seconds']:.2f} s (CPU "
                     f"{c['encode_cpu_seconds']:.2f} + {c['decode_cpu_seconds']:.2f} s); cold start: --help "
                     f"{c['help_seconds']:.2f} s ({c['help_cpu_seconds']:.2f} CPU), tiny encode "
                     f"{c['tiny_encode_seconds']:.2f} s ({c['tiny_encode_cpu_seconds']:.2f} CPU)")
    if result.get("javascript"):
        js = result["javascript"]
        lines.append(f"  decoding in JavaScript (Node {js['node']}), ms for the test speech, one thread, refinement "
                     f"on / off: Python, Node native, Node wasm")
        for r in js["rows"]:
            v = r["row"]
            lines.append(f"    {r['point']:>4s} ({v['seconds']:.2f} s): " + ", ".join(
                f"{v[k + ':on']:.0f} / {v[k + ':off']:.0f}" for k in ("python", "native", "wasm")))
    lines.append("  targets:")
    for name, t in result["targets"].items():
        value = "n/a" if t["value"] is None else f"{t['value']:.3f}"
        met = {None: "not measured", True: "met", False: "MISSED"}[t["met"]]
        lines.append(f"    {name:26s} {value:>9s} (target {t['target']}): {met}")
    return "\n".join(lines)


class Provider(str, Enum):
    cpu = "cpu"
    cuda = "cuda"


def command(
    input: Annotated[Path, typer.Option("--input", help="speech to tile")] = DEFAULT_INPUT,
    seconds: Annotated[float, typer.Option("--seconds", min=0.1, help="audio length to time")] = 600.0,
    threads: Annotated[list[int] | None, typer.Option("--threads", min=1, help="thread counts (default: 1, 2)")] = None,
    chunk_ms: Annotated[float, typer.Option("--chunk-ms", min=1.0, help="streaming chunk")] = 20.0,
    repeats: Annotated[int, typer.Option("--repeats", min=1, help="repeats of the short timings")] = 3,
    packet_steps: Annotated[int | None, typer.Option("--frame-steps", min=1, max=65535,
                                                    help="latent steps per packet (default ~1 s)")] = None,
    block_frames: Annotated[int, typer.Option("--block-frames", min=1, help="decoder block, STFT frames")] = 128,
    margin_frames: Annotated[int, typer.Option("--margin-frames", min=0, help="decoder margin, STFT frames")] = 24,
    torch: Annotated[bool, typer.Option("--torch/--no-torch", help="compare with torch eager")] = True,
    checkpoint: Annotated[Path | None, typer.Option("--checkpoint", help="the model's checkpoint (default: "
                                                    "found in checkpoints/ by model id)")] = None,
    opus: Annotated[bool, typer.Option("--opus/--no-opus", help="compare with opusenc + opusdec")] = True,
    cli: Annotated[bool, typer.Option("--cli/--no-cli", help="time the command line in fresh processes")] = True,
    javascript: Annotated[bool, typer.Option("--javascript/--no-javascript",
                                             help="time web/'s decoder beside codec-rt's (after web/ci.sh)")] = True,
    model: Annotated[Path | None, typer.Option("--model", help="model directory (default: the default one)")] = None,
    provider: Annotated[Provider, typer.Option("--provider", help="onnxruntime execution provider")] = Provider.cpu,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the figures as JSON")] = None,
    force: Annotated[bool, typer.Option("--force", help="replace an existing JSON file")] = False,
) -> None:
    """Latency and speed of codec-rt against torch eager and opus-tools (schema: benchmarks/latency.py)."""
    try:
        out = None if json_out is None else check_output(json_out, force)
        result = run(input=input, seconds=seconds, model=model, provider=provider.value,
                     threads=tuple(threads or (1, 2)), chunk_ms=chunk_ms, repeats=repeats, packet_steps=packet_steps,
                     block_frames=block_frames, margin_frames=margin_frames, torch=torch, checkpoint=checkpoint,
                     cli=cli, opus=opus, javascript=javascript,
                     progress=lambda s: typer.echo(f"benchmarks.latency: {s}", err=True))
    except CodecError as e:
        typer.echo(f"benchmarks.latency: error: {e}", err=True)
        raise typer.Exit(2) from None
    typer.echo(report(result))
    if out is not None:
        write_bytes(out, timer.to_json(result))


def main(argv: list[str] | None = None) -> None:
    app = typer.Typer(add_completion=False)
    app.command()(command)
    app(args=sys.argv[1:] if argv is None else argv, prog_name="python -m benchmarks.latency")


if __name__ == "__main__":
    main()
