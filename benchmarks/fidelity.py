"""The fidelity suite: what goes in comes out, for tones, chords, sweeps, DC, stereo, loud input, quiet
backgrounds under bursts, sounds a few frames long and transients, through every shipped point, the
streaming path and Opus.

    python -m benchmarks.fidelity --points 3,6,12,16,fixed,ll --opus 12 --out results/fidelity   # docs/fidelity.md

Each case is a small signal of one kind (after public bug reports against Opus, EnCodec, DAC and others,
issue 12); each metric is measured on the decoded audio against the input, and each check is the threshold a
user would expect (the issue's "done when"). Opus (libopus through opusenc/opusdec, 12 kbps mono, 24 kbps
stereo, `--hard-cbr`) is measured in the same run. Our points run as `codec-rt encode` / `decode` do: the
framed layout, and the 16-bit writer for the clipping count. A survey of 20 more tones (80 Hz to 4 kHz, -25
to -8 dBFS, `tone_survey`) follows the table: how many keep their level and pitch on each system.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import soundfile as sf

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
RATE = 16000
SPEECH = Path(__file__).resolve().parents[1] / "tests" / "data" / "speech_fr_16k.flac"


@dataclass(frozen=True)
class Case:
    """One input: `audio [C, N] float32` at `rate` Hz, of kind `kind`, with what its metrics need."""

    name: str
    kind: str  # tone, chord, dc, bursts, stereo, sweep, blip, transient
    audio: F32
    rate: int
    meta: dict[str, Any] = field(default_factory=dict)


def _t(seconds: float, rate: int = RATE) -> F64:
    return np.arange(int(seconds * rate)) / rate


def speech(seconds: float = 3.0) -> F32:
    """Real speech (the development voice, tests/data), `[N] float32` at 16 kHz, tiled to `seconds`."""
    x, _ = sf.read(SPEECH, dtype="float32")
    n = int(seconds * RATE)
    return np.resize(x, n).astype(np.float32)


def db(x: float) -> float:
    return float(20 * np.log10(max(x, 1e-12)))


def rms(x: npt.ArrayLike) -> float:
    return float(np.sqrt(np.mean(np.square(np.asarray(x, np.float64)))))


def cases() -> list[Case]:
    """The suite's inputs: each kind at several frequencies, levels and rates."""
    out: list[Case] = []
    for f, level in ((1000, -6.0), (440, -20.0), (250, -12.0), (100, -12.0), (3000, -12.0), (6000, -20.0),
                     (1000, -35.0)):
        a = np.sqrt(2) * 10 ** (level / 20)
        out.append(Case(f"tone {f} Hz {level:g} dBFS", "tone", (a * np.sin(2 * np.pi * f * _t(3)))[None].astype(
            np.float32), RATE, {"freqs": [f]}))
    for f, level, silence in ((1000, -6.0, 0.1), (3000, -12.0, 0.25)):  # an onset inside the file
        a = np.sqrt(2) * 10 ** (level / 20)
        x = np.concatenate([np.zeros(int(silence * RATE)), a * np.sin(2 * np.pi * f * _t(3))])
        out.append(Case(f"tone {f} Hz {level:g} dBFS after {1000 * silence:g} ms of silence", "tone",
                        x[None].astype(np.float32), RATE, {"freqs": [f], "start": int(silence * RATE)}))
    t48 = _t(3, 48000)
    out.append(Case("tone 1000 Hz -12 dBFS, 48 kHz", "tone", (0.354 * np.sin(2 * np.pi * 1000 * t48))[None].astype(
        np.float32), 48000, {"freqs": [1000]}))
    chord = sum(0.15 * np.sin(2 * np.pi * f * _t(3)) for f in (262, 330, 392))
    out.append(Case("chord C-E-G", "chord", np.asarray(chord, np.float32)[None], RATE, {"freqs": [262, 330, 392]}))
    saw = sum(0.3 / k * np.sin(2 * np.pi * 200 * k * _t(3)) for k in range(1, 30))
    out.append(Case("harmonic-rich 200 Hz", "chord", np.asarray(saw, np.float32)[None], RATE,
                    {"freqs": [200, 400, 600, 800]}))
    s = speech()
    quiet = s * (10 ** (-30 / 20) / rms(s))
    for dc in (0.2, -0.05):
        out.append(Case(f"speech -30 dBFS + DC {dc:g}", "dc", (quiet + dc)[None].astype(np.float32), RATE,
                        {"clean": quiet[None].astype(np.float32), "dc": dc}))
    rng = np.random.default_rng(0)
    n = 6 * RATE
    bg = np.sqrt(2) * 10 ** (-33.5 / 20) * np.sin(2 * np.pi * 300 * _t(6))
    spans = [(1.3, 1.7), (3.3, 3.7)]
    loud = s / np.abs(s).max() * 0.5
    for a, b in spans:
        i, j = int(a * RATE), int(b * RATE)
        bg[i:j] += loud[: j - i]
    out.append(Case("300 Hz -33.5 dBFS under speech bursts", "bursts", bg[None].astype(np.float32), RATE,
                    {"spans": spans, "freq": 300}))
    noise_bg = 10 ** (-40 / 20) * rng.standard_normal(n)
    for a, b in spans:
        i, j = int(a * RATE), int(b * RATE)
        noise_bg[i:j] += loud[: j - i]
    out.append(Case("noise -40 dBFS under speech bursts", "bursts", noise_bg[None].astype(np.float32), RATE,
                    {"spans": spans, "freq": None}))
    x = 0.3 * s / np.abs(s).max()
    out.append(Case("anti-phase stereo (R = -L)", "stereo", np.stack([x, -x]).astype(np.float32), RATE,
                    {"corr": -1.0, "ratio_db": 0.0}))
    # a file's channels are never exactly proportional: R gets noise of its own, 60 dB under it
    right = 0.5 * x + 10 ** (-60 / 20) * rms(0.5 * x) * rng.standard_normal(x.shape[0])
    out.append(Case("panned stereo (R = L / 2, its own noise 60 dB down)", "stereo",
                    np.stack([x, right]).astype(np.float32), RATE, {"corr": 1.0, "ratio_db": db(0.5)}))
    sweep = 0.99 * np.sin(2 * np.pi * 100 * 4 / np.log(70) * (np.exp(_t(4, 48000) / 4 * np.log(70)) - 1))
    out.append(Case("log sweep 0.99, 48 kHz", "sweep", sweep[None].astype(np.float32), 48000))
    for f, ms in ((440, 25), (1000, 10)):  # a sound a few frames long, alone in its file: both edges at once
        n = int(ms * RATE / 1000)
        out.append(Case(f"{f} Hz blip, {ms} ms, -12 dBFS", "blip",
                        (np.sqrt(2) * 10 ** (-12 / 20) * np.sin(2 * np.pi * f * _t(n / RATE)))[None].astype(np.float32),
                        RATE))
    clicks = 10 ** (-50 / 20) * rng.standard_normal(3 * RATE)
    onsets = [int(RATE * (0.5 + 0.5 * k)) for k in range(5)]
    for i in onsets:
        clicks[i : i + 160] += 0.5 * np.exp(-np.arange(160) / 30) * np.sign(rng.standard_normal(160))
    out.append(Case("clicks on -50 dBFS noise", "transient", clicks[None].astype(np.float32), RATE,
                    {"onsets": onsets}))
    return out


