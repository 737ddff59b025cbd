"""Section 4 of docs/FORMAT.md: the header, the channel sections, the whole and the framed layouts, with
the checks in the order of 4.2 and the lengths of 4.6."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from .model import Model


class SpecError(Exception):
    """The blob breaks a rule of docs/FORMAT.md; `kind` is the error class the spec names."""

    def __init__(self, kind: str, msg: str) -> None:
        super().__init__(f"{kind}: {msg}")
        self.kind = kind


HEADER = struct.Struct("<4sBBHBBBBIHHHHQII8sQ")  # 4.1, offsets 0..55
NAMES = ("magic", "major", "minor", "header_size", "mode", "bits", "phase_bits", "coder", "sample_rate",
         "channels", "latent_channels", "latent_bins", "n_bins", "num_samples", "n_frames", "latent_steps",
         "model_id", "payload_len")


@dataclass
class Section:
    gain: float
    scales: np.ndarray | None = None
    codes: np.ndarray | None = None
    coded: bytes = b""
    phase: np.ndarray | None = None
    band: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None  # 4.8: flags, edges, anchors, cycles
    # 4.9: (alive, blocks); a block is (ends, steps, births): ends [bool] per alive track, steps [(da, dp)] per
    # track that goes on, births [(freq, start, amp)]
    tracks: tuple[int, list[tuple[list[bool], list[tuple[int, int]], list[tuple[int, int, int]]]]] | None = None


@dataclass
class Packet:
    steps: int
    frames: int
    sections: list[Section]


def unpack_bits(data: bytes, n: int, bits: int) -> np.ndarray:
    """4.7: n codes of `bits` bits, MSB first -> [n] int64."""
    if len(data) != -(-n * bits // 8):
        raise SpecError("FormatError", "packed field of the wrong length")
    b = np.unpackbits(np.frombuffer(data, np.uint8))[: n * bits].reshape(n, bits).astype(np.int64)
    return b @ (1 << np.arange(bits - 1, -1, -1))


def phase_rows(h: dict[str, Any]) -> int:
    """4.3: the bins whose phase a section holds: all in mode 1, the lowest phase_bins in mode 2."""
    return {1: h["n_bins"], 2: h["phase_bins"]}.get(h["mode"], 0)


def phase_size(h: dict[str, Any], frames: int) -> int:
    return -(-phase_rows(h) * frames * h["phase_bits"] // 8)


def intervals(h: dict[str, Any], f0: int, frames: int) -> range:
    """4.8: the tonal band's intervals that start in frames [f0, f0 + frames)."""
    k = h["phase_stride"]
    return range(-(-f0 // k), -(-(f0 + frames) // k))


def edge_bits(h: dict[str, Any]) -> int:
    return max(1, (h["phase_bins"] - 1).bit_length())


def band_max(h: dict[str, Any], m: int) -> int:
    """4.8: the most bytes a band of m intervals takes."""
    r, b = h["phase_bins"], h["phase_bits"]
    return -(-m // 8) + -(-m * edge_bits(h) // 8) + -(-(m + 1) * r * b // 8) + -(-m * r * 4 // 8)


def read_band(h: dict[str, Any], body: bytes, pos: int, m: int) -> tuple[tuple[np.ndarray, ...], int]:
    """4.8: the band of m intervals at body[pos:] -> ((flags, edges, anchors, cycles), the position after)."""
    r, b = h["phase_bins"], h["phase_bits"]
    fields = []
    n = -(-m // 8)
    if pos + n > len(body):
        raise SpecError("FormatError", "the section ends inside its band's flags")
    flags = unpack_bits(body[pos : pos + n], m, 1).astype(bool)
    pos += n
    held = int(flags.sum())
    starts = sum(1 for j in range(m) if flags[j] and (j == 0 or not flags[j - 1]))
    for count, bits in ((held, edge_bits(h)), ((held + starts) * r, b), (held * r, 4)):
        n = -(-count * bits // 8)
        if pos + n > len(body):
            raise SpecError("FormatError", "the section ends inside its band")
        fields.append(unpack_bits(body[pos : pos + n], count, bits))
        pos += n
    edges, anchors, cycles = fields
    if held and edges.max() >= r:
        raise SpecError("FormatError", "a band's edge past phase_bins")
    return (flags, edges, anchors.reshape(-1, r), cycles.reshape(-1, r)), pos


def blocks(h: dict[str, Any], f0: int, frames: int) -> range:
    """4.9: the track blocks that start in frames [f0, f0 + frames)."""
    b = h["track_frames"]
    return range(-(-f0 // b), -(-(f0 + frames) // b))


def tracks_min(b: int) -> int:
    return -(-(5 + b) // 8)


def tracks_max(b: int) -> int:
    return -(-(5 + b * (2 + 16 * 10 + 4 + 16 * 31)) // 8)


class Bits:
    """4.9's bit string: fields MSB first, back to back, from byte `pos` of `data` up to byte `end`."""

    def __init__(self, data: bytes, pos: int, end: int) -> None:
        self.data, self.at, self.end = data, 8 * pos, 8 * end

    def read(self, n: int, signed: bool = False) -> int:
        if self.at + n > self.end:
            raise SpecError("FormatError", "the section ends inside its track field")
        v = 0
        for _ in range(n):
            v = 2 * v + (self.data[self.at // 8] >> (7 - self.at % 8) & 1)
            self.at += 1
        return v - (1 << n) if signed and v >= 1 << (n - 1) else v


def read_tracks(body: bytes, pos: int, end: int, m: int) -> tuple[tuple[int, list[Any]], int]:
    """4.9: a track field of m blocks at body[pos:end] -> ((alive, blocks), the byte after its padding)."""
    r = Bits(body, pos, end)
    alive = first = r.read(5)
    out = []
    for _ in range(m):
        if alive > 16:
            raise SpecError("FormatError", "more than 16 tracks")
        if not r.read(1):  # change 0: every track goes on with no step, none born
            out.append(([False] * alive, [(0, 0)] * alive, []))
            continue
        ends = [bool(r.read(1)) for _ in range(alive)]
        steps = [(r.read(4, True), r.read(4, True)) if r.read(1) else (0, 0) for _ in range(alive - sum(ends))]
        births = []
        if r.read(1):
            for _ in range(r.read(4) + 1):
                births.append((r.read(16), r.read(6), r.read(9)))
                if births[-1][0] == 0:
                    raise SpecError("FormatError", "a track's freq is 0")
        alive = alive - sum(ends) + len(births)
        out.append((ends, steps, births))
    if alive > 16:
        raise SpecError("FormatError", "more than 16 tracks")
    return (first, out), -(-r.at // 8)


def section0(h: dict[str, Any], steps: int, frames: int) -> int:
    values = h["latent_channels"] * h["latent_bins"] * steps
    return 4 + 4 * h["latent_channels"] + -(-values * h["bits"] // 8) + phase_size(h, frames)


def read_sections(h: dict[str, Any], body: bytes, pos: int, steps: int, frames: int, f0: int = 0,
                  band: bool = True, tracks: bool = True) -> list[Section]:
    """4.3: the channel sections filling body[pos:], each over `steps` latent steps and `frames` frames from
    the stream's frame f0; in mode 3 with their bands where `band` (4.5's flag bit 1; whole: always)."""
    out, end = [], len(body)
    values = h["latent_channels"] * h["latent_bins"] * steps
    for _ in range(h["channels"]):
        if pos + 8 > end:
            raise SpecError("FormatError", "the payload ends inside a section")
        (gain,) = struct.unpack_from("<f", body, pos)
        sec, pos = Section(gain), pos + 4
        if h["coder"] == 0:
            size = -(-values * h["bits"] // 8)
            if pos + 4 * h["latent_channels"] + size + phase_size(h, frames) > end:
                raise SpecError("FormatError", "the payload ends inside a section")
            sec.scales = np.frombuffer(body, "<f4", h["latent_channels"], pos)
            pos += 4 * h["latent_channels"]
            sec.codes = unpack_bits(body[pos : pos + size], values, h["bits"]).reshape(
                h["latent_channels"], h["latent_bins"], steps)
            pos += size
            if not (np.all(np.isfinite(sec.scales)) and np.all(sec.scales >= 0)):
                raise SpecError("FormatError", "bad scale")
        else:
            (size,) = struct.unpack_from("<I", body, pos)
            pos += 4
            if size % 4 or pos + size + phase_size(h, frames) > end:
                raise SpecError("FormatError", "coded_len")
            if values > 1024 * max(size, 4):
                raise SpecError("FormatError", "too many values per coded byte")
            sec.coded, pos = body[pos : pos + size], pos + size
        if not 1 / 64 <= gain <= 64:
            raise SpecError("FormatError", "gain out of range")
        if h["mode"] in (1, 2):
            n = phase_size(h, frames)
            sec.phase = unpack_bits(body[pos : pos + n], phase_rows(h) * frames, h["phase_bits"]).reshape(
                phase_rows(h), frames)
            pos += n
        if h["mode"] == 3 and band:
            sec.band, pos = read_band(h, body[:end], pos, len(intervals(h, f0, frames)))
        if h["track_frames"] and tracks:
            sec.tracks, pos = read_tracks(body, pos, end, len(blocks(h, f0, frames)))
        out.append(sec)
    if pos != end:
        raise SpecError("FormatError", "the sections do not fill the payload")
    return out


# 4.1: from 1.5 on each minor appends a u32 field and the CRC-32 of its 4 bytes: (minor, offset, name).
APPENDED = ((5, 64, "pre_skip"), (6, 72, "post_skip"), (7, 80, "gain_smoothing"), (8, 88, "phase_bins"),
            (11, 96, "phase_stride"), (12, 104, "track_frames"))


def read_blob(data: bytes) -> tuple[dict[str, Any], list[Packet]]:
    """Sections 4.1-4.5, checks in the order of 4.2."""
    if len(data) < 8:
        raise SpecError("TruncatedError", "no preamble")
    if data[:4] != b"CRTB":
        raise SpecError("FormatError", "magic")
    major, minor, header_size = struct.unpack_from("<BBH", data, 4)
    if major != 1:
        raise SpecError("UnsupportedVersionError", f"major {major}")
    if (header_size < 56 or (minor == 0 and header_size != 56) or (minor >= 2 and header_size < 64)
            or any(minor >= since and header_size < at + 8 for since, at, _ in APPENDED)):
        raise SpecError("FormatError", "header_size")
    layout, stride, psteps = 0, 0, 0
    if minor >= 2:
        if len(data) < 64:
            raise SpecError("TruncatedError", "header")
        if zlib.crc32(data[:60]) != struct.unpack_from("<I", data, 60)[0]:
            raise SpecError("ChecksumError", "header CRC")
        layout, stride, psteps = struct.unpack_from("<BBH", data, 56)
    stereo = 0
    if minor >= 4:
        stereo, layout = layout >> 4, layout & 15
    appended = {name: 0 for _, _, name in APPENDED}
    for since, at, name in APPENDED:
        if minor >= since:
            if len(data) < at + 8:
                raise SpecError("TruncatedError", "header")
            if zlib.crc32(data[at : at + 4]) != struct.unpack_from("<I", data, at + 4)[0]:
                raise SpecError("ChecksumError", f"header CRC of {name}")
            (appended[name],) = struct.unpack_from("<I", data, at)
    if len(data) < header_size:
        raise SpecError("TruncatedError", "header")
    h: dict[str, Any] = dict(zip(NAMES, HEADER.unpack_from(data, 0), strict=True))
    h.update(layout=layout, stereo=stereo, time_stride=stride, packet_steps=psteps, model_id=h["model_id"].hex(),
             **appended)
    rules = [
        h["mode"] in (0, 1) or (h["mode"] == 2 and minor >= 8) or (h["mode"] == 3 and minor >= 11),
        h["coder"] in (0, 1, 2),
        minor >= 1 or h["coder"] == 0, minor >= 3 or h["coder"] != 2,
        layout in (0, 1), stereo in (0, 1), stereo == 0 or h["channels"] == 2,
        1 <= h["bits"] <= 16 if h["coder"] == 0 else h["bits"] == 0,
        1 <= h["phase_bits"] <= (8 if h["mode"] == 3 else 16) if h["mode"] else h["phase_bits"] == 0,
        1 <= h["phase_bins"] <= h["n_bins"] if h["mode"] in (2, 3) else h["phase_bins"] == 0,
        2 <= h["phase_stride"] <= 64 if h["mode"] == 3 else h["phase_stride"] == 0,
        1 <= h["sample_rate"] <= 768000, 1 <= h["channels"] <= 64, h["num_samples"] < 1 << 40,
        min(h["latent_channels"], h["latent_bins"], h["n_bins"]) >= 1,
        (1 <= stride <= 64 and 1 <= psteps <= 65535) if layout else (stride == psteps == 0),
        layout == 1 or min(h["n_frames"], h["latent_steps"]) >= 1,
        h["pre_skip"] <= 65536, h["post_skip"] <= 65536, h["gain_smoothing"] <= 2, h["track_frames"] <= 64,
    ]
    if not all(rules):
        raise SpecError("FormatError", f"header field rule {rules.index(False)}")
    if layout == 1:
        if h["num_samples"] or h["n_frames"] or h["latent_steps"] or h["payload_len"]:
            raise SpecError("FormatError", "a framed header's lengths are 0")
        return h, read_packets(h, data, header_size)
    plen = h["payload_len"]
    m = len(intervals(h, 0, h["n_frames"])) if h["mode"] == 3 else 0
    band = plen - h["channels"] * section0(h, h["latent_steps"], h["n_frames"])
    lo, hi = (-(-m // 8), band_max(h, m)) if h["mode"] == 3 else (0, 0)
    if h["track_frames"]:
        b = len(blocks(h, 0, h["n_frames"]))
        lo, hi = lo + tracks_min(b), hi + tracks_max(b)
    if h["coder"] == 0 and not h["channels"] * lo <= band <= h["channels"] * hi:
        raise SpecError("FormatError", "payload_len")
    if h["coder"] != 0 and plen < h["channels"] * (8 + phase_size(h, h["n_frames"]) + lo):
        raise SpecError("FormatError", "payload_len")
    end = header_size + plen
    if len(data) != end + 4:
        raise SpecError("TruncatedError" if len(data) < end + 4 else "FormatError", "blob length")
    if zlib.crc32(data[:end]) != struct.unpack_from("<I", data, end)[0]:
        raise SpecError("ChecksumError", "blob CRC")
    secs = read_sections(h, data[header_size:end], 0, h["latent_steps"], h["n_frames"])
    return h, [Packet(h["latent_steps"], h["n_frames"], secs)]


def max_packet_body(h: dict[str, Any]) -> int:
    """4.5."""
    p, s = h["packet_steps"], h["time_stride"]
    if h["coder"] == 0:
        section = section0(h, p, p * s)
    else:
        section = 8 + 3 * h["latent_channels"] * h["latent_bins"] * p + 64 + phase_size(h, p * s)
    if h["mode"] == 3:
        section += band_max(h, -(-(p * s + h["phase_stride"]) // h["phase_stride"]))
    if h["track_frames"]:
        section += tracks_max(p * s // h["track_frames"] + 1)
    return 1 + 16 + h["channels"] * section


def read_packets(h: dict[str, Any], data: bytes, pos: int) -> list[Packet]:
    """4.5: packets up to the last; fills in the header's lengths from it."""
    p, s, limit = h["packet_steps"], h["time_stride"], max_packet_body(h)
    packets: list[Packet] = []
    while True:
        k = len(packets)
        if pos + 4 > len(data):
            raise SpecError("TruncatedError", f"cut before packet {k}")
        (body_len,) = struct.unpack_from("<I", data, pos)
        if not 1 <= body_len <= limit:
            raise SpecError("FormatError", f"packet {k} body_len {body_len}")
        if pos + 8 + body_len > len(data):
            raise SpecError("TruncatedError", f"cut inside packet {k}")
        body = data[pos + 4 : pos + 4 + body_len]
        crc = zlib.crc32(struct.pack("<I", k) + data[pos : pos + 4 + body_len])
        if crc != struct.unpack_from("<I", data, pos + 4 + body_len)[0]:
            raise SpecError("ChecksumError", f"packet {k}")
        pos += 8 + body_len
        if body[0] & ~(1 | (2 if h["mode"] == 3 else 0) | (4 if h["track_frames"] else 0)):
            raise SpecError("FormatError", "flags")
        band, tracks = bool(body[0] & 2), bool(body[0] & 4)
        if not body[0] & 1:
            packets.append(Packet(p, p * s, read_sections(h, body, 1, p, p * s, k * p * s, band, tracks)))
            continue
        if len(body) < 17:
            raise SpecError("FormatError", "last packet too short")
        num_samples, n_frames, steps = struct.unpack_from("<QII", body, 1)
        last_steps, last_frames = steps - k * p, n_frames - k * p * s
        if not (num_samples < 1 << 40 and n_frames >= 1 and steps == -(-n_frames // s)
                and 1 <= last_steps <= p and last_frames >= 1):
            raise SpecError("FormatError", "the last packet's lengths")
        packets.append(Packet(last_steps, last_frames, read_sections(h, body, 17, last_steps, last_frames, k * p * s,
                                                                    band, tracks)))
        if pos != len(data):
            raise SpecError("FormatError", "bytes after the last packet")
        h.update(num_samples=num_samples, n_frames=n_frames, latent_steps=steps)
        return packets


def check_against_model(h: dict[str, Any], m: Model) -> None:
    """4.2's model checks and 4.6's lengths."""
    assert h["model_id"] == m.model_id and h["coder"] == m.cfg["coder"]
    assert (h["latent_channels"], h["latent_bins"], h["n_bins"]) == (m.cfg["channels"], m.latent_bins, m.n_bins)
    assert h["layout"] == 0 or h["time_stride"] == m.stride
    if h["gain_smoothing"] and m.cfg["causal"]:
        raise SpecError("FormatError", "gain_smoothing with a causal model")
    if h["mode"] == 2 and m.cfg["causal"] and h["minor"] < 9:
        raise SpecError("FormatError", "mode 2 with a causal model below 1.9")
    if h["mode"] == 3 and m.cfg["causal"]:
        raise SpecError("FormatError", "mode 3 with a causal model")
    coded_len = h["pre_skip"] + -(-h["num_samples"] * m.cfg["sample_rate"] // h["sample_rate"]) + h["post_skip"]
    assert h["n_frames"] == coded_len // m.cfg["hop"] + 1
    assert h["latent_steps"] == -(-h["n_frames"] // m.stride)
