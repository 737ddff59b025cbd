"""Section 5 of docs/FORMAT.md: symbol order and contexts (5.1), the range decoder (5.4) and encoder (5.5),
in plain Python integers over the 24-bit cumulative counts of 5.2."""

from __future__ import annotations

import bisect
import struct

import numpy as np

from .container import SpecError
from .model import Model

M64 = (1 << 64) - 1


def table_of(m: Model, v: np.ndarray, c: int, f: int) -> np.ndarray:
    """5.1: the table index of each symbol of row (c, f), from rows already decoded in v [C, F, S]."""
    r, steps = c * m.latent_bins + f, v.shape[-1]
    if m.contexts == 1:
        return np.full(steps, r)
    ctr = np.array(m.centers).reshape(m.cfg["channels"], m.latent_bins)
    a = np.clip(v[c, f - 1] - ctr[c, f - 1], -2, 2) + 2 if f > 0 else np.full(steps, 2)
    b = np.minimum(np.abs(v[c - 1, f] - ctr[c - 1, f]), 2) if c > 0 else np.zeros(steps, np.int64)
    return r * 15 + 3 * a + b


def range_decode(coded: bytes, m: Model, steps: int) -> np.ndarray:
    """5.3-5.4: one section's bytes -> symbol values [C, F, steps]."""
    words = list(struct.unpack(f"<{len(coded) // 4}I", coded)) + [0, 0]  # reads past the end give 0
    lower, rng, point, nxt = 0, M64, (words[0] << 32) | words[1], 2
    n_words, cdfs = len(words) - 2, m.cdfs
    c_n, f_n = m.cfg["channels"], m.latent_bins
    v = np.zeros((c_n, f_n, steps), np.int64)
    for c in range(c_n):
        for f in range(f_n):
            row = []
            for tab in table_of(m, v, c, f).tolist():
                cdf = cdfs[tab]
                scale = rng >> 24
                q = ((point - lower) & M64) // scale
                if q >= 1 << 24:
                    raise SpecError("FormatError", "invalid range-coded data")
                i = bisect.bisect_right(cdf, q) - 1
                lower = (lower + scale * cdf[i]) & M64
                rng = scale * (cdf[i + 1] - cdf[i])
                if rng < 1 << 32:
                    lower, rng = (lower << 32) & M64, rng << 32
                    point = ((point << 32) & M64) | (words[nxt] if nxt < n_words else 0)
                    nxt += 1
                row.append(i)
            v[c, f] = np.array(row) + m.offsets[c * f_n + f]
    return v


def range_encode(v: np.ndarray, m: Model) -> bytes:
    """5.5: symbol values [C, F, S] -> the section's coded bytes."""
    out: list[int] = []
    lower, rng, pending = 0, M64, None

    def flush(carry: bool) -> None:
        assert pending is not None
        count, head = pending
        out.extend([(head + 1) & 0xFFFFFFFF] + [0] * (count - 1) if carry else [head] + [0xFFFFFFFF] * (count - 1))

    for c in range(v.shape[0]):
        for f in range(v.shape[1]):
            r = c * v.shape[1] + f
            for tab, i in zip(table_of(m, v, c, f).tolist(), (v[c, f] - m.offsets[r]).tolist(), strict=True):
                cdf = m.cdfs[tab]
                scale = rng >> 24
                rng = scale * (cdf[i + 1] - cdf[i])
                new_lower = (lower + scale * cdf[i]) & M64
                if pending is not None and new_lower + rng <= M64:
                    flush(new_lower < lower)
                    pending = None
                lower = new_lower
                if rng < 1 << 32:
                    rng <<= 32
                    word, lower = lower >> 32, (lower << 32) & M64
                    if pending is not None:
                        pending = (pending[0] + 1, pending[1])
                    elif lower + rng <= M64:
                        out.append(word)
                    else:
                        pending = (1, word)
    point = (lower + (1 << 32) - 1) & M64
    if pending is not None:
        flush(point < lower)
    out.append(point >> 32)
    if ((lower + rng) & M64) >> 32 == point >> 32:
        out.append(0)
    return struct.pack(f"<{len(out)}I", *out)
