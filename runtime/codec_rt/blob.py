"""The codec-rt blob: a versioned, checksummed binary container. No pickle, strict validation.

Layout of format 1.1 (all integers little-endian; the same text is in docs/FORMAT.md). Format 1.0 is the
same with byte 11 reserved (0): its blobs are 1.1 blobs with coder 0 and still decode.

    offset size  field
    0      4     magic b"CRTB"
    4      1     major version (1); a reader refuses any other major
    5      1     minor version (1); a reader accepts higher minors (fields only ever appended)
    6      2     header_size: bytes from offset 0 to the payload (56 in 1.0 and 1.1)
    8      1     mode: 0 = predicted phase, 1 = store_phase (STFT phase quantized into the payload)
    9      1     bits: latent bits per value, 1..16 with coder 0; 0 with coder 1
    10     1     phase_bits: 0 in mode 0, 1..16 in mode 1
    11     1     coder: 0 = fixed-width codes, 1 = range-coded integer symbols (1.1; reserved 0 in 1.0)
    12     4     sample_rate of the audio (Hz), 1..768000
    16     2     channels of the audio, 1..64
    18     2     latent_channels
    20     2     latent_bins (frequency rows of the latent)
    22     2     n_bins (STFT bins, n_fft / 2 + 1)
    24     8     num_samples per channel of the audio, < 2**40
    32     4     n_frames: STFT frames at the model rate
    36     4     latent_frames: latent time steps
    40     8     model_id: first 8 bytes of the SHA-256 of the model weights
    48     8     payload_len
    56     ...   payload (payload_len bytes)
    end    4     CRC-32 (zlib) of every byte before it

Payload: one section per audio channel, in order, each:
    4 bytes float32 gain (the encoder multiplied the audio by it; the decoder divides)
    coder 0: latent_channels x float32 scales (see quantize.py), then the latent codes,
             C x latent_bins x latent_frames (row-major), bit-packed at `bits`
    coder 1: uint32 coded_len (a multiple of 4), then coded_len bytes: the latent symbols range-coded
             with the model's entropy tables (see entropy.py); at most MAX_VALUES_PER_BYTE latent values
             per coded byte (counting at least 4 bytes), so a tiny blob cannot claim a huge latent
    mode 1 only: phase codes, n_bins x n_frames, bit-packed at `phase_bits`; code k <-> -pi + 2 pi k / 2**phase_bits
Each packed field starts on a byte boundary. payload_len must equal the sum of the sections (coder 0: the
sum the header implies).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from .errors import ChecksumError, FormatError, TruncatedError, UnsupportedVersionError
from .quantize import pack, packed_size, unpack

MAGIC = b"CRTB"
MAJOR, MINOR = 1, 1
MODE_PREDICTED, MODE_STORE_PHASE = 0, 1
MODES = {"predicted": MODE_PREDICTED, "store_phase": MODE_STORE_PHASE}
CODER_FIXED, CODER_RANGE = 0, 1
CODERS = {"fixed": CODER_FIXED, "range": CODER_RANGE}
# Range coding can squeeze near-certain symbols far below a bit; this bound still leaves 1-hour silent files
# room while capping what a forged header can make a decoder allocate.
MAX_VALUES_PER_BYTE = 1 << 16
_HEADER = struct.Struct("<4sBBHBBBBIHHHHQII8sQ")
HEADER_SIZE = _HEADER.size  # 56
MAX_CHANNELS = 64
MAX_SAMPLE_RATE = 768_000
MAX_SAMPLES = 1 << 40


@dataclass(frozen=True)
class BlobHeader:
    """Everything a decoder needs besides the model. `model_id` is 16 hex digits."""

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
    minor: int = MINOR

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
    def latent_values(self) -> int:
        """Latent values per audio channel."""
        return self.latent_channels * self.latent_bins * self.latent_frames

    def phase_size(self) -> int:
        return packed_size(self.n_bins * self.n_frames, self.phase_bits) if self.mode == MODE_STORE_PHASE else 0

    def channel_section_size(self) -> int:
        """Bytes of one channel's section with coder 0 (with coder 1 it depends on the data)."""
        n = 4 + 4 * self.latent_channels
        n += packed_size(self.latent_channels * self.latent_bins * self.latent_frames, self.bits)
        if self.mode == MODE_STORE_PHASE:
            n += packed_size(self.n_bins * self.n_frames, self.phase_bits)
        return n

    def payload_size(self) -> int:
        return self.channels * self.channel_section_size()

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
        if self.coder == CODER_FIXED and not 1 <= self.bits <= 16:
            raise bad(f"bits {self.bits} not in 1..16")
        if self.coder == CODER_RANGE and self.bits != 0:
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
        for name in ("latent_channels", "latent_bins", "n_bins", "n_frames", "latent_frames"):
            if getattr(self, name) < 1:
                raise bad(f"{name} must be positive")
        if len(self.model_id) != 16 or any(c not in "0123456789abcdef" for c in self.model_id):
            raise bad(f"model_id {self.model_id!r} is not 16 lowercase hex digits")

    def pack(self, payload_len: int) -> bytes:
        return _HEADER.pack(
            MAGIC, MAJOR, self.minor, HEADER_SIZE, self.mode, self.bits, self.phase_bits, self.coder,
            self.sample_rate, self.channels, self.latent_channels, self.latent_bins, self.n_bins,
            self.num_samples, self.n_frames, self.latent_frames, bytes.fromhex(self.model_id), payload_len,
        )


