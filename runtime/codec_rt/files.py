"""Reading and writing the user's files without losing anything.

Outputs go to a temporary file in the destination folder (`.NAME.XXXXXX.part.EXT`), are flushed to disk
and renamed into place only when complete, so a failure, Ctrl-C, SIGTERM or SIGHUP leaves no partial file and no
temporary file (only a hard kill or a power cut can leave a `.part` file behind, never a half-written
output). An existing output is replaced only with `force`, and an output that is the input itself is
always refused. Every failure here is a `CodecError` with one readable line that names the file, or
stdin (docs/BAD_INPUT.md). Audio is read by `audio_in`.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import shutil
import stat
import struct
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

import numpy as np
import numpy.typing as npt
import soundfile as sf

from .errors import InputError, OutputError, OutputExistsError
from .level import soft_clip

log = logging.getLogger(__name__)

MAX_BLOB_BYTES = 1 << 34  # 16 GiB: far above any real blob, below what would exhaust memory silently

# Output formats by extension: (libsndfile format, subtype, max channels, max sample rate, min samples).
# The limits are what libsndfile 1.2 writes and reads back; past them it fails, or crashes the process
# (Vorbis above 200 kHz segfaults, FLAC with NaN samples aborts), so they are checked before writing.
AUDIO_FORMATS: dict[str, tuple[str, str, int, int, int]] = {
    "wav": ("WAV", "PCM_16", 64, 768_000, 0),
    "flac": ("FLAC", "PCM_16", 8, 655_350, 1),
    "ogg": ("OGG", "VORBIS", 255, 200_000, 0),
}
MAX_WAV_DATA_BYTES = 0xFFFFFFFF - 1024  # RIFF sizes are 32-bit


def check_input(path: Path) -> None:
    """InputError unless `path` is an existing regular file (not a folder, device, pipe or socket)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as e:
        raise InputError(f"{path}: cannot open ({e.strerror or e})") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{path} is a directory, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{path} is not a regular file (a device, pipe or socket); give a file")


_OBJECT_REPR = re.compile(r"<[^<>]*\bat 0x[0-9a-fA-F]+>")


def sf_message(e: BaseException, name: str) -> str:
    """libsndfile's words for `e` on one line, without soundfile's "Error opening <file object>: " prefix
    (a file object's repr, for stdin, means nothing to a user: any left is replaced by `name`)."""
    text = e.error_string if isinstance(e, sf.LibsndfileError) else str(e)
    return _OBJECT_REPR.sub(name, " ".join(text.split()))


def read_blob(path: str | Path) -> bytes:
    """A whole blob from the file `path`, or from standard input (`-`). InputError for a missing, unreadable
    or oversized input."""
    if str(path) == STDIO:
        data = sys.stdin.buffer.read(MAX_BLOB_BYTES + 1)
        if len(data) > MAX_BLOB_BYTES:
            raise InputError(f"{STDIN_NAME} holds more than any codec-rt blob ({MAX_BLOB_BYTES} bytes)")
        return data
    p = Path(path)
    check_input(p)
    size = p.stat().st_size
    if size > MAX_BLOB_BYTES:
        raise InputError(f"{p} is {size} bytes, larger than any codec-rt blob ({MAX_BLOB_BYTES})")
    try:
        with open(p, "rb") as f:
            return f.read(MAX_BLOB_BYTES + 1)
    except OSError as e:
        raise InputError(f"{p}: cannot read ({e.strerror or e})") from None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)  # also catches hard links and symbolic links to the input
    except OSError:
        return False


def check_output(out: str | Path, force: bool, inputs: tuple[str | Path, ...] = ()) -> Path:
    """Refuse an output that would overwrite an input, a folder or a special file (a device, pipe or
    socket, which the rename into place would replace: `-` writes to stdout), an existing file without
    `force`, a path that names a folder (a trailing separator), and one the system cannot hold (a name too
    long): each an OutputError naming the path."""
    o = Path(out)
    if str(out).endswith(("/", os.sep)) and str(out) != STDIO:  # Path() drops it: "new/" would become a file
        raise OutputError(f"{out} names a folder; give a file name")
    try:
        for i in inputs:
            if _same_file(o, Path(i)):
                raise OutputExistsError(f"{o} is the input file; refusing to overwrite it")
        if o.is_dir():
            raise OutputExistsError(f"{o} is a directory")
        if o.exists() and not o.is_file():
            raise OutputError(f"{o} is not a regular file (a device, pipe or socket); write a file, or to stdout "
                              f"with -o -")
        if (o.exists() or o.is_symlink()) and not force:
            raise OutputExistsError(f"{o} exists; use --force to replace it")
        if not o.parent.is_dir():
            what = "is not a folder" if o.parent.exists() else "does not exist"
            raise OutputError(f"output folder {o.parent} {what}")
        _temporary_prefix(o)
    except OSError as e:  # a name or path too long for the system, a folder that cannot be searched
        raise OutputError(f"{o}: cannot write ({e.strerror or e})") from None
    return o


