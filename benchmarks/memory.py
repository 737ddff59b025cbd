"""Peak memory of the command line, from a checkout: `codec-rt encode` and `decode` of the same speech at two
lengths, in fresh processes, against the floor of the same run (a process that loads the model and codes
nothing), with the README's bound as the target.

    python -m benchmarks.memory                       # 1 and 10 minutes, the 3, 12 and 18 kbps points
    python -m benchmarks.memory --seconds 60 --seconds 3600 --point 12

Each figure is the child process's peak resident set (`ru_maxrss` from `os.wait4`, Linux: KiB), in MB of
2**20 bytes, each command run under a small launcher (`MEASURE`: Linux carries a parent's peak into its
child's). The audio: real speech (tests/data by default) tiled to each length by a child process, 16 kHz
mono FLAC. What a streaming coder promises is that its memory does not grow with the length, so each point
prints the longest file's peak over the shortest's (1.00: flat) beside the peaks; the floor shows what the
interpreter, onnxruntime and the model take before any audio. Through pipes (`- -o -`) as well as files:
the command line gives the decoder about `transcode.PUSH_SECONDS` of audio at a time, at the rate the blob
has shown, and the decoder holds no more than a few blocks of it (`decoder.BLOCKS_IN_FLIGHT`).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

DEFAULT_INPUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "speech_fr_16k.flac"
README_BOUND_MB = 150.0  # README: "under 150 MB peak RSS whatever the length"
CLI = [sys.executable, "-m", "codec_rt"]


# Run in a small process of its own, which spawns the command and reports its rusage: Linux carries a parent's
# peak resident set into its child's `ru_maxrss` at `exec` (a launcher from this process, or from a test
# runner of a gigabyte, would report that), and the launcher's own peak is the interpreter's alone.
MEASURE = """import json, os, subprocess, sys
cmd, stdin, stdout = json.loads(sys.argv[1])
with open(stdin or os.devnull, "rb") as fi, open(stdout or os.devnull, "wb") as fo:
    p = subprocess.Popen(cmd, stdin=fi, stdout=fo, stderr=subprocess.PIPE)
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
print(json.dumps([os.waitstatus_to_exitcode(status), usage.ru_maxrss, err.decode(errors="replace")]))"""


def peak_mb(cmd: list[str], stdin: Path | None = None, stdout: Path | None = None) -> float:
    """Run `cmd` to its end (stdin, stdout from or to files, or nothing) -> its peak resident set, MB.
    RuntimeError with its stderr when it fails."""
    arg = json.dumps([cmd, None if stdin is None else str(stdin), None if stdout is None else str(stdout)])
    out = subprocess.run([sys.executable, "-c", MEASURE, arg], capture_output=True, text=True, check=True).stdout
    code, kib, err = json.loads(out)
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {err.strip()}")
    return float(kib) / 1024  # KiB on Linux


TILE = """import sys, numpy as np, soundfile as sf
x, rate = sf.read(sys.argv[1], dtype="float32", always_2d=True)
sf.write(sys.argv[3], np.resize(x[:, 0], int(round(float(sys.argv[2]) * rate))), rate, format="FLAC")"""


def tiled(source: Path, seconds: float, out: Path) -> None:
    """`source` (mono or its first channel) tiled to `seconds` at its own rate, written to `out` (FLAC), in a
    child process (an hour of it would be this process's peak, and so every later child's)."""
    subprocess.run([sys.executable, "-c", TILE, str(source), str(seconds), str(out)], check=True)


def run(input: Path, seconds: list[float], points: list[float]) -> dict[str, Any]:
    """Peak MB per point, operation (encode, decode; file or pipe) and length, and the floor."""
    floor = peak_mb([sys.executable, "-c", "from codec_rt import Codec; Codec.load()"])
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="codec-rt-memory-") as tmp:
        d = Path(tmp)
        for s in seconds:
            tiled(input, s, d / f"{s:g}.flac")
        for kbps in points:
            for s in seconds:
                src, blob, wav = d / f"{s:g}.flac", d / f"{s:g}_{kbps:g}.cra", d / f"{s:g}_{kbps:g}.wav"
                enc = peak_mb([*CLI, "encode", str(src), "-o", str(blob), "--bitrate", f"{kbps:g}", "--force"])
                dec = peak_mb([*CLI, "decode", str(blob), "-o", str(wav), "--force"])
                enc_pipe = peak_mb([*CLI, "encode", "-", "-o", "-", "--bitrate", f"{kbps:g}"], src, d / "pipe.cra")
                dec_pipe = peak_mb([*CLI, "decode", "-", "-o", "-"], blob, d / "pipe.wav")
                rows.append({"kbps": kbps, "seconds": s, "blob_bytes": blob.stat().st_size, "encode": enc,
                             "decode": dec, "encode_pipe": enc_pipe, "decode_pipe": dec_pipe})
    return {"floor_mb": floor, "rows": rows, "bound_mb": README_BOUND_MB}


def report(result: dict[str, Any]) -> str:
    ops = ("encode", "decode", "encode_pipe", "decode_pipe")
    lines = [f"floor (load the model, code nothing): {result['floor_mb']:.0f} MB; README bound "
             f"{result['bound_mb']:.0f} MB", "",
             "| kbps | seconds | " + " | ".join(f"{o} MB" for o in ops) + " |", "|---|---:|" + "---:|" * len(ops)]
    for r in result["rows"]:
        lines.append(f"| {r['kbps']:g} | {r['seconds']:g} | " + " | ".join(f"{r[o]:.0f}" for o in ops) + " |")
    lines += ["", "Growth, the longest file's peak over the shortest's (1.00: flat), and the worst peak against the "
              "bound:"]
    ok = True
    for kbps in sorted({r["kbps"] for r in result["rows"]}):
        rs = sorted((r for r in result["rows"] if r["kbps"] == kbps), key=lambda r: r["seconds"])
        growth = {o: rs[-1][o] / rs[0][o] for o in ops}
        worst = max(r[o] for r in rs for o in ops)
        ok &= worst < result["bound_mb"]
        lines.append(f"- {kbps:g} kbps: " + ", ".join(f"{o} {g:.2f} x" for o, g in growth.items())
                     + f"; worst {worst:.0f} MB ({worst / result['bound_mb']:.2f} x the bound)")
    lines.append(f"target (every peak under the bound): {'met' if ok else 'NOT met'}")
    return "\n".join(lines)


def command(
    input: Annotated[Path, typer.Option("--input", help="speech to tile")] = DEFAULT_INPUT,
    seconds: Annotated[list[float] | None, typer.Option("--seconds", min=1.0, help="lengths (default 60, 600)")] = None,
    point: Annotated[list[float] | None, typer.Option("--point", help="--bitrate values (default 3, 12, 18)")] = None,
) -> None:
    """Peak memory of `codec-rt encode` / `decode` at two lengths against the README's bound."""
    typer.echo(report(run(input, sorted(seconds or [60.0, 600.0]), point or [3.0, 12.0, 18.0])))


def main() -> None:
    typer.run(command)


if __name__ == "__main__":
    main()
