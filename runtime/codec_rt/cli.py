"""`codec-rt`: encode, decode, inspect, evaluate and benchmark from the command line.

A user mistake (missing file, bad blob, existing output...) is one line on stderr and exit code 2.

`encode` and `decode` stream: the input is read in blocks and the output written as it is produced (to a
temporary file renamed into place at the end, or to standard output with `-o -`), so memory stays bounded
for any length; `-` as the input reads standard input (audio: WAV or FLAC, streamed; a blob: any layout).
A progress bar is drawn on stderr when it is a terminal.

`batch encode` / `batch decode` code a whole folder tree or manifest (`batch.py`): exit code 0 when every
file succeeded, 1 when any failed (each in the results file), 2 for a usage error.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import signal
import sys
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from . import batch, packets, tracks
from .audio_in import read_audio
from .blob import MAJOR, BlobHeader
from .cli_options import (
    BitrateOpt,
    BitsOpt,
    ContrastOpt,
    ForceOpt,
    Layout,
    LowLatencyOpt,
    Mode,
    ModelOpt,
    ModeOpt,
    PhaseItersOpt,
    PhaseStartArg,
    Provider,
    ProviderOpt,
    StereoArg,
    StereoOpt,
)
from .cli_options import phase_start as start_of
from .codec import Codec
from .config import Stereo
from .errors import CodecError, OutputError
from .files import (
    AUDIO_FORMATS,
    INTERRUPTS,
    STDIO,
    all_or_none,
    audio_format,
    check_interrupted,
    check_output,
    read_blob,
    write_audio,
    write_bytes,
)
from .latent import coding_options
from .metrics import round_trip_report
from .transcode import decode_file, encode_file
from .version import __version__
from .worker import Result

log = logging.getLogger(__name__)
app = typer.Typer(add_completion=False, no_args_is_help=True, help="codec-rt: a neural audio codec (onnxruntime).")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"codec-rt {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="print the version and exit")] = False,
) -> None:
    pass


def _kbps(n_bytes: int, seconds: float) -> str:
    return f"{8 * n_bytes / seconds / 1000:.2f} kbps" if seconds > 0 else "n/a kbps"


@contextlib.contextmanager
def _progress(total: int | None, what: str) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr when it is a terminal (`total` samples, or unknown) -> advance(n)."""
    if not sys.stderr.isatty():
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = [TextColumn(what), BarColumn(), TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(),
               TimeRemainingColumn()]
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(what, total=total)
        yield lambda n: bar.advance(task, n)


@app.command()
def encode(
    input: Annotated[Path, typer.Argument(help="audio file (wav, flac, ogg, ...); - reads stdin (WAV or FLAC)")],
    # -o is a str, not a Path: Path("new/") would drop the separator that says a folder was meant
    output: Annotated[str, typer.Option("-o", "--output", metavar="<path>", help="blob to write; - writes stdout")],
    bitrate: BitrateOpt = None,
    low_latency: LowLatencyOpt = False,
    bits: BitsOpt = None,
    mode: ModeOpt = None,
    layout: Annotated[
        Layout, typer.Option("--layout", help="framed (streamable, format 1.7; 1.4 for --low-latency) or whole "
                             "(one gain over the file, format 1.6; for --low-latency the oldest format that "
                             "holds it: 1.1, 1.3 with context coding, 1.4 with mid/side); 1.10 in either with "
                             "the phase stored")
    ] = Layout.framed,
    stereo: StereoArg = StereoOpt.auto,
    model: ModelOpt = None,
    provider: ProviderOpt = Provider.cpu,
    force: ForceOpt = False,
) -> None:
    """Compress an audio file into a codec-rt blob (streamed: bounded memory for any length)."""
    from_stdin = str(input) == STDIO
    out = None if str(output) == STDIO else check_output(output, force, () if from_stdin else (input,))
    if out is not None and out.suffix.lower().lstrip(".") in AUDIO_FORMATS:
        log.warning("warning: %s will hold a codec-rt blob, not %s audio (name it .cra)", out,
                    out.suffix.lstrip(".").upper())

    def load() -> Codec:  # --bits asks for a fixed-width model, unless --model names one
        return Codec.load(model, provider.value, bitrate=bitrate, low_latency=low_latency,
                          fixed_width=bits is not None and model is None)

    done = encode_file(input, out, load, bits=bits, mode=None if mode is None else mode.value,
                       whole=layout == Layout.whole,
                       joint_stereo=stereo.joint, progress=_progress)
    where = "stdout" if out is None else out
    typer.echo(f"{done.name} -> {where}: {done.output_bytes} bytes, {done.seconds:.2f} s, "
               f"{_kbps(done.output_bytes, done.seconds)}", err=True)