_RANDOM = 8  # the characters mkstemp puts between the prefix and the suffix


def _temporary_prefix(out: Path) -> str:
    """The temporary file's name before its random part: `.NAME.`, NAME cut so the whole name fits the
    folder's longest (a 255-character output name is valid). OSError where the folder's limit is unknown
    to the system in a way it reports as an error."""
    limit = os.pathconf(out.parent, "PC_NAME_MAX") if hasattr(os, "pathconf") else 255
    if len(out.name.encode()) > limit:
        raise OSError(errno.ENAMETOOLONG, f"File name too long (the longest is {limit} bytes)")
    room = limit - len(f"..{'x' * _RANDOM}.part{out.suffix}".encode())
    name = out.name.encode()[: max(room, 0)].decode(errors="ignore")
    return f".{name}."


# Signals that unwind the CLI (`cli._terminated` raises KeyboardInterrupt) can land inside a libsndfile
# callback reading stdin, where cffi swallows the exception and the read looks like the input's end: a
# piped encode then published a cut blob and exited 0. The CLI records each one here; no output is renamed
# into place after one (`atomic_write`), and the CLI exits as interrupted.
INTERRUPTS: list[int] = []


def check_interrupted() -> None:
    """KeyboardInterrupt if the CLI has recorded a signal (`INTERRUPTS`), swallowed or not."""
    if INTERRUPTS:
        raise KeyboardInterrupt


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(out: Path, write: Callable[[Path], None]) -> None:
    """Call `write(tmp)` on a temporary path beside `out`, then rename it to `out`.

    Whatever happens before the rename (an exception, KeyboardInterrupt, SystemExit), the temporary file
    is removed and `out` is untouched. An OSError (disk full, read-only folder) becomes an OutputError.
    """
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=_temporary_prefix(out), suffix=".part" + out.suffix, dir=out.parent)
    except OSError as e:
        raise OutputError(f"{out}: cannot create a file in {out.parent} ({e.strerror or e})") from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        _fsync(tmp)
        # mkstemp makes the file private (0600); give it the mode any newly created file would get.
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        check_interrupted()
        os.replace(tmp, out)
    except BaseException as e:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise OutputError(f"{out}: cannot write ({e.strerror or e})") from None
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable; not every filesystem allows it
        _fsync(out.parent)


@contextlib.contextmanager
def all_or_none(folder: Path, name: str = "folder") -> Iterator[list[Path]]:
    """Make `folder` (OutputError, naming it as `name`, if it cannot be), and yield a list for the paths
    written in it: on any exception those are removed, and the folder too where this made it and it is
    left empty (outputs written one by one that stand together, or not at all)."""
    made = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create {name} {folder} ({e.strerror or e})") from None
    written: list[Path] = []
    try:
        yield written
    except BaseException:
        for path in written:
            with contextlib.suppress(OSError):
                path.unlink()
        if made:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty
        raise


def write_bytes(out: Path, data: bytes) -> None:
    def _write(tmp: Path) -> None:
        tmp.write_bytes(data)

    atomic_write(out, _write)


def audio_format(out: Path) -> tuple[str, str, int, int, int]:
    """The `AUDIO_FORMATS` entry for `out`'s extension (OutputError for any other extension)."""
    ext = out.suffix.lower().lstrip(".")
    if ext not in AUDIO_FORMATS:
        raise OutputError(f"{out}: unknown audio extension; use .wav, .flac or .ogg")
    return AUDIO_FORMATS[ext]


