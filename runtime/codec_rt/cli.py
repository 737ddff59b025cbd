"""`codec-rt`: encode, decode, inspect and evaluate from the command line.

A user mistake (missing file, bad blob, existing output...) is one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from . import blob as blobfmt
from .codec import DEFAULT_PHASE_ITERS, Codec
from .errors import AudioError, CodecError, OutputError
from .files import audio_format, check_audio_output, check_output, read_audio, read_blob, write_audio, write_bytes
from .metrics import round_trip_report
from .postfilter import DEFAULT_CONTRAST

app = typer.Typer(add_completion=False, no_args_is_help=True, help="codec-rt: a neural audio codec (onnxruntime).")


class Mode(str, Enum):
    predicted = "predicted"
    store_phase = "store_phase"


class Provider(str, Enum):
    cpu = "cpu"
    cuda = "cuda"


ModelOpt = Annotated[Path | None, typer.Option("--model", help="model directory (default: the shipped ladder)")]
BitrateOpt = Annotated[
    float | None,
    typer.Option("--bitrate", min=0.1, help="kbps: the shipped model at or below it (default: the ladder's default)"),
]
ProviderOpt = Annotated[Provider, typer.Option("--provider", help="onnxruntime execution provider")]
ForceOpt = Annotated[bool, typer.Option("--force", help="replace an existing output file")]
PhaseItersOpt = Annotated[
    int, typer.Option("--phase-iters", min=0, max=10_000, help="Griffin-Lim iterations (predicted-phase mode)")
]
ContrastOpt = Annotated[
    float, typer.Option("--contrast", min=0.5, max=2.0, help="spectral-contrast postfilter, 1.0 = off (predicted mode)")
]
BitsOpt = Annotated[int | None, typer.Option("--bits", min=1, max=16, help="latent bits per value (model default)")]


def _kbps(n_bytes: int, seconds: float) -> str:
    return f"{8 * n_bytes / seconds / 1000:.2f} kbps" if seconds > 0 else "n/a kbps"


@app.command()
def encode(
    input: Annotated[Path, typer.Argument(help="audio file (wav, flac, ogg, ...)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="blob to write")],
    bitrate: BitrateOpt = None,
    bits: BitsOpt = None,
    mode: Annotated[Mode, typer.Option("--mode", help="predicted phase, or phase stored in the blob")] = Mode.predicted,
    model: ModelOpt = None,
    provider: ProviderOpt = Provider.cpu,
    force: ForceOpt = False,
) -> None:
    """Compress an audio file into a codec-rt blob."""
    out = check_output(output, force, (input,))
    audio, sr = read_audio(input)
    codec = Codec.load(model, provider.value, bitrate=bitrate)
    try:
        data = codec.encode(audio, sr, bits=bits, mode=mode.value)
    except AudioError as e:
        raise AudioError(f"{input}: {e}") from None
    write_bytes(out, data)
    seconds = audio.shape[1] / sr
    typer.echo(f"{input} -> {out}: {len(data)} bytes, {seconds:.2f} s, {_kbps(len(data), seconds)}", err=True)


@app.command()
def decode(
    input: Annotated[Path, typer.Argument(help="codec-rt blob")],
    output: Annotated[Path, typer.Option("-o", "--output", help="audio file to write (.wav, .flac, .ogg)")],
    phase_iters: PhaseItersOpt = DEFAULT_PHASE_ITERS,
    contrast: ContrastOpt = DEFAULT_CONTRAST,
    model: ModelOpt = None,
    provider: ProviderOpt = Provider.cpu,
    force: ForceOpt = False,
) -> None:
    """Decompress a codec-rt blob into an audio file (with the shipped model that wrote it, unless --model)."""
    out = check_output(output, force, (input,))
    audio_format(out)
    data = read_blob(input)
    header, _ = blobfmt.read_header(data)  # refuse what the output format cannot hold before decoding
    check_audio_output(out, header.channels, header.sample_rate, header.num_samples)
    codec = Codec.for_blob(data, provider.value) if model is None else Codec.load(model, provider.value)
    audio, sr = codec.decode(data, phase_iters=phase_iters, contrast=contrast)
    write_audio(out, audio, sr)
    typer.echo(f"{input} -> {out}: {audio.shape[0]} ch, {audio.shape[1]} samples at {sr} Hz", err=True)


@app.command()
def info(blob: Annotated[Path, typer.Argument(help="codec-rt blob")]) -> None:
    """Print a blob's header, size and actual bitrate (checks its checksum too)."""
    data = read_blob(blob)
    header, _ = blobfmt.read(data)
    seconds = header.num_samples / header.sample_rate
    d: dict[str, Any] = {"format": f"{blobfmt.MAJOR}.{header.minor}", **header.to_dict(), "mode": header.mode_name,
                         "coder": header.coder_name}
    kbps = round(8 * len(data) / seconds / 1000, 3) if seconds else None
    d.update(bytes=len(data), seconds=round(seconds, 3), kbps=kbps)
    for k, v in d.items():
        typer.echo(f"{k:16s} {v}")


@app.command("eval")
def eval_(
    input: Annotated[Path, typer.Argument(help="audio file to round-trip")],
    out_dir: Annotated[Path, typer.Option("--out-dir", help="folder for reconstructions and residuals")] = Path(
        "eval_out"
    ),
    bitrate: BitrateOpt = None,
    bits: BitsOpt = None,
    phase_iters: PhaseItersOpt = DEFAULT_PHASE_ITERS,
    contrast: ContrastOpt = DEFAULT_CONTRAST,
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
    codec = Codec.load(model, provider.value, bitrate=bitrate)
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