@app.command()
def decode(
    input: Annotated[Path, typer.Argument(help="codec-rt blob; - reads stdin")],
    output: Annotated[
        str, typer.Option("-o", "--output", metavar="<path>",
                          help="audio file to write (.wav, .flac, .ogg); - writes a WAV to stdout")
    ],
    phase_iters: PhaseItersOpt = None,
    contrast: ContrastOpt = None,
    phase_start: PhaseStartArg = None,
    model: ModelOpt = None,
    provider: ProviderOpt = Provider.cpu,
    force: ForceOpt = False,
) -> None:
    """Decompress a codec-rt blob into an audio file (with the shipped model that wrote it, unless --model).

    A framed blob is decoded as it is read; one cut short decodes up to the cut, with a warning."""
    from_stdin = str(input) == STDIO
    out = None if str(output) == STDIO else check_output(output, force, () if from_stdin else (input,))
    if out is not None:
        audio_format(out)

    def codec_for(header: BlobHeader) -> Codec:
        if model is None:
            return Codec.for_model_id(header.model_id, provider.value)
        return Codec.load(model, provider.value)

    done = decode_file(input, out, codec_for, phase_iters=phase_iters, contrast=contrast,
                       phase_start=start_of(phase_start), progress=_progress)
    where = "stdout" if out is None else out
    note = f" (the blob is cut short: {done.samples} samples decoded)" if done.truncated else ""
    typer.echo(f"{'stdin' if from_stdin else input} -> {where}: {done.channels} ch, {done.samples} samples at "
               f"{done.sample_rate} Hz{note}", err=True)


@app.command()
def info(blob: Annotated[Path, typer.Argument(help="codec-rt blob; - reads stdin")]) -> None:
    """Print a blob's header, size, actual bitrate and its model's latency (checks every checksum too, its
    sinusoidal tracks' fields against each other, and a shipped model's blob against its model, as decode
    does)."""
    data = read_blob(blob)
    header, blob_packets = packets.read_packets(data)
    for c in range(header.channels if header.track_frames else 0):  # the decoder's checks of the tracks (4.9)
        tracks.follow([(p.index, p.channels[c].tracks) for p in blob_packets])
    seconds = header.num_samples / header.sample_rate
    d: dict[str, Any] = {"format": f"{MAJOR}.{header.minor}", **header.to_dict(), "mode": header.mode_name,
                         "coder": header.coder_name, "layout": header.layout_name,
                         "stereo": Stereo(header.stereo).name.lower().replace("_", "-")}
    if header.framed:
        d["packets"] = len(blob_packets)
    kbps = round(8 * len(data) / seconds / 1000, 3) if seconds else None
    d.update(bytes=len(data), seconds=round(seconds, 3), kbps=kbps)
    try:
        model = Codec.for_model_id(header.model_id).model
    except CodecError:
        d["latency_ms"] = "n/a (model not shipped)"
    else:
        model.check_compatible(header)  # its lengths against the model's, as decode checks them
        d["latency_ms"] = round(model.config.latency_ms, 1)  # the model's: window + lookahead
    for k, v in d.items():
        typer.echo(f"{k:16s} {v}")