def tone_survey(n: int = 20, seed: int = 7) -> list[Case]:
    """`n` steady tones, 3 s at 16 kHz, log-spaced from 80 to 4000 Hz with each frequency moved by up to 2 %
    and its level drawn from -25 to -8 dBFS (`seed`): the suite's tones sit on a few frequencies, where a
    model's pitch error may be luckier or unluckier than over the kind."""
    rng = np.random.default_rng(seed)
    freqs = np.geomspace(80, 4000, n) * rng.uniform(0.98, 1.02, n)
    levels = rng.uniform(-25, -8, n)
    return [Case(f"tone {f:.1f} Hz {lv:.1f} dBFS", "tone",
                 (np.sqrt(2) * 10 ** (lv / 20) * np.sin(2 * np.pi * f * _t(3)))[None].astype(np.float32), RATE,
                 {"freqs": [float(f)]}) for f, lv in zip(freqs, levels, strict=True)]


# ------------------------------------------------------------------------------------------------ metrics


def _spectrum(x: F64, rate: int) -> tuple[F64, F64]:
    """Magnitude spectrum of `x` (Hann window) and its frequencies."""
    w = np.hanning(len(x))
    return np.abs(np.fft.rfft(x * w)), np.fft.rfftfreq(len(x), 1 / rate)


