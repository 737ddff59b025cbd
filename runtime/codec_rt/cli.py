"""`codec-rt`: encode, decode, inspect, evaluate and benchmark from the command line.

A user mistake (missing file, bad blob, existing output...) is one line on stderr and exit code 2.

`encode` and `decode` stream: the input is read in blocks and the output written as it is produced (to a
temporary file renamed into place at the end, or to standard output with `-o -`), so memory stays bounded
for any length; `-` as the input reads standard input (audio: WAV or FLAC, streamed; a blob: any layout).
A progress bar is drawn on stderr when it is a terminal.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import sys
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import typer

from . import packets
from .audio_in import AudioReader, read_audio
from .blob import MAJOR
from .codec import Codec
from .config import Stereo
from .decoder import StreamDecoder
from .encoder import StreamEncoder
from .errors import AudioError, CodecError, OutputError
from .files import (
    STDIO,
    AudioWriter,
    atomic_write,
    audio_format,
    check_audio_output,
    check_output,
    open_binary,
    read_blob,
    write_audio,
    write_bytes,
)
from .metrics import round_trip_report
from .version import __version__

app = typer.Typer(add_completion=False, no_args_is_help=True, help="codec-rt: a neural audio codec (onnxruntime).")


class Mode(str, Enum):
    predicted = "predicted"
    store_phase = "store_phase"


class Provider(str, Enum):
    cpu = "cpu"
    cuda = "cuda"


class StereoOpt(str, Enum):
    mid_side = "mid-side"
    independent = "independent"


class Layout(str, Enum):
    framed = "framed"
    whole = "whole"


ModelOpt = Annotated[Path | None, typer.Option("--model", help="model directory (default: the shipped ladder)")]
BitrateOpt = Annotated[
    float | None,
    typer.Option("--bitrate", min=0.1, help="kbps: the shipped model at or below it (default: the ladder's default)"),
]
LowLatencyOpt = Annotated[
    bool, typer.Option("--low-latency", help="a causal model of <= 20 ms algorithmic latency (for live audio)")
]
ProviderOpt = Annotated[Provider, typer.Option("--provider", help="onnxruntime execution provider")]
ForceOpt = Annotated[bool, typer.Option("--force", help="replace an existing output file")]
PhaseItersOpt = Annotated[
    int | None,
    typer.Option("--phase-iters", min=0, max=10_000,
                 help="phase iterations (predicted-phase mode): Griffin-Lim per block, or per frame for a "
                 "low-latency model [default: 32, or 3 for a low-latency model]"),
]
ContrastOpt = Annotated[
    float | None, typer.Option("--contrast", min=0.5, max=2.0, help="spectral-contrast postfilter, 1.0 = off "
                               "(predicted mode) [default: the model's, 1.15 unless its metadata says]")
]
BitsOpt = Annotated[int | None, typer.Option("--bits", min=1, max=16, help="latent bits per value (model default)")]


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


class _Counting:
    """A binary output that counts what goes through it."""

    def __init__(self, f: BinaryIO) -> None:
        self.f, self.n = f, 0

    def write(self, data: bytes) -> None:
        self.f.write(data)
        self.n += len(data)


def _emit(out: Path | None, write: Callable[[BinaryIO], None]) -> None:
    """Run `write(file)` into `out` atomically (a temporary file renamed into place), or into stdout (None)."""
    if out is None:
        write(sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return

    def _write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            write(f)

    atomic_write(out, _write)


@app.command()
def encode(
    input: Annotated[Path, typer.Argument(help="audio file (wav, flac, ogg, ...); - reads stdin (WAV or FLAC)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="blob to write; - writes stdout")],
    bitrate: BitrateOpt = None,
    low_latency: LowLatencyOpt = False,
    bits: BitsOpt = None,
    mode: Annotated[Mode, typer.Option("--mode", help="predicted phase, or phase stored in the blob")] = Mode.predicted,
    layout: Annotated[
        Layout, typer.Option("--layout", help="framed (streamable, format 1.4) or whole (the oldest format that "
                             "holds it: 1.1, 1.3 with context coding, 1.4 with mid/side stereo)")
    ] = Layout.framed,
    stereo: Annotated[
        StereoOpt, typer.Option("--stereo", help="two channels as mid/side (keeps their relation; format 1.4) or "
                                "each on its own")
    ] = StereoOpt.mid_side,
    model: ModelOpt = None,
    provider: ProviderOpt = Provider.cpu,
    force: ForceOpt = False,
) -> None:
    """Compress an audio file into a codec-rt blob (streamed: bounded memory for any length)."""
    from_stdin = str(input) == STDIO
    out = None if str(output) == STDIO else check_output(output, force, () if from_stdin else (input,))
    with AudioReader(input) as reader:
        codec = Codec.load(model, provider.value, bitrate=bitrate, low_latency=low_latency)
        counted: list[_Counting] = []
        if layout == Layout.whole:
            audio = reader.read_all()
            try:
                data = codec.encode(audio, reader.sample_rate, bits=bits, mode=mode.value,
                                    joint_stereo=stereo == StereoOpt.mid_side)
            except AudioError as e:
                raise AudioError(f"{reader.name}: {e}") from None

            def write(f: BinaryIO) -> None:
                counted.append(_Counting(f))
                counted[-1].write(data)
        else:
            try:
                enc = StreamEncoder(codec, reader.sample_rate, reader.channels, mode=mode.value, bits=bits,
                                    joint_stereo=stereo == StereoOpt.mid_side)
            except AudioError as e:
                raise AudioError(f"{reader.name}: {e}") from None

            def write(f: BinaryIO) -> None:
                counted.append(_Counting(f))
                with _progress(reader.num_samples, "encoding") as advance:
                    for block in reader.blocks():
                        counted[-1].write(enc.push(block))
                        advance(block.shape[1])
                    counted[-1].write(enc.flush())

        _emit(out, write)
        n_bytes, seconds = counted[-1].n, reader.samples_read / reader.sample_rate
    where = "stdout" if out is None else out
    typer.echo(f"{reader.name} -> {where}: {n_bytes} bytes, {seconds:.2f} s, {_kbps(n_bytes, seconds)}", err=True)


@app.command()
def decode(
    input: Annotated[Path, typer.Argument(help="codec-rt blob; - reads stdin")],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="audio file to write (.wav, .flac, .ogg); - writes a WAV to stdout")
    ],
    phase_iters: PhaseItersOpt = None,
    contrast: ContrastOpt = None,
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
    f = open_binary(input)
    try:
        src = packets.open_blob(f, seekable=not from_stdin)
        header = src.header
        total = header.num_samples if header.n_frames else None
        if out is not None:  # refuse what the output format cannot hold before decoding
            check_audio_output(out, header.channels, header.sample_rate, 1 if total is None else total)
        codec = Codec.for_model_id(header.model_id, provider.value) if model is None else Codec.load(model,
                                                                                                    provider.value)
        codec.check_compatible(header)
        dec = StreamDecoder(codec, phase_iters=phase_iters, contrast=contrast)
        written: list[int] = []

        def write(target: BinaryIO | Path) -> None:
            writer = AudioWriter(target, header.channels, header.sample_rate, total, out_name=out)
            with _progress(total, "decoding") as advance:
                for piece in src.pieces():
                    y = dec.push(piece)
                    writer.write(y)
                    advance(y.shape[1])
                y = dec.flush()
                writer.write(y)
                advance(y.shape[1])
            writer.close()
            written.append(writer.samples_written)

        if out is None:
            write(sys.stdout.buffer)
            sys.stdout.buffer.flush()
        else:
            atomic_write(out, write)
    finally:
        if f is not sys.stdin.buffer:
            f.close()
    where = "stdout" if out is None else out
    note = f" (the blob is cut short: {written[-1]} samples decoded)" if dec.truncated else ""
    typer.echo(f"{'stdin' if from_stdin else input} -> {where}: {header.channels} ch, {written[-1]} samples at "
               f"{header.sample_rate} Hz{note}", err=True)


@app.command()
def info(blob: Annotated[Path, typer.Argument(help="codec-rt blob")]) -> None:
    """Print a blob's header, size, actual bitrate and its model's latency (checks every checksum too)."""
    data = read_blob(blob)
    header, blob_packets = packets.read_packets(data)
    seconds = header.num_samples / header.sample_rate
    d: dict[str, Any] = {"format": f"{MAJOR}.{header.minor}", **header.to_dict(), "mode": header.mode_name,
                         "coder": header.coder_name, "layout": header.layout_name,
                         "stereo": Stereo(header.stereo).name.lower().replace("_", "-")}
    if header.framed:
        d["packets"] = len(blob_packets)
    kbps = round(8 * len(data) / seconds / 1000, 3) if seconds else None
    d.update(bytes=len(data), seconds=round(seconds, 3), kbps=kbps)
    try:
        cfg = Codec.for_model_id(header.model_id).config
        d["latency_ms"] = round(cfg.latency_ms, 1)  # the model's: window + lookahead
    except CodecError:
        d["latency_ms"] = "n/a (model not shipped)"
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
    model: ModelOpt = None,
    provider: ProviderOpt = Provider.cpu,
    json_out: Annotated[Path | None, typer.Option("--json", help="also write the figures as JSON")] = None,
    force: ForceOpt = False,
) -> None:
    """Round-trip a file in both modes; print SNR, SI-SDR, LSD, PESQ-WB, STOI, size and bitrate; write the
    reconstruction and the residual of each mode as wav files."""
    outputs = {(mode, kind): out_dir / f"{input.stem}.{mode.value}.{kind}.wav"
               for mode in Mode for kind in ("recon", "residual")}
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"--out-dir {out_dir} is a file, not a folder")
    if out_dir.is_dir():  # every refusal before any work, so a refusal leaves nothing half-done
        for path in outputs.values():
            check_output(path, force, (input,))
    if json_out is not None:
        check_output(json_out, force, (input,))
    audio, sr = read_audio(input)
    codec = Codec.load(model, provider.value, bitrate=bitrate, low_latency=low_latency)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create --out-dir {out_dir} ({e.strerror or e})") from None
    results: dict[str, Any] = {"input": str(input), "model_id": codec.model_id, "sample_rate": sr,
                               "channels": audio.shape[0], "modes": {}}
    for mode in Mode:
        data = codec.encode(audio, sr, bits=bits, mode=mode.value)
        recon, _ = codec.decode(data, phase_iters=phase_iters, contrast=contrast)
        report = round_trip_report(audio, recon, sr, len(data))
        results["modes"][mode.value] = report
        for kind, wave in (("recon", recon), ("residual", audio - recon)):
            write_audio(check_output(outputs[mode, kind], force, (input,)), wave, sr)
        figures = " ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in report.items())
        typer.echo(f"{mode.value:12s} {figures}")
    if json_out is not None:
        write_bytes(check_output(json_out, force), json.dumps(results, indent=2).encode())


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
    bitrate: Annotated[float | None, typer.Option("--bitrate", min=0.1, help="kbps: the shipped model at or below")]
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


def _terminated(signum: int, frame: object) -> None:
    # SIGTERM unwinds like Ctrl-C does, so temporary output files are removed on the way out.
    raise KeyboardInterrupt


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="codec-rt: %(message)s")
    signal.signal(signal.SIGTERM, _terminated)
    try:
        # Typer turns a KeyboardInterrupt inside a command into a *returned* 130 when standalone_mode is off.
        code = app(standalone_mode=False)
        if code == 130:
            raise KeyboardInterrupt
        if isinstance(code, int) and code:
            sys.exit(code)
    except CodecError as e:
        typer.echo(f"codec-rt: error: {' '.join(str(e).split())}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("codec-rt: interrupted", err=True)
        sys.exit(130)
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