def check_audio_output(out: Path, channels: int, sample_rate: int, samples: int) -> tuple[str, str]:
    """Refuse audio that `out`'s format cannot hold -> (format, subtype) for soundfile."""
    format_, subtype, max_channels, max_rate, min_samples = audio_format(out)
    name = out.suffix.lower().lstrip(".").upper()
    if channels > max_channels:
        raise OutputError(f"{out}: {name} holds at most {max_channels} channels, the audio has {channels}; "
                          f"write a .wav")
    if sample_rate > max_rate:
        raise OutputError(f"{out}: {name} holds at most {max_rate} Hz, the audio is at {sample_rate} Hz; "
                          f"write a .wav")
    if samples < min_samples:
        raise OutputError(f"{out}: {name} cannot hold an empty signal; write a .wav")
    if format_ == "WAV" and samples * channels * 2 > MAX_WAV_DATA_BYTES:
        raise OutputError(f"{out}: {samples} samples x {channels} channels is over the 4 GiB a WAV file holds; "
                          f"write a .flac or .ogg")
    return format_, subtype


def write_audio(out: Path, audio: npt.NDArray[np.float32], sample_rate: int) -> None:
    """Write `[C, N]` audio atomically, as an `AudioWriter` does (the format follows the extension)."""
    check_audio_output(out, audio.shape[0], sample_rate, audio.shape[1])

    def _write(tmp: Path) -> None:
        writer = AudioWriter(tmp, audio.shape[0], sample_rate, audio.shape[1], out_name=out)
        writer.write(audio)
        writer.close()

    atomic_write(out, _write)


# ------------------------------------------------------------------------------------- streaming I/O

STDIO = "-"  # as a path: standard input or output
STDIN_NAME = "<stdin>"


def open_binary(path: str | Path) -> BinaryIO:
    """A blob to read in pieces: a regular file (checked as `read_blob` does) or standard input (`-`)."""
    if str(path) == STDIO:
        return sys.stdin.buffer
    p = Path(path)
    check_input(p)
    if p.stat().st_size > MAX_BLOB_BYTES:
        raise InputError(f"{p} is {p.stat().st_size} bytes, larger than any codec-rt blob ({MAX_BLOB_BYTES})")
    try:
        return open(p, "rb")
    except OSError as e:
        raise InputError(f"{p}: cannot read ({e.strerror or e})") from None


def _wav_header(channels: int, rate: int, samples: int | None) -> bytes:
    """A 16-bit PCM WAV header; an unknown length is written as the largest one (what streaming tools do)."""
    data = (0xFFFFFFFF - 36) // (2 * channels) * 2 * channels if samples is None else samples * channels * 2
    return (b"RIFF" + struct.pack("<I", min(0xFFFFFFFF, 36 + data)) + b"WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * channels * 2, channels * 2, 16)
            + b"data" + struct.pack("<I", data))


class Sink(Protocol):
    """Where bytes are written: a binary file, or `Stdout`."""

    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...


class Stdout:
    """Standard output for codec-rt's writers: a reader that went away (a closed pipe) stays a BrokenPipeError,
    on which the CLI (click) ends quietly with code 1, as Unix tools do; any other failure (a full disk) is an
    OutputError. Each write is flushed: a live stream's reader (aplay, the decoder) gets each packet or
    block as it is coded, not once 8 KiB have gathered."""

    def write(self, data: bytes) -> int:
        try:
            n = sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
            return n
        except BrokenPipeError:
            raise
        except OSError as e:
            raise OutputError(f"stdout: cannot write ({e.strerror or e})") from None

    def flush(self) -> None:
        try:
            sys.stdout.buffer.flush()
        except BrokenPipeError:
            raise
        except OSError as e:
            raise OutputError(f"stdout: cannot write ({e.strerror or e})") from None


class _Forward:
    """A write-only file for libsndfile's virtual I/O that forwards every byte to a stream (stdout). An
    exception cannot cross libsndfile's callback: the first is kept in `error` for the writer to raise."""

    def __init__(self, out: Sink) -> None:
        self._out, self._pos = out, 0
        self.error: BaseException | None = None

    def write(self, data: bytes) -> int:
        if self.error is not None:
            return 0
        try:
            self._out.write(bytes(data))
        except Exception as e:  # noqa: BLE001 - raised again by AudioWriter, outside libsndfile
            self.error = e
            return 0
        self._pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._pos  # a headerless stream never needs to go back

    def read(self, n: int = -1) -> bytes:
        return b""

    def flush(self) -> None:
        self._out.flush()


