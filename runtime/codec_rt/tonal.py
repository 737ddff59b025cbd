"""Mode tonal_band_phase (format 1.11, FORMAT.md 4.8 and 6.3): the low band's phase where the sound is
steady, at one STFT frame in `stride`, the frames between on a straight phase path.

No magnitude can bring back two partials closer than a window's main lobe, nor a steady tone's pitch to a
few cents through a latent rounded to integers (docs/MEASURED.md): the phase can. Every frame's phase costs
more than a low point's whole latent; a steady partial's phase, though, runs on a straight line, so two
points of it and the whole turns between them carry it. The encoder sends them only where that line fits
the input, and only after three such intervals in a row: a tone or a chord, seldom a voice (on development
speech under 1 % of the intervals).

Interval i covers STFT frames `[i K, (i + 1) K]` (K = `stride`; it shares its ends, the *anchors*, with
the intervals beside it). A channel section over frames `[f0, f0 + n)` holds the intervals that start in
it, `f0 <= i K < f0 + n`, m of them:
- m flags, bit-packed at 1 bit (`quantize.pack`): interval held or not;
- for each held interval, its edge: it holds bins `[0, r)`, coded as `r - 1` at `edge_bits(rows)` bits,
  bit-packed together (the encoder puts it in a valley, so that no partial is half held);
- the anchor codes, each a vector of `rows` codes at `bits` bits, bit-packed together: for each held
  interval in order, its start anchor where it starts a run (it is the section's first, or the interval
  before it is not held), then its end anchor;
- the cycle codes, a vector of `rows` codes at CYCLE_BITS bits for each held interval, bit-packed together.

For bin k of a held interval with anchor codes `ca`, `cb` (L = 2**bits levels, `d = cb - ca`) and cycle
code `e`, its phase at frame `i K + j` (`0 <= j <= K`) is `-pi + 2 pi ((ca K + A j) mod L K) / (L K)`,
with `A = d + L (base + e - CYCLE_OFFSET)` and `base = floor((2 (k K hop L - d n_fft) + n_fft L) /
(2 n_fft L))`, the whole turns of a partial at the bin's centre, rounded: all in integers, so every
runtime finds the same path. An anchor frame two held intervals share holds the bins of the wider. Frames
and bins outside held intervals keep the predicted phase.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .errors import CodecError, FormatError
from .quantize import pack, packed_size, quantize_phase, unpack

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
U16 = npt.NDArray[np.uint16]

CYCLE_BITS = 4  # a held bin's turns, as an offset from its centre's: code CYCLE_OFFSET is 0, so -8..7
CYCLE_OFFSET = 8
MAX_BITS = 8  # anchor bits: the integers of the path stay exact in a double (JavaScript)
MAX_STRIDE = 64
# The encoder's choices (not the format's), measured on the fidelity suite and development speech
# (docs/MEASURED.md, "The tonal band"):
DEFAULT_HZ = 1000.0  # the band: bins up to 1 kHz (32 at 512 / 16 kHz), the first harmonics of a low voice
DEFAULT_BITS = 5
DEFAULT_STRIDE_S = 0.064  # 8 frames of 128 at 16 kHz
FIT_RADIANS = 0.15  # an interval fits where its path is this close to the input's phase, power-weighted
RUN = 3  # and is held after this many fitting intervals in a row (itself the last): steady, not a vowel


def default_stride(sample_rate: int, hop: int) -> int:
    """Frames between anchors by default: those nearest DEFAULT_STRIDE_S, 2..MAX_STRIDE."""
    return max(2, min(MAX_STRIDE, round(DEFAULT_STRIDE_S * sample_rate / hop)))


def check(rows: int, bits: int, stride: int, n_bins: int) -> None:
    """CodecError unless the band's rows, anchor bits and stride are what format 1.11 allows."""
    if not 1 <= rows <= n_bins:
        raise CodecError(f"phase_bins must be in 1..{n_bins} for this model, got {rows}")
    if not 1 <= bits <= MAX_BITS:
        raise CodecError(f"phase_bits must be in 1..{MAX_BITS} in mode tonal_band_phase, got {bits}")
    if not 2 <= stride <= MAX_STRIDE:
        raise CodecError(f"phase_stride must be in 2..{MAX_STRIDE}, got {stride}")


@dataclass(frozen=True)
class Band:
    """One channel section's tonal band, as coded: `flags [m] bool`, `edges [held] uint16` (r - 1),
    `anchors [a, rows] uint16` (bits each), `cycles [held, rows] uint16` (CYCLE_BITS each)."""

    flags: npt.NDArray[np.bool_]
    edges: U16
    anchors: U16
    cycles: U16


def edge_bits(rows: int) -> int:
    """Bits of a held interval's edge code: enough for `rows - 1`, at least 1."""
    return max(1, (rows - 1).bit_length())


