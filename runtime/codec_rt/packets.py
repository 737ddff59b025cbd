"""The framed layout (format 1.2 on) and the one way into any blob: `read_packets`, `PacketReader`,
`open_blob`. The normative spec is docs/FORMAT.md; the header and channel sections are `blob.py`'s.

Framed layout: after the header, packets k = 0, 1, 2, ... until the one flagged last, nothing after it.
Packet k holds latent steps `[k * P, (k + 1) * P)` and STFT frames `[k * P * S, (k + 1) * P * S)`,
P = packet_steps, S = time_stride (the last packet: up to the end). Each packet:

    4         body_len: bytes of the body, 1..max_packet_body() (`BlobHeader.max_packet_body`)
    body_len  body:
        1  flags: bit 0 = last packet; bit 1 (mode 3, 1.11) = the sections hold their tonal bands; bit 2
           (track_frames > 0, 1.12) = they hold their track fields; the other bits 0
        last packet only: 8 num_samples, 4 n_frames, 4 latent_steps (the whole stream's; latent_steps =
           ceil(n_frames / S), and they put the last packet at index k: latent_steps - k * P in 1..P)
        one section per audio channel, as in the whole layout, over this packet's steps and frames
    4         CRC-32 (zlib) of the packet index k (uint32 LE) followed by body_len and the body, so a packet
              out of place fails its check as a damaged one does

A whole-layout blob reads as one packet (index 0, last), so every reader here takes both layouts.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import BinaryIO, NamedTuple

from .blob import (
    FLAG_BAND,
    FLAG_LAST,
    FLAG_TRACKS,
    HEADER_SIZE_1_2,
    LAST_TOTALS,
    PACKET_LEN,
    BlobHeader,
    read_header,
    unpack_header,
)
from .config import MAX_SAMPLES
from .errors import ChecksumError, FormatError, TruncatedError
from .section import ChannelData, parse_sections
from .tonal import check_ends

READ_SIZE = 1 << 16  # bytes read from a file or pipe at a time, at most: what has arrived (`read_some`)


def read_some(f: BinaryIO, n: int = READ_SIZE) -> bytes:
    """Up to `n` bytes of `f`, as many as it has ready (one read of the stream beneath, `read1`): a pipe's
    reader gets a live stream's packets as they arrive, not once 64 KiB have (docs/STREAMING.md).
    b"" at the end only."""
    read1 = getattr(f, "read1", None)
    return bytes(read1(n)) if read1 is not None else f.read(n)


@dataclass(frozen=True)
class Packet:
    """One packet of a framed blob (or the whole payload of a whole-layout blob, as packet 0, last)."""

    index: int
    steps: int  # latent steps in this packet
    n_frames: int  # STFT frames in this packet
    channels: tuple[ChannelData, ...]
    last: bool
    offset: int = 0  # byte offset of the packet in the blob


class Totals(NamedTuple):
    """The stream's lengths that the last packet carries."""

    num_samples: int
    n_frames: int
    latent_steps: int


def write_packet(index: int, sections: bytes, totals: tuple[int, int, int] | None = None, band: bool = False,
                 tracks: bool = False) -> bytes:
    """Packet `index` of the framed layout: the channel sections joined, and for the last packet the whole
    stream's `Totals` (num_samples, n_frames, latent_steps); `band`: the sections hold their tonal bands,
    `tracks` their track fields."""
    body = bytes([(FLAG_LAST if totals is not None else 0) | (FLAG_BAND if band else 0)
                  | (FLAG_TRACKS if tracks else 0)])
    if totals is not None:
        body += LAST_TOTALS.pack(*totals)
    body += sections
    head = PACKET_LEN.pack(len(body))
    crc = zlib.crc32(head + body, zlib.crc32(struct.pack("<I", index)))
    return head + body + struct.pack("<I", crc)


def read_packets(data: bytes) -> tuple[BlobHeader, list[Packet]]:
    """Validate a whole blob `data` (header, lengths, every CRC) -> (header with the stream's lengths,
    packets). A whole-layout blob is one packet.

    Raises FormatError (and its subclasses): a framed blob cut before its last packet is a TruncatedError
    (a `PacketReader` lets a decoder keep the packets before a cut), a damaged packet a ChecksumError
    naming it.
    """
    header, header_size = read_header(data)
    if not header.framed:
        body_end = len(data) - 4
        (crc,) = struct.unpack_from("<I", data, body_end)
        if zlib.crc32(data[:body_end]) != crc:
            raise ChecksumError("blob checksum mismatch: the file is corrupt")
        chans = parse_sections(data, header_size, body_end, header, header.latent_steps, header.n_frames)
        h, packets = header, [Packet(0, header.latent_steps, header.n_frames, tuple(chans), True, header_size)]
    else:
        reader = PacketReader()
        packets = reader.feed(data)
        reader.close()
        assert reader.header is not None
        h = reader.header
    for p in packets if h.band_rows else ():  # 4.8: no interval held past the stream's end
        for ch in p.channels:
            check_ends(ch.band, p.index * h.packet_steps * h.time_stride, p.n_frames, h.phase_stride, h.n_frames)
    return h, packets


