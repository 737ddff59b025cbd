"""The reference codecs: Opus (opusenc/opusdec) and Codec2 (c2enc/c2dec), run as the Debian tools.

Each round trip takes mono 16 kHz float audio and returns the decoded audio at 16 kHz with the bytes it
cost. Opus's bitrate comes from the audio packets themselves, not the file size: the Ogg container, the
OpusHead and OpusTags header packets and the page overhead are not what a real-time link would send.
Parsing the pages here (rather than trusting `--bitrate`) also shows what `--hard-cbr` really produced.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf
import soxr

RATE = 16000
CODEC2_RATE = 8000  # Codec2 codes narrow-band speech only
OPUS_KBPS = (6, 8, 9, 10, 12, 16, 24)  # 6, 8, 10, 12: the rates issue 13 measures each point against
CODEC2_MODES = (3200, 1200)
OPUS_HEADER_PACKETS = 2  # OpusHead, OpusTags (RFC 7845 section 3)

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Coded:
    """One decoded clip: `audio` `[N] float32` at 16 kHz, `bytes` the payload a link would carry,
    `file_bytes` the whole output file (container included)."""

    audio: F32
    bytes: int
    file_bytes: int


# --- Ogg ---------------------------------------------------------------------------------------------


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return table


_CRC_TABLE = _crc_table()


def ogg_crc(data: bytes) -> int:
    """The Ogg page checksum: CRC-32, polynomial 0x04C11DB7, no reflection, initial value 0 (RFC 3533)."""
    crc = 0
    for b in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC_TABLE[((crc >> 24) ^ b) & 0xFF]
    return crc


_PAGE_HEADER = struct.Struct("<4sBBqIIIB")  # capture, version, flags, granule, serial, seqno, crc, segments


def ogg_packet_sizes(data: bytes) -> list[int]:
    """Sizes in bytes of the packets of a single-stream Ogg file, in order, from the pages' segment tables.

    A packet is the sum of consecutive lacing values up to the first one below 255; packets may span pages.
    Raises ValueError on a bad capture pattern, checksum, truncated page, several streams, or a packet left
    unfinished at the end of the stream."""
    sizes: list[int] = []
    pos, current, serial = 0, 0, None
    open_packet = False
    while pos < len(data):
        if len(data) - pos < _PAGE_HEADER.size:
            raise ValueError(f"truncated Ogg page header at byte {pos}")
        capture, version, _flags, _granule, ser, _seq, crc, n_seg = _PAGE_HEADER.unpack_from(data, pos)
        if capture != b"OggS" or version != 0:
            raise ValueError(f"no Ogg page at byte {pos}")
        if serial is None:
            serial = ser
        elif ser != serial:
            raise ValueError("several logical Ogg streams; only single-stream files are accounted")
        lacing = data[pos + _PAGE_HEADER.size : pos + _PAGE_HEADER.size + n_seg]
        end = pos + _PAGE_HEADER.size + n_seg + sum(lacing)
        if len(lacing) < n_seg or end > len(data):
            raise ValueError(f"truncated Ogg page at byte {pos}")
        page = bytearray(data[pos:end])
        page[22:26] = b"\0\0\0\0"  # the checksum is computed with its own field zeroed
        if ogg_crc(bytes(page)) != crc:
            raise ValueError(f"Ogg page checksum mismatch at byte {pos}")
        for lace in lacing:
            current += lace
            open_packet = lace == 255
            if not open_packet:
                sizes.append(current)
                current = 0
        pos = end
    if open_packet:
        raise ValueError("the last Ogg packet is unfinished")
    return sizes


def ogg_page(payload_packets: list[bytes], serial: int, seqno: int, granule: int, flags: int = 0) -> bytes:
    """One Ogg page holding whole packets (each laced as 255s plus a final value below 255). For tests
    and for documenting the layout `ogg_packet_sizes` reads."""
    lacing = bytearray()
    for p in payload_packets:
        lacing += b"\xff" * (len(p) // 255) + bytes([len(p) % 255])
    if len(lacing) > 255:
        raise ValueError("too many segments for one page")
    header = _PAGE_HEADER.pack(b"OggS", 0, flags, granule, serial, seqno, 0, len(lacing))
    page = bytearray(header + lacing + b"".join(payload_packets))
    page[22:26] = struct.pack("<I", ogg_crc(bytes(page)))
    return bytes(page)


def opus_audio_bytes(data: bytes) -> int:
    """Bytes of the Opus audio packets of an Ogg Opus file: every packet but the two header packets."""
    sizes = ogg_packet_sizes(data)
    if len(sizes) < OPUS_HEADER_PACKETS:
        raise ValueError("not an Ogg Opus stream: fewer than two packets")
    return sum(sizes[OPUS_HEADER_PACKETS:])


# --- round trips -------------------------------------------------------------------------------------


def have_opus() -> bool:
    return shutil.which("opusenc") is not None and shutil.which("opusdec") is not None


def have_codec2() -> bool:
    return shutil.which("c2enc") is not None and shutil.which("c2dec") is not None


def _fit(x: npt.ArrayLike, n: int) -> F32:
    """Cut or zero-pad to `n` samples: decoders emit whole frames, the scorer needs the input's length."""
    a = np.asarray(x, dtype=np.float32)
    return a[:n] if a.shape[0] >= n else np.pad(a, (0, n - a.shape[0]))