@dataclass(frozen=True)
class ChannelData:
    """One audio channel's share of the payload, unpacked."""

    gain: float
    scales: npt.NDArray[np.float32]  # [latent_channels] with coder 0; empty with coder 1
    codes: npt.NDArray[np.uint16] | None  # [latent_channels, latent_bins, latent_frames] with coder 0
    phase_codes: npt.NDArray[np.uint16] | None  # [n_bins, n_frames] in mode 1
    coded: bytes = b""  # coder 1: the range-coded latent symbols (decoded with the model's tables)


def write(header: BlobHeader, payload: bytes) -> bytes:
    """Header + payload + CRC32. Raises FormatError if the payload does not match the header."""
    header.validate()
    if header.coder == CODER_FIXED and len(payload) != header.payload_size():
        raise FormatError(f"payload has {len(payload)} bytes, header implies {header.payload_size()}")
    body = header.pack(len(payload)) + payload
    return body + struct.pack("<I", zlib.crc32(body))


def read_header(data: bytes) -> tuple[BlobHeader, int]:
    """Parse and check the header of `data` -> (header, header_size). Does not check the CRC."""
    if len(data) < 8:
        raise TruncatedError(f"blob is {len(data)} bytes, shorter than its preamble")
    if data[:4] != MAGIC:
        raise FormatError(f"not a codec-rt blob (magic {data[:4]!r}, expected {MAGIC!r})")
    major, minor, header_size = struct.unpack_from("<BBH", data, 4)
    if major != MAJOR:
        raise UnsupportedVersionError(f"blob format {major}.{minor}; this runtime reads {MAJOR}.x")
    if header_size < HEADER_SIZE or (minor == 0 and header_size != HEADER_SIZE):
        raise FormatError(f"header_size {header_size} invalid for format {major}.{minor}")
    if len(data) < header_size + 4:
        raise TruncatedError(f"blob is {len(data)} bytes, its header alone needs {header_size + 4}")
    f = _HEADER.unpack_from(data, 0)
    header = BlobHeader(
        mode=f[4], bits=f[5], phase_bits=f[6], sample_rate=f[8], channels=f[9], latent_channels=f[10],
        latent_bins=f[11], n_bins=f[12], num_samples=f[13], n_frames=f[14], latent_frames=f[15],
        model_id=f[16].hex(), coder=f[7], minor=minor,
    )
    header.validate()
    payload_len = f[17]
    # Compare lengths before anything is allocated from them.
    if header.coder == CODER_FIXED and payload_len != header.payload_size():
        raise FormatError(f"payload_len {payload_len} does not match the header ({header.payload_size()})")
    if header.coder == CODER_RANGE and payload_len < header.channels * (8 + header.phase_size()):
        raise FormatError(f"payload_len {payload_len} is too small for {header.channels} channel sections")
    end = header_size + payload_len + 4
    if len(data) < end:
        raise TruncatedError(f"blob is {len(data)} bytes, its header says {end}")
    if len(data) > end:
        raise FormatError(f"{len(data) - end} unexpected bytes after the blob")
    return header, header_size


def read(data: bytes) -> tuple[BlobHeader, list[ChannelData]]:
    """Validate `data` completely (header, lengths, CRC) and unpack every channel's section."""
    header, header_size = read_header(data)
    body_end = len(data) - 4
    (crc,) = struct.unpack_from("<I", data, body_end)
    if zlib.crc32(data[:body_end]) != crc:
        raise ChecksumError("blob checksum mismatch: the file is corrupt")
    out: list[ChannelData] = []
    pos = header_size
    n_latent = header.latent_values
    for _ in range(header.channels):
        if pos + 8 > body_end:  # coder 1's sections have data-dependent sizes
            raise FormatError("the payload ends inside a channel section")
        gain = float(np.frombuffer(data, "<f4", 1, pos)[0])
        pos += 4
        codes, coded = None, b""
        if header.coder == CODER_FIXED:
            scales = np.frombuffer(data, "<f4", header.latent_channels, pos).astype(np.float32)
            pos += 4 * header.latent_channels
            size = packed_size(n_latent, header.bits)
            codes = unpack(data[pos : pos + size], n_latent, header.bits)
            codes = codes.reshape(header.latent_channels, header.latent_bins, header.latent_frames)
            pos += size
        else:
            scales = np.zeros(0, np.float32)
            (size,) = struct.unpack_from("<I", data, pos)
            pos += 4
            if size % 4 or pos + size + header.phase_size() > body_end:
                raise FormatError(f"range-coded section of {size} bytes does not fit the payload")
            if n_latent > MAX_VALUES_PER_BYTE * max(size, 4):
                raise FormatError(f"{n_latent} latent values cannot come from {size} coded bytes")
            coded = data[pos : pos + size]
            pos += size
        if not (np.isfinite(gain) and gain > 0 and np.all(np.isfinite(scales)) and np.all(scales >= 0)):
            raise FormatError("blob holds a non-finite or negative gain or scale")
        phase = None
        if header.mode == MODE_STORE_PHASE:
            n_phase = header.n_bins * header.n_frames
            size = packed_size(n_phase, header.phase_bits)
            phase = unpack(data[pos : pos + size], n_phase, header.phase_bits).reshape(header.n_bins, header.n_frames)
            pos += size
        out.append(ChannelData(gain, scales, codes, phase, coded))
    if pos != body_end:
        raise FormatError(f"channel sections end at byte {pos}, the payload at {body_end}")
    return header, out


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