def read(data: bytes) -> tuple[BlobHeader, list[ChannelData]]:
    """`read_packets`, the channel sections of every packet in order (whole layout: one per channel)."""
    header, packets = read_packets(data)
    return header, [ch for p in packets for ch in p.channels]


class PacketReader:
    """Incremental reader of a blob of either layout: `feed` bytes as they arrive, get the packets completed.

    A framed blob yields its packets one by one; a whole-layout blob is buffered and yields one packet once
    complete. `header` is set as soon as the header has arrived, its lengths filled in by the last packet.
    Every error is a typed FormatError, raised at the first bad byte; a packet length is bounded by the
    header before any byte of the packet is awaited. `close()` raises TruncatedError if the blob ended
    early: a decoder may catch it and keep the packets it has.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._consumed = 0  # bytes of the blob before _buf
        self._header_size = 0
        self._payload_len = 0
        self._max_body = 0
        self.header: BlobHeader | None = None
        self.next_index = 0  # packets read so far
        self.done = False

    @property
    def bytes_read(self) -> int:
        return self._consumed + len(self._buf)

    def feed(self, data: bytes) -> list[Packet]:
        """Add bytes -> the packets they complete (possibly none)."""
        if self.done:
            if data:
                raise FormatError(f"{len(data)} unexpected bytes after the last packet")
            return []
        self._buf += data
        if self.header is None and not self._read_header():
            return []
        assert self.header is not None
        if not self.header.framed:
            return self._whole()
        packets = []
        while not self.done:
            packet = self._next_packet()
            if packet is None:
                break
            packets.append(packet)
        if self.done and self._buf:
            raise FormatError(f"{len(self._buf)} unexpected bytes after the last packet")
        return packets

    def close(self) -> None:
        """The blob has ended: raise TruncatedError unless it was complete."""
        if self.done:
            return
        if self.header is None or not self.header.framed:
            read_header(bytes(self._buf))  # the usual error of a short blob
            raise TruncatedError(f"blob is {self.bytes_read} bytes, shorter than its header says")
        part = f"{len(self._buf)} bytes of the next one"
        if self.next_index:
            raise TruncatedError(f"blob is cut after packet {self.next_index - 1} ({self.next_index} whole "
                                 f"packets and {part}): the stream ends early")
        raise TruncatedError(f"blob is cut before its first packet is complete ({part})")

    def _read_header(self) -> bool:
        if len(self._buf) < 8:
            return False
        try:
            header, header_size, payload_len = unpack_header(bytes(self._buf[: HEADER_SIZE_1_2 + 0xFFFF]))
        except TruncatedError:
            return False
        self.header, self._header_size, self._payload_len = header, header_size, payload_len
        if header.framed:
            self._max_body = header.max_packet_body()
            del self._buf[:header_size]
            self._consumed = header_size
        return True

    def _whole(self) -> list[Packet]:
        need = self._header_size + self._payload_len + 4
        if len(self._buf) < need:
            return []
        header, packets = read_packets(bytes(self._buf))  # also refuses bytes after the blob
        self.header, self.done = header, True
        self._consumed, self._buf = len(self._buf), bytearray()
        self.next_index = 1
        return packets

    def _next_packet(self) -> Packet | None:
        h = self.header
        assert h is not None
        if len(self._buf) < 4:
            return None
        (body_len,) = PACKET_LEN.unpack_from(self._buf, 0)
        k, offset = self.next_index, self._consumed
        where = f"packet {k} (byte {offset})"
        if not 1 <= body_len <= self._max_body:
            raise FormatError(f"{where} claims {body_len} bytes; this blob's packets hold 1..{self._max_body}")
        if len(self._buf) < 8 + body_len:
            return None
        (crc,) = struct.unpack_from("<I", self._buf, 4 + body_len)
        if zlib.crc32(bytes(self._buf[: 4 + body_len]), zlib.crc32(struct.pack("<I", k))) != crc:
            raise ChecksumError(f"{where}: checksum mismatch, the blob is corrupt (or its packets out of "
                                f"order) from there")
        body = bytes(self._buf[4 : 4 + body_len])
        flags = body[0]
        if flags & ~(FLAG_LAST | (FLAG_BAND if h.band_rows else 0) | (FLAG_TRACKS if h.track_frames else 0)):
            raise FormatError(f"{where} has unknown flags {flags:#04x}")
        last = bool(flags & FLAG_LAST)
        pos, steps, n_frames = 1, h.packet_steps, h.packet_steps * h.time_stride
        if last:
            if len(body) < 1 + LAST_TOTALS.size:
                raise FormatError(f"{where} is too short for the stream's lengths")
            totals = Totals(*LAST_TOTALS.unpack_from(body, 1))
            pos += LAST_TOTALS.size
            steps, n_frames = _check_totals(h, k, totals, where)
        chans = parse_sections(body, pos, len(body), h, steps, n_frames, k * h.packet_steps * h.time_stride,
                               bool(flags & FLAG_BAND), bool(flags & FLAG_TRACKS))
        if last:
            self.header = replace(h, num_samples=totals.num_samples, n_frames=totals.n_frames,
                                  latent_steps=totals.latent_steps)
        del self._buf[: 8 + body_len]
        self._consumed += 8 + body_len
        self.next_index += 1
        self.done = last
        return Packet(k, steps, n_frames, tuple(chans), last, offset)


def _check_totals(h: BlobHeader, k: int, t: Totals, where: str) -> tuple[int, int]:
    """The last packet k's totals, checked against the header -> (its latent steps, its STFT frames)."""
    if t.num_samples >= MAX_SAMPLES or t.n_frames < 1:
        raise FormatError(f"{where}: invalid stream lengths ({t.num_samples} samples, {t.n_frames} frames)")
    if t.latent_steps != -(-t.n_frames // h.time_stride):
        raise FormatError(f"{where}: latent_steps {t.latent_steps} does not match n_frames {t.n_frames}")
    steps = t.latent_steps - k * h.packet_steps
    n_frames = t.n_frames - k * h.packet_steps * h.time_stride
    if not 1 <= steps <= h.packet_steps or n_frames < 1:
        raise FormatError(f"{where} is the last, but the stream's {t.latent_steps} latent steps make "
                          f"{-(-t.latent_steps // h.packet_steps)} packets")
    return steps, n_frames


def scan(f: BinaryIO) -> BlobHeader | None:
    """A framed blob in a seekable file -> its header with the stream's lengths, found by hopping from packet
    length to packet length (no checksums, no decoding), or None if the hops do not reach a last packet.
    The file position is restored."""
    pos = f.tell()
    try:
        f.seek(0)
        head = f.read(8)  # the preamble says how long the header is, whatever the minor
        head += f.read(max(0, int.from_bytes(head[6:8], "little") - len(head))) if len(head) == 8 else b""
        header, header_size, _ = unpack_header(head)
        if not header.framed:
            return None
        f.seek(header_size)
        k, max_body = 0, header.max_packet_body()
        while True:
            piece = f.read(4 + 1 + LAST_TOTALS.size)
            if len(piece) < 5:
                return None
            (body_len,) = PACKET_LEN.unpack_from(piece, 0)
            if not 1 <= body_len <= max_body:
                return None
            if piece[4] & FLAG_LAST:
                if len(piece) < 4 + 1 + LAST_TOTALS.size:
                    return None
                totals = Totals(*LAST_TOTALS.unpack_from(piece, 5))
                _check_totals(header, k, totals, f"packet {k}")
                return replace(header, num_samples=totals.num_samples, n_frames=totals.n_frames,
                               latent_steps=totals.latent_steps)
            f.seek(f.tell() - len(piece) + 8 + body_len)
            k += 1
    except (FormatError, OSError):
        return None
    finally:
        f.seek(pos)


@dataclass
class BlobSource:
    """A blob opened for reading in pieces (`open_blob`): its checked header, and its bytes from the first.

    header: the stream's lengths filled in where they can be known before decoding (always for the whole
    layout; for a framed blob in a seekable file, by `scan`; else `header.n_frames == 0`).
    """

    header: BlobHeader
    _first: bytes
    _file: BinaryIO

    def pieces(self, size: int | Callable[[], int] = READ_SIZE) -> Iterator[bytes]:
        """The blob's bytes from its first, in pieces of at most `size` bytes (or `size()`, asked before each
        piece), until the file ends."""
        data = self._first
        while data:
            while data:
                n = max(1, size() if callable(size) else size)
                yield data[:n]
                data = data[n:]
            data = read_some(self._file)


def open_blob(f: BinaryIO, seekable: bool = False) -> BlobSource:
    """Read and check the header of the blob in `f` (a file or a pipe, at its start) -> a `BlobSource`.

    Reads as many bytes as the header says it has, whatever the version and layout; a whole-layout blob is
    read whole and checked (it cannot be decoded before its end anyway). Raises FormatError (and its
    subclasses: TruncatedError when the input ends inside the header or a whole-layout blob).
    """
    first = read_some(f)
    parsed = None
    while parsed is None:
        try:
            parsed = unpack_header(first)
        except TruncatedError:
            piece = read_some(f)
            if not piece:
                raise
            first += piece
    header, header_size, payload_len = parsed
    if not header.framed:
        need = header_size + payload_len + 4
        while len(first) < need and (piece := f.read(max(READ_SIZE, need - len(first)))):
            first += piece
        first += f.read()  # bytes after the blob are refused here
        header = read_header(first)[0]
    elif seekable:
        header = scan(f) or header
    return BlobSource(header, first, f)
