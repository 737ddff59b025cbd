"""A WAV file's data chunk (RIFF or RF64 WAVE) and the size its header declares, read without trusting it.

libsndfile believes the data size a WAV header declares, and headers lie in three ways (docs/BAD_INPUT.md):

- 0 with audio after it: a recorder stopped before it went back to write the size (libsndfile reads 0
  samples; ffmpeg reads to the end of the file, and so does codec-rt, with a warning);
- more than the file holds: the file is truncated (libsndfile reads what is there);
- 0xFFFFFFFF or just below: the writer streamed and did not know the length (`codec-rt decode -o -` does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

MAX_CHUNKS = 1024  # chunks looked at before the data chunk; real headers have a handful
# A size field's largest value a header may carry for "unknown": 32 bits, or for RF64's 64-bit sizes a
# value libsndfile still reads (it refuses 2**64 - 1, a negative length to it).
_FIELD_MAX = {4: 0xFFFFFFFF, 8: 1 << 62}


class Seekable(Protocol):
    """A binary file that can seek (a regular file, or standard input spooled)."""

    def read(self, n: int = -1, /) -> bytes: ...

    def seek(self, offset: int, whence: int = 0, /) -> int: ...


def read_at(f: Seekable, pos: int, n: int) -> bytes:
    """Up to `n` bytes of `f` at offset `pos` (fewer at its end)."""
    f.seek(pos)
    return f.read(n)


@dataclass(frozen=True)
class DataChunk:
    """Where a WAV file's audio starts and what its header says of its length."""

    offset: int  # byte offset of the first audio byte
    declared: int  # bytes of audio the header announces
    size_at: int  # byte offset of that size field: the data chunk's own, or RF64's in its ds64 chunk
    size_width: int  # bytes of that field: 4, or 8 (RF64)
    block_align: int  # bytes of one sample of every channel (> 0)

    @property
    def unknown_length(self) -> bool:
        """The size is what streaming writers put when the length is not known: the field's largest
        value or just below it (rounded down to whole samples, as codec-rt's own stream header is, or
        less the header's size), or the same below 2 GiB (writers that keep to signed 32-bit sizes)."""
        near = max(1 << 16, self.block_align)
        if self.size_width == 8:
            return self.declared >= _FIELD_MAX[8] - near
        return any(top - near <= self.declared <= top for top in (0xFFFFFFFF, 0x7FFFFFFF))

    def size_field(self, size: int) -> tuple[int, bytes]:
        """(offset, bytes) of a size field announcing `size` bytes of audio, cut to whole samples and to
        what the field holds (a 32-bit WAV cannot announce more than 4 GiB)."""
        size = min(size, _FIELD_MAX[self.size_width]) // self.block_align * self.block_align
        return self.size_at, size.to_bytes(self.size_width, "little")


def find_data_chunk(f: Seekable) -> DataChunk | None:
    """Walk a RIFF/RF64 WAVE file's chunks up to its data chunk.

    None for anything else: another format, a big-endian RIFX file, or a header libsndfile refuses by
    itself (no fmt chunk before the data, a zero block size, a file that ends inside its header).
    """
    head = read_at(f, 0, 12)
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:] != b"WAVE":
        return None
    rf64 = head[:4] == b"RF64"
    pos, ds64_size_at, block_align = 12, None, 0
    for _ in range(MAX_CHUNKS):
        chunk = read_at(f, pos, 8)
        if len(chunk) < 8:
            return None
        cid, size = chunk[:4], int.from_bytes(chunk[4:], "little")
        if cid == b"ds64" and rf64 and size >= 24:
            ds64_size_at = pos + 8 + 8  # after the 64-bit RIFF size
        elif cid == b"fmt " and size >= 16:
            fmt = read_at(f, pos + 8, 16)
            if len(fmt) < 16:
                return None
            block_align = int.from_bytes(fmt[12:14], "little")
        elif cid == b"data":
            if not block_align:
                return None
            if rf64 and size == 0xFFFFFFFF and ds64_size_at is not None:
                ds = read_at(f, ds64_size_at, 8)
                if len(ds) < 8:
                    return None
                return DataChunk(pos + 8, int.from_bytes(ds, "little"), ds64_size_at, 8, block_align)
            return DataChunk(pos + 8, size, pos + 4, 4, block_align)
        pos += 8 + size + (size & 1)
    return None


def chunk_at(f: Seekable, pos: int) -> bool:
    """Whether a whole RIFF chunk starts at `pos`: a printable four-character id and a size that ends
    within the file (on standard input this reads up to that end)."""
    head = read_at(f, pos, 8)
    if len(head) < 8 or not all(0x20 <= b < 0x7F for b in head[:4]):
        return False
    size = int.from_bytes(head[4:], "little")
    return size == 0 or len(read_at(f, pos + 8 + size - 1, 1)) == 1


def unannounced_audio(f: Seekable, chunk: DataChunk) -> bool:
    """Whether a header that announces 0 bytes of audio is followed by audio anyway: at least one whole
    sample that does not start a chunk (a WAV with no audio may have chunks after its empty data chunk)."""
    return (chunk.declared == 0 and len(read_at(f, chunk.offset, chunk.block_align)) == chunk.block_align
            and not chunk_at(f, chunk.offset))