def _pcm16(x: F32) -> npt.NDArray[np.int16]:
    return np.round(np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int16)


def opus_round_trip(x: F32, kbps: float) -> Coded:
    """Opus at `kbps` with `--hard-cbr`; opusdec's output at 16 kHz is already time-aligned with the input."""
    with tempfile.TemporaryDirectory(prefix="rq_opus_") as tmp:
        t = Path(tmp)
        sf.write(t / "in.wav", _pcm16(x), RATE, subtype="PCM_16")
        subprocess.run(
            ["opusenc", "--quiet", "--bitrate", f"{kbps:g}", "--hard-cbr", str(t / "in.wav"), str(t / "o.opus")],
            check=True,
        )
        subprocess.run(["opusdec", "--quiet", "--rate", str(RATE), str(t / "o.opus"), str(t / "d.wav")], check=True)
        data = (t / "o.opus").read_bytes()
        y, sr = sf.read(t / "d.wav", dtype="float32", always_2d=True)
    if sr != RATE:
        raise RuntimeError(f"opusdec wrote {sr} Hz, asked for {RATE}")
    return Coded(_fit(y.mean(axis=1), x.shape[0]), opus_audio_bytes(data), len(data))


def codec2_round_trip(x: F32, mode: int) -> Coded:
    """Codec2 `mode` (bits/s): 16 kHz -> 8 kHz s16 raw (soxr) -> c2enc -> c2dec -> 16 kHz. The .bit file is
    headerless, so its size is the payload."""
    x8 = np.asarray(soxr.resample(x, RATE, CODEC2_RATE, quality="HQ"), dtype=np.float32)
    with tempfile.TemporaryDirectory(prefix="rq_c2_") as tmp:
        t = Path(tmp)
        _pcm16(x8).tofile(t / "in.raw")
        subprocess.run(["c2enc", str(mode), str(t / "in.raw"), str(t / "o.bit")], check=True, capture_output=True)
        subprocess.run(["c2dec", str(mode), str(t / "o.bit"), str(t / "d.raw")], check=True, capture_output=True)
        n_bytes = (t / "o.bit").stat().st_size
        y8 = np.fromfile(t / "d.raw", dtype=np.int16).astype(np.float32) / 32768.0
    y = np.asarray(soxr.resample(y8, CODEC2_RATE, RATE, quality="HQ"), dtype=np.float32)
    return Coded(_fit(y, x.shape[0]), n_bytes, n_bytes)


def _first_line(cmd: list[str]) -> str:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unavailable"
    lines = (r.stdout or r.stderr).strip().splitlines()
    return lines[0] if lines else "unknown"


def tool_versions() -> dict[str, str]:
    """Versions of the external tools, for the results file (Debian package versions where dpkg knows)."""
    out: dict[str, str] = {}
    if have_opus():
        out["opusenc"] = _first_line(["opusenc", "--version"])
    if have_codec2() and shutil.which("dpkg-query"):
        out["codec2"] = _first_line(["dpkg-query", "-W", "-f=${Version}\n", "codec2"])
    return out
