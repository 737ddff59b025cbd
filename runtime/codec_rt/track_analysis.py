"""The encoder's side of the sinusoidal tracks (`tracks.py`): find the steady partials of one coded channel
at the model rate, code each block's tracks, and subtract what the decoder will synthesize from them.

Block i's codes come from the input up to `tracks.lookahead` samples past its first, what the encoder has
when it must code them, so tracks add nothing to a stream's latency. Every DETECT_S_EVERY seconds:

1. Peaks of the last DETECT_S of input (a 4-term Blackman-Harris window, whose side lobes lie 92 dB down,
   zero-padded DETECT_PAD times; each peak's frequency at the vertex of the parabola through its
   log-magnitude and its neighbours': Smith and Serra, PARSHL, 1987), kept where they stand PROMINENCE_DB
   over the valleys either side, within RANGE_DB of the strongest and over FLOOR_DBFS, from MIN_HZ up.
2. A peak that stays within STEADY_HZ of where it was for STEADY_RUNS detections in a row is a steady
   partial; a new track starts on it unless a track is within SPACING_HZ. Speech seldom holds a partial
   that still, a tone or a chord at once; not where the input's last DETECT_S_EVERY holds under
   BIRTH_RATIO of the tracks' power (a tone that stopped is still steady in the window), nor where the
   tracks would carry under TONAL_SHARE of the input's power (a note or two of a mix: such tracks churn,
   each a few blocks long, and cost more than they bring). A track ends where no peak is within TRACK_HZ
   of its birth's frequency (a slow vibrato keeps its track; the phase steps follow it).
3. The complex amplitudes of every track at the block's first sample, by least squares over the last
   FIT_S at their coded frequencies; amplitude and phase steps towards them, past a dead band of
   DEAD_BAND steps (noise in the fit would step every time), clipped to the codes' range: a track's phase
   follows the input's as a phase-locked loop does.

Every block:

4. Where the tracks no longer carry the block's input, going on at their last fit's amplitudes, every
   track ends (fading out over the block): the input holds under STOP_RATIO of their power (a sound that
   stops), or what they leave of it more than MISMATCH times it (one that changes: a new note at the old
   one's level). Between detections the amplitudes step towards the last fit's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from .tracks import (
    AMP_BITS,
    AMP_STEP_DB,
    AMP_UNITY,
    DELTA_BITS,
    FREQ_BITS,
    MAX_TRACKS,
    PHASE_STEPS,
    START_BITS,
    TURN,
    Birth,
    Block,
    Synth,
)

F64 = npt.NDArray[np.float64]

DETECT_S = 0.128  # seconds of input the peaks are found in
DETECT_S_EVERY = 0.02  # seconds between two detections
DETECT_PAD = 8  # zero padding of that window
FIT_S = 0.064  # seconds the amplitudes are fitted over
PROMINENCE_DB = 20.0
RANGE_DB = 40.0
FLOOR_DBFS = -67.0
STEADY_HZ = 0.6
STEADY_RUNS = 3
SPACING_HZ = 20.0
STOP_RATIO = 0.25  # of the power
MISMATCH = 1.0  # of the tracks' power, what they leave of a block's input where they no longer carry it
TRACK_HZ = 2.0  # a track's peak may move this far from its birth's before it ends (a slow vibrato)
BIRTH_RATIO = 0.5  # of the power of the tracks, in the input's last DETECT_S_EVERY, for a track to start
TONAL_SHARE = 0.5  # of the input's power over FIT_S that the tracks must carry for a track to start
DEAD_BAND = 0.75
MIN_HZ = 40.0  # the encoder takes infrasound out of what the model codes (`level.remove_dc`), tracks too
_LO = -(1 << (DELTA_BITS - 1))
_HI = (1 << (DELTA_BITS - 1)) - 1


def _blackman_harris(n: int) -> F64:
    """The 4-term Blackman-Harris window, periodic (Harris, "On the use of windows for harmonic analysis
    with the discrete Fourier transform", Proc. IEEE 66, 1978)."""
    t = 2.0 * np.pi * np.arange(n) / n
    w: F64 = 0.35875 - 0.48829 * np.cos(t) + 0.14128 * np.cos(2 * t) - 0.01168 * np.cos(3 * t)
    return w


def _peaks(x: F64, rate: int) -> list[float]:
    """The prominent peaks' frequencies (Hz) in `x`."""
    w = _blackman_harris(x.size)
    n = x.size * DETECT_PAD
    spec = np.abs(np.fft.rfft(x * w, n)) * 2.0 / w.sum()
    ldb = 20.0 * np.log10(spec + 1e-12)
    k = np.flatnonzero((ldb[1:-1] > ldb[:-2]) & (ldb[1:-1] >= ldb[2:])) + 1
    if k.size == 0:
        return []
    top = float(ldb[k].max())
    far = round(45.0 * n / rate)
    k = k[(k >= round(MIN_HZ * n / rate)) & (ldb[k] >= max(FLOOR_DBFS, top - RANGE_DB))]
    # down to the valley on each side (a neighbouring partial's lobe is no floor), at most `far` bins: the
    # walk left stops at the first bin whose left neighbour is higher, the walk right likewise
    stop_left = np.concatenate([[0], np.flatnonzero(ldb[:-1] > ldb[1:]) + 1])
    stop_right = np.concatenate([np.flatnonzero(ldb[1:] > ldb[:-1]), [ldb.size - 1]])
    lo = np.maximum(stop_left[np.searchsorted(stop_left, k, side="right") - 1], np.maximum(k - far, 0))
    hi = np.minimum(stop_right[np.searchsorted(stop_right, k)], np.minimum(k + far, ldb.size - 1))
    k = k[ldb[k] - np.maximum(ldb[lo], ldb[hi]) >= PROMINENCE_DB]
    a, b, c = ldb[k - 1], ldb[k], ldb[k + 1]
    curve = a - 2 * b + c
    d = np.where(curve < 0, 0.5 * (a - c) / np.where(curve < 0, curve, -1.0), 0.0)
    return [float(v) for v in (k + d) * rate / n]


def _fit(x: F64, freqs: list[int], after: int) -> npt.NDArray[np.complex128]:
    """Complex amplitudes `c` (x ~ sum Re(c exp(2 pi i F (n - N) / TURN))) at sample N, `after` samples
    before the sample after `x`, by least squares (the normal equations: a few columns, many rows)."""
    n = np.arange(-x.size, 0, dtype=np.int64) + after
    w = 2.0 * np.pi * (np.outer(freqs, n) % TURN).astype(np.float64) / TURN  # [K, N]
    a = np.empty((2 * len(freqs), x.size))
    a[0::2], a[1::2] = np.cos(w), -np.sin(w)
    sol = np.linalg.solve(a @ a.T, a @ x)
    out: npt.NDArray[np.complex128] = sol[0::2] + 1j * sol[1::2]
    return out


def _amp_exact(a: float) -> float:
    """An amplitude in amplitude-code units (unrounded)."""
    return 20.0 * math.log10(max(a, 1e-12)) / AMP_STEP_DB + AMP_UNITY


def _amp_code(a: float) -> int:
    """The code nearest amplitude `a`."""
    return int(np.clip(round(_amp_exact(a)), 0, (1 << AMP_BITS) - 1))


@dataclass
class Analyzer:
    """One coded channel's tracks on the encoder's side: model-rate input in, the residual (the input less the
    tracks) out as it becomes final, each block's codes kept in `blocks` (by index) for the packets that
    hold them."""

    rate: int  # the model rate, Hz
    block_len: int  # Q: model-rate samples a block
    ahead: int  # `tracks.lookahead`: input samples past a block's first that its codes may use
    synth: Synth = field(init=False)
    history: F64 = field(init=False)  # input samples [received - history.size, received)
    received: int = 0
    emitted: int = 0  # residual samples out
    decided: int = 0  # blocks decided (0 .. decided - 1)
    rendered: F64 = field(init=False)  # the synthesis of the decided blocks from `emitted` on (and `_parts`)
    blocks: dict[int, Block] = field(default_factory=dict)
    _steady: list[tuple[float, int]] = field(default_factory=list)  # (Hz, detections in a row)
    _freqs: list[float] = field(default_factory=list)  # each alive track's frequency at its birth (Hz)
    _targets: list[float] = field(default_factory=list)  # each alive track's last fitted amplitude (code units)
    _parts: list[F64] = field(default_factory=list)  # blocks rendered since `rendered` was last joined

    def __post_init__(self) -> None:
        self.synth = Synth(self.block_len)
        self.history = np.zeros(0)
        self.rendered = np.zeros(0)

    @property
    def _every(self) -> int:
        return max(1, round(DETECT_S_EVERY * self.rate / self.block_len))

    def process(self, x: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
        """The next input samples `[n]` -> the residual samples now final (those of the blocks decided: up
        to `ahead` fewer than have come in)."""
        x = np.asarray(x, np.float64)
        # what the next blocks read: the samples not yet emitted and the analysis windows before them
        keep = self.received + x.size - self.emitted + max(round(DETECT_S * self.rate), round(FIT_S * self.rate))
        self.history = np.concatenate([self.history, x])[-(keep + self.block_len) :]
        self.received += x.size
        while self.decided * self.block_len + self.ahead <= self.received:
            self._next()
        return self._emit(min(self.received, self.decided * self.block_len))

    def finish(self, coded: int, last_block: int) -> npt.NDArray[np.float32]:
        """The stream's end: `coded` samples in all (zeros after the input), blocks up to `last_block`
        decided -> the rest of the residual, up to `coded`."""
        if self.received < coded:
            out = self.process(np.zeros(coded - self.received))
        else:
            out = np.zeros(0, np.float32)
        while self.decided <= last_block or self.decided * self.block_len < coded:
            self._next()
        return np.concatenate([out, self._emit(coded)])

    def drop_before(self, block: int) -> None:
        """Forget the codes of blocks before `block` (their packets are written)."""
        for i in [i for i in self.blocks if i < block]:
            del self.blocks[i]

    def _next(self) -> None:
        i = self.decided
        b = self._decide(i)
        self.blocks[i] = b
        self._parts.append(self.synth.render(b))  # joined once per push: a whole file's blocks, linearly
        self.decided += 1

    def _emit(self, upto: int) -> npt.NDArray[np.float32]:
        n = max(0, min(upto, self.received) - self.emitted)
        h0 = self.received - self.history.size
        x = self.history[self.emitted - h0 : self.emitted - h0 + n]
        if self._parts:
            self.rendered, self._parts = np.concatenate([self.rendered, *self._parts]), []
        out = (x - self.rendered[:n]).astype(np.float32)
        self.rendered, self.emitted = self.rendered[n:], self.emitted + n
        return out

    def _input(self, end: int, n: int) -> F64:
        """Input samples `[end - n, end)` (zeros before the stream and after what arrived)."""
        h0 = self.received - self.history.size
        out = np.zeros(n)
        lo, hi = max(end - n, h0), min(end, self.received)
        if hi > lo:
            out[lo - (end - n) : hi - (end - n)] = self.history[lo - h0 : hi - h0]
        return out

    def _decide(self, i: int) -> Block:
        rate, q = self.rate, self.block_len
        start, seen = i * q, i * q + self.ahead  # the block's first sample; the input up to `seen` is known
        tracks = self.synth.tracks
        ends = [False] * len(tracks)
        if tracks and self._lost(start, min(q, seen - start)):
            ends = [True] * len(tracks)
        if i % self._every:  # between detections: a stop, or the amplitudes on their way to the last fit's
            if any(ends):
                self._freqs, self._targets = [], []
                return Block(tuple(ends))
            return Block(tuple(ends), tuple((_step(a - t.amp), 0) for a, t in zip(self._targets, tracks, strict=True)))
        births: list[float] = []
        peaks = _peaks(self._input(seen, round(DETECT_S * rate)), rate)
        steady = []
        for f in peaks:
            before = [c for c in self._steady if abs(c[0] - f) < STEADY_HZ]
            steady.append((f, before[0][1] + 1 if before else 1))
        self._steady = steady
        ends = [e or not any(abs(f - g) < TRACK_HZ for f in peaks) for e, g in zip(ends, self._freqs, strict=True)]
        for f, run in steady:
            if run >= STEADY_RUNS and len(tracks) - sum(ends) + len(births) < MAX_TRACKS and not any(
                    abs(f - g) < SPACING_HZ for g in [*self._freqs, *births]):
                births.append(f)
        codes = [t.freq for t in tracks] + [min(max(round(f * TURN / rate), 1), (1 << FREQ_BITS) - 1) for f in births]
        if not codes:
            return Block()
        fit_x = self._input(seen, round(FIT_S * rate))
        c = _fit(fit_x, codes, seen - start)
        steps: list[tuple[int, int]] = []
        targets: list[float] = []
        for k, t in enumerate(tracks):
            if not ends[k] and abs(c[k]) < 10 ** (FLOOR_DBFS / 20):
                ends[k] = True
            if ends[k]:
                continue
            targets.append(_amp_exact(abs(c[k])))
            err = (np.angle(c[k]) / (2 * np.pi) - t.phase / TURN + 0.5) % 1.0 - 0.5  # turns
            steps.append((_step(targets[-1] - t.amp), _step(err * PHASE_STEPS)))
        if births:
            power = sum(0.5 * abs(v) ** 2 for k, v in enumerate(c) if k >= len(tracks) or not ends[k])
            recent = np.mean(self._input(seen, round(DETECT_S_EVERY * rate)) ** 2)
            # not from the past (a tone that stopped is still steady in the window), and only where the
            # tracks would carry most of the sound (not a note or two of a mix, whose tracks churn)
            if recent < BIRTH_RATIO * power or power < TONAL_SHARE * np.mean(fit_x**2):
                births, codes, c = [], codes[: len(tracks)], c[: len(tracks)]
        born = []
        for j in range(len(births)):
            v = c[len(tracks) + j]
            targets.append(_amp_exact(abs(v)))
            born.append(Birth(codes[len(tracks) + j], round((np.angle(v) / (2 * np.pi)) % 1.0 * (1 << START_BITS))
                              % (1 << START_BITS), _amp_code(abs(v))))
        self._freqs = [g for g, e in zip(self._freqs, ends, strict=True) if not e] + births
        self._targets = targets
        return Block(tuple(ends), tuple(steps), tuple(born))

    def _lost(self, start: int, n: int) -> bool:
        """Whether the tracks, going on over the input's `n` samples from `start` at their last fit's
        amplitudes, no longer carry it: the input holds under STOP_RATIO of their power (a sound that
        stops), or what they leave of it holds more than MISMATCH times their power (one that changes)."""
        j = np.arange(n, dtype=np.int64)
        going_on = sum((10.0 ** ((a - AMP_UNITY) * AMP_STEP_DB / 20.0)
                        * np.cos(2.0 * np.pi * ((t.phase + t.freq * j) % TURN) / TURN)
                        for a, t in zip(self._targets, self.synth.tracks, strict=True)), np.zeros(n))
        x = self._input(start + n, n)
        power = float(np.sum(going_on**2))
        return bool(n) and (float(np.sum(x**2)) < STOP_RATIO * power
                            or float(np.sum((x - going_on) ** 2)) > MISMATCH * power)


def _step(err: float) -> int:
    """A step of a code towards `err` steps away: none within the dead band, else rounded and clipped."""
    return 0 if abs(err) <= DEAD_BAND else int(np.clip(round(err), _LO, _HI))


def analyse(x: npt.NDArray[np.floating], rate: int, block_len: int, ahead: int, last_block: int) -> tuple[
        npt.NDArray[np.float32], list[Block]]:
    """A whole coded channel `x [n]` at the model rate -> (the residual `[n] float32`, blocks 0..last_block)."""
    a = Analyzer(rate, block_len, ahead)
    r = np.concatenate([a.process(x), a.finish(x.size, last_block)])
    return r, [a.blocks[i] for i in range(last_block + 1)]
