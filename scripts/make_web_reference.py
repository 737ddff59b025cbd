#!/usr/bin/env python3
"""Reference data for the JavaScript runtime's conformance tests (web/test/), made by the Python runtime.

    python scripts/make_web_reference.py [--out web/test/ref]        # write the reference folder
    python scripts/make_web_reference.py score LIST.json               # score blobs written by JavaScript

`make` writes, under the (git-ignored) output folder, `manifest.json` and raw little-endian arrays:
- the inputs the JavaScript encoder codes too (`in_*.f32`: [channels, samples] float32);
- one case per golden blob (tests/data/golden_v*.cra), per blob of a retired model (tests/data/retired/) and
  per blob that every shipped model writes of those inputs (mono speech at 16 kHz, framed and whole; stereo
  speech at 48 kHz, framed; stereo music at 44.1 kHz, whole; stored phase on one point; a chord over speech
  at 16 kHz for the tonal band; a steady tone at 16 kHz for the low-latency point's steady peaks): the
  blob, its symbols (coders 1, 2) or codes and scales (coder 0) and gains, packet after packet and channel
  after channel, and codec-rt's decoded audio with phase refinement off (`*.off.f32`) and on (`*.on.f32`),
  both at the model's default contrast;
- a framed blob cut inside a packet, with codec-rt's decode of its whole packets;
- `mutants.bin`: mutated blobs (scripts/fuzz_blob.py's mutations, half with their CRCs re-sealed) and the
  error class codec-rt raises for each when reading it, checking it against its model and decoding its
  symbols ("ok" when none).

`score` reads a JSON list of {"blob": path, "input": in_*.f32 name, "reference": a Python blob's path},
decodes each blob with codec-rt and prints JSON: per blob, its shape and rate, and its PESQ-WB (pesq, when
installed) against the input's first channel at 16 kHz beside the reference blob's.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import soxr

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
MODELS = REPO / "runtime" / "codec_rt" / "models"
MUTANTS = 3000
MUTANT_SEED = 14


def _fuzz() -> Any:
    spec = importlib.util.spec_from_file_location("fuzz_blob", REPO / "scripts" / "fuzz_blob.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def inputs() -> dict[str, tuple[np.ndarray, int]]:
    """The clips both runtimes encode: [channels, samples] float32 and the rate."""
    speech, sr = sf.read(DATA / "speech_fr_16k.flac", dtype="float32", always_2d=True)
    music, mr = sf.read(DATA / "music_44k_stereo.ogg", dtype="float32", always_2d=True)
    s16 = np.ascontiguousarray(speech.T)
    s48 = soxr.resample(speech[: 2 * sr], sr, 48000, quality="HQ").astype(np.float32).T
    t = np.arange(2 * sr) / sr  # a C-E-G chord over the speech: what mode tonal_band_phase holds
    chord = sum(0.2 * np.sin(2 * np.pi * f * t) for f in (261.63, 329.63, 392.0)) + 0.1 * speech[: 2 * sr, 0]
    return {
        "speech16": (s16, sr),
        "speech48st": (np.ascontiguousarray(np.stack([s48[0], 0.5 * s48[0]])), 48000),
        "music44st": (np.ascontiguousarray(music[: 2 * mr].T), mr),
        "chord16": (chord.astype(np.float32)[None], sr),
        # a steady tone, which the causal decoder's steady peaks lock (FORMAT.md 6.5), the same bits in each
        # runtime; fading by 3 dB a second: at one level, a packet's gain over the stream's is 1 but for
        # rounding, on the edge of a gain step (7.6), and either runtime may round it either way
        "tone16": ((0.3 * 10 ** (-3 * t / 20) * np.sin(2 * np.pi * 3000 * t)).astype(np.float32)[None], sr),
    }


def symbols(data: bytes, model_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """codec-rt's symbols or codes, scales and gains of every packet and channel, and the packet count."""
    from codec_rt import entropy, packets
    from codec_rt.model import Model

    header, pkts = packets.read_packets(data)
    tables = Model.load(model_dir).entropy
    sym, scales, gains = [], [], []
    for p in pkts:
        for ch in p.channels:
            v = entropy.decode(ch.coded, tables, p.steps) if header.coder else ch.codes
            assert v is not None
            sym.append(np.asarray(v, np.int32).ravel())
            scales.append(np.asarray(ch.scales, np.float32))
            gains.append(ch.gain)
    return np.concatenate(sym), np.concatenate(scales), np.array(gains, np.float32), len(pkts)


def outcome(data: bytes, model: Any) -> str:
    """The error class codec-rt raises reading `data`, checking it against `model` and decoding its symbols."""
    from codec_rt import latent, packets
    from codec_rt.errors import CodecError

    try:
        header, pkts = packets.read_packets(data)
        model.check_compatible(header)
        for p in pkts:
            latent.decode(model, header, p.channels, p.steps)
    except CodecError as e:
        return type(e).__name__
    return "ok"


