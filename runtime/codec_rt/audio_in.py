"""Reading the user's audio: a file or standard input, in blocks, whatever libsndfile reads, with the
lies of a WAV header caught (`riff`) and every failure one readable line naming the file or stdin
(docs/BAD_INPUT.md)."""

from __future__ import annotations

import io
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
import soundfile as sf

from . import riff
from .audio import MAX_SAMPLE
from .errors import AudioError, InputError
from .files import STDIN_NAME, STDIO, check_input, sf_message

log = logging.getLogger(__name__)


def _unreadable(name: str, e: BaseException) -> AudioError:
    return AudioError(f"{name}: not a readable audio file ({sf_message(e, name)})")


def _check_samples(name: str, data: npt.NDArray[np.float32], first: int) -> None:
    """AudioError naming the first NaN, infinite or too large (`audio.MAX_SAMPLE`) sample of `data` (`[n, C]`,
    its first sample numbered `first` in the file)."""
    bad = ~np.isfinite(data)
    if bad.any():
        sample, channel = (int(i) for i in np.argwhere(bad)[0])
        raise AudioError(f"{name}: sample {first + sample} of channel {channel} is {data[sample, channel]}; "
                         f"codec-rt codes finite samples only")
    loud = np.abs(data) > MAX_SAMPLE
    if loud.any():
        sample, channel = (int(i) for i in np.argwhere(loud)[0])
        raise AudioError(f"{name}: sample {first + sample} of channel {channel} is {data[sample, channel]:.3g}, "
                         f"beyond +-{MAX_SAMPLE:g}: codec-rt codes audio on a full scale of 1.0 (float samples "
                         f"written unscaled?)")


def read_audio(path: str | Path) -> tuple[npt.NDArray[np.float32], int]:
    """Any file soundfile reads (wav, flac, ogg, ...) -> (audio `[C, N] float32`, sample_rate), with the
    checks and warnings of `AudioReader` (a lying WAV header, NaN or infinite samples)."""
    with AudioReader(path) as reader:
        return reader.read_all(), reader.sample_rate


class _Readable(io.RawIOBase):
    """A read-only, seekable raw file for libsndfile's virtual I/O: subclasses give `read` and `_end`."""

    _pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def _end(self) -> int:
        raise NotImplementedError

    def seek(self, offset: int, whence: int = 0) -> int:
        base = self._end() if whence == 2 else self._pos if whence == 1 else 0
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos


class _StdinFile(_Readable):
    """Standard input as a seekable file for libsndfile, read only as far as asked: what has been read is
    kept in an anonymous temporary file (on disk, not in memory), so the header parsers can seek back.
    Its length is unknown-and-huge for WAV and FLAC, so nothing waits for EOF (a WAV is given the end of its
    data chunk as its length by `AudioReader`: libsndfile's parser looks for chunks after the data, which
    would read a stream to its end); other formats (Ogg) learn the real length, which means reading all of
    stdin first."""

    HUGE = 1 << 62

    def __init__(self, src: BinaryIO) -> None:
        super().__init__()
        self._src, self._spool = src, tempfile.TemporaryFile()
        self.received, self._pos, self._eof = 0, 0, False
        self.streamable = self.read(4)[:4] in (b"RIFF", b"RF64", b"fLaC")
        self._pos = 0

    def _fill(self, upto: int) -> None:
        while self.received < upto and not self._eof:
            data = self._src.read(min(1 << 16, upto - self.received))
            if not data:
                self._eof = True
                break
            self._spool.seek(self.received)
            self._spool.write(data)
            self.received += len(data)

    def read(self, n: int | None = -1) -> bytes:
        if n is None or n < 0:
            n = 1 << 30
        self._fill(self._pos + n)
        self._spool.seek(self._pos)
        data = self._spool.read(max(0, min(n, self.received - self._pos)))
        self._pos += len(data)
        return data

    def _end(self) -> int:
        if not self.streamable:
            self._fill(self.HUGE)
        return self.received if self._eof else self.HUGE

    def close(self) -> None:
        self._spool.close()
        super().close()


class _Patched(_Readable):
    """A seekable file as libsndfile should see it: `patch` (offset, bytes) written over its bytes (a WAV
    header's size field), and `length`, if given, as its length."""

    def __init__(self, inner: riff.Seekable, patch: tuple[int, bytes] | None, length: int | None) -> None:
        super().__init__()
        self._inner, self._patch, self._length, self._pos = inner, patch, length, 0

    def read(self, n: int | None = -1) -> bytes:
        data = bytearray(riff.read_at(self._inner, self._pos, -1 if n is None else n))
        if self._patch is not None:
            at, new = self._patch
            lo, hi = max(at, self._pos), min(at + len(new), self._pos + len(data))
            if lo < hi:
                data[lo - self._pos: hi - self._pos] = new[lo - at: hi - at]
        self._pos += len(data)
        return bytes(data)

    def _end(self) -> int:
        return self._inner.seek(0, 2) if self._length is None else self._length


# Blocks a second read from stdin: 20 ms, so that a live stream (arecord | codec-rt encode -) is coded as it
# arrives, not a large block later; piping a long file in costs a little more CPU (docs/STREAMING.md).
STDIN_BLOCKS_PER_SECOND = 50


