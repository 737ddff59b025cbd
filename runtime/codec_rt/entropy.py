"""Entropy coding of the integer latent symbols with constriction's range coder.

A range-coded model carries `EntropyTables` in its ONNX metadata (key `codec_rt.entropy`): integer frequency
tables for each (latent channel, frequency row), "row" below. A row's tables cover the symbols `offset ..
offset + size - 1`; the quantizer clips to that range. Every frequency is >= 1 and each table sums to
`2**precision`, so every in-range symbol is codable; a table has at least 2 entries (constriction's smallest
distribution).

Two kinds of tables, by `context`:

- `context = 0` (coder 1): one table per row, estimated at export time from the entropy model the codec was
  trained with (a logistic density per row, `models/prior.py`).
- `context = 1` (coder 2): `CONTEXTS` = 15 tables per row, all of the row's size; the table of symbol
  `s[c, f, t]` is chosen by two symbols already coded, each taken relative to its row's `center`
  (`d = s - center`):
      a = clip(d[c, f - 1, t], -2, 2) + 2      (the row below in frequency; 2 for f = 0)
      b = min(|d[c - 1, f, t]|, 2)             (the same row of the previous channel; 0 for c = 0)
      table index = 3 * a + b
  Neighbouring rows of the latent move together (a voiced frame lifts many rows at once), which a table per
  row cannot see (what it saves: docs/MEASURED.md).
  The tables are counted from the latents of training audio at export time (`fit_context_tables`).

Determinism: the tables are integers, and the coder is driven by `freqs / 2**precision` in float64
(an exact division), which constriction quantizes with integer arithmetic: the same symbols give the same
bytes on every machine. The constriction version is pinned because its quantization defines the format.

Bitstream of one audio channel: the rows of `[C, F, T]` in row-major order (c, then f), each row's T symbols
in time order, range-coded into 32-bit words, stored little-endian (so its length is a multiple of 4).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import constriction
import numpy as np
import numpy.typing as npt

from .errors import CodecError, FormatError, ModelError

MAX_TABLE_SIZE = 4096
# Rate-aware rounding's largest lambda: at 10 a value already goes to its cheaper neighbour unless the two cost
# within a tenth of a bit; far above, the costs overflow float64 and every value would go down.
MAX_RATE_LAMBDA = 1000.0
# Rate-aware rounding leaves steps whose latent changes by more than this (root mean square) alone: measured on
# the fidelity suite's clicks (docs/fidelity.md); speech's syllables mostly stay below it.
ONSET_STEP_CHANGE = 5.0
# ... where the onset is a transient: the input's power over the two steps after its burst (steps t - 1 to
# t + 1) is under this fraction of the burst's. A sustained onset (a tone or vowel after silence) is rounded
# rate-aware like the steps after it: rounded plainly it came out louder than them, a 3 kHz tone's first 10
# ms 1.45 dB over its steady peak at 10 kbps (docs/MEASURED.md, "Transients alone keep plain rounding").
TRANSIENT_POWER_DROP = 0.25
BITS_STEP = 2.0**-16  # a symbol's cost in bits, on this grid (`EntropyTables._bits`)
CONTEXTS = 15  # tables per row with context = 1
I32 = npt.NDArray[np.int32]


@dataclass(frozen=True)
class EntropyTables:
    """Integer frequency tables: `offsets` per row, `freqs` per (row, context), both row-major over (latent
    channel, frequency row); `centers` per row with `context = 1`, empty otherwise."""

    channels: int
    bins: int
    precision: int
    offsets: tuple[int, ...]  # [channels * bins]: the symbol of each row's first entry
    freqs: tuple[tuple[int, ...], ...]  # [channels * bins * n_contexts][table size]
    context: int = 0
    centers: tuple[int, ...] = ()  # [channels * bins] with context = 1

    def __post_init__(self) -> None:
        if not (1 <= self.channels <= 256 and 1 <= self.bins <= 4096 and 8 <= self.precision <= 24):
            raise ModelError("entropy tables: bad channels, bins or precision")
        if self.context not in (0, 1):
            raise ModelError(f"entropy tables: unknown context {self.context}")
        rows = self.channels * self.bins
        if len(self.offsets) != rows or len(self.freqs) != rows * self.n_contexts:
            raise ModelError("entropy tables: wrong number of tables")
        if len(self.centers) != (rows if self.context else 0):
            raise ModelError("entropy tables: wrong number of centers")
        for f in self.freqs:
            if not 2 <= len(f) <= MAX_TABLE_SIZE or min(f) < 1 or sum(f) != 1 << self.precision:
                raise ModelError("entropy tables: a table has under 2 or too many entries, a zero or a wrong sum")
        n = self.n_contexts
        for r in range(rows):
            if len({len(f) for f in self.freqs[r * n : (r + 1) * n]}) != 1:
                raise ModelError("entropy tables: the tables of a row differ in size")
        if self.context and any(not lo <= c <= hi for c, lo, hi in
                                zip(self.centers, self.low.ravel(), self.high.ravel(), strict=True)):
            raise ModelError("entropy tables: a center is outside its row's range")

    @property
    def n_contexts(self) -> int:
        return CONTEXTS if self.context else 1

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"channels": self.channels, "bins": self.bins, "precision": self.precision,
                             "offsets": list(self.offsets), "freqs": [list(f) for f in self.freqs]}
        if self.context:  # context-free tables keep their original JSON (it is hashed into model ids)
            d |= {"context": self.context, "centers": list(self.centers)}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EntropyTables:
        try:
            return cls(int(d["channels"]), int(d["bins"]), int(d["precision"]),
                       tuple(int(o) for o in d["offsets"]), tuple(tuple(int(x) for x in f) for f in d["freqs"]),
                       int(d.get("context", 0)), tuple(int(c) for c in d.get("centers", ())))
        except (KeyError, TypeError, ValueError) as e:
            raise ModelError(f"bad entropy tables: {e!r}") from None

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_json(cls, s: str) -> EntropyTables:
        try:
            d = json.loads(s)
        except json.JSONDecodeError as e:
            raise ModelError(f"entropy tables are not JSON: {e}") from None
        if not isinstance(d, dict):
            raise ModelError("entropy tables are not a JSON object")
        return cls.from_dict(d)

    @cached_property
    def low(self) -> I32:
        """`[C, F, 1]` smallest codable symbol (computed once: a stream codes many frames)."""
        return np.array(self.offsets, np.int32).reshape(self.channels, self.bins, 1)

    @cached_property
    def high(self) -> I32:
        """`[C, F, 1]` largest codable symbol."""
        sizes = np.array([len(f) for f in self.freqs[:: self.n_contexts]], np.int32)
        return self.low + sizes.reshape(self.channels, self.bins, 1) - 1

    @cached_property
    def center(self) -> I32:
        """`[C, F, 1]` each row's center (context = 1)."""
        return np.array(self.centers, np.int32).reshape(self.channels, self.bins, 1)

    @cached_property
    def _models(self) -> list[Any]:
        """context 0: one constriction model per row."""
        scale = float(1 << self.precision)
        return [constriction.stream.model.Categorical(np.array(f, np.float64) / scale, perfect=False)
                for f in self.freqs]

    @cached_property
    def _context_terms(self) -> tuple[list[I32], list[I32]]:
        """context 1, per row: `3 * a` and `b` of the context rule (module docstring) for each of the row's
        table entries (`symbol - offset`), so that a decoded row's entries give the next rows' contexts by
        lookup."""
        a3, b = [], []
        for low, high, center in zip(self.low.ravel(), self.high.ravel(), self.center.ravel(), strict=True):
            d = np.arange(low, high + 1, dtype=np.int32) - center
            a3.append((3 * (np.clip(d, -2, 2) + 2)).astype(np.int32))
            b.append(np.minimum(np.abs(d), 2).astype(np.int32))
        return a3, b

    @cached_property
    def _probs(self) -> list[npt.NDArray[np.float64]]:
        """context 1: `[CONTEXTS, size] float64` per row, each symbol's table picked by its context."""
        scale = float(1 << self.precision)
        n = CONTEXTS
        return [np.array(self.freqs[r * n : (r + 1) * n], np.float64) / scale for r in range(len(self.offsets))]

    @cached_property
    def _bits(self) -> list[npt.NDArray[np.float64]]:
        """`[n_contexts, size] float64` per row: each symbol's cost in bits, `precision - log2(freq)` rounded
        to a multiple of `BITS_STEP`, so that two runtimes' `log2`, which may differ in the last bit, give the
        same costs (no `log2` of an integer up to 2**24 lies within 1e-8 of a step of a midpoint of that grid)."""
        n = self.n_contexts
        return [np.rint((self.precision - np.log2(np.array(self.freqs[r * n : (r + 1) * n], np.float64)))
                        / BITS_STEP) * BITS_STEP for r in range(len(self.offsets))]


