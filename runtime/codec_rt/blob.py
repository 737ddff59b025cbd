"""The codec-rt blob: a versioned, checksummed binary container. No pickle, strict validation.

Two layouts share one header. The *whole* layout (formats 1.0 and 1.1) holds the file's channel sections
after the header and one CRC-32 at the end: a decoder needs every byte first. The *framed* layout (format
1.2) is a header followed by frames, each with its length and its own CRC-32, so a decoder starts on the
first frame, a stream cut anywhere decodes up to the cut, and a damaged byte is localised to its frame.
`codec-rt encode` writes the framed layout; `Codec.encode` writes the whole layout unless asked
(`framed=True`). Whole-layout blobs are written as format 1.1, so every 1.x reader reads them, except
those of coder 2 (context tables, format 1.3), which a reader older than 1.3 could not decode anyway.

All integers little-endian; the same text is in docs/FORMAT.md.

    offset size  field
    0      4     magic b"CRTB"
    4      1     major version (1); a reader refuses any other major
    5      1     minor version (3); a reader accepts higher minors (fields only ever appended)
    6      2     header_size: bytes from offset 0 to the payload: 56 in 1.0 and 1.1, 64 from 1.2 on
    8      1     mode: 0 = predicted phase, 1 = store_phase (STFT phase quantized into the payload)
    9      1     bits: latent bits per value, 1..16 with coder 0; 0 with coders 1 and 2
    10     1     phase_bits: 0 in mode 0, 1..16 in mode 1
    11     1     coder: 0 = fixed-width codes, 1 = range-coded integer symbols (1.1 on; reserved 0 in 1.0),
                 2 = range-coded with context tables (1.3 on; see entropy.py)
    12     4     sample_rate of the audio (Hz), 1..768000
    16     2     channels of the audio, 1..64
    18     2     latent_channels
    20     2     latent_bins (frequency rows of the latent)
    22     2     n_bins (STFT bins, n_fft / 2 + 1)
    24     8     num_samples per channel of the audio, < 2**40 (framed: 0, see the last frame)
    32     4     n_frames: STFT frames at the model rate (framed: 0)
    36     4     latent_frames: latent time steps (framed: 0)
    40     8     model_id: first 8 bytes of the SHA-256 of the model weights
    48     8     payload_len (framed: 0)
    -- from 1.2 on:
    56     1     layout: 0 = whole, 1 = framed
    57     1     time_stride: STFT frames per latent step, 1..64 (framed; 0 in the whole layout)
    58     2     frame_steps: latent steps per frame, 1..65535 (framed; 0 in the whole layout)
    60     4     CRC-32 (zlib) of bytes 0..59
    header_size  payload (whole layout) or frames (framed layout)

Whole layout: payload_len bytes of payload, then the CRC-32 (zlib) of every byte before it.
Payload: one section per audio channel, in order, each:
    4 bytes float32 gain (the encoder multiplied the audio by it; the decoder divides), 1/64..64
    coder 0: latent_channels x float32 scales (see quantize.py), then the latent codes,
             C x latent_bins x latent_frames (row-major), bit-packed at `bits`
    coders 1 and 2: uint32 coded_len (a multiple of 4), then coded_len bytes: the latent symbols
             range-coded with the model's entropy tables (see entropy.py); at most MAX_VALUES_PER_BYTE latent values
             per coded byte (counting at least 4 bytes), so a tiny blob cannot claim a huge latent
    mode 1 only: phase codes, n_bins x n_frames, bit-packed at `phase_bits`; code k <-> -pi + 2 pi k / 2**phase_bits
Each packed field starts on a byte boundary. payload_len must equal the sum of the sections (coder 0: the
sum the header implies).

Framed layout: frames k = 0, 1, 2, ... until the one flagged last, nothing after it. Frame k holds latent
steps [k * frame_steps, (k + 1) * frame_steps) and STFT frames [k * F, (k + 1) * F), F = frame_steps *
time_stride (the last frame: up to the end). Each frame:
    4      body_len: bytes of the body (at most what the header allows: max_frame_body())
    body_len body:
        1  flags: bit 0 = last frame; the other bits 0
        last frame only: 8 num_samples, 4 n_frames, 4 latent_frames (the whole stream's, as in the
           whole layout's header; latent_frames = ceil(n_frames / time_stride), and they put the last
           frame at index k: latent_frames - k * frame_steps in 1..frame_steps)
        one section per audio channel, as in the whole layout, over this frame's latent steps and STFT
        frames: its own gain (the encoder computes it over the frame's samples), coder 0 its own scales
    4      CRC-32 (zlib) of the frame index k (uint32) followed by body_len and the body, so a frame out
           of place fails its check as a damaged one does
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from .errors import ChecksumError, FormatError, TruncatedError, UnsupportedVersionError
from .level import MAX_GAIN, MIN_GAIN
from .quantize import pack, packed_size, unpack

MAGIC = b"CRTB"
MAJOR, MINOR = 1, 3
MINOR_WHOLE = 1  # whole-layout blobs are written as 1.1, so every 1.x reader reads them (coder 2: 1.3)
MODE_PREDICTED, MODE_STORE_PHASE = 0, 1
MODES = {"predicted": MODE_PREDICTED, "store_phase": MODE_STORE_PHASE}
CODER_FIXED, CODER_RANGE, CODER_CONTEXT = 0, 1, 2
CODERS = {"fixed": CODER_FIXED, "range": CODER_RANGE, "context": CODER_CONTEXT}
LAYOUT_WHOLE, LAYOUT_FRAMED = 0, 1
LAYOUTS = {"whole": LAYOUT_WHOLE, "framed": LAYOUT_FRAMED}
# Range coding can squeeze near-certain symbols below a bit (the shipped models reach about 6 values per
# byte on digital silence); this bound leaves room for that while capping what a forged header can make a
# decoder allocate and compute.
MAX_VALUES_PER_BYTE = 1 << 10  # real blobs: under 6 even on digital silence
# A range-coded value costs at most 24 bits (the finest table precision), plus the coder's final words.
_MAX_CODED_BYTES_PER_VALUE = 3
_CODED_SLACK = 64
_HEADER = struct.Struct("<4sBBHBBBBIHHHHQII8sQ")
HEADER_SIZE = _HEADER.size  # 56: the header of formats 1.0 and 1.1
_EXTENSION = struct.Struct("<BBH")  # 1.2: layout, time_stride, frame_steps; then the header's CRC-32
HEADER_SIZE_1_2 = HEADER_SIZE + _EXTENSION.size + 4  # 64
_FRAME_LEN = struct.Struct("<I")
_LAST = struct.Struct("<QII")  # num_samples, n_frames, latent_frames
FLAG_LAST = 1
MAX_CHANNELS = 64
MAX_SAMPLE_RATE = 768_000
MAX_SAMPLES = 1 << 40


@dataclass(frozen=True)
class BlobHeader:
    """Everything a decoder needs besides the model. `model_id` is 16 hex digits.

    In the framed layout `num_samples`, `n_frames` and `latent_frames` are 0 in the header bytes (a stream
    does not know its length when it starts); `read` and `FrameReader` fill them in from the last frame.
    """

    mode: int
    bits: int
    phase_bits: int
    sample_rate: int
    channels: int
    latent_channels: int
    latent_bins: int
    n_bins: int
    num_samples: int
    n_frames: int
    latent_frames: int
    model_id: str
    coder: int = CODER_FIXED
    minor: int = MINOR_WHOLE
    layout: int = LAYOUT_WHOLE
    time_stride: int = 0  # framed: STFT frames per latent step
    frame_steps: int = 0  # framed: latent steps per frame

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BlobHeader:
        names = {f.name for f in fields(cls)}
        if set(d) - names:
            raise FormatError(f"unknown header fields {sorted(set(d) - names)}")
        h = cls(**d)
        h.validate()
        return h

    @property
    def mode_name(self) -> str:
        return {v: k for k, v in MODES.items()}[self.mode]

    @property
    def coder_name(self) -> str:
        return {v: k for k, v in CODERS.items()}[self.coder]

    @property
    def layout_name(self) -> str:
        return {v: k for k, v in LAYOUTS.items()}[self.layout]

    @staticmethod
    def whole_minor(coder: int) -> int:
        """The minor version a whole-layout blob of `coder` is written as: the oldest that reads it."""
        return 3 if coder == CODER_CONTEXT else MINOR_WHOLE

    @property
    def framed(self) -> bool:
        return self.layout == LAYOUT_FRAMED

    @property
    def header_size(self) -> int:
        return HEADER_SIZE if self.minor < 2 else HEADER_SIZE_1_2

    @property
    def latent_values(self) -> int:
        """Latent values per audio channel (whole layout)."""
        return self.latent_channels * self.latent_bins * self.latent_frames

    def phase_size(self, n_frames: int | None = None) -> int:
        """Bytes of one channel's phase codes over `n_frames` STFT frames (default: the header's)."""
        n = self.n_frames if n_frames is None else n_frames
        return packed_size(self.n_bins * n, self.phase_bits) if self.mode == MODE_STORE_PHASE else 0

    def section_size(self, steps: int, n_frames: int) -> int:
        """Bytes of one channel's section over `steps` latent steps and `n_frames` STFT frames, coder 0."""
        n = 4 + 4 * self.latent_channels + packed_size(self.latent_channels * self.latent_bins * steps, self.bits)
        return n + self.phase_size(n_frames)

    def channel_section_size(self) -> int:
        """Bytes of one channel's section with coder 0, whole layout (with coder 1 it depends on the data)."""
        return self.section_size(self.latent_frames, self.n_frames)

    def payload_size(self) -> int:
        return self.channels * self.channel_section_size()

    def max_frame_body(self) -> int:
        """The largest frame body this (framed) header allows: longer frame lengths are refused unread."""
        steps, frames = self.frame_steps, self.frame_steps * self.time_stride
        if self.coder == CODER_FIXED:
            section = self.section_size(steps, frames)
        else:
            values = self.latent_channels * self.latent_bins * steps
            section = 8 + _MAX_CODED_BYTES_PER_VALUE * values + _CODED_SLACK + self.phase_size(frames)
        return 1 + _LAST.size + self.channels * section

    def validate(self) -> None:
        """Field-by-field checks; raises FormatError naming the first bad field."""
        def bad(msg: str) -> FormatError:
            return FormatError(f"invalid blob header: {msg}")

        if self.mode not in MODES.values():
            raise bad(f"unknown mode {self.mode}")
        if self.coder not in CODERS.values():
            raise bad(f"unknown coder {self.coder}")
        if self.minor == 0 and self.coder != CODER_FIXED:
            raise bad("format 1.0 has no coder field (reserved byte is not 0)")
        if self.minor < 3 and self.coder == CODER_CONTEXT:
            raise bad(f"format 1.{self.minor} has no coder 2")
        if self.layout not in LAYOUTS.values():
            raise bad(f"unknown layout {self.layout}")
        if self.minor < 2 and self.layout != LAYOUT_WHOLE:
            raise bad(f"format 1.{self.minor} has no framed layout")
        if self.coder == CODER_FIXED and not 1 <= self.bits <= 16:
            raise bad(f"bits {self.bits} not in 1..16")
        if self.coder != CODER_FIXED and self.bits != 0:
            raise bad("bits must be 0 with range coding")
        if self.mode == MODE_STORE_PHASE and not 1 <= self.phase_bits <= 16:
            raise bad(f"phase_bits {self.phase_bits} not in 1..16")
        if self.mode == MODE_PREDICTED and self.phase_bits != 0:
            raise bad("phase_bits must be 0 without stored phase")
        if not 1 <= self.sample_rate <= MAX_SAMPLE_RATE:
            raise bad(f"sample_rate {self.sample_rate} not in 1..{MAX_SAMPLE_RATE}")
        if not 1 <= self.channels <= MAX_CHANNELS:
            raise bad(f"channels {self.channels} not in 1..{MAX_CHANNELS}")
        if not 0 <= self.num_samples < MAX_SAMPLES:
            raise bad(f"num_samples {self.num_samples} too large")
        for name in ("latent_channels", "latent_bins", "n_bins"):
            if getattr(self, name) < 1:
                raise bad(f"{name} must be positive")
        if self.framed:
            if not 1 <= self.time_stride <= 64:
                raise bad(f"time_stride {self.time_stride} not in 1..64")
            if not 1 <= self.frame_steps <= 0xFFFF:
                raise bad(f"frame_steps {self.frame_steps} not in 1..65535")
            if self.n_frames < 0 or self.latent_frames < 0:
                raise bad("negative frame counts")
        else:
            if self.time_stride or self.frame_steps:
                raise bad("time_stride and frame_steps must be 0 in the whole layout")
            for name in ("n_frames", "latent_frames"):
                if getattr(self, name) < 1:
                    raise bad(f"{name} must be positive")
        if len(self.model_id) != 16 or any(c not in "0123456789abcdef" for c in self.model_id):
            raise bad(f"model_id {self.model_id!r} is not 16 lowercase hex digits")

    def pack(self, payload_len: int) -> bytes:
        """The header bytes. Framed headers store 0 for the lengths (they are in the last frame)."""
        totals = (0, 0, 0) if self.framed else (self.num_samples, self.n_frames, self.latent_frames)
        if self.framed:
            payload_len = 0
        head = _HEADER.pack(
            MAGIC, MAJOR, self.minor, self.header_size, self.mode, self.bits, self.phase_bits, self.coder,
            self.sample_rate, self.channels, self.latent_channels, self.latent_bins, self.n_bins,
            *totals, bytes.fromhex(self.model_id), payload_len,
        )
        if self.minor < 2:
            return head
        head += _EXTENSION.pack(self.layout, self.time_stride, self.frame_steps)
        return head + struct.pack("<I", zlib.crc32(head))


