"""A blob's channel sections (docs/FORMAT.md 4.3): one audio channel's share of the payload or of one
packet, the same in both layouts: its gain, the latent (fixed-width codes and scales, or range-coded
symbols) and, in modes store_phase and low_band_phase, the bit-packed phase codes; in mode
tonal_band_phase its tonal band (`tonal.py`). Strict: every length is checked against what is left before
it is read."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .blob import MAX_VALUES_PER_BYTE, BlobHeader
from .config import Coder
from .errors import FormatError
from .level import MAX_GAIN, MIN_GAIN
from .quantize import pack, packed_size, unpack
from .tonal import Band, from_bytes, interval_range, to_bytes
from .tracks import Block, block_range
from .tracks import from_bytes as tracks_from_bytes
from .tracks import to_bytes as tracks_to_bytes


@dataclass(frozen=True)
class ChannelData:
    """One audio channel's share of the payload (or of one packet), unpacked."""

    gain: float
    scales: npt.NDArray[np.float32]  # [latent_channels] with coder 0; empty with coders 1 and 2
    codes: npt.NDArray[np.uint16] | None  # [latent_channels, latent_bins, steps] with coder 0
    phase_codes: npt.NDArray[np.uint16] | None  # [phase_rows, STFT frames] in modes 1 and 2
    coded: bytes = b""  # coders 1 and 2: the range-coded latent symbols (decoded with the model's tables)
    band: Band | None = None  # mode 3: the tonal band
    tracks: tuple[int, list[Block]] | None = None  # 1.12: the tracks alive at its first block, and its blocks


def parse_sections(data: bytes, pos: int, end: int, header: BlobHeader, steps: int, n_frames: int,
                   first_frame: int = 0, band: bool = True, tracks: bool = True) -> list[ChannelData]:
    """Parse the channel sections in `data[pos:end]`, each over `steps` latent steps and `n_frames` STFT
    frames from the stream's frame `first_frame` on, in mode tonal_band_phase with their bands where `band`
    and with track_frames > 0 their track fields where `tracks` (the whole layout's always; a packet's
    where its flags say); they must fill it exactly."""
    out: list[ChannelData] = []
    n_latent = header.latent_channels * header.latent_bins * steps
    # the tonal band's least bytes (its flags) are known; its rest is checked once they are read
    phase_size = header.phase_size(n_frames) + (header.band_size(n_frames, first_frame)[0] if band else 0)
    for _ in range(header.channels):
        if pos + 8 > end:  # range-coded sections have data-dependent sizes
            raise FormatError("the payload ends inside a channel section")
        gain = float(np.frombuffer(data, "<f4", 1, pos)[0])
        pos += 4
        codes, coded = None, b""
        if header.coder == Coder.FIXED:
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
        if header.phase_rows:
            n_phase = header.phase_rows * n_frames
            phase = unpack(bytes(data[pos : pos + phase_size]), n_phase, header.phase_bits)
            phase = phase.reshape(header.phase_rows, n_frames)
            pos += phase_size
        tonal = None
        if header.band_rows and band:
            m = len(interval_range(first_frame, n_frames, header.phase_stride))
            tonal, pos = from_bytes(data, pos, end, m, header.band_rows, header.phase_bits)
        held = None
        if header.track_frames and tracks:
            m = len(block_range(first_frame, n_frames, header.track_frames))
            alive, blocks, pos = tracks_from_bytes(data, pos, end, m)
            held = (alive, blocks)
        out.append(ChannelData(gain, scales, codes, phase, coded, tonal, held))
    if pos != end:
        raise FormatError(f"channel sections end at byte {pos}, the payload at {end}")
    return out


def channel_section(data: ChannelData, header: BlobHeader) -> bytes:
    """Serialize one channel's section (the inverse of what `read` does for it)."""
    parts = [struct.pack("<f", data.gain)]
    if header.coder == Coder.FIXED:
        if data.codes is None:
            raise FormatError("fixed-width blob without latent codes")
        parts += [np.asarray(data.scales, "<f4").tobytes(), pack(data.codes, header.bits)]
    else:
        if len(data.coded) % 4:
            raise FormatError("range-coded section must be whole 32-bit words")
        parts += [struct.pack("<I", len(data.coded)), data.coded]
    if header.phase_rows:
        if data.phase_codes is None or data.phase_codes.shape[0] != header.phase_rows:
            raise FormatError(f"{header.mode_name} blob without phase codes of its {header.phase_rows} bins")
        parts.append(pack(data.phase_codes, header.phase_bits))
    if header.band_rows and data.band is not None:  # (a packet without one says so in its flags)
        if data.band.anchors.shape[1] != header.band_rows:
            raise FormatError(f"tonal_band_phase blob with a band of other than its {header.band_rows} bins")
        parts.append(to_bytes(data.band, header.phase_bits))
    if header.track_frames and data.tracks is not None:  # (a packet without them says so in its flags)
        parts.append(tracks_to_bytes(data.tracks[1]))
    return b"".join(parts)