def quantize_probs(p: npt.NDArray[np.float64], precision: int) -> tuple[int, ...]:
    """Probabilities `[n]` -> integer frequencies, each >= 1, summing to `2**precision` (the rounding
    remainder goes to the largest)."""
    q = np.floor(p * ((1 << precision) - p.size)).astype(np.int64) + 1
    q[np.argmax(q)] += (1 << precision) - int(q.sum())
    return tuple(int(x) for x in q)


_FAMILY = constriction.stream.model.Categorical(perfect=False)  # a categorical given per symbol


def contexts(symbols: I32, centers: I32) -> I32:
    """`[C, F, T]` table index of every symbol of `symbols [C, F, T]` under the context rule (see above), the
    rows' `centers [C, F, 1]` given: for an encoder, which has every row, and for counting tables. A decoder
    has only the rows before the one it decodes, and looks the same rule up (`EntropyTables._context_terms`)."""
    d = symbols - centers
    a = np.full(symbols.shape, 2, np.int32)
    a[:, 1:] = np.minimum(np.maximum(d[:, :-1], -2), 2) + 2
    b = np.zeros(symbols.shape, np.int32)
    b[1:] = np.minimum(np.abs(d[:-1]), 2)
    return (3 * a + b).astype(np.int32)


def to_symbols(latent: npt.NDArray[np.float32], tables: EntropyTables) -> I32:
    """latent `[C, F, T] float32` -> symbols `[C, F, T] int32`: rounded, clipped to each table's range."""
    return np.clip(np.rint(latent), tables.low, tables.high).astype(np.int32)