def make(out: Path) -> None:
    from codec_rt import Codec, ladder, packets
    from codec_rt.decoder import StreamDecoder

    out.mkdir(parents=True, exist_ok=True)
    clips = inputs()
    # `score` runs with the same interpreter and import path (a worktree's runtime before an installed one)
    manifest: dict[str, Any] = {"python": sys.executable, "pythonpath": os.environ.get("PYTHONPATH", ""),
                                "inputs": {}, "cases": [], "cut": {}, "mutants": {}}
    for name, (x, rate) in clips.items():
        x.astype("<f4").tofile(out / f"in_{name}.f32")
        manifest["inputs"][name] = {"file": f"in_{name}.f32", "channels": x.shape[0], "samples": x.shape[1],
                                    "sample_rate": rate}

    def case(name: str, data: bytes, model_dir: Path, **extra: Any) -> None:
        codec = Codec.load(model_dir)
        (out / f"{name}.cra").write_bytes(data)
        sym, scales, gains, n_packets = symbols(data, model_dir)
        sym.astype("<i4").tofile(out / f"{name}.sym.i32")
        scales.astype("<f4").tofile(out / f"{name}.scales.f32")
        gains.astype("<f4").tofile(out / f"{name}.gains.f32")
        off, rate = codec.decode(data, phase_iters=0)
        on, _ = codec.decode(data)
        off.astype("<f4").tofile(out / f"{name}.off.f32")
        on.astype("<f4").tofile(out / f"{name}.on.f32")
        manifest["cases"].append({
            "name": name, "blob": f"{name}.cra", "model": str(model_dir.relative_to(REPO)), "packets": n_packets,
            "channels": off.shape[0], "samples": off.shape[1], "sample_rate": rate, "coder": data[11],
            "causal": codec.config.causal, "model_rate": codec.config.sample_rate, "n_fft": codec.config.n_fft,
            "hop": codec.config.hop, **extra,
        })

    goldens = {Codec.load(d).model_id: d for d in sorted(DATA.glob("golden_model*"))}  # by the id a blob names
    for p in sorted(DATA.glob("golden_v*.cra")):
        data = p.read_bytes()
        case(p.stem, data, goldens[packets.read(data)[0].model_id])
    for p in sorted((DATA / "retired").glob("*.cra")):  # blobs of models earlier releases shipped
        case(f"retired_{p.stem}", p.read_bytes(), ladder.find(p.stem.split("_")[0]))
    seeds: list[tuple[bytes, Path]] = []
    for point in ladder.models():
        codec = Codec.load(point.path)
        jobs = [("speech16", True, "predicted", 0.0), ("speech16", False, "predicted", 0.0),
                ("speech48st", True, "predicted", 0.0), ("music44st", False, "predicted", 0.0)]
        if point.path.name == "rd12k":
            jobs += [("speech16", True, "store_phase", 0.0), ("speech16", True, "low_band_phase", 0.0),
                     ("speech48st", True, "low_band_phase", 0.0)]  # a pair: the joint start takes the first's pitch
            # rate-aware rounding (the ladder's 10 kbps point), framed and whole
            lam = max(p.rate_lambda for p in ladder.points() if p.model_id == point.model_id)
            jobs += [("speech16", True, "predicted", lam), ("speech48st", False, "predicted", lam)]
        if point.path.name in ("rd12k", "fixed32k"):  # the tonal band (1.11): framed and range-coded, and whole
            # with coder 0's band-sized payload; music holds intervals where speech seldom does
            jobs += [("speech16", True, "tonal_band_phase", 0.0), ("music44st", point.path.name == "rd12k",
                                                                   "tonal_band_phase", 0.0),
                     ("chord16", point.path.name == "rd12k", "tonal_band_phase", 0.0)]
        if point.low_latency:  # the low band held frame by frame, mono and a pair coded one by one; a tone
            jobs += [("speech16", True, "low_band_phase", 0.0), ("speech48st", True, "low_band_phase", 0.0),
                     ("tone16", True, "low_band_phase", 0.0)]
        bands = {(p.phase_bins, p.phase_bits) for p in ladder.points() if p.model_id == point.model_id} - {(None, None)}
        bands_in_order = sorted(bands, key=lambda b: (b[0] or 0, b[1] or 0))  # either may be the model's (None)
        for clip, framed, mode, lam in jobs:
            x, rate = clips[clip]
            # a point's own band (the 18 kbps point's), beside the model's default one
            for bins, bits in [(None, None), *bands_in_order] if mode == "low_band_phase" else [(None, None)]:
                data = codec.encode(x, rate, mode=mode, framed=framed, rate_lambda=lam, phase_bins=bins,
                                    phase_bits=bits)
                name = f"{point.path.name}_{clip}_{'framed' if framed else 'whole'}_{mode}"
                name += f"_lambda{lam:g}" if lam else ""
                name += f"_band{bins or 'd'}x{bits or 'd'}" if (bins, bits) != (None, None) else ""  # d: default
                case(name, data, point.path, input=clip, framed=framed, mode=mode, point=point.path.name,
                     kbps=point.kbps, low_latency=point.low_latency, rate_lambda=lam, phase_bins=bins,
                     phase_bits=bits)
            if clip == "speech16":
                seeds.append((data, point.path))

    # The low-latency point as it ships, its chord and a tone that stops in sinusoidal tracks (format 1.12),
    # framed and whole
    ll = ladder.choose(None, low_latency=True)
    for clip in ("chord16", "tone16"):
        x, rate = clips[clip]
        for framed in (True, False):
            data = Codec.for_point(ll).encode(x, rate, framed=framed)
            case(f"{ll.path.name}_{clip}_{'framed' if framed else 'whole'}_tracks", data, ll.path, input=clip,
                 framed=framed, mode=ll.mode, point=ll.path.name, kbps=ll.kbps, low_latency=True, rate_lambda=0.0,
                 phase_bins=None, phase_bits=None, tracks=True)

    # A framed blob cut inside its third packet: codec-rt decodes its two whole packets.
    x, rate = clips["speech16"]
    model_dir = MODELS / "rd6k"
    data = Codec.load(model_dir).encode(x, rate, framed=True)
    from codec_rt import packets as pk

    _, pkts = pk.read_packets(data)
    cut = data[: pkts[2].offset + 10]
    dec = StreamDecoder(Codec.load(model_dir), phase_iters=0)
    y = np.concatenate([dec.push(cut), dec.flush()], axis=1)
    (out / "cut.cra").write_bytes(cut)
    y.astype("<f4").tofile(out / "cut.off.f32")
    manifest["cut"] = {"blob": "cut.cra", "model": str(model_dir.relative_to(REPO)), "channels": y.shape[0],
                       "samples": y.shape[1], "packets": 2}

    # Mutants of the golden blobs and the shipped mono ones, with codec-rt's verdict.
    fuzz = _fuzz()
    from codec_rt.model import Model

    pool = [(p.read_bytes(), DATA / ("golden_model", "golden_model_range", "golden_model_context")[p.read_bytes()[11]])
            for p in sorted(DATA.glob("golden_v*.cra"))] + [s for s in seeds if len(s[0]) < 8 * 1024]
    loaded = {d: Model.load(d) for d in {d for _, d in pool}}
    rng = random.Random(MUTANT_SEED)
    blobs = [b for b, _ in pool]
    chunks, index = [], []
    pos = 0
    for _ in range(MUTANTS):
        i = rng.randrange(len(pool))
        data, d = pool[i]
        m = fuzz.mutate(rng, data, blobs)
        if rng.random() < 0.5:
            m = fuzz.reseal(m)
        chunks.append(m)
        index.append([pos, len(m), str(d.relative_to(REPO)), outcome(m, loaded[d])])
        pos += len(m)
    (out / "mutants.bin").write_bytes(b"".join(chunks))
    manifest["mutants"] = {"file": "mutants.bin", "index": index}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    print(f"wrote {len(manifest['cases'])} cases and {len(index)} mutants to {out}")


