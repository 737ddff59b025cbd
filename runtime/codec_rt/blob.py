"""The codec-rt blob's header, channel sections and whole layout. The normative spec is docs/FORMAT.md;
this module and `packets.py` (the framed layout) implement it. No pickle, strict validation: every check
names the bad field.

Two layouts share one header. The *whole* layout (every minor; codec-rt writes 1.6, or 1.1 to 1.4 where it
codes no lead-in, 1.10 with stored phase: FORMAT.md 7.5) holds the file's channel sections after the header
and one CRC-32 at the end: a decoder needs every byte first. The *framed* layout (1.2 on, `packets.py`) is
the header followed by packets of about 1 s, each with its length and its own CRC-32, so a decoder starts
on the first packet and a stream cut anywhere decodes up to the cut.

All integers little-endian.

    offset size  field
    0      4     magic b"CRTB"
    4      1     major version (1); a reader refuses any other major
    5      1     minor version (12); a reader accepts higher minors (fields only ever appended)
    6      2     header_size: 56 in 1.0 and 1.1, 64 in 1.2 to 1.4, 72 in 1.5, 80 in 1.6, 88 in 1.7, 96 in 1.8
                 to 1.10, 104 in 1.11, 112 from 1.12
    8      1     mode (`Mode`): 0 = predicted phase, 1 = store_phase, 2 = low_band_phase (1.8 on),
                 3 = tonal_band_phase (1.11 on); older readers refuse an unknown mode
    9      1     bits: latent bits per value, 1..16 with coder 0; 0 with coders 1 and 2
    10     1     phase_bits: 0 in mode 0, 1..16 in modes 1 and 2, 1..8 in mode 3
    11     1     coder (`Coder`): 0 fixed-width, 1 range-coded (1.1 on), 2 context tables (1.3 on)
    12     4     sample_rate of the audio (Hz), 1..768000
    16     2     channels of the audio, 1..64
    18     2     latent_channels
    20     2     latent_bins (frequency rows of the latent)
    22     2     n_bins (STFT bins, n_fft / 2 + 1)
    24     8     num_samples per channel, < 2**40 (framed: 0, see the last packet)
    32     4     n_frames: STFT frames at the model rate (framed: 0)
    36     4     latent_steps: latent time steps (framed: 0)
    40     8     model_id (see docs/FORMAT.md)
    48     8     payload_len (framed: 0)
    -- from 1.2 on:
    56     1     layout (`Layout`): 0 = whole, 1 = framed; from 1.4 on, bits 0-3 only, and bits 4-7 stereo
                 (`Stereo`): 0 = channels independent, 1 = mid/side (2 channels), which older readers refuse
    57     1     time_stride: STFT frames per latent step, 1..64 (framed; 0 in the whole layout)
    58     2     packet_steps: latent steps per packet, 1..65535 (framed; 0 in the whole layout)
    60     4     CRC-32 (zlib) of bytes 0..59
    -- from 1.5 on, each minor appends a u32 and the CRC-32 (zlib) of its 4 bytes; the decoder drops both:
    64     4+4   pre_skip (1.5): model-rate samples of lead-in at the coded signal's start, 0..65536
    72     4+4   post_skip (1.6): model-rate samples of lead-out at its end, 0..65536
    80     4+4   gain_smoothing (1.7): half-width in latent steps of the decoder's log-gain average, 0..2
    88     4+4   phase_bins (1.8): the coded STFT bins of modes 2 and 3, [0, phase_bins), 1..n_bins; else 0
    -- 1.9 appends nothing: it allows mode 2 with a causal model (`Model.check_compatible` refuses it below)
    -- 1.10 appends nothing: the phase codes of modes 1 and 2 are dithered (`quantize.phase_dither`)
    96     4+4   phase_stride (1.11): mode 3's STFT frames from one anchor to the next, 2..64; else 0
    104    4+4   track_frames (1.12): STFT frames a block of sinusoidal tracks (`tracks.py`), 1..64; 0: none

Whole layout: payload_len bytes of channel sections (`section.py`), then the CRC-32 of every byte before
it. A channel section: float32 gain (1/64..64), then coder 0: latent_channels float32 scales and the
bit-packed codes (`quantize.py`); coders 1 and 2: uint32 coded_len (a multiple of 4) and the range-coded
symbols (`entropy.py`), at most MAX_VALUES_PER_BYTE latent values per coded byte; modes 1 and 2 add the
bit-packed phase (all n_bins rows, or the phase_bins lowest); mode 3 its tonal band (`tonal.py`), whose
size its flags give; with track_frames > 0 its track field (`tracks.py`), whose size its bits give.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import asdict, dataclass, fields
from typing import Any

from .config import MAX_CHANNELS, MAX_SAMPLE_RATE, MAX_SAMPLES, Coder, Layout, Mode, Stereo
from .errors import ChecksumError, FormatError, TruncatedError, UnsupportedVersionError
from .quantize import packed_size
from .resample import model_length
from .tonal import MAX_BITS as MAX_TONAL_BITS
from .tonal import MAX_STRIDE, interval_range
from .tonal import size as band_size
from .tracks import MAX_TRACK_FRAMES, block_range, max_field_size, min_field_size

MAGIC = b"CRTB"
MAJOR, MINOR = 1, 12
PHASE_DITHER_MINOR = 10  # stored phase codes are dithered from this minor on (FORMAT.md 4.3)
MINOR_WHOLE = 1  # whole-layout blobs without a lead-in: 1.1, so every 1.x reader reads them (coder 2: 1.3)
# Range coding can squeeze near-certain symbols below a bit (digital silence most of all); this bound leaves
# room for that while capping what a forged header can make a decoder allocate and compute.
MAX_VALUES_PER_BYTE = 1 << 10  # far above what real blobs reach (docs/MEASURED.md)
# A range-coded value costs at most 24 bits (the finest table precision), plus the coder's final words.
_MAX_CODED_BYTES_PER_VALUE = 3
_CODED_SLACK = 64
_HEADER = struct.Struct("<4sBBHBBBBIHHHHQII8sQ")
HEADER_SIZE = _HEADER.size  # 56: the header of formats 1.0 and 1.1
_EXTENSION = struct.Struct("<BBH")  # 1.2: layout, time_stride, packet_steps; then the header's CRC-32
HEADER_SIZE_1_2 = HEADER_SIZE + _EXTENSION.size + 4  # 64
# From 1.5 on, each minor appends one u32 field and the CRC-32 of its 4 bytes: (minor, field, its maximum).
_APPENDED = ((5, "pre_skip", 1 << 16), (6, "post_skip", 1 << 16), (7, "gain_smoothing", 2), (8, "phase_bins", 0xFFFF),
             (11, "phase_stride", MAX_STRIDE), (12, "track_frames", MAX_TRACK_FRAMES))
TONAL_MINOR = 11  # mode tonal_band_phase and its phase_stride
TRACKS_MINOR = 12  # sinusoidal tracks (`tracks.py`) and their track_frames
PACKET_LEN = struct.Struct("<I")  # framed layout: each packet's body_len
LAST_TOTALS = struct.Struct("<QII")  # the last packet's num_samples, n_frames, latent_steps
FLAG_LAST = 1
FLAG_BAND = 2  # mode 3 (1.11): the packet's sections hold their tonal bands
FLAG_TRACKS = 4  # 1.12, track_frames > 0: the packet's sections hold their track fields


@dataclass(frozen=True)
class BlobHeader:
    """Everything a decoder needs besides the model. `model_id` is 16 hex digits.

    In the framed layout `num_samples`, `n_frames` and `latent_steps` are 0 in the header bytes (a stream
    does not know its length when it starts); `packets.PacketReader` fills them in from the last packet.
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
    latent_steps: int
    model_id: str
    coder: int = Coder.FIXED
    minor: int = MINOR_WHOLE
    layout: int = Layout.WHOLE
    stereo: int = Stereo.INDEPENDENT  # 1.4 on
    time_stride: int = 0  # framed: STFT frames per latent step
    packet_steps: int = 0  # framed: latent steps per packet
    pre_skip: int = 0  # 1.5 on: model-rate samples of lead-in the decoder drops
    post_skip: int = 0  # 1.6 on: model-rate samples of lead-out the decoder drops
    gain_smoothing: int = 0  # 1.7 on: the decoder averages the log-gain over this many steps either side
    phase_bins: int = 0  # 1.8 on, modes low_band_phase and tonal_band_phase: bins [0, phase_bins)
    phase_stride: int = 0  # 1.11 on, mode tonal_band_phase: frames from one anchor to the next
    track_frames: int = 0  # 1.12 on: STFT frames a block of sinusoidal tracks (`tracks.py`); 0: no tracks

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
        return Mode(self.mode).name.lower()

    @property
    def coder_name(self) -> str:
        return Coder(self.coder).name.lower()

    @property
    def layout_name(self) -> str:
        return Layout(self.layout).name.lower()

    @staticmethod
    def whole_minor(coder: int, stereo: int = Stereo.INDEPENDENT) -> int:
        """The minor version a whole-layout blob of `coder` without a lead-in (a causal model's) is written
        as: the oldest that reads it."""
        return 4 if stereo else 3 if coder == Coder.CONTEXT else MINOR_WHOLE

    @property
    def framed(self) -> bool:
        return self.layout == Layout.FRAMED

    @property
    def header_size(self) -> int:
        return _least_header_size(self.minor)

    def coded_length(self, model_rate: int) -> int:
        """Samples of the coded signal at `model_rate` Hz: the lead-in, the audio, then the lead-out
        (FORMAT.md 4.6)."""
        return self.pre_skip + model_length(self.num_samples, self.sample_rate, model_rate) + self.post_skip

    def lead_out_samples(self, model_rate: int) -> int:
        """The lead-out's samples at the blob's rate (the encoder's input rate; FORMAT.md 7.1)."""
        return self.post_skip * self.sample_rate // model_rate

    def lead_in_samples(self, model_rate: int) -> int:
        """The lead-in's samples at the blob's rate, which the decoder drops (FORMAT.md 6.7)."""
        return self.pre_skip * self.sample_rate // model_rate

    @property
    def latent_values(self) -> int:
        """Latent values per audio channel (whole layout)."""
        return self.latent_channels * self.latent_bins * self.latent_steps

    @property
    def phase_rows(self) -> int:
        """STFT bins whose phase a channel section holds: n_bins in mode 1, phase_bins in mode 2, else 0."""
        if self.mode == Mode.STORE_PHASE:
            return self.n_bins
        return self.phase_bins if self.mode == Mode.LOW_BAND_PHASE else 0

    @property
    def phase_dithered(self) -> bool:
        """Whether the phase codes are dithered (`quantize.phase_dither`): from format 1.10 on."""
        return self.minor >= PHASE_DITHER_MINOR

    @property
    def band_rows(self) -> int:
        """STFT bins of mode tonal_band_phase's band (`tonal.py`), else 0."""
        return self.phase_bins if self.mode == Mode.TONAL_BAND_PHASE else 0

    def band_size(self, n_frames: int, first_frame: int = 0) -> tuple[int, int]:
        """The least and most bytes of one channel's tonal band over frames `[first_frame, first_frame +
        n_frames)` (0, 0 outside mode tonal_band_phase): its flags alone, or every interval held."""
        if not self.band_rows:
            return 0, 0
        m = len(interval_range(first_frame, n_frames, self.phase_stride))
        return packed_size(m, 1), band_size(m, None, self.band_rows, self.phase_bits)

    def phase_size(self, n_frames: int | None = None) -> int:
        """Bytes of one channel's phase codes over `n_frames` STFT frames (default: the header's)."""
        n = self.n_frames if n_frames is None else n_frames
        return packed_size(self.phase_rows * n, self.phase_bits) if self.phase_rows else 0

    def section_size(self, steps: int, n_frames: int) -> int:
        """Bytes of one channel's section over `steps` latent steps and `n_frames` STFT frames, coder 0."""
        n = 4 + 4 * self.latent_channels + packed_size(self.latent_channels * self.latent_bins * steps, self.bits)
        return n + self.phase_size(n_frames)

    def channel_section_size(self) -> int:
        """Bytes of one channel's section with coder 0, whole layout, without a tonal band (range-coded: it
        depends on the data)."""
        return self.section_size(self.latent_steps, self.n_frames)

    def payload_size(self) -> int:
        return self.channels * self.channel_section_size()

    def payload_fits(self, payload_len: int) -> bool:
        """Whether a whole-layout payload of `payload_len` bytes can hold the header's sections: exactly
        their size with coder 0 (within the tonal band's least and most), at least 8 bytes and the phase a
        section with coders 1 and 2."""
        lo, hi = self.band_size(self.n_frames)
        if self.track_frames:  # a track field: its alive count and a bit a block, up to every field full
            m = len(block_range(0, self.n_frames, self.track_frames))
            lo, hi = lo + min_field_size(m), hi + max_field_size(m)
        if self.coder == Coder.FIXED:
            return self.channels * lo <= payload_len - self.payload_size() <= self.channels * hi
        return payload_len >= self.channels * (8 + self.phase_size() + lo)

    def max_packet_body(self) -> int:
        """The largest packet body this (framed) header allows: longer packet lengths are refused unread.
        Coder 0: 1 + 16 + channels * section_size(packet_steps, packet_steps * time_stride); coders 1, 2:
        1 + 16 + channels * (8 + 3 * values + 64 + phase_size), values = latent_channels * latent_bins *
        packet_steps (24 bits per value at most, plus the range coder's final words)."""
        steps, frames = self.packet_steps, self.packet_steps * self.time_stride
        if self.coder == Coder.FIXED:
            section = self.section_size(steps, frames)
        else:
            values = self.latent_channels * self.latent_bins * steps
            section = 8 + _MAX_CODED_BYTES_PER_VALUE * values + _CODED_SLACK + self.phase_size(frames)
        # a packet's band: at most one interval more than its frames span, wherever the first one starts
        band = self.band_size(frames + self.phase_stride)[1] if self.band_rows else 0
        tracks = max_field_size(frames // self.track_frames + 1) if self.track_frames else 0
        return 1 + LAST_TOTALS.size + self.channels * (section + band + tracks)

    def validate(self) -> None:
        """Field-by-field checks; raises FormatError naming the first bad field."""
        def bad(msg: str) -> FormatError:
            return FormatError(f"invalid blob header: {msg}")

        if self.mode not in tuple(Mode):
            raise bad(f"unknown mode {self.mode}")
        if self.coder not in tuple(Coder):
            raise bad(f"unknown coder {self.coder}")
        if self.minor == 0 and self.coder != Coder.FIXED:
            raise bad("format 1.0 has no coder field (reserved byte is not 0)")
        if self.minor < 3 and self.coder == Coder.CONTEXT:
            raise bad(f"format 1.{self.minor} has no coder 2")
        if self.layout not in tuple(Layout):
            raise bad(f"unknown layout {self.layout}")
        if self.minor < 2 and self.layout != Layout.WHOLE:
            raise bad(f"format 1.{self.minor} has no framed layout")
        if self.stereo not in tuple(Stereo):
            raise bad(f"unknown stereo coding {self.stereo}")
        if self.stereo and (self.minor < 4 or self.channels != 2):
            raise bad(f"mid/side stereo needs format 1.4 and 2 channels (format 1.{self.minor}, {self.channels})")
        for since, name, most in _APPENDED:
            value = getattr(self, name)
            if not 0 <= value <= most:
                raise bad(f"{name} {value} not in 0..{most}")
            if value and self.minor < since:
                raise bad(f"format 1.{self.minor} has no {name}")
        if self.coder == Coder.FIXED and not 1 <= self.bits <= 16:
            raise bad(f"bits {self.bits} not in 1..16")
        if self.coder != Coder.FIXED and self.bits != 0:
            raise bad("bits must be 0 with range coding")
        if self.mode != Mode.PREDICTED and not 1 <= self.phase_bits <= 16:
            raise bad(f"phase_bits {self.phase_bits} not in 1..16")
        if self.mode == Mode.LOW_BAND_PHASE and self.minor < 8:
            raise bad(f"format 1.{self.minor} has no mode low_band_phase")
        if self.mode == Mode.TONAL_BAND_PHASE and self.minor < TONAL_MINOR:
            raise bad(f"format 1.{self.minor} has no mode tonal_band_phase")
        banded = self.mode in (Mode.LOW_BAND_PHASE, Mode.TONAL_BAND_PHASE)
        if banded and not 1 <= self.phase_bins <= self.n_bins:
            raise bad(f"phase_bins {self.phase_bins} not in 1..n_bins ({self.n_bins})")
        if not banded and self.phase_bins:
            raise bad("phase_bins must be 0 outside modes low_band_phase and tonal_band_phase")
        if self.mode == Mode.TONAL_BAND_PHASE and not 1 <= self.phase_bits <= MAX_TONAL_BITS:
            raise bad(f"phase_bits {self.phase_bits} not in 1..{MAX_TONAL_BITS} in mode tonal_band_phase")
        if self.mode == Mode.TONAL_BAND_PHASE and not 2 <= self.phase_stride <= MAX_STRIDE:
            raise bad(f"phase_stride {self.phase_stride} not in 2..{MAX_STRIDE} in mode tonal_band_phase")
        if self.mode != Mode.TONAL_BAND_PHASE and self.phase_stride:
            raise bad("phase_stride must be 0 outside mode tonal_band_phase")
        if self.mode == Mode.PREDICTED and self.phase_bits != 0:
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
            if not 1 <= self.packet_steps <= 0xFFFF:
                raise bad(f"packet_steps {self.packet_steps} not in 1..65535")
            if self.n_frames < 0 or self.latent_steps < 0:
                raise bad("negative frame or step counts")
        else:
            if self.time_stride or self.packet_steps:
                raise bad("time_stride and packet_steps must be 0 in the whole layout")
            for name in ("n_frames", "latent_steps"):
                if getattr(self, name) < 1:
                    raise bad(f"{name} must be positive")
        if len(self.model_id) != 16 or any(c not in "0123456789abcdef" for c in self.model_id):
            raise bad(f"model_id {self.model_id!r} is not 16 lowercase hex digits")

    def pack(self, payload_len: int) -> bytes:
        """The header bytes. Framed headers store 0 for the lengths (they are in the last packet)."""
        totals = (0, 0, 0) if self.framed else (self.num_samples, self.n_frames, self.latent_steps)
        if self.framed:
            payload_len = 0
        head = _HEADER.pack(
            MAGIC, MAJOR, self.minor, self.header_size, self.mode, self.bits, self.phase_bits, self.coder,
            self.sample_rate, self.channels, self.latent_channels, self.latent_bins, self.n_bins,
            *totals, bytes.fromhex(self.model_id), payload_len,
        )
        if self.minor < 2:
            return head
        head += _EXTENSION.pack(self.layout | self.stereo << 4, self.time_stride, self.packet_steps)
        head += struct.pack("<I", zlib.crc32(head))
        for _, name, _ in _APPENDED[: _appended_in(self.minor)]:
            ext = struct.pack("<I", getattr(self, name))
            head += ext + struct.pack("<I", zlib.crc32(ext))
        return head


def _appended_in(minor: int) -> int:
    """How many of the u32 fields of 1.5 on (`_APPENDED`) a header of `minor` has."""
    return sum(minor >= since for since, _, _ in _APPENDED)


def _least_header_size(minor: int) -> int:
    """The bytes of the fields a header of `minor` has: 56 (1.0, 1.1), 64 (1.2 to 1.4), then 8 more a minor.
    Writers write exactly this; readers accept more (reserved for later minors), but 1.0 exactly 56."""
    return HEADER_SIZE if minor < 2 else HEADER_SIZE_1_2 + 8 * _appended_in(minor)


def write(header: BlobHeader, payload: bytes) -> bytes:
    """Whole layout: header + payload + CRC32. Raises FormatError if the payload does not match the header."""
    header.validate()
    if header.framed:
        raise FormatError("write() makes whole-layout blobs; packets are written with packets.write_packet()")
    if header.coder == Coder.FIXED and not header.payload_fits(len(payload)):
        raise FormatError(f"payload has {len(payload)} bytes, header implies {header.payload_size()}")
    body = header.pack(len(payload)) + payload
    return body + struct.pack("<I", zlib.crc32(body))


def unpack_header(data: bytes) -> tuple[BlobHeader, int, int]:
    """Check the header at the start of `data` -> (header, header_size, payload_len); TruncatedError if
    `data` ends inside it. Does not look past the header."""
    if len(data) < 8:
        raise TruncatedError(f"blob is {len(data)} bytes, shorter than its preamble")
    if data[:4] != MAGIC:
        raise FormatError(f"not a codec-rt blob (magic {bytes(data[:4])!r}, expected {MAGIC!r})")
    major, minor, header_size = struct.unpack_from("<BBH", data, 4)
    if major != MAJOR:
        raise UnsupportedVersionError(f"blob format {major}.{minor}; this runtime reads {MAJOR}.x")
    if (minor == 0 and header_size != HEADER_SIZE) or header_size < _least_header_size(minor):
        raise FormatError(f"header_size {header_size} invalid for format {major}.{minor}")
    layout, stereo, time_stride, packet_steps = 0, 0, 0, 0
    appended = {name: 0 for _, name, _ in _APPENDED}
    if minor >= 2:
        if len(data) < HEADER_SIZE_1_2:
            raise TruncatedError(f"blob is {len(data)} bytes, its header alone needs {header_size}")
        (crc,) = struct.unpack_from("<I", data, HEADER_SIZE + _EXTENSION.size)
        if zlib.crc32(bytes(data[: HEADER_SIZE + _EXTENSION.size])) != crc:
            raise ChecksumError("blob header checksum mismatch: the file is corrupt")
        layout, time_stride, packet_steps = _EXTENSION.unpack_from(data, HEADER_SIZE)
    if minor >= 4:  # the byte's high nibble; older readers see an unknown layout in a mid/side blob
        stereo, layout = layout >> 4, layout & 15
    for i, (_, name, _) in enumerate(_APPENDED[: _appended_in(minor)]):
        at = HEADER_SIZE_1_2 + 8 * i
        if len(data) < at + 8:
            raise TruncatedError(f"blob is {len(data)} bytes, its header alone needs {header_size}")
        (value, crc) = struct.unpack_from("<II", data, at)
        if zlib.crc32(bytes(data[at : at + 4])) != crc:
            raise ChecksumError(f"blob header checksum ({name}) mismatch: the file is corrupt")
        appended[name] = value
    framed = layout == Layout.FRAMED
    if len(data) < header_size:
        raise TruncatedError(f"blob is {len(data)} bytes, its header alone needs {header_size}")
    f = _HEADER.unpack_from(data, 0)
    header = BlobHeader(
        mode=f[4], bits=f[5], phase_bits=f[6], sample_rate=f[8], channels=f[9], latent_channels=f[10],
        latent_bins=f[11], n_bins=f[12], num_samples=f[13], n_frames=f[14], latent_steps=f[15],
        model_id=f[16].hex(), coder=f[7], minor=minor, layout=layout, stereo=stereo, time_stride=time_stride,
        packet_steps=packet_steps, **appended,
    )
    header.validate()
    payload_len = f[17]
    if framed:
        if header.num_samples or header.n_frames or header.latent_steps or payload_len:
            raise FormatError("invalid blob header: a framed blob keeps num_samples, n_frames, latent_steps "
                              "and payload_len 0 (its last packet holds them)")
        return header, header_size, 0
    # Compare lengths before anything is allocated from them.
    if header.coder == Coder.FIXED and not header.payload_fits(payload_len):
        raise FormatError(f"payload_len {payload_len} does not match the header ({header.payload_size()})")
    if header.coder != Coder.FIXED and not header.payload_fits(payload_len):
        raise FormatError(f"payload_len {payload_len} is too small for {header.channels} channel sections")
    return header, header_size, payload_len


def read_header(data: bytes) -> tuple[BlobHeader, int]:
    """Parse and check the header of `data` -> (header, header_size). Does not check the CRC of a whole-layout
    blob (a framed blob's header has its own, which is checked).

    Whole layout: also checks the blob's length against the header. Framed layout: the header only (its
    lengths are 0 here); `packets.read_packets` or a `packets.PacketReader` reads the packets.
    """
    header, header_size, payload_len = unpack_header(data)
    if not header.framed:
        end = header_size + payload_len + 4
        if len(data) < end:
            raise TruncatedError(f"blob is {len(data)} bytes, its header says {end}")
        if len(data) > end:
            raise FormatError(f"{len(data) - end} unexpected bytes after the blob")
    return header, header_size