@dataclass(frozen=True)
class ChannelData:
    """One audio channel's share of the payload (or of one frame), unpacked."""

    gain: float
    scales: npt.NDArray[np.float32]  # [latent_channels] with coder 0; empty with coder 1
    codes: npt.NDArray[np.uint16] | None  # [latent_channels, latent_bins, steps] with coder 0
    phase_codes: npt.NDArray[np.uint16] | None  # [n_bins, STFT frames] in mode 1
    coded: bytes = b""  # coder 1: the range-coded latent symbols (decoded with the model's tables)


@dataclass(frozen=True)
class Frame:
    """One frame of a framed blob (or the whole payload of a whole-layout blob, as frame 0, last)."""

    index: int
    steps: int  # latent steps in this frame
    n_frames: int  # STFT frames in this frame
    channels: tuple[ChannelData, ...]
    last: bool
    offset: int = 0  # byte offset of the frame in the blob


def write(header: BlobHeader, payload: bytes) -> bytes:
    """Whole layout: header + payload + CRC32. Raises FormatError if the payload does not match the header."""
    header.validate()
    if header.framed:
        raise FormatError("write() makes whole-layout blobs; frames are written with write_frame()")
    if header.coder == CODER_FIXED and len(payload) != header.payload_size():
        raise FormatError(f"payload has {len(payload)} bytes, header implies {header.payload_size()}")
    body = header.pack(len(payload)) + payload
    return body + struct.pack("<I", zlib.crc32(body))