def check_rate_lambda(value: object) -> float:
    """A rate-aware rounding's lambda -> float; CodecError unless it is a real number (not a bool or a
    string) in 0..`MAX_RATE_LAMBDA`."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise CodecError(f"rate_lambda must be a number in 0..{MAX_RATE_LAMBDA:g}, got {value!r}")
    lam = float(value)
    if not 0 <= lam <= MAX_RATE_LAMBDA:  # NaN too
        raise CodecError(f"rate_lambda must be a number in 0..{MAX_RATE_LAMBDA:g}, got {value!r}")
    return lam


def rate_aware_symbols(latent: npt.NDArray[np.float32], tables: EntropyTables, rate_lambda: float,
                       power: npt.NDArray[np.float64] | None = None) -> I32:
    """latent `[C, F, T] float32` -> symbols `[C, F, T] int32` that trade error for rate: each value becomes
    whichever of its two neighbouring integers (clipped to its table's range) costs less in
    `(x - s)**2 + rate_lambda * bits(s)`, `bits(s) = precision - log2(freq)` (on a grid of 2**-16) under the
    table that codes it, which for `context = 1` the symbols already chosen pick (rows in coding order, a
    row's steps at once; greedy: a choice's effect on later rows' contexts is not counted). Steps at an onset
    keep plain rounding: step `t` and its neighbours where the latent's root-mean-square change from step
    `t - 1` exceeds `ONSET_STEP_CHANGE` (pricing bits pulls a click's rare symbols towards common ones and
    smears it backwards: docs/fidelity.md), and with `power`, each step's input power `[T + k]`
    (`latent.step_power`; the k after the latent's: the steps that follow it, where the encoder has them),
    only where the onset is a transient (`TRANSIENT_POWER_DROP`). Rate-distortion
    optimized quantization as in video coding (e.g. Karczewicz et al., "Rate distortion optimized
    quantization", ITU-T VCEG-AH21, 2008). `rate_lambda = 0` is `to_symbols` (ties to even); the decoder is
    untouched: any in-range symbols decode (FORMAT.md 7.4). Mirrored by the JavaScript encoder (float64
    throughout, sums in the same order)."""
    c, f, t = latent.shape
    if not rate_lambda > 0 or t == 0:
        return to_symbols(latent, tables)
    x = latent.astype(np.float64)
    lo = np.clip(np.floor(x), tables.low, tables.high).astype(np.int32)
    hi = np.clip(np.floor(x) + 1, tables.low, tables.high).astype(np.int32)
    plain = to_symbols(latent, tables)
    change = np.zeros(t - 1)  # [T - 1]: rows summed one by one, in coding order (np.sum of one column is pairwise)
    for d in np.diff(x.reshape(c * f, t), axis=1):
        change += d * d
    onset = np.concatenate([[False], change > ONSET_STEP_CHANGE**2 * (c * f)])
    if power is not None:  # a transient's burst, or an onset too near the end to tell
        p = np.asarray(power, dtype=np.float64)
        if p.ndim != 1 or p.size < t:
            raise CodecError(f"power must be one per step ({t}) and those after, got shape {p.shape}")
        for i in np.flatnonzero(onset):
            after = p[i + 2 : i + 4]
            onset[i] = after.size == 0 or after.max() < TRANSIENT_POWER_DROP * p[max(i - 1, 0) : i + 2].max()
    keep = onset | np.concatenate([onset[1:], [False]]) | np.concatenate([[False], onset[:-1]])
    out = np.empty((c, f, t), np.int32)
    index = out.reshape(c * f, t)  # table entries once chosen (symbol - offset), for the next rows' contexts
    bits = tables._bits
    steps = np.arange(t)
    for r in range(c * f):
        ci, fi = divmod(r, f)
        if tables.context:  # the decoder's lookup of the context rule (`decode_many`)
            a3, b = tables._context_terms
            ctx = a3[r - 1][index[r - 1]] if fi else np.full(t, 6, np.int32)
            if ci:
                ctx = ctx + b[r - f][index[r - f]]
            table = bits[r][ctx]  # [T, size]
        else:
            table = np.broadcast_to(bits[r][0], (t, bits[r].shape[1]))
        off = tables.offsets[r]
        s0, s1, v = lo[ci, fi], hi[ci, fi], x[ci, fi]
        cost0 = (v - s0) ** 2 + rate_lambda * table[steps, s0 - off]
        cost1 = (v - s1) ** 2 + rate_lambda * table[steps, s1 - off]
        out[ci, fi] = np.where(keep, plain[ci, fi], np.where(cost1 < cost0, s1, s0))
        index[r] -= off
    return out + tables.low


def encode(symbols: I32, tables: EntropyTables) -> bytes:
    """symbols `[C, F, T]` (within the tables' ranges) -> range-coded bytes."""
    c, f, _ = symbols.shape
    if (c, f) != (tables.channels, tables.bins):
        raise ModelError(f"latent rows {(c, f)} do not match the entropy tables {(tables.channels, tables.bins)}")
    if np.any(symbols < tables.low) or np.any(symbols > tables.high):
        raise ValueError("symbol outside its table's range (use to_symbols)")
    enc = constriction.stream.queue.RangeEncoder()
    index = symbols - tables.low
    ctx = contexts(symbols, tables.center) if tables.context else None
    for r in range(c * f):
        ci, fi = divmod(r, f)
        row = np.ascontiguousarray(index[ci, fi], np.int32)
        if ctx is not None:
            enc.encode(row, _FAMILY, tables._probs[r][ctx[ci, fi]])
        else:
            enc.encode(row, tables._models[r])
    return bytes(enc.get_compressed().astype("<u4").tobytes())


def decode(data: bytes, tables: EntropyTables, frames: int) -> I32:
    """Range-coded bytes -> symbols `[C, F, frames] int32`. Damaged data gives wrong symbols, or FormatError."""
    out: I32 = decode_many([data], tables, frames)[0]
    return out


def decode_many(data: Sequence[bytes], tables: EntropyTables, frames: int) -> I32:
    """`decode` of N sections of `frames` steps each, coded apart (the packets of a stream) -> `[N, C, F,
    frames] int32`; FormatError if any is damaged. The same symbols as N calls, in a fraction of the time:
    each row's contexts and tables are looked up for all N at once, leaving only the coder's calls per
    section."""
    c, f, n = tables.channels, tables.bins, len(data)
    for d in data:
        if len(d) % 4:
            raise FormatError(f"range-coded section is {len(d)} bytes, not a multiple of 4")
    index = np.empty((c * f, n, frames), np.int32)  # table entries (symbol - offset), row-major
    try:
        decoders = [constriction.stream.queue.RangeDecoder(np.frombuffer(d, "<u4").astype(np.uint32))
                    for d in data]
        if tables.context:
            # The context reads the rows already decoded (the rule of `contexts`, by lookup of their entries).
            a3, b = tables._context_terms
            probs = tables._probs
            first = np.full((n, frames), 6, np.int32)  # 3 * a for f = 0 (a = 2), b = 0 for c = 0
            for r in range(c * f):
                ci, fi = divmod(r, f)
                ctx = a3[r - 1][index[r - 1]] if fi else first
                if ci:
                    ctx = ctx + b[r - f][index[r - f]]
                p = probs[r][ctx]  # [N, frames, size]
                for k, dec in enumerate(decoders):
                    index[r, k] = dec.decode(_FAMILY, p[k])
        else:
            for r in range(c * f):
                for k, dec in enumerate(decoders):
                    index[r, k] = dec.decode(tables._models[r], frames)
    except (ValueError, RuntimeError, AssertionError) as e:  # constriction's errors for invalid streams
        raise FormatError(f"range-coded latent is invalid: {e}") from None
    out: I32 = np.moveaxis(index, 1, 0).reshape(n, c, f, frames) + tables.low
    return out


def fit_context_tables(latents: list[I32], base: EntropyTables, precision: int = 16) -> EntropyTables:
    """Context tables (`context = 1`) counted from symbol arrays `[C, F, T] int32` of training audio, over the
    row ranges of the context-free `base` tables. Each row's center is its most frequent symbol; a context's
    counts are smoothed towards the row's overall histogram (one pseudo-count), so rare contexts fall back to
    it and every symbol keeps a frequency >= 1."""
    if base.context:
        raise ValueError("base tables must be context-free")
    c, f = base.channels, base.bins
    size = max(len(t) for t in base.freqs)
    sizes = (base.high - base.low + 1)[..., 0]
    pooled = np.zeros((c, f, size))
    for s in latents:
        idx = s - base.low
        for ci in range(c):
            for fi in range(f):
                pooled[ci, fi] += np.bincount(idx[ci, fi], minlength=size)[:size]
    centers = (np.argmax(pooled, axis=-1) + base.low[..., 0]).astype(np.int32)
    counts = np.zeros((c, f, CONTEXTS, size))
    for s in latents:
        idx = s - base.low
        ctx = contexts(s, centers[..., None])
        for ci in range(c):
            for fi in range(f):
                np.add.at(counts[ci, fi], (ctx[ci, fi], idx[ci, fi]), 1)
    freqs: list[tuple[int, ...]] = []
    for ci in range(c):
        for fi in range(f):
            n = int(sizes[ci, fi])
            marginal = pooled[ci, fi, :n] + 0.5
            marginal /= marginal.sum()
            for k in range(CONTEXTS):
                cnt = counts[ci, fi, k, :n]
                freqs.append(quantize_probs((cnt + marginal) / (cnt.sum() + 1.0), precision))
    return EntropyTables(c, f, precision, base.offsets, tuple(freqs), 1, tuple(int(x) for x in centers.ravel()))