@app.command("eval")
def eval_(
    input: Annotated[Path, typer.Argument(help="audio file to round-trip")],
    out_dir: Annotated[Path, typer.Option("--out-dir", help="folder for reconstructions and residuals")] = Path(
        "eval_out"
    ),
    bitrate: BitrateOpt = None,
    low_latency: LowLatencyOpt = False,
    bits: BitsOpt = None,
    phase_iters: PhaseItersOpt = None,
    contrast: ContrastOpt = None,
    phase_start: PhaseStartArg = None,
    model: ModelOpt = None,
    provider: ProviderOpt = Provider.cpu,
    json_out: Annotated[Path | None, typer.Option("--json", help="also write the figures as JSON")] = None,
    force: ForceOpt = False,
) -> None:
    """Round-trip a file in each mode (predicted, store_phase, low_band_phase, tonal_band_phase but with a
    low-latency model); print SNR, SI-SDR, LSD, PESQ-WB,
    STOI (with the codec-rt[metrics] extra), size and bitrate; write each mode's reconstruction and residual
    as wav files."""
    outputs = {(mode, kind): out_dir / f"{input.stem}.{mode.value}.{kind}.wav"
               for mode in Mode for kind in ("recon", "residual")}
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"--out-dir {out_dir} is a file, not a folder")
    if out_dir.is_dir():  # every refusal before any work, so a refusal leaves nothing half-done
        for path in outputs.values():
            check_output(path, force, (input,))
    if json_out is not None:
        check_output(json_out, force, (input,))
        if json_out.absolute() in {o.absolute() for o in outputs.values()}:  # it would replace that wav
            raise OutputError(f"--json {json_out} is one of eval's own outputs")
    audio, sr = read_audio(input)
    codec = Codec.load(model, provider.value, bitrate=bitrate, low_latency=low_latency,
                       fixed_width=bits is not None and model is None)
    coding_options(codec.config, bits)  # a refused --bits before the folder is made
    results: dict[str, Any] = {"input": str(input), "model_id": codec.model_id, "sample_rate": sr,
                               "channels": audio.shape[0], "modes": {}}
    recons = {}
    for mode in Mode:
        if mode is Mode.tonal_band_phase and codec.config.causal:  # its paths look ahead (docs/FORMAT.md 4.8)
            continue
        data = codec.encode(audio, sr, bits=bits, mode=mode.value, framed=True)  # the bytes `encode` writes
        recons[mode], _ = codec.decode(data, phase_iters=phase_iters, contrast=contrast,
                                       phase_start=start_of(phase_start))
        report = round_trip_report(audio, recons[mode], sr, len(data))
        results["modes"][mode.value] = report
        figures = " ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in report.items())
        typer.echo(f"{mode.value:12s} {figures}")
    # every mode coded before a file is written, and all written or none: no half of the outputs is left
    with all_or_none(out_dir, "--out-dir") as written:
        for (mode, kind), path in outputs.items():
            if mode in recons:
                wave = recons[mode] if kind == "recon" else audio - recons[mode]
                write_audio(check_output(path, force, (input,)), wave, sr)
                written.append(path)
        if json_out is not None:
            write_bytes(check_output(json_out, force), json.dumps(results, indent=2).encode())
    if importlib.util.find_spec("pesq") is None or importlib.util.find_spec("pystoi") is None:
        typer.echo("pesq_wb and stoi need the metrics extra: pip install 'codec-rt[metrics]'", err=True)


@app.command()
def bench(
    input: Annotated[Path | None, typer.Option("--input", help="audio to tile (default: synthetic speech)")] = None,
    seconds: Annotated[float, typer.Option("--seconds", min=0.1, help="audio length to time")] = 60.0,
    threads: Annotated[list[int] | None, typer.Option("--threads", min=1, help="thread counts (default: 1, 2)")] = None,
    chunk_ms: Annotated[float, typer.Option("--chunk-ms", min=1.0, help="streaming chunk")] = 20.0,
    packet_steps: Annotated[int | None, typer.Option("--packet-steps", min=1, max=65535, help="latent steps "
                                                     "per packet (default: ~1 s; low latency: a chunk)")] = None,
    block_frames: Annotated[int | None, typer.Option("--block-frames", min=1, help="decoder block, STFT frames "
                                                     "(default: 128; low latency: a chunk)")] = None,
    margin_frames: Annotated[int | None, typer.Option("--margin-frames", min=0, help="decoder margin, STFT "
                                                      "frames (default: 24; low latency: 0)")] = None,
    model: Annotated[Path | None, typer.Option("--model", help="model directory (default: every shipped one)")] = None,
    bitrate: Annotated[float | None, typer.Option("--bitrate", help="kbps: the shipped model at or below")]
    = None,
    low_latency: LowLatencyOpt = False,
    provider: ProviderOpt = Provider.cpu,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the figures as JSON")] = None,
    force: ForceOpt = False,
) -> None:
    """Time this installation: real-time factor, throughput and per-chunk streaming latency of encode and
    decode, per model, on 1 and 2 threads (JSON schema: codec_rt/bench.py)."""
    from . import bench as timer

    out = None if json_out is None else check_output(json_out, force)
    result = timer.run(
        input=input, seconds=seconds, model=model, bitrate=bitrate, low_latency=low_latency,
        provider=provider.value, threads=tuple(threads or (1, 2)), chunk_ms=chunk_ms, packet_steps=packet_steps,
        block_frames=block_frames, margin_frames=margin_frames,
        progress=lambda s: typer.echo(f"codec-rt bench: {s}", err=True),
    )
    typer.echo(timer.report(result))
    if out is not None:
        write_bytes(out, timer.to_json(result))


