"""Sinusoidal tracks (format 1.12, FORMAT.md 4.9 and 6.10): steady partials sent as parameters beside the
latent, and synthesized by the decoder into the coded channel at the model rate.

A model decodes a steady partial with a magnitude that wanders by a dB or two from frame to frame: a
chord's tones inside one STFT bin beat against each other, a harmonic-rich tone's partials come back low
and smeared, and the wander is heard (and measured) as components beside them (docs/MEASURED.md, "Sinusoidal tracks").
A partial that holds its frequency for a while is cheaper and exact as a sinusoid: its frequency once, then
a step of its amplitude and phase every block. The encoder subtracts what the decoder will synthesize from
the input (closed loop, `track_analysis.py`), so the model codes only what the tracks leave; the decoder adds
the tracks back. This is the sinusoidal model of McAulay and Quatieri ("Speech analysis/synthesis based on
a sinusoidal representation", IEEE Trans. ASSP 34, 1986) with the parameters coded as in parametric audio
coders (Purnhagen and Meine, "HILN, the MPEG-4 parametric audio coding tools", ISCAS 2000).

Time is cut into *blocks* of `track_frames` STFT frames: block i holds model-rate samples `[i Q, (i + 1) Q)`,
`Q = track_frames * hop`, sample 0 being frame 0's centre (the coded signal's first sample). A channel
section over frames `[f0, f0 + N)` holds the blocks that start in its frames, as the tonal band holds its
intervals (`tonal.interval_range`). Its track field is one bit string, most significant bit first, padded
with zero bits to a byte (self-delimiting: its length is what its fields say):

    alive                     ALIVE_BITS   tracks alive at the first block's start (what the decoder holds)
    then for each block:
      change:                 1 bit        0 = every track goes on unchanged and none is born: nothing follows
      for each alive track:   1 bit        1 = it ends in this block (fades out), 0 = it goes on
      for each going on:      1 bit        1 = a step follows: DELTA_BITS amplitude step, DELTA_BITS phase step
                                           (two's complement, -8..7); 0 = both 0
      births:                 1 bit        1 = COUNT_BITS follow, the number born less 1, then for each:
                                           FREQ_BITS frequency, START_BITS start phase, AMP_BITS amplitude

A track's frequency is `F sample_rate / 2^17` Hz (F in 1..2^16 - 1), its amplitude `10^((A - AMP_UNITY) *
AMP_STEP_DB / 20)` (A in 0..2^AMP_BITS - 1, AMP_UNITY at full scale), its phase an integer in units of
2^-17 turn. Every runtime computes the same phases: they are integers until the cosine.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from .errors import FormatError
from .tonal import interval_range

F64 = npt.NDArray[np.float64]

ALIVE_BITS = 5
MAX_TRACKS = 16  # a channel's tracks alive at once
DELTA_BITS = 4  # an amplitude step in AMP_STEP_DB, a phase step in 1/PHASE_STEPS turn: -8..7
COUNT_BITS = 4
FREQ_BITS = 16
START_BITS = 6  # a new track's phase at its first sample, in 1/2^START_BITS turn
AMP_BITS = 9
AMP_STEP_DB = 0.25
AMP_UNITY = 487  # the amplitude code of full scale: the codes reach 6 dB over it (a square wave's fundamental)
PHASE_STEPS = 128  # a phase step's unit: 1/128 turn
TURN = 1 << 17  # the phase's unit: 2^-17 turn; a frequency code F advances it F each sample
MAX_TRACK_FRAMES = 64


def default_frames(n_fft: int, hop: int) -> int:
    """STFT frames a block by default: as many as the encoder sees of a block before it must code it (its
    lookahead, `lookahead`), at least 1: a block whose input is all known ends a tone that stops in it,
    where a longer one would ring on until its end (docs/MEASURED.md, "Sinusoidal tracks")."""
    return max(1, min(MAX_TRACK_FRAMES, lookahead(n_fft, hop) // hop))


def lookahead(n_fft: int, hop: int) -> int:
    """Model-rate samples past a block's first that its codes can depend on at no cost in latency: the first
    frame whose window reaches the block (one before the block's first frame) ends n_fft / 2 - hop samples
    into it, and the encoder needs the block's codes to code that frame."""
    return max(0, n_fft // 2 - hop)


def amplitude(code: int) -> float:
    """An amplitude code -> the track's amplitude (full scale 1)."""
    return float(10.0 ** ((code - AMP_UNITY) * AMP_STEP_DB / 20.0))


def max_field_size(m: int) -> int:
    """The most bytes a track field of `m` blocks can take (MAX_TRACKS alive in each, all stepping, as
    many born as can be)."""
    per_block = 2 + MAX_TRACKS * (2 + 2 * DELTA_BITS) + COUNT_BITS + MAX_TRACKS * (FREQ_BITS + START_BITS + AMP_BITS)
    return (ALIVE_BITS + m * per_block + 7) // 8


def min_field_size(m: int) -> int:
    """The least bytes a track field of `m` blocks takes (no track in any)."""
    return (ALIVE_BITS + m + 7) // 8


def block_range(first_frame: int, n_frames: int, track_frames: int) -> range:
    """The blocks that start in frames `[first_frame, first_frame + n_frames)`."""
    return interval_range(first_frame, n_frames, track_frames)


@dataclass(frozen=True)
class Birth:
    freq: int  # F: the frequency is F * sample_rate / 2^17 Hz, 1..2^16 - 1
    start: int  # the phase at the block's first sample, in 1/2^START_BITS turn
    amp: int  # A: the amplitude code at the block's end


@dataclass(frozen=True)
class Block:
    """One block's codes: `ends` for each track alive at its start (True: it fades out in this block and is
    gone after it); `steps`, for each that goes on, its amplitude and phase steps; the tracks born in it,
    appended after those that go on."""

    ends: tuple[bool, ...] = ()
    steps: tuple[tuple[int, int], ...] = ()
    births: tuple[Birth, ...] = ()

    @property
    def alive_after(self) -> int:
        return len(self.ends) - sum(self.ends) + len(self.births)

    @property
    def empty(self) -> bool:
        return not self.ends and not self.births

    @property
    def unchanged(self) -> bool:
        """Every track goes on with no step and none is born (its `change` bit is 0)."""
        return not any(self.ends) and not any(da or dp for da, dp in self.steps) and not self.births


class _Bits:
    """MSB-first bit writer."""

    def __init__(self) -> None:
        self.value, self.n = 0, 0

    def put(self, v: int, bits: int) -> None:
        self.value = (self.value << bits) | (v & ((1 << bits) - 1))
        self.n += bits

    def to_bytes(self) -> bytes:
        pad = -self.n % 8
        return (self.value << pad).to_bytes((self.n + pad) // 8, "big")


class _Reader:
    """MSB-first bit reader over `data[pos:end]`; FormatError past the end."""

    def __init__(self, data: bytes, pos: int, end: int) -> None:
        self.data, self.bit, self.end = data, 8 * pos, 8 * end

    def get(self, bits: int) -> int:
        if self.bit + bits > self.end:
            raise FormatError("the payload ends inside a track field")
        v = 0
        for _ in range(bits):
            v = (v << 1) | ((self.data[self.bit >> 3] >> (7 - (self.bit & 7))) & 1)
            self.bit += 1
        return v

    def signed(self, bits: int) -> int:
        v = self.get(bits)
        return v - (1 << bits) if v >> (bits - 1) else v


def to_bytes(blocks: list[Block]) -> bytes:
    """A section's track field: its blocks, in order (each block's `ends` as long as the tracks alive then)."""
    w = _Bits()
    w.put(len(blocks[0].ends) if blocks else 0, ALIVE_BITS)
    for b in blocks:
        w.put(int(not b.unchanged), 1)
        if b.unchanged:
            continue
        for end in b.ends:
            w.put(int(end), 1)
        for da, dp in b.steps:
            w.put(int(bool(da or dp)), 1)
            if da or dp:
                w.put(da, DELTA_BITS)
                w.put(dp, DELTA_BITS)
        w.put(int(bool(b.births)), 1)
        if b.births:
            w.put(len(b.births) - 1, COUNT_BITS)
            for t in b.births:
                w.put(t.freq, FREQ_BITS)
                w.put(t.start, START_BITS)
                w.put(t.amp, AMP_BITS)
    return w.to_bytes()


def from_bytes(data: bytes, pos: int, end: int, m: int) -> tuple[int, list[Block], int]:
    """Read a track field of `m` blocks from `data[pos:end]` -> (tracks alive at its start, the blocks, the
    position after it). FormatError where it runs past `end`, a count goes over MAX_TRACKS or a frequency
    code is 0."""
    r = _Reader(data, pos, end)
    alive = first = r.get(ALIVE_BITS)
    blocks = []
    for _ in range(m):
        if alive > MAX_TRACKS:
            raise FormatError(f"a track field holds {alive} tracks, at most {MAX_TRACKS}")
        if not r.get(1):
            blocks.append(Block((False,) * alive, ((0, 0),) * alive))
            continue
        ends = tuple(bool(r.get(1)) for _ in range(alive))
        steps = []
        for _ in range(alive - sum(ends)):
            steps.append((r.signed(DELTA_BITS), r.signed(DELTA_BITS)) if r.get(1) else (0, 0))
        births: list[Birth] = []
        if r.get(1):
            for _ in range(r.get(COUNT_BITS) + 1):
                births.append(Birth(r.get(FREQ_BITS), r.get(START_BITS), r.get(AMP_BITS)))
                if births[-1].freq == 0:
                    raise FormatError("a track's frequency code is 0")
        b = Block(ends, tuple(steps), tuple(births))
        alive = b.alive_after
        blocks.append(b)
    if alive > MAX_TRACKS:
        raise FormatError(f"a track field holds {alive} tracks, at most {MAX_TRACKS}")
    return first, blocks, (r.bit + 7) // 8


@dataclass
class Follower:
    """One channel's track fields, packet after packet, checked against each other without synthesizing them
    (FORMAT.md 4.9's decoder checks): the tracks alive, by their amplitude codes."""

    amps: list[int] = field(default_factory=list)

    def push(self, index: int, held: tuple[int, list[Block]] | None) -> None:
        """Packet `index`'s field (None: a packet without them). FormatError where it does not follow."""
        if held is None:
            if self.amps:
                raise FormatError(f"packet {index} holds no track field while {len(self.amps)} tracks are alive")
            return
        if held[0] != len(self.amps):
            raise FormatError(f"packet {index} says {held[0]} tracks are alive, not {len(self.amps)}")
        for b in held[1]:
            steps, kept = iter(b.steps), []
            for amp, end in zip(self.amps, b.ends, strict=True):
                if not end:
                    kept.append(amp + next(steps)[0])
                    if not 0 <= kept[-1] < 1 << AMP_BITS:
                        raise FormatError(f"a track's amplitude code steps to {kept[-1]}, outside "
                                          f"0..{(1 << AMP_BITS) - 1}")
            self.amps = kept + [n.amp for n in b.births]


def follow(fields: Sequence[tuple[int, tuple[int, list[Block]] | None]]) -> None:
    """Check one channel's track fields, each a packet's index and its field, as a decoder does (`Follower`):
    `codec-rt info` runs this, so that it prints no blob that `decode` refuses."""
    f = Follower()
    for index, held in fields:
        f.push(index, held)


@dataclass
class _Track:
    freq: int
    amp: int
    phase: int  # at the next block's first sample, in 1/TURN turn
    level: float  # the amplitude at the end of the last block


@dataclass
class Synth:
    """One coded channel's tracks, block by block: the decoder's (and the encoder's copy of it)."""

    block_len: int  # Q: model-rate samples a block
    tracks: list[_Track] = field(default_factory=list)

    def render(self, b: Block) -> F64:
        """Apply block `b` -> its `block_len` samples `[Q] float64` (FORMAT.md 6.10). FormatError where its
        codes do not fit the tracks alive (their count, an amplitude code out of range)."""
        q = self.block_len
        if len(b.ends) != len(self.tracks):
            raise FormatError(f"a block codes {len(b.ends)} tracks where {len(self.tracks)} are alive")
        j = np.arange(q, dtype=np.int64)
        ramp = (j + 1).astype(np.float64) / q
        out = np.zeros(q)
        kept: list[_Track] = []
        steps = iter(b.steps)
        for t, end in zip(self.tracks, b.ends, strict=True):
            da, dp = (0, 0) if end else next(steps)
            amp = t.amp + da
            if not 0 <= amp < 1 << AMP_BITS:
                raise FormatError(f"a track's amplitude code steps to {amp}, outside 0..{(1 << AMP_BITS) - 1}")
            target = 0.0 if end else amplitude(amp)
            out += self._partial(t.phase, t.freq, dp, t.level, target, j, ramp)
            if not end:
                kept.append(_Track(t.freq, amp, self._advance(t.phase, t.freq, dp), target))
        for n in b.births:
            phase = n.start << (17 - START_BITS)
            target = amplitude(n.amp)
            out += self._partial(phase, n.freq, 0, 0.0, target, j, ramp)
            kept.append(_Track(n.freq, n.amp, self._advance(phase, n.freq, 0), target))
        if len(kept) > MAX_TRACKS:
            raise FormatError(f"{len(kept)} tracks alive, at most {MAX_TRACKS}")
        self.tracks = kept
        return out

    def _partial(self, phase: int, freq: int, dp: int, a0: float, a1: float, j: npt.NDArray[np.int64],
                 ramp: F64) -> F64:
        # the whole turns are dropped in integers; the phase step spreads over the block as a frequency offset
        turns = ((phase + freq * j) % TURN).astype(np.float64) / TURN + dp * j.astype(np.float64) / (
            PHASE_STEPS * self.block_len)
        return (a0 + (a1 - a0) * ramp) * np.cos(2.0 * np.pi * turns)

    def _advance(self, phase: int, freq: int, dp: int) -> int:
        return (phase + freq * self.block_len + dp * (TURN // PHASE_STEPS)) % TURN


@dataclass
class Player:
    """A decoder's tracks for one coded channel: packets' fields in as they arrive (checked by a `Follower`),
    samples out in order."""

    synth: Synth
    follower: Follower = field(default_factory=Follower)
    blocks: deque[Block] = field(default_factory=deque)  # pushed, not yet rendered
    buffer: F64 = field(default_factory=lambda: np.zeros(0))  # rendered samples from `pos` on
    pos: int = 0  # the model-rate sample `buffer` starts at
    pushed: int = 0  # blocks pushed so far (block indices 0 .. pushed - 1)

    def push(self, index: int, blocks: range, held: tuple[int, list[Block]] | None) -> None:
        """Packet `index`'s field `held` over `blocks`, the block indices that start in its frames (None:
        a packet without track fields, whose blocks hold no track). FormatError where it does not follow
        the packets before."""
        self.follower.push(index, held)
        if blocks.start != self.pushed:
            raise FormatError(f"track block {blocks.start} follows block {self.pushed - 1}")
        self.blocks.extend([Block()] * len(blocks) if held is None else held[1])
        self.pushed += len(blocks)

    def add_to(self, y: npt.NDArray[np.float32], start: int) -> None:
        """Add the tracks to the model-rate samples `y [n]` from sample `start` on (after the last call's)."""
        n = y.shape[-1]
        if n == 0:
            return
        if start < self.pos:
            raise FormatError("track samples asked for out of order")
        q = self.synth.block_len
        parts, have = [self.buffer], self.pos + self.buffer.size
        while have < start + n:  # (joined once: a whole file's blocks, linearly)
            if not self.blocks:
                raise FormatError(f"no track block for model-rate sample {have}")
            parts.append(self.synth.render(self.blocks.popleft()))
            have += q
        self.buffer = np.concatenate(parts) if len(parts) > 1 else self.buffer
        off = start - self.pos
        y += self.buffer[off : off + n].astype(np.float32)
        drop = (start + n - self.pos) // q * q
        self.buffer, self.pos = self.buffer[drop:], self.pos + drop