def _mid(x: F64, rate: int) -> F64:
    """The steady middle of a signal: all but its first and last 0.5 s."""
    return x[int(0.5 * rate) : len(x) - int(0.5 * rate)]


PITCH_SEARCH = 30.0  # Hz either side of a tone where its pitch is sought (a chord's tones are 62 Hz apart)
PITCH_PAD = 16  # zero padding of the pitch spectrum: bins 1/16 as wide, before the vertex refines them


def pitch_cents(y: F64, rate: int, f: float) -> float:
    """The pitch of the tone near `f` Hz in `y` against `f` (cents): the strongest peak within PITCH_SEARCH
    Hz of `f` in the Hann-windowed, zero-padded spectrum, refined to the vertex of the parabola through its
    log-magnitude and its neighbours' (Smith and Serra's quadratic interpolation, as in PARSHL, 1987).
    NaN when `y` is not finite."""
    if not np.all(np.isfinite(y)):
        return float("nan")
    n = len(y) * PITCH_PAD
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y)), n))
    lo = max(1, math.floor((f - PITCH_SEARCH) * n / rate))
    hi = min(math.ceil((f + PITCH_SEARCH) * n / rate), len(spec) - 2)
    k = lo + int(np.argmax(spec[lo : hi + 1]))
    a, b, c = (math.log(max(float(v), 1e-300)) for v in spec[k - 1 : k + 2])
    shift = 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c < 0 else 0.0
    return 1200 * math.log2(max((k + shift) * rate / n, 1e-9) / f)


def _worse(a: float, b: float) -> float:
    """The one further from 0 (NaN if either is: a non-finite output must fail its check)."""
    if math.isnan(a) or math.isnan(b):
        return float("nan")
    return a if abs(a) > abs(b) else b


def tone_metrics(case: Case, y: F64) -> dict[str, float]:
    """Level error of each tone (dB, worst), strongest component within 80 Hz of a tone relative to it (dB),
    its pitch error (cents, worst; `pitch_cents`), the peak of the 10 ms from its onset (the file's start, or
    `meta["start"]`) over the steady peak (dB), the level of the file's last 10 ms over the steady middle's
    (the tone runs to the file's end; dB), and samples at or beyond full scale."""
    x = case.audio[0].astype(np.float64)
    rate = case.rate
    spec_x, freqs = _spectrum(_mid(x, rate), rate)
    spec_y, _ = _spectrum(_mid(y, rate), rate)
    level, spur, pitch = 0.0, -200.0, 0.0
    for f in case.meta["freqs"]:
        pitch = _worse(pitch_cents(_mid(y, rate), rate, f), pitch)
        band = np.abs(freqs - f) <= 10
        err = db(float(np.sqrt(np.sum(spec_y[band] ** 2)))) - db(float(np.sqrt(np.sum(spec_x[band] ** 2))))
        level = _worse(err, level)
        near = (np.abs(freqs - f) > 15) & (np.abs(freqs - f) <= 80)
        others = np.zeros_like(near)
        for g in case.meta["freqs"]:  # a chord's other tones are not spurious
            others |= np.abs(freqs - g) <= 15
        peak = float(spec_y[band].max())
        if np.any(near & ~others):
            spur = max(spur, db(float(spec_y[near & ~others].max())) - db(peak))
    steady = float(np.abs(_mid(y, rate)).max())
    start = int(case.meta.get("start", 0))
    onset = float(np.abs(y[start : start + int(0.01 * rate)]).max())
    end = db(rms(y[-int(0.01 * rate) :])) - db(rms(_mid(y, rate)))
    return {"level_db": level, "spur_db": spur, "pitch_cents": pitch, "onset_db": db(onset) - db(steady), "end_db": end,
            "clipped": float(np.sum(np.abs(y) >= 1.0))}


def blip_metrics(case: Case, y: F64) -> dict[str, float]:
    """The level of a sound a few frames long, alone in its file, against the input's (dB)."""
    return {"level_db": db(rms(y)) - db(rms(case.audio[0]))}