batch_app = typer.Typer(no_args_is_help=True, help="Code every file of a folder tree or a manifest into a mirror "
                        "folder, on worker processes or a Ray cluster (docs/SCALE.md).")
app.add_typer(batch_app, name="batch")


class Engine(str, Enum):
    local = "local"
    ray = "ray"


class AudioFormat(str, Enum):
    wav = "wav"
    flac = "flac"
    ogg = "ogg"


SrcArg = Annotated[Path, typer.Argument(help="folder (searched recursively) or manifest file (one path a line)")]
DstOpt = Annotated[Path, typer.Option("-o", "--output", help="output folder: the sources' tree mirrored")]
EngineOpt = Annotated[Engine, typer.Option("--engine", help="local: worker processes; ray: a Ray cluster")]
WorkersOpt = Annotated[int | None, typer.Option("--workers", min=1, help="worker processes or Ray actors "
                                                "[default: this machine's CPUs; Ray: the cluster's]")]
AddressOpt = Annotated[str | None, typer.Option("--address", help="Ray cluster (HOST:PORT) [default: a local "
                                                "cluster started for the run]")]
ResultsOpt = Annotated[Path | None, typer.Option("--results", help="results file, JSON lines [default: "
                                                 "OUTPUT/batch_results.jsonl]")]
BatchForceOpt = Annotated[bool, typer.Option("--force", help="code every file again, even those whose output "
                                             "is complete and valid")]


def _run_batch(opts: batch.Options) -> None:
    """Run a batch with a progress line on a terminal, report it on stderr; exit code 1 if a file failed."""
    if not sys.stderr.isatty():
        summary = batch.run(opts)
    else:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        columns = [TextColumn("batch"), BarColumn(), MofNCompleteColumn(), TextColumn("files {task.fields[what]}"),
                   TimeElapsedColumn()]
        with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("batch", total=batch.jobs_total(opts), what="")
            seen = batch.Summary(Path())

            def advance(r: Result) -> None:
                seen.add(r)
                seen.wall_s = bar.tasks[0].elapsed or 0.0
                rtf = f", RTF {seen.rtf:.3f}" if seen.rtf else ""
                failed = f", {seen.counts['error']} failed" if seen.counts["error"] else ""
                bar.update(task, advance=1, what=f"({seen.audio_seconds / 3600:.3f} h of audio{rtf}{failed})")

            summary = batch.run(opts, advance)
    c = summary.counts
    for r in summary.failures:  # named, where the error does not (a damaged blob's: "checksum mismatch")
        typer.echo(f"codec-rt: failed: {r.error if r.error and r.path in r.error else f'{r.path}: {r.error}'}",
                   err=True)
    if c["error"] > len(summary.failures):
        typer.echo(f"codec-rt: ... and {c['error'] - len(summary.failures)} more failures", err=True)
    rtf = f", real-time factor {summary.rtf:.4f}" if summary.rtf else ""
    typer.echo(f"{summary.files} files: {c['ok']} coded, {c['skipped']} already done, {c['error']} failed; "
               f"{summary.audio_seconds / 3600:.4f} h of audio in {summary.wall_s:.1f} s{rtf}; results in "
               f"{summary.results}", err=True)
    if c["error"]:
        raise typer.Exit(1)