def write_frame(index: int, sections: bytes, totals: tuple[int, int, int] | None = None) -> bytes:
    """One frame of the framed layout: frame `index`, the channel sections joined, and for the last frame
    `totals` = (num_samples, n_frames, latent_frames) of the whole stream."""
    body = bytes([FLAG_LAST if totals is not None else 0])
    if totals is not None:
        body += _LAST.pack(*totals)
    body += sections
    head = _FRAME_LEN.pack(len(body))
    crc = zlib.crc32(head + body, zlib.crc32(struct.pack("<I", index)))
    return head + body + struct.pack("<I", crc)


def _parse_header(data: bytes) -> tuple[BlobHeader, int, int]:
    """Check the header at the start of `data` -> (header, header_size, payload_len); TruncatedError if
    `data` ends inside it. Does not look past the header."""
    if len(data) < 8:
        raise TruncatedError(f"blob is {len(data)} bytes, shorter than its preamble")
    if data[:4] != MAGIC:
        raise FormatError(f"not a codec-rt blob (magic {bytes(data[:4])!r}, expected {MAGIC!r})")
    major, minor, header_size = struct.unpack_from("<BBH", data, 4)
    if major != MAJOR:
        raise UnsupportedVersionError(f"blob format {major}.{minor}; this runtime reads {MAJOR}.x")
    if (
        header_size < HEADER_SIZE
        or (minor == 0 and header_size != HEADER_SIZE)
        or (minor >= 2 and header_size < HEADER_SIZE_1_2)
    ):
        raise FormatError(f"header_size {header_size} invalid for format {major}.{minor}")
    layout, time_stride, frame_steps = LAYOUT_WHOLE, 0, 0
    if minor >= 2:
        if len(data) < HEADER_SIZE_1_2:
            raise TruncatedError(f"blob is {len(data)} bytes, its header alone needs {header_size}")
        (crc,) = struct.unpack_from("<I", data, HEADER_SIZE + _EXTENSION.size)
        if zlib.crc32(bytes(data[: HEADER_SIZE + _EXTENSION.size])) != crc:
            raise ChecksumError("blob header checksum mismatch: the file is corrupt")
        layout, time_stride, frame_steps = _EXTENSION.unpack_from(data, HEADER_SIZE)
    framed = layout == LAYOUT_FRAMED
    need = header_size + (0 if framed else 4)
    if len(data) < need:
        raise TruncatedError(f"blob is {len(data)} bytes, its header alone needs {need}")
    f = _HEADER.unpack_from(data, 0)
    header = BlobHeader(
        mode=f[4], bits=f[5], phase_bits=f[6], sample_rate=f[8], channels=f[9], latent_channels=f[10],
        latent_bins=f[11], n_bins=f[12], num_samples=f[13], n_frames=f[14], latent_frames=f[15],
        model_id=f[16].hex(), coder=f[7], minor=minor, layout=layout, time_stride=time_stride,
        frame_steps=frame_steps,
    )
    header.validate()
    payload_len = f[17]
    if framed:
        if header.num_samples or header.n_frames or header.latent_frames or payload_len:
            raise FormatError("invalid blob header: a framed blob keeps num_samples, n_frames, latent_frames "
                              "and payload_len 0 (its last frame holds them)")
        return header, header_size, 0
    # Compare lengths before anything is allocated from them.
    if header.coder == CODER_FIXED and payload_len != header.payload_size():
        raise FormatError(f"payload_len {payload_len} does not match the header ({header.payload_size()})")
    if header.coder != CODER_FIXED and payload_len < header.channels * (8 + header.phase_size()):
        raise FormatError(f"payload_len {payload_len} is too small for {header.channels} channel sections")
    return header, header_size, payload_len


