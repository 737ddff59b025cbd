"""Section 3 of docs/FORMAT.md: a model directory's metadata, read from the ONNX protobuf as a runtime
without the onnx package would (3.3), its config (3.4), entropy tables (3.5) and decoding defaults (3.6)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, pos


def _fields(buf: bytes) -> list[tuple[int, int, Any]]:
    """A protobuf message -> [(field number, wire type, value)]: ints for types 0, 1, 5; bytes for 2."""
    out, pos = [], 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        num, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = int.from_bytes(buf[pos : pos + 8], "little"), pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + n], pos + n
        elif wire == 5:
            value, pos = int.from_bytes(buf[pos : pos + 4], "little"), pos + 4
        else:
            raise ValueError(f"wire type {wire} (a group) in an ONNX file")
        out.append((num, wire, value))
    return out


def onnx_metadata(path: Path) -> dict[str, str]:
    """3.3: ModelProto field 14 (metadata_props), each entry key = field 1, value = field 2."""
    meta = {}
    for num, wire, value in _fields(path.read_bytes()):
        if num == 14 and wire == 2:
            entry = {n: v for n, w, v in _fields(value) if w == 2}
            meta[entry[1].decode()] = entry.get(2, b"").decode()
    return meta


CONFIG_DEFAULTS = {"sample_rate": 16000, "n_fft": 512, "hop": 128, "channels": 8, "hidden": 32,
                   "freq_downsamples": 3, "time_downsamples": 2, "default_bits": 8, "coder": 0, "causal": 0,
                   "phase_context": 0, "phase_advance": 0, "phase_floor": 0}


@dataclass
class Model:
    """A model directory as sections 3.2-3.7 describe it."""

    path: Path
    cfg: dict[str, int]
    model_id: str
    contrast: float
    offsets: list[int] = field(default_factory=list)
    cdfs: list[list[int]] = field(default_factory=list)  # 5.2, one per table
    contexts: int = 1  # K
    centers: list[int] = field(default_factory=list)
    phase_iters: int | None = None  # 3.6: the decoder's default, when it declares one
    phase_start: int = 0  # 3.6: 1 = a non-causal predicted-phase decode starts from 6.5's phase-gradient start

    @property
    def n_bins(self) -> int:
        return self.cfg["n_fft"] // 2 + 1

    @property
    def stride(self) -> int:
        return 2 ** self.cfg["time_downsamples"]

    @property
    def latent_bins(self) -> int:
        f = self.n_bins
        for _ in range(self.cfg["freq_downsamples"]):
            f = -(-f // 2)
        return f


def cdf24(q: list[int], p: int) -> list[int]:
    """5.2: a table of frequencies summing to 2**p -> its 24-bit cumulative counts cdf[0..n]."""
    n, acc, cdf = len(q), 0, []
    for i, qi in enumerate(q):
        cdf.append(acc * ((1 << 24) - n) // (1 << p) + i)
        acc += qi
    return cdf + [1 << 24]


@cache
def load_model(path: Path) -> Model:
    enc, dec = onnx_metadata(path / "encoder.onnx"), onnx_metadata(path / "decoder.onnx")
    assert enc["codec_rt.role"] == "encoder" and dec["codec_rt.role"] == "decoder"
    for key in ("codec_rt.config", "codec_rt.model_id", "codec_rt.entropy"):
        assert enc.get(key) == dec.get(key), key
    raw = json.loads(enc["codec_rt.config"])
    assert set(raw) <= set(CONFIG_DEFAULTS)
    model = Model(path, CONFIG_DEFAULTS | raw, enc["codec_rt.model_id"], float(dec.get("codec_rt.contrast", 1.15)))
    assert 0.5 <= model.contrast <= 2.0 and re.fullmatch("[0-9a-f]{16}", model.model_id)
    if "codec_rt.phase_iters" in dec:
        assert re.fullmatch("[0-9]+", dec["codec_rt.phase_iters"]) and int(dec["codec_rt.phase_iters"]) <= 10000
        model.phase_iters = int(dec["codec_rt.phase_iters"])
    start = dec.get("codec_rt.phase_start", "0")  # 3.6: exactly "0" or "1", absent 0, else refuse the model
    assert start in ("0", "1"), f"bad codec_rt.phase_start {start!r}"
    model.phase_start = int(start)
    if model.cfg["coder"]:
        t = json.loads(enc["codec_rt.entropy"])
        rows = t["channels"] * t["bins"]
        assert (t["channels"], t["bins"]) == (model.cfg["channels"], model.latent_bins)
        assert t.get("context", 0) == model.cfg["coder"] - 1 and 8 <= t["precision"] <= 24
        model.contexts = 15 if t.get("context", 0) else 1
        model.offsets, model.centers = t["offsets"], t.get("centers", [])
        assert len(model.offsets) == rows and len(t["freqs"]) == rows * model.contexts
        for q in t["freqs"]:
            assert 2 <= len(q) <= 4096 and min(q) >= 1 and sum(q) == 1 << t["precision"]
        model.cdfs = [cdf24(q, t["precision"]) for q in t["freqs"]]
    return model
