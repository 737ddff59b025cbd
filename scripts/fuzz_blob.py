#!/usr/bin/env python3
"""Fuzz the blob parser (`blob.read`, what `codec-rt info` runs) and `Codec.decode`.

Only `codec_rt.errors.CodecError` subclasses may escape. Anything else (IndexError, struct.error,
ValueError, a numpy error, MemoryError, ...) is a failure: the input is saved under the crash folder and
counted. So is a blob that takes more than `--slow` CPU seconds in one target (CPU time of the process, so
other jobs on a busy machine do not count; a slow first run is timed again), and one whose traced peak
memory (tracemalloc: every numpy and Python allocation; onnxruntime's own arena is not traced) exceeds what
its real size allows: `MEM_SLACK + MEM_PER_BLOB_BYTE * len(blob)`, plus `MEM_PER_SAMPLE * channels *
max(num_samples, samples at the model rate)` once a decode has succeeded, since only then is the header's
length known to be backed by real data.

Seeds: blobs written by every shipped model (every ladder point) and by the golden test models
(tests/data/golden_model*, one per coder: fixed-width, range-coded and context-coded) in both modes and both layouts
(whole, and framed in frames of 4 latent steps where the runtime has format 1.2), from real speech and
music, stereo, one sample and zero samples, plus the golden blobs in tests/data, each decoded with the
model that wrote it.

Modes:
  mutate   plain seeded mutations: bit flips, byte sets, inserts, deletes, truncation, extension, splicing
           of two blobs, duplicated ranges, and integer edits (0, 1, 2**k-1, 2**k, lengths, +-1) at any
           offset in the header or the payload. Half the mutants get their checksums re-sealed (`reseal`:
           the whole layout's trailing CRC-32, the framed layout's header and frame CRC-32s) so the field
           checks and the decoder, not only a checksum, see them. Every mutant goes to `blob.read`;
           those it accepts are decoded with probability --decode-fraction, the others with 1/20.
  atheris  coverage-guided (libFuzzer via atheris; `pip install codec-rt[fuzz]`), with a custom mutator
           that re-seals the checksums of half the mutants; same targets and checks.
  sweep    every truncation and every single-byte flip (XOR 0xFF) of every seed; and, re-sealed, every
           byte set to 0x00, 0xFF, its value + 1 and its complement (decoded for the header bytes and every
           --decode-stride-th payload byte).

    python scripts/fuzz_blob.py --count 100000 --seed 1 --mode mutate
    python scripts/fuzz_blob.py --count 20000 --mode atheris

Prints blobs tried, untyped failures, slow blobs, memory failures, max time per blob, and exits 1 on any
failure. `tests/test_fuzz_blob.py` runs a few thousand of the same mutants in CI.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import random
import struct
import sys
import time
import traceback
import tracemalloc
import warnings
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"

SLOW_SECONDS = 2.0
MEM_SLACK = 8 << 20  # fixed overhead: Python objects, numpy temporaries (a 0.5 s decode peaks near 4 MiB)
MEM_PER_BLOB_BYTE = 512  # bit-unpacking goes through one byte per bit plus a 16-byte row per value
MEM_PER_SAMPLE = 1024  # decode: about 255 traced bytes per model-rate sample and channel
INTERESTING = (0, 1, 2, 3, 4, 7, 8, 15, 16, 17, 31, 32, 55, 56, 57, 63, 64, 65, 127, 128, 255, 256, 257,
               0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1 << 32, 1 << 40, 1 << 63,
               (1 << 64) - 1, 16000, 44100, 48000, 768000, 768001)


@dataclass
class Seed:
    name: str
    data: bytes
    codec: Any  # codec_rt.Codec that decodes it


@dataclass
class Stats:
    tried: int = 0
    parsed: int = 0  # blob.read accepted the mutant
    decoded: int = 0  # Codec.decode returned audio
    decode_calls: int = 0
    typed: Counter[str] = field(default_factory=Counter)
    untyped: int = 0
    slow: int = 0
    memory: int = 0
    warned: int = 0  # blobs during which numpy warned (overflow, invalid value): counted, not a failure
    warnings: Counter[str] = field(default_factory=Counter)
    nonfinite: int = 0  # decodes that returned NaN or inf samples: counted and saved, not a failure
    max_time: float = 0.0
    max_time_target: str = ""
    max_wall: float = 0.0
    max_mem_ratio: float = 0.0  # traced peak over the allowance (must stay < 1)
    max_peak: int = 0
    max_read_per_byte: float = 0.0  # blob.read's traced peak over the blob's length (blobs of 64 bytes or more)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> int:
        return self.untyped + self.slow + self.memory

    def report(self) -> str:
        typed = ", ".join(f"{k} {v}" for k, v in self.typed.most_common())
        lines = [
            f"blobs tried        {self.tried}",
            f"accepted by read   {self.parsed}",
            f"decode calls       {self.decode_calls} ({self.decoded} returned audio)",
            f"typed errors       {sum(self.typed.values())} ({typed})",
            f"untyped failures   {self.untyped}",
            f"slow blobs (>{SLOW_SECONDS:g} s CPU) {self.slow}",
            f"memory failures    {self.memory} (max traced peak {self.max_peak / 2**20:.1f} MiB, "
            f"{100 * self.max_mem_ratio:.1f}% of its allowance; blob.read peaks at {self.max_read_per_byte:.0f} "
            f"bytes per blob byte)",
            f"numpy warnings     {self.warned} blobs" + "".join(f"\n    {n} x {w}" for w, n in self.warnings.items()),
            f"non-finite output  {self.nonfinite} decodes",
            f"max time per blob  {self.max_time * 1000:.1f} ms CPU ({self.max_time_target}); "
            f"{self.max_wall * 1000:.1f} ms wall",
            f"wall time          {self.seconds:.1f} s",
        ]
        lines += [f"FAILURE: {f}" for f in self.failures[:20]]
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------- seeds

def _shipped_codecs() -> list[Any]:
    from codec_rt import Codec

    codecs = [Codec.load()]
    try:  # every point of the shipped bitrate ladder, where the runtime has one
        from codec_rt import ladder  # type: ignore[attr-defined]

        for p in ladder.points():
            c = Codec.load(p.path)
            if c.model_id not in {k.model_id for k in codecs}:
                codecs.append(c)
    except ImportError:
        pass
    return codecs


def _test_codecs() -> list[Any]:
    """The tiny models of the golden blobs (tests/data/golden_model*: one per coder)."""
    from codec_rt import Codec

    return [Codec.load(d) for d in sorted(DATA.glob("golden_model*")) if (d / "encoder.onnx").is_file()]


def make_seeds() -> list[Seed]:
    """Valid blobs: every shipped model and every golden test model x both modes x short real clips (mono
    speech, stereo music, one sample, no sample), and the golden blobs, each with the model that wrote it."""
    import soundfile as sf

    speech, sr = sf.read(str(DATA / "speech_fr_16k.flac"), dtype="float32", always_2d=True)
    music, mr = sf.read(str(DATA / "music_44k_stereo.ogg"), dtype="float32", always_2d=True)
    clips = {
        "speech": (np.ascontiguousarray(speech[16000:24000].T), sr),
        "music": (np.ascontiguousarray(music[44100:55125].T), mr),
        "one": (np.full((1, 1), 0.25, np.float32), 48000),
        "zero": (np.zeros((1, 0), np.float32), 16000),
    }
    codecs = _shipped_codecs()
    codecs += [c for c in _test_codecs() if c.model_id not in {k.model_id for k in codecs}]
    # The framed layout (format 1.2, what `codec-rt encode` writes), where the runtime has it: frames of 4
    # latent steps, so the clips make several frames.
    framed = "framed" in inspect.signature(codecs[0].encode).parameters
    seeds = []
    for codec in codecs:
        for mode in ("predicted", "store_phase"):
            for name, (x, rate) in clips.items():
                if mode == "store_phase" and name == "music":
                    x = x[:, :2205]  # keep the stored-phase seeds small
                seeds.append(Seed(f"{codec.model_id}-{mode}-{name}", codec.encode(x, rate, mode=mode), codec))
                if framed:
                    data = codec.encode(x, rate, mode=mode, framed=True, packet_steps=4)
                    seeds.append(Seed(f"{codec.model_id}-{mode}-{name}-framed", data, codec))
    by_id = {c.model_id: c for c in codecs}
    for p in sorted(DATA.glob("golden_v*.cra")):
        data = p.read_bytes()
        seeds.append(Seed(p.stem, data, by_id.get(data[40:48].hex(), codecs[0])))
    return seeds


def reseal(data: bytes) -> bytes:
    """Fix up every checksum of a (mutated) blob, so the field checks and the decoder, not only a CRC, see
    the mutation: the trailing CRC-32 of the whole layout; from format 1.2 the header's CRC-32 (bytes 60..63),
    from 1.5 that of its pre_skip (bytes 68..71) and, in the framed layout, each packet's CRC-32 (over its
    index, length and body), walking the packets by their length fields as far as they fit. Best effort on
    bytes that no longer parse."""
    b = bytearray(data)
    if len(b) < 8:
        return data
    minor, header_size = b[5], int.from_bytes(b[6:8], "little")
    framed = False
    if minor >= 2 and len(b) >= 64:
        struct.pack_into("<I", b, 60, zlib.crc32(bytes(b[:60])))
        framed = (b[56] & 15 if minor >= 4 else b[56]) == 1  # from 1.4 the high nibble is the stereo coding
    if minor >= 5 and len(b) >= 72:
        struct.pack_into("<I", b, 68, zlib.crc32(bytes(b[64:68])))
    if not framed:
        if len(b) >= 5:
            struct.pack_into("<I", b, len(b) - 4, zlib.crc32(bytes(b[:-4])))
        return bytes(b)
    pos, k = header_size, 0
    while pos + 4 <= len(b):
        (n,) = struct.unpack_from("<I", b, pos)
        end = pos + 4 + n
        if end + 4 > len(b):
            break
        struct.pack_into("<I", b, end, zlib.crc32(bytes(b[pos:end]), zlib.crc32(struct.pack("<I", k))))
        pos, k = end + 4, k + 1
    return bytes(b)


def resealable(data: bytes) -> bool:
    """Whether `reseal` knows this blob's format: it must leave a valid blob exactly as it is."""
    return reseal(data) == data