def dc_metrics(case: Case, y: F64, y_clean: F64) -> dict[str, float]:
    """The spread (max - min) of the output's 100 ms means after 0.5 s, and the 300-3400 Hz level of the
    output against the same speech coded without DC (dB)."""
    hop = case.rate // 10
    means = [float(np.mean(y[i : i + hop])) for i in range(case.rate // 2, len(y) - hop + 1, hop)]
    spec, freqs = _spectrum(y, case.rate)
    ref, _ = _spectrum(y_clean, case.rate)
    band = (freqs >= 300) & (freqs <= 3400)
    return {"mean_spread": max(means) - min(means),
            "speech_band_db": db(float(np.sqrt(np.sum(spec[band] ** 2)))) - db(float(np.sqrt(np.sum(ref[band] ** 2))))}


def burst_metrics(case: Case, y: F64) -> dict[str, float]:
    """The background's 10 ms level range (dB) outside the bursts (with 0.1 s margins) and the first and last
    0.5 s; the tone alone (a band of 40 Hz around it) when the background is a tone."""
    rate = case.rate
    if case.meta["freq"] is not None:
        spec = np.fft.rfft(y)
        freqs = np.fft.rfftfreq(len(y), 1 / rate)
        spec[np.abs(freqs - case.meta["freq"]) > 20] = 0
        y = np.fft.irfft(spec, len(y))
    keep = np.ones(len(y), bool)
    keep[: rate // 2] = keep[-rate // 2 :] = False
    for a, b in case.meta["spans"]:
        keep[int((a - 0.1) * rate) : int((b + 0.1) * rate)] = False
    win = rate // 100
    levels = [db(rms(y[i : i + win])) for i in range(0, len(y) - win + 1, win) if keep[i : i + win].all()]
    return {"range_db": max(levels) - min(levels)}


def stereo_metrics(case: Case, y: F64) -> dict[str, float]:
    """Correlation of the two channels, the mono downmix's level against a channel (dB), and the error of
    the right channel's level relative to the left (dB)."""
    left, right = y
    corr = float(np.dot(left, right) / max(np.sqrt(np.dot(left, left) * np.dot(right, right)), 1e-12))
    return {"corr": corr, "downmix_db": db(rms((left + right) / 2)) - db(rms(left)),
            "ratio_err_db": db(rms(right)) - db(rms(left)) - case.meta["ratio_db"]}


def sweep_metrics(case: Case, y: F64) -> dict[str, float]:
    """Samples at or beyond full scale (percent), and the output's peak over the input's (dB)."""
    return {"clipped_pct": 100 * float(np.mean(np.abs(y) >= 1.0)),
            "peak_db": db(float(np.abs(y).max())) - db(float(np.abs(case.audio).max()))}


def transient_metrics(case: Case, y: F64) -> dict[str, float]:
    """Pre-echo: the worst energy in the 20 ms before a click relative to the 20 ms after its onset (dB)."""
    n = int(0.02 * case.rate)
    worst = -200.0
    for i in case.meta["onsets"]:
        worst = max(worst, db(rms(y[i - n : i])) - db(rms(y[i : i + n])))
    return {"pre_echo_db": worst}


# A steady tone's pitch: within 5 cents, about the smallest change listeners hear in a pure tone near 1 kHz
# (0.2 to 0.3 %; Wier, Jesteadt and Green, "Frequency discrimination as a function of frequency and sensation
# level", JASA 61, 1977). libopus 1.3 at 12 kbps keeps the suite's tones within 0.01 cent.
MAX_PITCH_CENTS = 5.0

CHECKS: dict[str, Callable[[dict[str, float]], bool]] = {
    "tone": lambda m: abs(m["level_db"]) <= 2 and m["spur_db"] <= -30 and abs(m["pitch_cents"]) <= MAX_PITCH_CENTS
    and m["onset_db"] <= 1 and abs(m["end_db"]) <= 2 and not m["clipped"],
    "blip": lambda m: abs(m["level_db"]) <= 3,
    "chord": lambda m: abs(m["level_db"]) <= 2 and m["spur_db"] <= -30 and abs(m["pitch_cents"]) <= MAX_PITCH_CENTS
    and not m["clipped"],
    "dc": lambda m: m["mean_spread"] <= 0.01 and abs(m["speech_band_db"]) <= 1.5,
    "bursts": lambda m: m["range_db"] <= 6,
    "stereo": lambda m: abs(m["ratio_err_db"]) <= 2 and (m["corr"] < -0.9 and m["downmix_db"] <= -20
                                                         if m.get("want_corr", 1) < 0 else m["corr"] > 0.9),
    "sweep": lambda m: m["clipped_pct"] == 0,
    "transient": lambda m: m["pre_echo_db"] <= -10,
}


def measure(case: Case, y: F64, y_clean: F64 | None = None) -> dict[str, float]:
    """The case's metrics on the decoded `y [C, N]` (for DC, `y_clean` is the same speech coded without DC),
    and `ok`: whether its check passes."""
    mono = y[0]
    if case.kind in ("tone", "chord"):
        m = tone_metrics(case, mono)
    elif case.kind == "dc":
        assert y_clean is not None
        m = dc_metrics(case, mono, y_clean[0])
    elif case.kind == "bursts":
        m = burst_metrics(case, mono)
    elif case.kind == "stereo":
        m = stereo_metrics(case, y) | {"want_corr": case.meta["corr"]}
    elif case.kind == "sweep":
        m = sweep_metrics(case, mono)
    elif case.kind == "blip":
        m = blip_metrics(case, mono)
    else:
        m = transient_metrics(case, mono)
    # A NaN or infinite sample fails every check, whatever the metrics made of it.
    return m | {"ok": float(CHECKS[case.kind](m) and bool(np.all(np.isfinite(y))))}


# ------------------------------------------------------------------------------------------------ systems


def ours(kbps: float | None, low_latency: bool = False, model: Path | None = None,
         fixed_width: bool = False, mode: str | None = None) -> Callable[[F32, int], F64]:
    """A shipped point's round trip (of the low-latency or the fixed-width ladder with `low_latency` or
    `fixed_width`; or the model in directory `model`'s) as the CLI does it in `mode` (`--mode`; None: the
    point's): framed
    encode, streamed decode, 16-bit output."""
    from codec_rt.level import soft_clip

    from .ours import load

    codec = load(kbps, low_latency, fixed_width, model)

    def run(x: F32, rate: int) -> F64:
        y, _ = codec.decode(codec.encode(x, rate, mode=mode, framed=True))
        pcm = np.round(np.clip(soft_clip(y)[0], -1, 32767 / 32768) * 32768)  # the CLI's 16-bit writer
        return pcm.astype(np.float64) / 32768

    return run


def opus(kbps: float) -> Callable[[F32, int], F64]:
    """opusenc / opusdec at `kbps` (per channel pair: the given rate for mono, twice it for stereo)."""

    def run(x: F32, rate: int) -> F64:
        with tempfile.TemporaryDirectory() as d:
            t = Path(d)
            sf.write(t / "in.wav", x.T, rate, subtype="FLOAT")
            rate_kbps = kbps * (2 if x.shape[0] == 2 else 1)
            subprocess.run(["opusenc", "--quiet", "--bitrate", f"{rate_kbps:g}", "--hard-cbr", str(t / "in.wav"),
                            str(t / "o.opus")], check=True)
            subprocess.run(["opusdec", "--quiet", "--rate", str(rate), str(t / "o.opus"), str(t / "o.wav")],
                           check=True)
            y, _ = sf.read(t / "o.wav", dtype="float64", always_2d=True)
        y = y.T[:, : x.shape[1]]
        return np.pad(y, ((0, 0), (0, x.shape[1] - y.shape[1])))

    return run


def run_suite(systems: dict[str, Callable[[F32, int], F64]], selected: list[Case] | None = None
              ) -> list[dict[str, Any]]:
    """Every case through every system -> rows {system, case, kind, metrics..., ok}."""
    rows = []
    for sys_name, fn in systems.items():
        for case in selected or cases():
            y = fn(case.audio, case.rate)
            clean = fn(case.meta["clean"], case.rate) if case.kind == "dc" else None
            rows.append({"system": sys_name, "case": case.name, "kind": case.kind, **measure(case, y, clean)})
    return rows


COLUMNS = {"tone": ("level_db", "spur_db", "pitch_cents", "onset_db", "end_db", "clipped"), "blip": ("level_db",),
           "chord": ("level_db", "spur_db", "pitch_cents", "clipped"),
           "dc": ("mean_spread", "speech_band_db"), "bursts": ("range_db",),
           "stereo": ("corr", "downmix_db", "ratio_err_db"), "sweep": ("clipped_pct", "peak_db"),
           "transient": ("pre_echo_db",)}


def table(rows: list[dict[str, Any]]) -> str:
    """A markdown table: one row per case, one column per system, each cell the case's metrics and a mark."""
    systems = list(dict.fromkeys(r["system"] for r in rows))
    by = {(r["system"], r["case"]): r for r in rows}
    lines = ["| case | metrics | " + " | ".join(systems) + " |", "|---|---|" + "---:|" * len(systems)]
    for case in dict.fromkeys(r["case"] for r in rows):
        kind = next(r["kind"] for r in rows if r["case"] == case)
        cells = []
        for s in systems:
            r = by.get((s, case))
            if r is None:
                cells.append("")
                continue
            vals = " / ".join(f"{r[k]:.3g}" if k != "clipped" else f"{int(r[k])}" for k in COLUMNS[kind])
            cells.append(f"{vals} {'ok' if r['ok'] else '**fail**'}")
        lines.append(f"| {case} | {' / '.join(COLUMNS[kind])} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def survey(systems: dict[str, Callable[[F32, int], F64]], tones: list[Case] | None = None) -> list[dict[str, Any]]:
    """Every system over `tones` (default `tone_survey()`) -> rows {system, tones, level_ok (within 2 dB),
    pitch_ok (within MAX_PITCH_CENTS), both_ok, median_cents, worst_cents (absolute), worst_level_db (the
    level error farthest from 0)}: the suite's tones sit on a few frequencies, this says how a point does over
    the kind. A tone moved by more than 10 Hz reads as lost in its level (its band is 20 Hz wide)."""
    rows = []
    for sys_name, fn in systems.items():
        ms = [measure(c, fn(c.audio, c.rate)) for c in (tones or tone_survey())]
        cents = np.abs([m["pitch_cents"] for m in ms])
        levels = np.array([m["level_db"] for m in ms])
        level_ok, pitch_ok = np.abs(levels) <= 2, cents <= MAX_PITCH_CENTS
        rows.append({"system": sys_name, "tones": len(ms), "level_ok": int(level_ok.sum()),
                     "pitch_ok": int(pitch_ok.sum()), "both_ok": int((level_ok & pitch_ok).sum()),
                     "median_cents": float(np.median(cents)), "worst_cents": float(cents.max()),
                     "worst_level_db": float(levels[np.argmax(np.abs(levels))])})
    return rows


def survey_table(rows: list[dict[str, Any]]) -> str:
    """A markdown table of `survey`'s rows, one per system."""
    lines = ["| system | tones | level within 2 dB | pitch within 5 cents | both | median cents | worst cents | "
             "worst level dB |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['system']} | {r['tones']} | {r['level_ok']} | {r['pitch_ok']} | {r['both_ok']} | "
                     f"{r['median_cents']:.1f} | {r['worst_cents']:.0f} | {r['worst_level_db']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    from .ours import model_spec

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("results/fidelity"))
    p.add_argument("--points", default="3,6,12,16,fixed",
                   help="ladder points (kbps; each in its own mode: 24 is low_band_phase); ll for the low-latency "
                        "one, fixed for the fixed-width one (--bits); a point with +lbp (6+lbp) in mode "
                        "low_band_phase")
    p.add_argument("--opus", type=float, default=12.0, help="Opus kbps (mono; stereo at twice it); 0: none")
    p.add_argument("--model", action="append", default=[], metavar="NAME=DIR",
                   help="also a model directory off the ladder (a candidate), as column NAME; repeatable")
    args = p.parse_args()
    systems: dict[str, Callable[[F32, int], F64]] = {}
    for spec in args.model:
        name, path = model_spec(spec)
        systems[name] = ours(None, model=path)
    for point in filter(None, args.points.split(",")):
        base, lbp = point.removesuffix("+lbp"), point.endswith("+lbp")
        mode = "low_band_phase" if lbp else None
        systems[f"ours {point}"] = (ours(None, low_latency=True, mode=mode) if base == "ll" else
                                    ours(None, fixed_width=True, mode=mode) if base == "fixed" else
                                    ours(float(base), mode=mode))
    if args.opus and shutil.which("opusenc"):
        systems[f"opus {args.opus:g}"] = opus(args.opus)
    rows = run_suite(systems)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fidelity.json").write_text(json.dumps(rows, indent=1))
    tones = survey(systems)
    (args.out / "survey.json").write_text(json.dumps(tones, indent=1))
    (args.out / "fidelity.md").write_text(table(rows) + "\n\n" + survey_table(tones) + "\n")
    print(table(rows) + "\n\n" + survey_table(tones))


if __name__ == "__main__":
    main()