class AudioReader:
    """An audio file (any format soundfile reads) or standard input (`-`: WAV or FLAC streamed as they
    arrive; others are read whole first), read in blocks of `[channels, n] float32`.

    An unreadable file and a NaN or infinite sample (named by its position) are AudioErrors. A WAV header
    that lies about its length is caught (libsndfile believes it): a file that ends before the length its
    header announces is read to its last whole sample, with a warning; a header that announces 0 bytes
    with audio after it (a recorder stopped before it wrote the length) is read to the end of the file or
    stream, with a warning; the lengths streaming writers put when they do not know it (0xFFFFFFFF) are
    read to the end, silently. `num_samples` is the length announced (None on stdin), `samples_read` the
    samples read so far. `warn`: False for a reading that another one follows (a first pass), so that a
    length's warning is said once.
    """

    def __init__(self, path: str | Path, block: int = 1 << 16, *, warn: bool = True) -> None:
        from_stdin = str(path) == STDIO
        self.name = STDIN_NAME if from_stdin else str(path)
        self.block = block
        self.samples_read = 0
        self._stdin: _StdinFile | None = None
        self._raw: BinaryIO | None = None  # the file, while libsndfile reads it through `_Patched`
        self._recovered, self._checked = False, not warn
        try:
            src: riff.Seekable
            if from_stdin:
                src = self._stdin = _StdinFile(sys.stdin.buffer)
            else:
                check_input(Path(path))
                try:
                    src = self._raw = open(path, "rb")
                except OSError as e:
                    raise InputError(f"{path}: cannot read ({e.strerror or e})") from None
            self._wav = riff.find_data_chunk(src)
            patch = None
            if self._wav is not None and riff.unannounced_audio(src, self._wav):
                self._recovered = True  # read it all: to the file's end, or to stdin's (the largest length)
                patch = self._wav.size_field(self._bytes_after_header() if self._stdin is None else 1 << 64)
            if self._stdin is not None:
                length = None if self._wav is None else self._wav.offset + (
                    self._wav.declared if patch is None else int.from_bytes(patch[1], "little"))
                self._file = sf.SoundFile(_Patched(self._stdin, patch, length))
            elif patch is not None:
                self._file = sf.SoundFile(_Patched(src, patch, None))
            else:
                self._close_raw()
                self._file = sf.SoundFile(str(path))
        except BaseException as e:
            self._close_raw()
            if self._stdin is not None:
                self._stdin.close()
            if isinstance(e, (sf.SoundFileError, RuntimeError, ValueError, OSError)):
                raise _unreadable(self.name, e) from None
            raise
        self.sample_rate, self.channels = int(self._file.samplerate), int(self._file.channels)
        if self._stdin is not None:  # a live stream: libsndfile waits for a whole block before it returns
            self.block = max(1, min(block, self.sample_rate // STDIN_BLOCKS_PER_SECOND))
        declared = int(self._file.frames)  # soundfile's "frames" are samples
        # Piped streams do not know their length (libsndfile reports a huge one).
        self.num_samples: int | None = declared if self._stdin is None and declared < 1 << 40 else None

    def blocks(self) -> Iterator[npt.NDArray[np.float32]]:
        """The audio, block after block, each `[channels, n] float32` (n > 0)."""
        while True:
            try:
                data = self._file.read(self.block, dtype="float32", always_2d=True)
            except (sf.SoundFileError, RuntimeError, ValueError, OSError) as e:
                raise _unreadable(self.name, e) from None
            if not len(data):
                break
            _check_samples(self.name, data, self.samples_read)
            self.samples_read += len(data)
            yield np.ascontiguousarray(data.T)
        self._check_length()

    def read_all(self) -> npt.NDArray[np.float32]:
        """The whole audio `[channels, n] float32`."""
        parts = list(self.blocks())
        return np.concatenate(parts, axis=1) if parts else np.zeros((self.channels, 0), np.float32)

    def _bytes_after_header(self) -> int:
        """Bytes from the WAV's first audio byte to the end of the file (of stdin, read so far)."""
        assert self._wav is not None
        size = self._stdin.received if self._stdin is not None else os.stat(self.name).st_size
        return max(0, size - self._wav.offset)

    def _check_length(self) -> None:
        """Warn, once the audio is read, when it is not the length the header announced."""
        if self._checked:
            return
        self._checked = True
        where = "stream" if self._stdin is not None else "file"
        w = self._wav
        if self._recovered:
            log.warning("warning: %s: its header announces 0 bytes of audio, but %d bytes follow it "
                        "(a recording that was not closed?); coding the %d samples they hold",
                        self.name, self._bytes_after_header(), self.samples_read)
        elif w is not None:
            if not w.unknown_length and self.samples_read < w.declared // w.block_align:
                log.warning("warning: %s is truncated: its header announces %d bytes of audio, the %s holds %d; "
                            "coding the %d samples present", self.name, w.declared, where,
                            self._bytes_after_header(), self.samples_read)
        elif self.num_samples is not None and self.samples_read < self.num_samples:
            log.warning("warning: %s ends after %d of the %d samples its header announces; coding those",
                        self.name, self.samples_read, self.num_samples)

    def _close_raw(self) -> None:
        if self._raw is not None:
            self._raw.close()
            self._raw = None

    def close(self) -> None:
        self._file.close()
        self._close_raw()
        if self._stdin is not None:
            self._stdin.close()

    def __enter__(self) -> AudioReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
