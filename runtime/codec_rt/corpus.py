"""The files of a batch (`codec-rt batch`): what to code, where each output goes, and which outputs are
already done.

Sources: every audio file (encode) or blob (decode) under a folder SRC, its subfolders included (names
sorted; hidden files and folders, and DST itself when it lies inside SRC, are left out; symbolic links to
folders are not followed), or every file listed in a manifest: a UTF-8 text file, one path a line, relative
to the manifest's folder or absolute, blank lines and lines starting with `#` ignored. Paths are listed
lazily: a batch never holds the listing of a folder tree, only a manifest's set of outputs (to refuse two
lines with one output).

Outputs mirror the sources under DST: `SRC/a/b.flac` -> `DST/a/b.cra` (decode: `DST/a/b.wav`, or the
format asked for). A manifest's relative path is mirrored as is; an absolute one outside the manifest's
folder as its whole path under DST (`/x/y.wav` -> `DST/x/y.cra`); `..` never climbs out of DST. Two sources
with one output (`a.wav` and `a.flac`) are refused: the second one listed is reported as failed.

Done: an output is complete and valid, and newer than its source. A blob: every packet's CRC checks
(`packets.read_packets`), it was written by the model asked for, at the source's sample rate and channel
count. Audio: readable, with the sample rate, channels and exact length the blob's header gives.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from . import packets
from .errors import CodecError, InputError
from .files import MAX_BLOB_BYTES

# Extensions of the audio files a folder's encode picks up: what libsndfile reads, by its usual names.
AUDIO_SUFFIXES = frozenset({
    ".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc", ".au", ".snd", ".caf",
    ".w64", ".rf64",
})
BLOB_SUFFIX = ".cra"


@dataclass(frozen=True)
class Job:
    """One file to code: `src` -> `out` (both absolute, as a worker on another machine or in another
    folder needs them), `name` the source as the user named it (for reports). `error`: the file cannot
    be coded, said before any work (an output another source already has)."""

    src: Path
    out: Path
    name: str
    error: str | None = None


def _outputs_under(dst: Path, rel: Path, suffix: str) -> Path:
    """`dst / rel` with `suffix`; `rel` has no `..` nor anchor."""
    return dst / rel.parent / (rel.stem + suffix)


def _walk(src: Path, dst: Path, suffixes: frozenset[str], out_suffix: str) -> Iterator[Job]:
    src_abs, dst_abs = src.absolute(), dst.absolute()
    for root, dirs, files in os.walk(src_abs):
        here = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (here / d) != dst_abs)
        taken: dict[str, str] = {}
        for name in sorted(files):
            if name.startswith(".") or Path(name).suffix.lower() not in suffixes:
                continue
            rel = (here / name).relative_to(src_abs)
            out = _outputs_under(dst_abs, rel, out_suffix)
            shown = str(src / rel)
            first = taken.setdefault(out.name, shown)
            error = None if first == shown else f"its output {out} is also the output of {first}"
            yield Job(here / name, out, shown, error)


def _manifest(path: Path, dst: Path, out_suffix: str) -> Iterator[Job]:
    base = Path(os.path.normpath(path.absolute().parent))
    dst_abs = dst.absolute()
    taken: dict[Path, str] = {}
    try:
        f = open(path, encoding="utf-8")
    except OSError as e:
        raise InputError(f"{path}: cannot read the manifest ({e.strerror or e})") from None
    with f:
        try:
            for line in f:
                entry = line.strip()
                if not entry or entry.startswith("#"):
                    continue
                src = Path(os.path.normpath(base / entry))
                rel = src.relative_to(base) if src.is_relative_to(base) else src.relative_to(src.anchor)
                out = _outputs_under(dst_abs, rel, out_suffix)
                first = taken.setdefault(out, entry)
                error = None if first == entry else f"its output {out} is also the output of {first}"
                yield Job(src, out, entry, error)
        except UnicodeDecodeError:
            raise InputError(f"{path}: a manifest is a UTF-8 text file, one path a line") from None


def list_jobs(src: Path, dst: Path, decode: bool, out_suffix: str) -> Iterator[Job]:
    """The jobs of a batch from folder or manifest `src` to folder `dst`, in a stable order (lazily).

    decode: sources are blobs (`.cra`), else audio files. out_suffix: the outputs' extension (`.cra`,
    `.wav`, ...). InputError when `src` is neither a folder nor a readable manifest.
    """
    if src.is_dir():
        return _walk(src, dst, frozenset({BLOB_SUFFIX}) if decode else AUDIO_SUFFIXES, out_suffix)
    if not src.exists():
        raise InputError(f"{src}: no such folder or manifest")
    if src.suffix.lower() in AUDIO_SUFFIXES | {BLOB_SUFFIX}:
        raise InputError(f"{src} is one file, not a folder or a manifest; use codec-rt "
                         f"{'decode' if decode else 'encode'} for one file")
    return _manifest(src, dst, out_suffix)


def count(jobs: Iterator[Job]) -> int:
    """How many jobs an iterator yields (a second listing, for a progress bar)."""
    return sum(1 for _ in jobs)


@dataclass(frozen=True)
class Done:
    """An output found complete and valid: its size, audio seconds and the blob's bitrate."""

    bytes: int
    seconds: float
    kbps: float | None


def stamp(path: Path) -> list[int] | None:
    """A file's [size in bytes, mtime in ns] (None if it cannot be read): it changed if this did."""
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def _newer(src: Path, out: Path) -> bool:
    try:
        return out.stat().st_mtime_ns >= src.stat().st_mtime_ns
    except OSError:
        return False


def blob_done(job: Job, model_id: str) -> Done | None:
    """`job.out` is a complete, valid blob of `job.src` by model `model_id`, newer than the source."""
    if not _newer(job.src, job.out):
        return None
    try:
        size = job.out.stat().st_size
        if size > MAX_BLOB_BYTES:
            return None
        header, _ = packets.read_packets(job.out.read_bytes())
        info = sf.info(str(job.src))
    except (OSError, CodecError, RuntimeError, sf.SoundFileError):
        return None
    if header.model_id != model_id or (header.sample_rate, header.channels) != (info.samplerate, info.channels):
        return None
    seconds = header.num_samples / header.sample_rate
    return Done(size, seconds, 8 * size / seconds / 1000 if seconds else None)


def audio_done(job: Job) -> Done | None:
    """`job.out` is readable audio of exactly the length, rate and channels of the blob `job.src`, newer."""
    if not _newer(job.src, job.out):
        return None
    try:
        with open(job.src, "rb") as f:
            header = packets.open_blob(f, seekable=True).header
        blob_bytes = job.src.stat().st_size
        info = sf.info(str(job.out))
        size = job.out.stat().st_size
    except (OSError, CodecError, RuntimeError, sf.SoundFileError):
        return None
    if not header.n_frames or (info.frames, info.samplerate, info.channels) != (
            header.num_samples, header.sample_rate, header.channels):
        return None  # a framed blob whose end was not found decodes short: redo it
    seconds = header.num_samples / header.sample_rate
    return Done(size, seconds, 8 * blob_bytes / seconds / 1000 if seconds else None)