@batch_app.command("encode")
def batch_encode(
    src: SrcArg, output: DstOpt, bitrate: BitrateOpt = None, low_latency: LowLatencyOpt = False,
    bits: BitsOpt = None, mode: ModeOpt = None, stereo: StereoArg = StereoOpt.auto, model: ModelOpt = None,
    provider: ProviderOpt = Provider.cpu,
    force: BatchForceOpt = False, engine: EngineOpt = Engine.local, workers: WorkersOpt = None,
    address: AddressOpt = None, results: ResultsOpt = None,
) -> None:
    """Encode every audio file under SRC (or listed in SRC) to OUTPUT/<same path>.cra, the same bytes as
    codec-rt encode writes. Reruns skip the outputs already complete; exit code 1 if any file failed."""
    _run_batch(batch.Options(src, output, False, bitrate, low_latency, model, provider.value, force,
                             joint_stereo=stereo.joint, engine=engine.value, workers=workers,
                             address=address, results=results, bits=bits,
                             mode=None if mode is None else mode.value))


@batch_app.command("decode")
def batch_decode(
    src: SrcArg, output: DstOpt,
    format: Annotated[AudioFormat, typer.Option("--format", help="audio format of the outputs")] = AudioFormat.wav,
    phase_iters: PhaseItersOpt = None, contrast: ContrastOpt = None, phase_start: PhaseStartArg = None,
    model: ModelOpt = None, provider: ProviderOpt = Provider.cpu, force: BatchForceOpt = False,
    engine: EngineOpt = Engine.local, workers: WorkersOpt = None, address: AddressOpt = None,
    results: ResultsOpt = None,
) -> None:
    """Decode every .cra under SRC (or listed in SRC) to OUTPUT/<same path>.wav (or --format). Reruns skip
    the outputs already complete; exit code 1 if any file failed."""
    _run_batch(batch.Options(src, output, True, model=model, provider=provider.value, force=force,
                             phase_iters=phase_iters, contrast=contrast, phase_start=start_of(phase_start),
                             audio_format=format.value,
                             engine=engine.value, workers=workers, address=address, results=results))


def _terminated(signum: int, frame: object) -> None:
    # Ctrl-C, SIGTERM and SIGHUP unwind, so temporary output files are removed on the way out; each is
    # recorded too, for one that a libsndfile callback swallows (files.INTERRUPTS).
    INTERRUPTS.append(signum)
    raise KeyboardInterrupt


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="codec-rt: %(message)s")
    signal.signal(signal.SIGTERM, _terminated)
    # Ctrl-C, and a closed terminal (no SIGHUP on Windows), unless ignored (a background job, nohup)
    for name in ("SIGINT", "SIGHUP"):
        if hasattr(signal, name) and signal.getsignal(getattr(signal, name)) is not signal.SIG_IGN:
            signal.signal(getattr(signal, name), _terminated)
    try:
        # Typer turns a KeyboardInterrupt inside a command into a *returned* 130 when standalone_mode is off.
        code = app(standalone_mode=False)
        check_interrupted()  # one swallowed where stdout was written: it cannot be taken back, but exits so
        if code == 130:
            raise KeyboardInterrupt
        if isinstance(code, int) and code:
            sys.exit(code)
    except CodecError as e:
        typer.echo(f"codec-rt: error: {' '.join(str(e).split())}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("codec-rt: interrupted", err=True)
        sys.exit(128 + (INTERRUPTS[0] if INTERRUPTS else signal.SIGINT))  # 130 Ctrl-C, 143 SIGTERM, 129 SIGHUP
    except MemoryError:
        typer.echo("codec-rt: error: out of memory (the input is too long for this machine)", err=True)
        sys.exit(1)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        sys.exit(1)
    except typer.TyperException as e:  # usage errors (missing option, bad value) from the parser
        message = e.format_message() if hasattr(e, "format_message") else str(e)
        if type(e).__name__ == "NoArgsIsHelpError":
            typer.echo(message)
            sys.exit(0)
        typer.echo(f"codec-rt: error: {' '.join(message.split())}", err=True)
        sys.exit(2)