def interval_range(first_frame: int, n_frames: int, stride: int) -> range:
    """The intervals that start in frames `[first_frame, first_frame + n_frames)`."""
    return range(-(-first_frame // stride), -(-(first_frame + n_frames) // stride))


def anchor_count(flags: npt.NDArray[np.bool_]) -> int:
    """Anchor vectors a section with these flags holds: an end for each held interval, and a start for
    each that starts a run."""
    f = np.asarray(flags, bool)
    starts = f & ~np.concatenate([[False], f[:-1]])
    return int(f.sum() + starts.sum())


def size(m: int, flags: npt.NDArray[np.bool_] | None, rows: int, bits: int) -> int:
    """Bytes of a section's band of m intervals (flags None: the most it can take, every one held)."""
    held = m if flags is None else int(np.count_nonzero(flags))
    anchors = (m + 1 if m else 0) if flags is None else anchor_count(flags)
    return (packed_size(m, 1) + packed_size(held, edge_bits(rows)) + packed_size(anchors * rows, bits)
            + packed_size(held * rows, CYCLE_BITS))


def to_bytes(band: Band, bits: int) -> bytes:
    """A section's band -> its bytes."""
    rows = band.anchors.shape[1]
    return b"".join([pack(band.flags.astype(np.uint16), 1), pack(band.edges, edge_bits(rows)), pack(band.anchors, bits),
                     pack(band.cycles, CYCLE_BITS)])


def from_bytes(data: bytes, pos: int, end: int, m: int, rows: int, bits: int) -> tuple[Band, int]:
    """The band of m intervals at `data[pos:end]` -> (Band, the position after it); FormatError where
    the data ends inside it."""
    n = packed_size(m, 1)
    if pos + n > end:
        raise FormatError("the payload ends inside a channel section's tonal band")
    flags = unpack(bytes(data[pos : pos + n]), m, 1).astype(bool)
    pos += n
    anchors, held = anchor_count(flags), int(np.count_nonzero(flags))
    ne, na = packed_size(held, edge_bits(rows)), packed_size(anchors * rows, bits)
    nc = packed_size(held * rows, CYCLE_BITS)
    if pos + ne + na + nc > end:
        raise FormatError("the payload ends inside a channel section's tonal band")
    e = unpack(bytes(data[pos : pos + ne]), held, edge_bits(rows))
    if held and int(e.max()) >= rows:
        raise FormatError(f"tonal band edge {int(e.max()) + 1} is past its {rows} bins")
    pos += ne
    a = unpack(bytes(data[pos : pos + na]), anchors * rows, bits).reshape(anchors, rows)
    c = unpack(bytes(data[pos + na : pos + na + nc]), held * rows, CYCLE_BITS).reshape(held, rows)
    return Band(flags, e, a, c), pos + na + nc


def check_ends(band: Band | None, first_frame: int, n_frames: int, stride: int, stream_frames: int) -> None:
    """FormatError where a section's band (over frames `[first_frame, first_frame + n_frames)`) holds an
    interval past the stream's last frame (of `stream_frames`): 4.8's rule, which a packet before a short
    last one can break too."""
    if band is None or not band.flags.any():
        return
    i = interval_range(first_frame, n_frames, stride)[int(np.flatnonzero(band.flags)[-1])]
    if (i + 1) * stride > stream_frames - 1:
        raise FormatError(f"tonal band interval {i} is held past the stream's last frame")


def base_turns(d: npt.NDArray[np.int64], stride: int, hop: int, n_fft: int, bits: int) -> npt.NDArray[np.int64]:
    """Each bin's whole turns over an interval, rounded, for a partial at its centre, less the anchors'
    difference `d [rows]` (codes): the cycle code's zero (module docstring)."""
    levels = 1 << bits
    k = np.arange(d.shape[-1], dtype=np.int64)
    num = k * (stride * hop * levels) - d * n_fft
    den = n_fft * levels
    return (2 * num + den) // (2 * den)


def paths(band: Band, first_frame: int, n_frames: int, stride: int, bits: int, hop: int, n_fft: int,
          last: bool) -> tuple[F32, npt.NDArray[np.int32]]:
    """A section's band -> (phase `[rows, n_frames + stride] float32` radians and the bins held `[n_frames
    + stride] int32` (frame t holds bins `[0, held[t])`), from the section's first frame on: its intervals
    reach up to `stride` frames into the next section's). `last`: the section ends the stream, so that an
    interval held past its end is a FormatError."""
    out = np.zeros((band.anchors.shape[1], n_frames + stride), np.float32)
    held = np.zeros(n_frames + stride, np.int32)
    levels = 1 << bits
    span = levels * stride
    j = np.arange(stride + 1, dtype=np.int64)
    a_at = c_at = 0
    prev = None
    for i, flag in zip(interval_range(first_frame, n_frames, stride), band.flags, strict=True):
        if not flag:
            prev = None
            continue
        if prev is None:
            prev = band.anchors[a_at].astype(np.int64)
            a_at += 1
        ca, cb = prev, band.anchors[a_at].astype(np.int64)
        a_at += 1
        d = cb - ca
        e = band.cycles[c_at].astype(np.int64) - CYCLE_OFFSET
        c_at += 1
        turns = d + levels * (base_turns(d, stride, hop, n_fft, bits) + e)
        t0 = i * stride - first_frame
        if last and t0 + stride > n_frames - 1:
            raise FormatError(f"tonal band interval {i} is held past the stream's last frame")
        num = (ca[:, None] * stride + turns[:, None] * j[None, :]) % span
        out[:, t0 : t0 + stride + 1] = (num * (2 * math.pi / span) - math.pi).astype(np.float32)
        np.maximum(held[t0 : t0 + stride + 1], int(band.edges[c_at - 1]) + 1, out=held[t0 : t0 + stride + 1])
        prev = cb
    return out, held


def analyse(spec: npt.NDArray[np.complexfloating], rows: int, window_first: int, first_frame: int, n_frames: int,
            stride: int, bits: int, hop: int, n_fft: int, last_frame: int | None) -> Band:
    """The encoder's band of `rows` bins for a section over stream frames `[first_frame, first_frame +
    n_frames)`, from the STFT `spec [R, T]` (R: rows and the bin above them, where the model has it) of
    stream frames `[window_first, window_first + T)`: an interval's edge is in the valley of its power
    between rows / 2 and rows; it is held where it and the RUN - 1 before it fit below their edges
    (FIT_RADIANS), all its frames are in the window, and it ends by `last_frame` (the stream's last, if
    known)."""
    count = spec.shape[1]
    levels = 1 << bits
    section = interval_range(first_frame, n_frames, stride)
    # every interval the section's flags look at (the RUN - 1 before its first too), all at once
    ids = np.arange(section.start - RUN + 1, section.stop)
    a = ids * stride - window_first
    inside = (ids >= 0) & (a >= 0) & (a + stride < count)
    if last_frame is not None:
        inside &= ids * stride + stride <= last_frame
    at = np.clip(a[:, None] + np.arange(stride + 1), 0, max(count - 1, 0))  # [n, K + 1] frames (outside: unused)
    ph = np.angle(spec[:rows][:, at]).astype(np.float64)  # [R, n, K + 1]
    power = np.square(np.abs(spec[: rows + 1][:, at])).astype(np.float64)
    # each interval's edge r: bins r - 1 and r (where there is one) the quietest pair from the band's middle up
    over = power.sum(axis=2)  # [R or R + 1, n]
    above = np.concatenate([over[1 : rows + 1], np.zeros((rows + 1 - over.shape[0], over.shape[1]))])
    lo = (rows + 1) // 2
    r = lo + np.argmin((over[:rows] + above)[lo - 1 :], axis=0) if rows > 1 else np.ones(len(ids), np.int64)
    codes = quantize_phase(ph[:, :, [0, stride]], bits).astype(np.int64)
    ca, cb = codes[..., 0], codes[..., 1]  # [R, n]
    d = cb - ca
    omega = (2 * math.pi * np.arange(rows) * hop / n_fft)[:, None, None]
    step = np.diff(ph, axis=2) - omega
    true_turns = (np.sum((step + math.pi) % (2 * math.pi) - math.pi, axis=2) + stride * omega[..., 0]) / (2 * math.pi)
    base = base_turns(d.T, stride, hop, n_fft, bits).T
    e = np.clip(np.rint(true_turns - d / levels) - base, -CYCLE_OFFSET, (1 << CYCLE_BITS) - 1 - CYCLE_OFFSET)
    turns = d + levels * (base + e.astype(np.int64))
    j = np.arange(stride + 1)
    path = -math.pi + 2 * math.pi * (ca[..., None] * stride + turns[..., None] * j) / (levels * stride)
    below = (np.arange(rows)[:, None] < r[None, :])[..., None]  # [R, n, 1]: the bins under the edge
    pw = power[:rows] * below
    err = np.abs((path - ph + math.pi) % (2 * math.pi) - math.pi)
    total = pw.sum(axis=(0, 2))
    fits = inside & (total > 0) & ((err * pw).sum(axis=(0, 2)) < FIT_RADIANS * total)
    ca16, cb16, e16 = ca.T.astype(np.uint16), cb.T.astype(np.uint16), (e.T + CYCLE_OFFSET).astype(np.uint16)

    flags: list[bool] = []
    edges: list[int] = []
    anchors: list[U16] = []
    cycles: list[U16] = []
    for k in range(RUN - 1, len(ids)):  # interval ids[k], the section's (k - RUN + 1)-th
        held = bool(fits[k - RUN + 1 : k + 1].all())
        if held:
            if not flags or not flags[-1]:
                anchors.append(ca16[k])
            anchors.append(cb16[k])
            cycles.append(e16[k])
            edges.append(int(r[k]) - 1)
        flags.append(held)
    empty = np.zeros((0, rows), np.uint16)
    return Band(np.array(flags, bool), np.array(edges, np.uint16), np.stack(anchors) if anchors else empty,
                np.stack(cycles) if cycles else empty)
