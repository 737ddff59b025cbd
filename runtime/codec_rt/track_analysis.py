"""The encoder's side of the sinusoidal tracks (`tracks.py`): find the steady partials of one coded channel
at the model rate, code each block's tracks, and subtract what the decoder will synthesize from them.

Causal, with no lookahead: block i's codes come from the input before its first sample, so tracks add
nothing to a stream's latency. Each block:

1. Peaks of the last DETECT_SAMPLES of input (a 4-term Blackman-Harris window, whose side lobes lie 92 dB
   down, zero-padded to DETECT_FFT; each peak's frequency at the vertex of the parabola through its
   log-magnitude and its neighbours': Smith and Serra, PARSHL, 1987), kept where they stand PROMINENCE_DB
   over the valleys either side, within RANGE_DB of the strongest and over FLOOR_DBFS.
2. A peak that stays within STEADY_HZ of where it was for STEADY_BLOCKS blocks in a row is a steady
   partial; a new track starts on it unless a track is within SPACING_HZ. Speech seldom holds a partial
   that still (on 20 development clips 0.01 kbps went to tracks), a tone or a chord at once.
3. The complex amplitudes of every track at the block's first sample, by least squares over the last
   FIT_SAMPLES at their coded frequencies; a track whose peak moved or went ends, and so does one whose
   amplitude over the last block alone fell to under half its fit (a tone that stops).
4. Amplitude and phase steps towards those amplitudes, clipped to the codes' range: a track's phase
   follows the input's as a phase-locked loop does.
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

DETECT_S = 0.128  # seconds of input a block's peaks are found in
DETECT_PAD = 8  # zero padding of that window
FIT_S = 0.064  # seconds the amplitudes are fitted over
PROMINENCE_DB = 20.0
RANGE_DB = 40.0
FLOOR_DBFS = -67.0
STEADY_HZ = 0.6
STEADY_BLOCKS = 3
SPACING_HZ = 20.0
STOP_RATIO = 0.5
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
    out = []
    first = round(MIN_HZ * n / rate)
    for i in (int(v) for v in k):
        if i < first or ldb[i] < max(FLOOR_DBFS, top - RANGE_DB):
            continue
        lo = i  # down to the valley on each side: a neighbouring partial's lobe is no floor
        while lo > max(0, i - far) and ldb[lo - 1] <= ldb[lo]:
            lo -= 1
        hi = i
        while hi < min(ldb.size - 1, i + far) and ldb[hi + 1] <= ldb[hi]:
            hi += 1
        if ldb[i] - max(ldb[lo], ldb[hi]) < PROMINENCE_DB:
            continue
        a, b, c = ldb[i - 1], ldb[i], ldb[i + 1]
        d = 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c < 0 else 0.0
        out.append(float((i + d) * rate / n))
    return out


def _fit(x: F64, freqs: list[int]) -> npt.NDArray[np.complex128]:
    """Complex amplitudes `c` (x ~ sum Re(c exp(i w (n - N)))) at the sample after `x`, by least squares."""
    n = np.arange(-x.size, 0, dtype=np.int64)
    cols = []
    for f in freqs:
        w = 2.0 * np.pi * ((f * n) % TURN).astype(np.float64) / TURN
        cols += [np.cos(w), -np.sin(w)]
    sol = np.linalg.lstsq(np.stack(cols, 1), x, rcond=None)[0]
    out: npt.NDArray[np.complex128] = sol[0::2] + 1j * sol[1::2]
    return out


def _amp_code(a: float) -> int:
    return int(np.clip(round(20.0 * math.log10(max(a, 1e-12)) / AMP_STEP_DB) + AMP_UNITY, 0, (1 << AMP_BITS) - 1))


@dataclass
class Analyzer:
    """One coded channel's tracks on the encoder's side: model-rate input in, the residual out, each block's
    codes kept in `blocks` (by index) for the packets that hold them."""

    rate: int  # the model rate, Hz
    block_len: int  # Q: model-rate samples a block
    synth: Synth = field(init=False)
    history: F64 = field(init=False)  # the last input samples, up to `received`
    received: int = 0
    decided: int = 0  # blocks decided (0 .. decided - 1)
    rendered: F64 = field(init=False)  # the synthesis of the decided blocks from `rendered_pos` on
    rendered_pos: int = 0
    blocks: dict[int, Block] = field(default_factory=dict)
    _steady: list[tuple[float, int]] = field(default_factory=list)  # (Hz, blocks in a row)
    _freqs: list[float] = field(default_factory=list)  # each alive track's measured frequency (Hz)

    def __post_init__(self) -> None:
        self.synth = Synth(self.block_len)
        self.history = np.zeros(self._keep)
        self.rendered = np.zeros(0)

    @property
    def _keep(self) -> int:
        return max(round(DETECT_S * self.rate), round(FIT_S * self.rate))

    def process(self, x: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
        """The next input samples `[n]` -> the residual over them `[n] float32`: the input less the tracks."""
        x = np.asarray(x, np.float64)
        out = np.empty(x.size, np.float32)
        done = 0
        while done < x.size:
            pos = self.received
            if pos >= self.decided * self.block_len:  # a block's first sample: decide it on the input before
                self.decide_through(pos // self.block_len)
            n = min(x.size - done, self.decided * self.block_len - pos)
            self.history = np.concatenate([self.history, x[done : done + n]])[-self._keep :]
            self.received += n
            off = pos - self.rendered_pos
            out[done : done + n] = (x[done : done + n] - self.rendered[off : off + n]).astype(np.float32)
            done += n
        drop = (self.received - self.rendered_pos) // self.block_len * self.block_len
        self.rendered, self.rendered_pos = self.rendered[drop:], self.rendered_pos + drop
        return out

    def decide_through(self, last: int) -> None:
        """Decide blocks up to `last` (on the input received so far: at a stream's end, zeros after it)."""
        while self.decided <= last:
            b = self._decide(self.decided)
            self.blocks[self.decided] = b
            self.rendered = np.concatenate([self.rendered, self.synth.render(b)])
            self.decided += 1

    def drop_before(self, block: int) -> None:
        """Forget the codes of blocks before `block` (their packets are written)."""
        for i in [i for i in self.blocks if i < block]:
            del self.blocks[i]

    def _input_before(self, i: int, n: int) -> F64:
        """The `n` input samples before block i's first (zeros before the stream and after what arrived)."""
        end = i * self.block_len
        h0 = self.received - self.history.size  # the history holds input [h0, received)
        out = np.zeros(n)
        lo, hi = max(end - n, h0), min(end, self.received)
        if hi > lo:
            out[lo - (end - n) : hi - (end - n)] = self.history[lo - h0 : hi - h0]
        return out

    def _decide(self, i: int) -> Block:
        rate = self.rate
        peaks = _peaks(self._input_before(i, round(DETECT_S * rate)), rate)
        steady = []
        for f in peaks:
            before = [c for c in self._steady if abs(c[0] - f) < STEADY_HZ]
            steady.append((f, before[0][1] + 1 if before else 1))
        self._steady = steady
        tracks = self.synth.tracks
        ends = [not any(abs(f - g) < STEADY_HZ for f in peaks) for g in self._freqs]
        births: list[float] = []
        for f, run in steady:
            if run >= STEADY_BLOCKS and len(tracks) - sum(ends) + len(births) < MAX_TRACKS and not any(
                    abs(f - g) < SPACING_HZ for g in [*self._freqs, *births]):
                births.append(f)
        codes = [t.freq for t in tracks] + [min(max(round(f * TURN / rate), 1), (1 << FREQ_BITS) - 1) for f in births]
        if not codes:
            return Block()
        fit_x = self._input_before(i, round(FIT_S * rate))
        c = _fit(fit_x, codes)
        short = np.abs(_fit(fit_x[-self.block_len :], codes))
        steps: list[tuple[int, int]] = []
        for k, t in enumerate(tracks):
            if not ends[k] and (abs(c[k]) < 10 ** (FLOOR_DBFS / 20) or short[k] < STOP_RATIO * abs(c[k])):
                ends[k] = True
            if ends[k]:
                continue
            da = int(np.clip(_amp_code(abs(c[k])) - t.amp, _LO, _HI))
            err = (np.angle(c[k]) / (2 * np.pi) - t.phase / TURN + 0.5) % 1.0 - 0.5  # turns
            steps.append((da, int(np.clip(round(err * PHASE_STEPS), _LO, _HI))))
        born = [Birth(codes[len(tracks) + j], round((np.angle(c[len(tracks) + j]) / (2 * np.pi)) % 1.0
                                                        * (1 << START_BITS)) % (1 << START_BITS),
                      _amp_code(abs(c[len(tracks) + j]))) for j in range(len(births))]
        self._freqs = [g for g, e in zip(self._freqs, ends, strict=True) if not e] + births
        return Block(tuple(ends), tuple(steps), tuple(born))


def analyse(x: npt.NDArray[np.floating], rate: int, block_len: int, last_block: int) -> tuple[
        npt.NDArray[np.float32], list[Block]]:
    """A whole coded channel `x [n]` at the model rate -> (the residual `[n] float32`, blocks 0..last_block)."""
    a = Analyzer(rate, block_len)
    r = a.process(x)
    a.decide_through(last_block)
    return r, [a.blocks[i] for i in range(last_block + 1)]
