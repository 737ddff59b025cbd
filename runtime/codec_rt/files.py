"""Reading and writing the user's files without losing anything.

Outputs go to a temporary file in the destination folder and are renamed into place only when complete,
so a failure or Ctrl-C leaves no partial file. An existing output is replaced only with `force`, and an
output that is the input itself is always refused.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf

from .errors import AudioError, CodecError, OutputExistsError

MAX_BLOB_BYTES = 1 << 34  # 16 GiB: far above any real blob, below what would exhaust memory silently


def _check_input(path: Path) -> None:
    if not path.exists():
        raise CodecError(f"{path}: no such file")
    if path.is_dir():
        raise CodecError(f"{path} is a directory, not a file")


def read_audio(path: str | Path) -> tuple[npt.NDArray[np.float32], int]:
    """Any file soundfile reads (wav, flac, ogg, ...) -> (audio `[C, N] float32`, sample_rate)."""
    p = Path(path)
    _check_input(p)
    try:
        data, sr = sf.read(str(p), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError) as e:
        raise AudioError(f"{p}: not a readable audio file ({e})") from None
    return np.ascontiguousarray(data.T), int(sr)


def read_blob(path: str | Path) -> bytes:
    p = Path(path)
    _check_input(p)
    if p.stat().st_size > MAX_BLOB_BYTES:
        raise CodecError(f"{p} is {p.stat().st_size} bytes, larger than any codec-rt blob")
    return p.read_bytes()


def check_output(out: str | Path, force: bool, inputs: tuple[str | Path, ...] = ()) -> Path:
    """Refuse an output that would overwrite an input, or an existing file without `force`."""
    o = Path(out)
    for i in inputs:
        if Path(i).exists() and o.exists() and o.resolve() == Path(i).resolve():
            raise OutputExistsError(f"{o} is the input file; refusing to overwrite it")
    if o.is_dir():
        raise OutputExistsError(f"{o} is a directory")
    if o.exists() and not force:
        raise OutputExistsError(f"{o} exists; use --force to replace it")
    if not o.parent.is_dir():
        raise CodecError(f"output folder {o.parent} does not exist")
    return o


def atomic_write(out: Path, write: Callable[[Path], None]) -> None:
    """Call `write(tmp)` on a temporary path beside `out`, then rename it to `out`."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part" + out.suffix, dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        # mkstemp makes the file private (0600); give it the mode any newly created file would get.
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(out: Path, data: bytes) -> None:
    def _write(tmp: Path) -> None:
        tmp.write_bytes(data)

    atomic_write(out, _write)


def write_audio(out: Path, audio: npt.NDArray[np.float32], sample_rate: int) -> None:
    """Write `[C, N]` audio; the format follows the extension (wav and flac as 16-bit PCM, clipped)."""
    ext = out.suffix.lower().lstrip(".")
    formats = {"wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16"), "ogg": ("OGG", "VORBIS")}
    if ext not in formats:
        raise CodecError(f"{out}: unknown audio extension; use .wav, .flac or .ogg")
    format_, subtype = formats[ext]
    clipped = np.clip(audio, -1.0, 1.0).T
    atomic_write(out, lambda tmp: sf.write(str(tmp), clipped, sample_rate, format=format_, subtype=subtype))