def score(list_file: Path) -> None:
    from codec_rt import Codec

    try:
        from pesq import pesq
    except ImportError:  # the metrics extra is not installed: shapes only
        pesq = None
    items = json.loads(list_file.read_text())
    ref_dir = list_file.parent
    results = []
    for it in items:
        info = it["input_info"]
        x = np.fromfile(ref_dir / it["input"], "<f4").reshape(info["channels"], info["samples"])
        clean = soxr.resample(x[0], info["sample_rate"], 16000, quality="HQ") if info["sample_rate"] != 16000 else x[0]
        r: dict[str, Any] = {"blob": it["blob"]}
        for key in ("blob", "reference"):
            data = Path(it[key]).read_bytes()
            y, rate = Codec.for_blob(data).decode(data)
            r[f"{key}_shape"] = [y.shape[0], y.shape[1], rate]
            if pesq is not None:
                deg = soxr.resample(y[0], rate, 16000, quality="HQ") if rate != 16000 else y[0]
                r[f"{key}_pesq"] = float(pesq(16000, clean, deg[: len(clean)], "wb"))
        results.append(r)
    print(json.dumps(results))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", nargs="?", default="make", choices=("make", "score"))
    ap.add_argument("list", nargs="?", type=Path, help="score: the JSON list of blobs")
    ap.add_argument("--out", type=Path, default=REPO / "web" / "test" / "ref")
    a = ap.parse_args()
    if a.command == "score":
        if a.list is None:
            ap.error("score needs the list")
        score(a.list)
    else:
        make(a.out)


if __name__ == "__main__":
    main()