# ------------------------------------------------------------------------------------------- mutations

def _int_edit(rng: random.Random, b: bytearray) -> None:
    width = rng.choice((1, 2, 4, 8))
    if len(b) < width:
        return
    # Mostly the header, whose fields are at most 8 bytes wide, sometimes anywhere.
    hi = min(len(b), 72) if rng.random() < 0.7 else len(b)
    off = rng.randrange(0, max(1, hi - width + 1))
    if rng.random() < 0.5:
        off -= off % width  # aligned, like the real fields
    cur = int.from_bytes(b[off : off + width], "little")
    value = rng.choice((*INTERESTING, len(b), len(b) - 1, len(b) + 1, 2 * len(b), cur + 1, cur - 1, cur * 2,
                        cur // 2, cur ^ (1 << rng.randrange(8 * width))))
    b[off : off + width] = (value % (1 << (8 * width))).to_bytes(width, "little")


def mutate(rng: random.Random, data: bytes, others: list[bytes]) -> bytes:
    """1 to 3 stacked random edits of `data`."""
    b = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        op = rng.randrange(10)
        n = len(b)
        if op == 0 and n:  # flip bits
            for _ in range(rng.randint(1, 8)):
                i = rng.randrange(n)
                b[i] ^= 1 << rng.randrange(8)
        elif op == 1 and n:  # set bytes
            for _ in range(rng.randint(1, 4)):
                b[rng.randrange(n)] = rng.choice((0, 1, 0x7F, 0x80, 0xFF, rng.randrange(256)))
        elif op == 2:  # insert
            i = rng.randint(0, n)
            b[i:i] = rng.randbytes(rng.choice((1, 1, 2, 4, 8, 16, 64)))
        elif op == 3 and n:  # delete
            i = rng.randrange(n)
            del b[i : i + rng.choice((1, 1, 2, 4, 8, 16, 64))]
        elif op == 4:  # truncate
            del b[rng.randint(0, n) :]
        elif op == 5:  # extend
            b += rng.randbytes(rng.choice((1, 4, 16, 256)))
        elif op == 6 and others:  # splice with another blob
            o = rng.choice(others)
            b = b[: rng.randint(0, n)] + bytearray(o[rng.randint(0, len(o)) :])
        elif op == 7 and others:  # another blob's header on this payload, or the reverse
            o = rng.choice(others)
            cut = rng.choice((56, 56, 60, 64, rng.randint(0, 80)))
            b = bytearray(o[:cut]) + b[cut:] if rng.random() < 0.5 else b[:cut] + bytearray(o[cut:])
        elif op == 8 and n:  # duplicate a range
            i = rng.randrange(n)
            j = min(n, i + rng.choice((1, 4, 16, 256)))
            b[j:j] = b[i:j]
        else:  # integer field edit
            _int_edit(rng, b)
    return bytes(b)


# ------------------------------------------------------------------------------------------- the checks

def _save(crash_dir: Path, kind: str, data: bytes, detail: str) -> str:
    crash_dir.mkdir(parents=True, exist_ok=True)
    name = f"{kind}-{hashlib.sha1(data).hexdigest()[:16]}"
    (crash_dir / f"{name}.cra").write_bytes(data)
    (crash_dir / f"{name}.txt").write_text(detail)
    return str(crash_dir / f"{name}.cra")


def _allowance(data: bytes, out: Any, codec: Any) -> int:
    allowed = MEM_SLACK + MEM_PER_BLOB_BYTE * len(data)
    if out is not None:  # a decode that succeeded: its header is backed by real data
        from codec_rt.resample import model_length

        audio, rate = out
        channels, n = audio.shape
        n_model = model_length(n, rate, codec.config.sample_rate)
        allowed += MEM_PER_SAMPLE * channels * max(n, n_model)
    return allowed


def run_target(name: str, fn: Callable[[], Any], data: bytes, codec: Any, stats: Stats, crash_dir: Path,
               memory: bool) -> tuple[bool, Any]:
    """Run one target on one blob -> (accepted, result). Records everything in `stats`."""
    from codec_rt.errors import CodecError

    if memory:
        tracemalloc.start()
    t0, c0 = time.perf_counter(), time.process_time()
    ok, out, error = False, None, None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = fn()
            ok = True
        except CodecError as e:
            stats.typed[type(e).__name__] += 1
        except BaseException as e:  # noqa: BLE001 - everything else is the finding
            if isinstance(e, KeyboardInterrupt):
                raise
            error = e
    # CPU seconds (all threads of the process), not wall time: other jobs on a busy machine do not count.
    elapsed, wall = time.process_time() - c0, time.perf_counter() - t0
    peak = 0
    if memory:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    if elapsed > SLOW_SECONDS and error is None:  # a one-off (page faults, a cold cache)? Time it again.
        c1 = time.process_time()
        try:
            fn()
        except Exception:  # noqa: BLE001 - the first run's outcome is the one recorded
            pass
        elapsed = min(elapsed, time.process_time() - c1)
    stats.max_wall = max(stats.max_wall, wall)
    if caught:
        stats.warned += 1
        for w in caught:
            stats.warnings[f"{w.category.__name__}: {w.message} ({Path(w.filename).name}:{w.lineno})"] += 1
    if elapsed > stats.max_time:
        stats.max_time, stats.max_time_target = elapsed, f"{name}, {len(data)} bytes"
    if error is not None:
        stats.untyped += 1
        tb = "".join(traceback.format_exception(error))
        path = _save(crash_dir, "crash", data, f"{name}\n{tb}")
        stats.failures.append(f"{name}: {type(error).__name__}: {error} -> {path}")
    if elapsed > SLOW_SECONDS:
        stats.slow += 1
        path = _save(crash_dir, "slow", data, f"{name} took {elapsed:.2f} s")
        stats.failures.append(f"{name}: {elapsed:.2f} s -> {path}")
    if memory:
        allowed = _allowance(data, out if name == "decode" and ok else None, codec)
        stats.max_peak = max(stats.max_peak, peak)
        if name == "blob.read" and len(data) >= 64:
            stats.max_read_per_byte = max(stats.max_read_per_byte, peak / len(data))
        stats.max_mem_ratio = max(stats.max_mem_ratio, peak / allowed)
        if peak > allowed:
            stats.memory += 1
            path = _save(crash_dir, "memory", data, f"{name}: traced peak {peak} bytes > allowance {allowed}")
            stats.failures.append(f"{name}: traced peak {peak} > {allowed} bytes -> {path}")
    return ok, out


def check_blob(data: bytes, codec: Any, stats: Stats, crash_dir: Path, decode: bool | None, rng: random.Random,
               decode_fraction: float, memory: bool, decode_kwargs: dict[str, Any] | None = None) -> None:
    """`packets.read(data)`, then `codec.decode(data)` when `decode` (None: by chance, see the module doc)."""
    from codec_rt import packets

    stats.tried += 1
    parsed, _ = run_target("blob.read", lambda: packets.read(data), data, codec, stats, crash_dir, memory)
    stats.parsed += parsed
    if decode is None:
        decode = rng.random() < (decode_fraction if parsed else 0.05)
    if decode:
        stats.decode_calls += 1
        kw = decode_kwargs or {}
        ok, out = run_target("decode", lambda: codec.decode(data, **kw), data, codec, stats, crash_dir, memory)
        stats.decoded += ok
        if ok and not np.all(np.isfinite(out[0])):
            stats.nonfinite += 1
            if stats.nonfinite <= 10:
                _save(crash_dir, "nonfinite", data, "Codec.decode returned NaN or infinite samples")


# ------------------------------------------------------------------------------------------- modes

def run_mutate(count: int, seed: int = 0, decode_fraction: float = 0.05, memory_every: int = 1,
               crash_dir: Path = Path("fuzz_crashes"), seeds: list[Seed] | None = None,
               progress: bool = False, decode_kwargs: dict[str, Any] | None = None) -> Stats:
    """`count` mutants of the seed blobs through `blob.read` (and a fraction through `decode`)."""
    seeds = make_seeds() if seeds is None else seeds
    can_reseal = [resealable(s.data) for s in seeds]
    rng = random.Random(seed)
    datas = [s.data for s in seeds]
    stats = Stats()
    t0 = time.perf_counter()
    for i in range(count):
        k = rng.randrange(len(seeds))
        s = seeds[k]
        data = mutate(rng, s.data, datas)
        if can_reseal[k] and rng.random() < 0.5:
            data = reseal(data)
        memory = memory_every > 0 and i % memory_every == 0
        check_blob(data, s.codec, stats, crash_dir, None, rng, decode_fraction, memory, decode_kwargs)
        if progress and (i + 1) % 10_000 == 0:
            print(f"  {i + 1} blobs, {stats.failed} failures, {time.perf_counter() - t0:.0f} s", flush=True)
    stats.seconds = time.perf_counter() - t0
    return stats


def run_sweep(seeds: list[Seed] | None = None, crash_dir: Path = Path("fuzz_crashes"), decode_stride: int = 64,
              progress: bool = False, reseal_stride: int = 1, decode_kwargs: dict[str, Any] | None = None) -> Stats:
    """Every truncation and every single-byte flip (XOR 0xFF) of every seed through `blob.read`; then each
    byte (the header's and every `reseal_stride`-th) set to 0x00, 0xFF, its value + 1 and its complement
    with the CRC re-sealed, through `blob.read`, and also through `decode` for the header bytes and every
    `decode_stride`-th payload byte."""
    seeds = make_seeds() if seeds is None else seeds
    rng = random.Random(0)
    stats = Stats()
    t0 = time.perf_counter()
    for s in seeds:
        d = s.data
        can_reseal = resealable(d)
        for n in range(len(d)):
            check_blob(d[:n], s.codec, stats, crash_dir, False, rng, 0.0, False)
        for i in range(len(d)):
            b = bytearray(d)
            b[i] ^= 0xFF
            check_blob(bytes(b), s.codec, stats, crash_dir, False, rng, 0.0, False)
            if not can_reseal or i >= len(d) - 4 or (i >= 64 and i % reseal_stride):
                continue
            decode = i < 64 or i % decode_stride == 0
            for v in sorted({0x00, 0xFF, (d[i] + 1) % 256, d[i] ^ 0xFF} - {d[i]}):
                b[i] = v
                check_blob(reseal(bytes(b)), s.codec, stats, crash_dir, decode, rng, 0.0, False, decode_kwargs)
        if progress:
            print(f"  {s.name}: {len(d)} bytes swept, {stats.failed} failures, {time.perf_counter() - t0:.0f} s",
                  flush=True)
    stats.seconds = time.perf_counter() - t0
    return stats


def run_atheris(count: int, seed: int, decode_fraction: float, crash_dir: Path, max_len: int = 0) -> Stats:
    """Coverage-guided: libFuzzer drives the inputs, codec_rt is instrumented."""
    import atheris  # type: ignore[import-not-found]

    with atheris.instrument_imports(include=["codec_rt"]):
        import codec_rt  # noqa: F401  (imports every module decode and info use)
    seeds = make_seeds()
    by_model = {s.codec.model_id: s.codec for s in seeds}
    default = seeds[0].codec
    corpus = crash_dir / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for s in seeds:
        (corpus / f"{s.name}.cra").write_bytes(s.data)
    stats = Stats()
    rng = random.Random(seed)
    t0 = time.perf_counter()

    def finish() -> None:
        stats.seconds = time.perf_counter() - t0
        print(stats.report(), flush=True)
        import os

        os._exit(1 if stats.failed else 0)  # libFuzzer would keep going; the count is ours

    def one_input(data: bytes) -> None:
        # The model named in the blob decodes it (what `decode` would pick), else the default model.
        model = data[40:48].hex() if len(data) >= 48 else ""
        check_blob(data, by_model.get(model, default), stats, crash_dir, None, rng, decode_fraction, True)
        if stats.tried >= count:
            finish()

    def mutator(data: bytes, max_size: int, mseed: int) -> bytes:
        out: bytes = atheris.Mutate(data, max_size)
        if mseed % 2 == 0:
            out = reseal(out)
        return out

    max_len = max_len or 2 * max(len(s.data) for s in seeds)
    argv = [sys.argv[0], f"-seed={seed or 1}", f"-max_len={max_len}", f"-runs={count * 10}",
            f"-artifact_prefix={crash_dir}/", str(corpus)]
    atheris.Setup(argv, one_input, custom_mutator=mutator)
    atheris.Fuzz()
    finish()
    return stats


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=100_000, help="blobs to try (mutate, atheris)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mode", choices=("mutate", "atheris", "sweep"), default="mutate")
    ap.add_argument("--decode-fraction", type=float, default=0.05,
                    help="share of the mutants blob.read accepts that also go through Codec.decode")
    ap.add_argument("--decode-stride", type=int, default=64,
                    help="sweep: decode the re-sealed edits of the header and of every N-th payload byte")
    ap.add_argument("--memory-every", type=int, default=1, help="trace memory on every N-th blob (0: never)")
    ap.add_argument("--crash-dir", type=Path, default=Path("fuzz_crashes"))
    ap.add_argument("--slow", type=float, default=SLOW_SECONDS, help="CPU seconds per target before a blob is slow")
    args = ap.parse_args(argv)
    globals()["SLOW_SECONDS"] = args.slow
    if args.mode == "atheris":
        try:
            import atheris  # noqa: F401
        except ImportError:
            print("atheris is not installed (pip install 'codec-rt[fuzz]'); use --mode mutate", file=sys.stderr)
            return 2
        run_atheris(args.count, args.seed, args.decode_fraction, args.crash_dir)
        return 0  # not reached: run_atheris exits with the verdict
    if args.mode == "sweep":
        stats = run_sweep(crash_dir=args.crash_dir, decode_stride=args.decode_stride, progress=True)
    else:
        stats = run_mutate(args.count, args.seed, args.decode_fraction, args.memory_every, args.crash_dir,
                           progress=True)
    print(stats.report())
    return 1 if stats.failed else 0


if __name__ == "__main__":
    sys.exit(main())