def parse_header(data: bytes) -> BlobHeader:
    """The header at the start of `data` (a blob's first bytes), checked, without the whole layout's
    length checks (TruncatedError if `data` ends inside the header)."""
    return _parse_header(data)[0]


def scan(f: BinaryIO) -> BlobHeader | None:
    """A framed blob in a seekable file -> its header with the stream's lengths, found by hopping from frame
    length to frame length (no checksums, no decoding), or None if the hops do not reach a last frame.
    The file position is restored."""
    pos = f.tell()
    try:
        f.seek(0)
        head = f.read(HEADER_SIZE_1_2)
        header, header_size, _ = _parse_header(head)
        if not header.framed:
            return None
        f.seek(header_size)
        k, max_body = 0, header.max_frame_body()
        while True:
            piece = f.read(4 + 1 + _LAST.size)
            if len(piece) < 5:
                return None
            (body_len,) = _FRAME_LEN.unpack_from(piece, 0)
            if not 1 <= body_len <= max_body:
                return None
            if piece[4] & FLAG_LAST:
                if len(piece) < 4 + 1 + _LAST.size:
                    return None
                num_samples, n_frames, steps = _LAST.unpack_from(piece, 5)
                if num_samples >= MAX_SAMPLES or steps != -(-n_frames // header.time_stride):
                    return None
                if not 1 <= steps - k * header.frame_steps <= header.frame_steps:
                    return None
                return replace(header, num_samples=num_samples, n_frames=n_frames, latent_frames=steps)
            f.seek(f.tell() - len(piece) + 8 + body_len)
            k += 1
    except (FormatError, OSError):
        return None
    finally:
        f.seek(pos)


def read_header(data: bytes) -> tuple[BlobHeader, int]:
    """Parse and check the header of `data` -> (header, header_size). Does not check the CRC of a whole-layout
    blob (a framed blob's header has its own, which is checked).

    Whole layout: also checks the blob's length against the header. Framed layout: the header only (its
    lengths are 0 here); `read_frames` or a `FrameReader` reads the frames.
    """
    header, header_size, payload_len = _parse_header(data)
    if not header.framed:
        end = header_size + payload_len + 4
        if len(data) < end:
            raise TruncatedError(f"blob is {len(data)} bytes, its header says {end}")
        if len(data) > end:
            raise FormatError(f"{len(data) - end} unexpected bytes after the blob")
    return header, header_size


def _sections(data: bytes, pos: int, end: int, header: BlobHeader, steps: int, n_frames: int
              ) -> list[ChannelData]:
    """Parse the channel sections in `data[pos:end]`, each over `steps` latent steps and `n_frames` STFT
    frames; they must fill it exactly."""
    out: list[ChannelData] = []
    n_latent = header.latent_channels * header.latent_bins * steps
    phase_size = header.phase_size(n_frames)
    for _ in range(header.channels):
        if pos + 8 > end:  # coder 1's sections have data-dependent sizes
            raise FormatError("the payload ends inside a channel section")
        gain = float(np.frombuffer(data, "<f4", 1, pos)[0])
        pos += 4
        codes, coded = None, b""
        if header.coder == CODER_FIXED:
            size = packed_size(n_latent, header.bits)
            if pos + 4 * header.latent_channels + size + phase_size > end:
                raise FormatError("the payload ends inside a channel section")
            scales = np.frombuffer(data, "<f4", header.latent_channels, pos).astype(np.float32)
            pos += 4 * header.latent_channels
            codes = unpack(bytes(data[pos : pos + size]), n_latent, header.bits)
            codes = codes.reshape(header.latent_channels, header.latent_bins, steps)
            pos += size
        else:
            scales = np.zeros(0, np.float32)
            (size,) = struct.unpack_from("<I", data, pos)
            pos += 4
            if size % 4 or pos + size + phase_size > end:
                raise FormatError(f"range-coded section of {size} bytes does not fit the payload")
            if n_latent > MAX_VALUES_PER_BYTE * max(size, 4):
                raise FormatError(f"{n_latent} latent values cannot come from {size} coded bytes")
            coded = bytes(data[pos : pos + size])
            pos += size
        # The encoder's gains are clamped to the level range; a forged one outside it would blow the audio up.
        if not (MIN_GAIN <= gain <= MAX_GAIN and np.all(np.isfinite(scales)) and np.all(scales >= 0)):
            raise FormatError("blob holds a gain outside the level range, or a non-finite or negative scale")
        phase = None
        if header.mode == MODE_STORE_PHASE:
            n_phase = header.n_bins * n_frames
            phase = unpack(bytes(data[pos : pos + phase_size]), n_phase, header.phase_bits)
            phase = phase.reshape(header.n_bins, n_frames)
            pos += phase_size
        out.append(ChannelData(gain, scales, codes, phase, coded))
    if pos != end:
        raise FormatError(f"channel sections end at byte {pos}, the payload at {end}")
    return out


def read(data: bytes) -> tuple[BlobHeader, list[ChannelData]]:
    """Validate `data` completely (header, lengths, CRCs) and unpack every channel's section.

    Whole layout: one `ChannelData` per audio channel. Framed layout: one per channel of every frame, frame
    after frame (`read_frames` keeps them grouped), and the header's lengths filled in from the last frame.
    """
    header, frames = read_frames(data)
    return header, [ch for fr in frames for ch in fr.channels]


def read_frames(data: bytes) -> tuple[BlobHeader, list[Frame]]:
    """Validate `data` completely -> (header, frames). A whole-layout blob is one frame.

    Strict: a framed blob cut before its last frame is a TruncatedError (a `FrameReader` lets a decoder
    keep the frames before a cut), a damaged frame a ChecksumError naming it.
    """
    header, header_size = read_header(data)
    if not header.framed:
        body_end = len(data) - 4
        (crc,) = struct.unpack_from("<I", data, body_end)
        if zlib.crc32(data[:body_end]) != crc:
            raise ChecksumError("blob checksum mismatch: the file is corrupt")
        chans = _sections(data, header_size, body_end, header, header.latent_frames, header.n_frames)
        return header, [Frame(0, header.latent_frames, header.n_frames, tuple(chans), True, header_size)]
    reader = FrameReader()
    frames = reader.feed(data)
    reader.close()
    assert reader.header is not None
    return reader.header, frames


class FrameReader:
    """Incremental reader of a blob: `feed` bytes as they arrive, get the frames completed so far.

    A framed blob yields its frames one by one; a whole-layout blob is buffered and yields one frame once
    complete. `header` is set as soon as the header has arrived, its lengths filled in by the last frame.
    Every error is a typed FormatError, raised at the first bad byte; a frame length is bounded by the
    header before any byte of the frame is awaited. `close()` raises TruncatedError if the blob ended
    early: a decoder may catch it and keep the frames it has.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._consumed = 0  # bytes of the blob before _buf
        self._header_size = 0
        self._payload_len = 0
        self._max_body = 0
        self.header: BlobHeader | None = None
        self.next_index = 0  # frames read so far
        self.done = False

    @property
    def bytes_read(self) -> int:
        return self._consumed + len(self._buf)

    def feed(self, data: bytes) -> list[Frame]:
        """Add bytes -> the frames they complete (possibly none)."""
        if self.done:
            if data:
                raise FormatError(f"{len(data)} unexpected bytes after the last frame")
            return []
        self._buf += data
        if self.header is None and not self._read_header():
            return []
        assert self.header is not None
        if not self.header.framed:
            return self._whole()
        frames = []
        while not self.done:
            frame = self._next_frame()
            if frame is None:
                break
            frames.append(frame)
        if self.done and self._buf:
            raise FormatError(f"{len(self._buf)} unexpected bytes after the last frame")
        return frames

    def close(self) -> None:
        """The blob has ended: raise TruncatedError unless it was complete."""
        if self.done:
            return
        if self.header is None or not self.header.framed:
            read_header(bytes(self._buf))  # the usual error of a short blob
            raise TruncatedError(f"blob is {self.bytes_read} bytes, shorter than its header says")
        part = f"{len(self._buf)} bytes of the next one"
        if self.next_index:
            raise TruncatedError(f"blob is cut after frame {self.next_index - 1} ({self.next_index} whole frames "
                                 f"and {part}): the stream ends early")
        raise TruncatedError(f"blob is cut before its first frame is complete ({part})")

    def _read_header(self) -> bool:
        if len(self._buf) < 8:
            return False
        try:
            header, header_size, payload_len = _parse_header(bytes(self._buf[:HEADER_SIZE_1_2 + 0xFFFF]))
        except TruncatedError:
            return False
        self.header, self._header_size, self._payload_len = header, header_size, payload_len
        if header.framed:
            self._max_body = header.max_frame_body()
            del self._buf[:header_size]
            self._consumed = header_size
        return True

    def _whole(self) -> list[Frame]:
        need = self._header_size + self._payload_len + 4
        if len(self._buf) < need:
            return []
        header, frames = read_frames(bytes(self._buf))  # also refuses bytes after the blob
        self.header, self.done = header, True
        self._consumed, self._buf = len(self._buf), bytearray()
        self.next_index = 1
        return frames

    def _next_frame(self) -> Frame | None:
        h = self.header
        assert h is not None
        if len(self._buf) < 4:
            return None
        (body_len,) = _FRAME_LEN.unpack_from(self._buf, 0)
        k, offset = self.next_index, self._consumed
        where = f"frame {k} (byte {offset})"
        if not 1 <= body_len <= self._max_body:
            raise FormatError(f"{where} claims {body_len} bytes; this blob's frames hold 1..{self._max_body}")
        if len(self._buf) < 8 + body_len:
            return None
        (crc,) = struct.unpack_from("<I", self._buf, 4 + body_len)
        if zlib.crc32(bytes(self._buf[: 4 + body_len]), zlib.crc32(struct.pack("<I", k))) != crc:
            raise ChecksumError(f"{where}: checksum mismatch, the blob is corrupt (or its frames out of order) "
                                f"from there")
        body = bytes(self._buf[4 : 4 + body_len])
        flags = body[0]
        if flags & ~FLAG_LAST:
            raise FormatError(f"{where} has unknown flags {flags:#04x}")
        last = bool(flags & FLAG_LAST)
        pos, steps, n_frames = 1, h.frame_steps, h.frame_steps * h.time_stride
        if last:
            if len(body) < 1 + _LAST.size:
                raise FormatError(f"{where} is too short for the stream's lengths")
            num_samples, total_frames, total_steps = _LAST.unpack_from(body, 1)
            pos += _LAST.size
            if num_samples >= MAX_SAMPLES or total_frames < 1:
                raise FormatError(f"{where}: invalid stream lengths ({num_samples} samples, {total_frames} frames)")
            if total_steps != -(-total_frames // h.time_stride):
                raise FormatError(f"{where}: latent_frames {total_steps} does not match n_frames {total_frames}")
            steps = total_steps - k * h.frame_steps
            n_frames = total_frames - k * h.frame_steps * h.time_stride
            if not 1 <= steps <= h.frame_steps or n_frames < 1:
                raise FormatError(f"{where} is the last, but the stream's {total_steps} latent steps make "
                                  f"{-(-total_steps // h.frame_steps)} frames")
        chans = _sections(body, pos, len(body), h, steps, n_frames)
        if last:
            self.header = replace(h, num_samples=num_samples, n_frames=total_frames, latent_frames=total_steps)
        del self._buf[: 8 + body_len]
        self._consumed += 8 + body_len
        self.next_index += 1
        self.done = last
        return Frame(k, steps, n_frames, tuple(chans), last, offset)


def channel_section(data: ChannelData, header: BlobHeader) -> bytes:
    """Serialize one channel's section (the inverse of what `read` does for it)."""
    parts = [struct.pack("<f", data.gain)]
    if header.coder == CODER_FIXED:
        if data.codes is None:
            raise FormatError("fixed-width blob without latent codes")
        parts += [np.asarray(data.scales, "<f4").tobytes(), pack(data.codes, header.bits)]
    else:
        if len(data.coded) % 4:
            raise FormatError("range-coded section must be whole 32-bit words")
        parts += [struct.pack("<I", len(data.coded)), data.coded]
    if header.mode == MODE_STORE_PHASE:
        if data.phase_codes is None:
            raise FormatError("store_phase blob without phase codes")
        parts.append(pack(data.phase_codes, header.phase_bits))
    return b"".join(parts)
