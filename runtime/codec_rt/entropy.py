"""Entropy coding of the integer latent symbols with constriction's range coder.

A model with `coder = 1` carries `EntropyTables` in its ONNX metadata (key `codec_rt.entropy`): one integer
frequency table per (latent channel, frequency row), estimated at export time from the entropy model the
codec was trained with. A table covers the symbols `offset .. offset + len(freqs) - 1`; the quantizer clips
to that range (its tails hold under 1e-6 of the trained density). Every frequency is >= 1 and each table
sums to `2**precision`, so every in-range symbol is codable; a table has at least 2 entries (constriction's
smallest distribution).

Determinism: the tables are integers, and the coder is driven by `freqs / 2**precision` in float64
(an exact division), which constriction quantizes with integer arithmetic: the same symbols give the same
bytes on every machine. The constriction version is pinned because its quantization defines the format.

Bitstream of one audio channel: the symbols of `[C, F, T]` in row-major order, table (c, f) for row
(c, f), range-coded into 32-bit words, stored little-endian (so its length is a multiple of 4).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import constriction
import numpy as np
import numpy.typing as npt

from .errors import FormatError, ModelError

MAX_TABLE_SIZE = 4096
I32 = npt.NDArray[np.int32]


@dataclass(frozen=True)
class EntropyTables:
    """Integer frequency tables, row-major over (latent channel, frequency row)."""

    channels: int
    bins: int
    precision: int
    offsets: tuple[int, ...]  # [channels * bins]: the symbol of each table's first entry
    freqs: tuple[tuple[int, ...], ...]  # [channels * bins][table size]

    def __post_init__(self) -> None:
        if not (1 <= self.channels <= 256 and 1 <= self.bins <= 4096 and 8 <= self.precision <= 24):
            raise ModelError("entropy tables: bad channels, bins or precision")
        if len(self.offsets) != self.channels * self.bins or len(self.freqs) != len(self.offsets):
            raise ModelError("entropy tables: wrong number of tables")
        for f in self.freqs:
            if not 2 <= len(f) <= MAX_TABLE_SIZE or min(f) < 1 or sum(f) != 1 << self.precision:
                raise ModelError("entropy tables: a table has under 2 or too many entries, a zero or a wrong sum")

    def to_dict(self) -> dict[str, Any]:
        return {"channels": self.channels, "bins": self.bins, "precision": self.precision,
                "offsets": list(self.offsets), "freqs": [list(f) for f in self.freqs]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EntropyTables:
        try:
            return cls(int(d["channels"]), int(d["bins"]), int(d["precision"]),
                       tuple(int(o) for o in d["offsets"]), tuple(tuple(int(x) for x in f) for f in d["freqs"]))
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
        sizes = np.array([len(f) for f in self.freqs], np.int32).reshape(self.channels, self.bins, 1)
        return self.low + sizes - 1

    @cached_property
    def _models(self) -> list[Any]:
        scale = float(1 << self.precision)
        return [constriction.stream.model.Categorical(np.array(f, np.float64) / scale, perfect=False)
                for f in self.freqs]


def to_symbols(latent: npt.NDArray[np.float32], tables: EntropyTables) -> I32:
    """latent `[C, F, T] float32` -> symbols `[C, F, T] int32`: rounded, clipped to each table's range."""
    return np.clip(np.rint(latent), tables.low, tables.high).astype(np.int32)


def encode(symbols: I32, tables: EntropyTables) -> bytes:
    """symbols `[C, F, T]` (within the tables' ranges) -> range-coded bytes."""
    c, f, _ = symbols.shape
    if (c, f) != (tables.channels, tables.bins):
        raise ModelError(f"latent rows {(c, f)} do not match the entropy tables {(tables.channels, tables.bins)}")
    if np.any(symbols < tables.low) or np.any(symbols > tables.high):
        raise ValueError("symbol outside its table's range (use to_symbols)")
    enc = constriction.stream.queue.RangeEncoder()
    index = (symbols - tables.low).reshape(c * f, -1)
    for row, model in zip(index, tables._models, strict=True):
        enc.encode(np.ascontiguousarray(row, np.int32), model)
    return bytes(enc.get_compressed().astype("<u4").tobytes())


def decode(data: bytes, tables: EntropyTables, frames: int) -> I32:
    """Range-coded bytes -> symbols `[C, F, frames] int32`. Damaged data gives wrong symbols, or FormatError."""
    if len(data) % 4:
        raise FormatError(f"range-coded section is {len(data)} bytes, not a multiple of 4")
    words = np.frombuffer(data, "<u4").astype(np.uint32)
    out = np.empty((tables.channels * tables.bins, frames), np.int32)
    try:
        dec = constriction.stream.queue.RangeDecoder(words)
        for i, model in enumerate(tables._models):
            out[i] = dec.decode(model, frames)
    except (ValueError, RuntimeError, AssertionError) as e:  # constriction's errors for invalid streams
        raise FormatError(f"range-coded latent is invalid: {e}") from None
    return out.reshape(tables.channels, tables.bins, frames) + tables.low