FULL_DISK_BYTES = 1 << 16  # less free than this where a write failed: the disk is full


class AudioWriter:
    """Audio written block by block: to a file (its format by extension, as `write_audio`) or, for a
    binary stream (stdout), as a 16-bit PCM WAV whose header carries `num_samples` when known;
    `samples_written` counts the samples written so far.

    Non-finite samples (only a damaged blob yields them) are written as 0 or full scale, and peaks over
    `level.SOFT_KNEE` are bent below full scale (`level.soft_clip`: never a hard clip), each with one
    warning at the end."""

    def __init__(self, target: Path | Sink, channels: int, sample_rate: int, num_samples: int | None = None,
                 out_name: Path | None = None) -> None:
        self.channels, self.sample_rate, self.samples_written = channels, sample_rate, 0
        self._nonfinite = self._over = 0
        self._stream: Sink | None = None
        self._forward: _Forward | None = None
        self._file: sf.SoundFile | None = None
        self._name = out_name
        if isinstance(target, Path):
            format_, subtype = check_audio_output(out_name or target, channels, sample_rate,
                                                  max(num_samples or 0, 1))
            self._min_samples = audio_format(out_name or target)[4]
            try:
                self._file = sf.SoundFile(str(target), "w", sample_rate, channels, subtype, format=format_)
            except (sf.SoundFileError, RuntimeError) as e:
                raise OutputError(f"{out_name or target}: cannot write ({sf_message(e, str(target))})") from None
        else:
            self._min_samples = 0
            self._stream = target
            target.write(_wav_header(channels, sample_rate, num_samples))
            # libsndfile's own float -> 16-bit conversion (as in a .wav file), its bytes forwarded to the stream
            self._forward = _Forward(target)
            self._file = sf.SoundFile(self._forward, "w", sample_rate, channels, "PCM_16", format="RAW")

    def write(self, audio: npt.NDArray[np.float32]) -> None:
        """`[channels, n]` samples."""
        if not audio.shape[1]:
            return
        bad = int(np.count_nonzero(~np.isfinite(audio)))
        if bad:
            self._nonfinite += bad
            audio = np.nan_to_num(audio, nan=0.0, posinf=1.0, neginf=-1.0)
        bent, over = soft_clip(audio)
        self._over += over
        self.samples_written += audio.shape[1]
        assert self._file is not None
        try:
            self._file.write(bent.T)
        except (sf.SoundFileError, AssertionError) as e:  # libsndfile's failures (soundfile asserts a short write)
            self._stream_error()
            if isinstance(e, AssertionError):
                raise
            name = str(self._name or "stdout")
            raise OutputError(f"{name}: cannot write ({self._why(sf_message(e, name))})") from None
        self._stream_error()

    def _why(self, words: str) -> str:
        """libsndfile says "System error." where the system said why; a full disk is the usual cause."""
        if self._file is not None and self._stream is None and words.startswith("System error"):
            with contextlib.suppress(OSError):
                if shutil.disk_usage(Path(self._file.name).parent).free < FULL_DISK_BYTES:
                    return "no space left on device"
        return words

    def _stream_error(self) -> None:
        """Raise what writing to the stream raised inside libsndfile's callback, if anything did."""
        if self._forward is not None and self._forward.error is not None:
            raise self._forward.error

    def close(self) -> None:
        if self._nonfinite:
            log.warning("warning: %d non-finite samples written as 0 or full scale", self._nonfinite)
            self._nonfinite = 0
        if self._over:
            log.warning("warning: %d samples (%.2f %%) decoded at or over full scale were bent below it (soft "
                        "clipping); Codec.decode returns them unbent", self._over,
                        100 * self._over / max(1, self.samples_written * self.channels))
            self._over = 0
        if self._file is not None:
            f, self._file = self._file, None
            f.close()
            self._stream_error()
            if self._stream is None and self.samples_written < self._min_samples:
                name = (self._name or Path("output")).suffix.lstrip(".").upper()
                raise OutputError(f"{self._name}: {name} cannot hold an empty signal; write a .wav")
        if self._stream is not None:
            self._stream.flush()
