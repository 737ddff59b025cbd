"""The fidelity suite (benchmarks/fidelity.py) measures what it claims, and the kinds of fault it found that
the codec now fixes stay fixed on every shipped point: a DC offset is removed cleanly without stealing level
from the speech, a stereo pair keeps its relation (anti-phase stays anti-phase), and loud input is never
clipped silently."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks import fidelity
from codec_rt import Codec, blob
from codec_rt.config import Stereo
from codec_rt.level import soft_clip

CASES = {c.name: c for c in fidelity.cases()}
# every shipped point, as keyword arguments of `fidelity.ours`
POINTS: dict[str, dict[str, Any]] = {"3": {"kbps": 3.0}, "6": {"kbps": 6.0}, "12": {"kbps": 12.0},
                                     "18": {"kbps": 18.0}, "fixed": {"kbps": None, "fixed_width": True},
                                     "ll": {"kbps": None, "low_latency": True}}


def test_an_exact_copy_passes_every_check() -> None:
    for case in CASES.values():
        y = case.audio.astype(np.float64)
        clean = case.meta["clean"].astype(np.float64) if case.kind == "dc" else None
        m = fidelity.measure(case, y, clean)
        assert m["ok"], (case.name, m)


def test_the_tone_survey_passes_a_copy_and_catches_tones_moved_in_frequency() -> None:
    """The survey counts a tone moved 15 Hz (the low-latency point's kind of fault, docs/fidelity.md) as lost in
    level and off in pitch, and an exact copy as kept."""
    def moved(x: np.ndarray, rate: int) -> np.ndarray:  # every frequency + 15 Hz (single-sideband shift)
        spec = np.fft.fft(x[0].astype(np.float64))
        spec[len(spec) // 2 + 1 :] = 0
        spec[1 : len(spec) // 2] *= 2
        return np.real(np.fft.ifft(spec) * np.exp(2j * np.pi * 15 * np.arange(x.shape[1]) / rate))[None]

    copy, shifted = fidelity.survey({"copy": lambda x, rate: x.astype(np.float64), "moved": moved})
    assert (copy["level_ok"], copy["pitch_ok"], copy["worst_cents"]) == (20, 20, pytest.approx(0, abs=0.01))
    assert shifted["pitch_ok"] == 0 and shifted["level_ok"] == 0, shifted


def test_the_checks_catch_each_kind_of_fault() -> None:
    tone = CASES["tone 1000 Hz -6 dBFS"]
    x = tone.audio.astype(np.float64)
    assert not fidelity.measure(tone, x * 10 ** (-7 / 20))["ok"]  # 7 dB low
    t = np.arange(x.shape[1]) / tone.rate
    assert not fidelity.measure(tone, x + 0.05 * np.sin(2 * np.pi * 1031 * t))["ok"]  # a sideband at -23 dB
    flat = np.abs(x).max() * np.sin(2 * np.pi * 1000 * 2 ** (-8 / 1200) * t)[None]  # 8 cents flat, all else kept
    m = fidelity.measure(tone, flat)
    assert not m["ok"] and abs(m["pitch_cents"] + 8) < 0.1 and abs(m["level_db"]) < 0.1, m
    for f in (60.0, 204.6, 6103.8):  # off a bin of the measured span, and low: no bias either way
        for cents in (0.0, -8.0):
            tone_at = np.sin(2 * np.pi * f * 2 ** (cents / 1200) * t[: 2 * tone.rate])
            assert abs(fidelity.pitch_cents(tone_at, tone.rate, f) - cents) < 0.05, (f, cents)
    chord = CASES["chord C-E-G"]
    broken = chord.audio.astype(np.float64).copy()
    assert fidelity.measure(chord, broken)["ok"]
    broken[0, len(broken[0]) // 2] = np.nan  # one NaN sample fails the case, whatever its metrics made of it
    assert not fidelity.measure(chord, broken)["ok"]
    late = CASES["tone 1000 Hz -6 dBFS after 100 ms of silence"]
    burst = late.audio.astype(np.float64).copy()
    start = late.meta["start"]
    assert fidelity.measure(late, burst)["ok"]
    burst[:, start : start + 80] *= 1.5  # +3.5 dB in the first 5 ms after the onset, none at the file's start
    assert not fidelity.measure(late, burst)["ok"]
    dc = CASES["speech -30 dBFS + DC 0.2"]
    clean = dc.meta["clean"].astype(np.float64)
    swing = 0.2 * np.sin(2 * np.pi * 0.7 * np.arange(clean.shape[1]) / dc.rate)
    assert not fidelity.measure(dc, clean + swing, clean)["ok"]  # a wandering rumble
    pair = CASES["anti-phase stereo (R = -L)"]
    left = pair.audio[0].astype(np.float64)
    assert not fidelity.measure(pair, np.stack([left, left]))["ok"]  # the image collapsed
    sweep = CASES["log sweep 0.99, 48 kHz"]
    assert not fidelity.measure(sweep, np.clip(sweep.audio * 1.4, -1, 1).astype(np.float64))["ok"]
    faded = x.copy()
    faded[:, -int(0.01 * tone.rate) :] *= 10 ** (-6 / 20)  # the file's last 10 ms 6 dB low
    assert not fidelity.measure(tone, faded)["ok"]
    blip = CASES["440 Hz blip, 25 ms, -12 dBFS"]
    assert fidelity.measure(blip, blip.audio.astype(np.float64))["ok"]
    assert not fidelity.measure(blip, blip.audio.astype(np.float64) * 0.5)["ok"]  # 6 dB low
    bursts = CASES["300 Hz -33.5 dBFS under speech bursts"]
    y = bursts.audio.astype(np.float64).copy()
    y[:, : bursts.rate * 2] *= 3  # the background 10 dB louder before the first packet boundary
    assert not fidelity.measure(bursts, y)["ok"]


@pytest.mark.parametrize("point", POINTS)
def test_dc_stereo_and_loud_input_come_through_every_point(point: str) -> None:
    """Anti-phase is coded as mid/side by every point, the causal low-latency one included. A panned pair,
    coded channel by channel, keeps its image where the channels share the phase start (FORMAT.md 6.5), and
    at the causal point, where the channels take their joint's phase in such frames (it was -0.13)."""
    run = fidelity.ours(**POINTS[point])
    names = ["speech -30 dBFS + DC 0.2", "log sweep 0.99, 48 kHz", "anti-phase stereo (R = -L)",
             "panned stereo (R = L / 2, its own noise 60 dB down)"]
    for name in names:
        case = CASES[name]
        clean = run(case.meta["clean"], case.rate) if case.kind == "dc" else None
        m = fidelity.measure(case, run(case.audio, case.rate), clean)
        assert m["ok"], (name, m)


def test_auto_stereo_picks_mid_side_where_mid_or_side_is_near_silent(speech: tuple[np.ndarray, int],
                                                                        tmp_path: Path) -> None:
    """Anti-phase and mono pairs as mid/side, a panned pair or two voices each channel on its own: by default
    in `Codec.encode` and in `codec-rt encode` (which reads a file once first to choose)."""
    import subprocess
    import sys

    import soundfile as sf

    codec = Codec.load(bitrate=6)
    x = speech[0][:, :16000]
    other = np.roll(x, 4000, axis=1)
    pairs = {"anti-phase": (np.concatenate([x, -x]), Stereo.MID_SIDE), "mono": (np.concatenate([x, x]),
             Stereo.MID_SIDE), "panned": (np.concatenate([x, 0.5 * x]), Stereo.INDEPENDENT),
             "two voices": (np.concatenate([x, other]), Stereo.INDEPENDENT)}
    for name, (pair, want) in pairs.items():
        assert blob.read_header(codec.encode(pair, 16000))[0].stereo == want, name
        sf.write(str(tmp_path / "in.wav"), pair.T, 16000, subtype="FLOAT")
        r = subprocess.run([sys.executable, "-m", "codec_rt", "encode", "in.wav", "-o", "o.cra", "--bitrate", "6",
                            "--force"], cwd=tmp_path, capture_output=True)
        assert r.returncode == 0 and blob.read_header((tmp_path / "o.cra").read_bytes())[0].stereo == want, name


def test_independent_channels_stay_available_and_lose_the_image(speech: tuple[np.ndarray, int]) -> None:
    """`joint_stereo=False` codes each channel on its own (format 1.3's way), which cannot keep anti-phase;
    `joint_stereo=True` always codes a pair as mid/side."""
    codec = Codec.load(bitrate=12)
    x = speech[0][:, :32000]
    pair = np.concatenate([x, -x])
    y_ms, _ = codec.decode(codec.encode(pair, 16000, framed=True, joint_stereo=True))
    y_lr, _ = codec.decode(codec.encode(pair, 16000, framed=True, joint_stereo=False))
    corr = [float(np.corrcoef(y[0], y[1])[0, 1]) for y in (y_ms, y_lr)]
    assert corr[0] < -0.99 and corr[1] > -0.9


def test_soft_clipping_bends_peaks_below_full_scale_and_leaves_the_rest() -> None:
    x = np.linspace(-1.6, 1.6, 3201, dtype=np.float32)[None]
    y, over = soft_clip(x)
    assert over == int(np.sum(np.abs(x) >= 1.0))
    assert float(np.abs(y).max()) < 1.0 and np.all(np.diff(y[0]) >= 0)  # below full scale, still monotonic
    quiet = np.abs(x) <= 0.9
    np.testing.assert_array_equal(y[quiet], x[quiet])


def test_the_cli_says_when_it_softens_peaks(tmp_path: Path) -> None:
    import subprocess
    import sys

    import soundfile as sf

    case = CASES["log sweep 0.99, 48 kHz"]
    sf.write(str(tmp_path / "sweep.wav"), case.audio[0], case.rate, subtype="PCM_16")
    run = [sys.executable, "-m", "codec_rt"]
    assert subprocess.run([*run, "encode", "sweep.wav", "-o", "s.cra"], cwd=tmp_path).returncode == 0
    r = subprocess.run([*run, "decode", "s.cra", "-o", "s.wav"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0 and "soft clipping" in r.stderr
    y, _ = sf.read(str(tmp_path / "s.wav"), dtype="int16")
    assert int(np.abs(y.astype(np.int32)).max()) < 32767


def _unusual_inputs(rate: int = 16000) -> dict[str, np.ndarray]:
    """Inputs unlike the training audio that drive latents past their usual range: the suite's steady tones
    and clicks, and tones up to 7.9 kHz, a fast chirp, an impulse train, a square wave and loud noise."""
    t = np.arange(3 * rate) / rate
    out = {c.name: c.audio[0] for c in CASES.values() if c.rate == rate and c.kind in ("tone", "chord", "transient")}
    out |= {f"tone {f} Hz": 0.5 * np.sin(2 * np.pi * f * t) for f in (1250, 4000, 5000, 7000, 7900)}
    out["chirp"] = 0.5 * np.sin(2 * np.pi * (50 * t + 1300 * t**2))
    out["impulses"] = np.where(np.arange(t.size) % 800 == 0, 0.9, 0.0)
    out["square 200 Hz"] = 0.5 * np.sign(np.sin(2 * np.pi * 200 * t))
    out["noise"] = 0.5 * np.random.default_rng(1).standard_normal(t.size)
    return {k: np.asarray(v, np.float32)[None] for k, v in out.items()}


@pytest.mark.parametrize("point", [p for p in POINTS if p != "fixed"])
def test_range_coded_points_code_unusual_inputs_without_clipping_a_latent(point: str) -> None:
    """A latent value beyond its entropy table's ends is clipped to them; tables too narrow for steady tones
    cost them level (docs/fidelity.md). Every table now reaches past what these inputs produce."""
    from codec_rt import entropy, stft
    from codec_rt.level import input_gain, remove_dc

    model = Codec.load(bitrate=POINTS[point]["kbps"], low_latency=POINTS[point].get("low_latency", False)).model
    cfg = model.config
    for name, x in _unusual_inputs().items():
        x = remove_dc(x, cfg.sample_rate)
        z = model.encode(stft.to_features(stft.stft(x * input_gain(x)[:, None], cfg.n_fft, cfg.hop)))[0]
        clipped = entropy.to_symbols(z, model.tables) != np.round(z)
        assert not clipped.any(), (name, int(clipped.sum()))


# The suite's lowest tone, a voice's fundamental: the tests of every tone leave it out and
# `test_a_100_hz_tone_*` hold it at each point (the tonal band of format 1.11 brought its pitch back at 3, 6,
# 12 kbps and the fixed width, and its cleanness at 3 and 6: docs/fidelity.md).
LOW_TONE = "tone 100 Hz -12 dBFS"


def _tones(kbps: float | None, fixed_width: bool = False) -> list[tuple[fidelity.Case, dict[str, float]]]:
    """Each tone case of the suite but LOW_TONE with its metrics through the point at `kbps` (or the
    fixed-width one), as the CLI codes it."""
    run = fidelity.ours(kbps, fixed_width=fixed_width)
    return [(c, fidelity.measure(c, run(c.audio, c.rate))) for c in CASES.values()
            if c.kind == "tone" and c.name != LOW_TONE]


def test_steady_tones_keep_their_level_at_12_kbps() -> None:
    """Every tone of the suite within 2 dB and nothing within 80 Hz of it above -30 dB, at the default point:
    its tables no longer clip a tone's latent, and its decoder gets back the level Griffin-Lim cancels
    (`codec_rt.energy_match`). No tone bursts at its onset, from the file's first sample (the lead-in of
    format 1.5) or after silence (the onset term of LADDER.md stage 11, and stage 20's abrupt onsets in the
    training data), and none fades at the file's end (the lead-out of format 1.6: the 3 s tones' last 10 ms
    were 12 to 28 dB low without it); the 48 kHz one's first 10 ms come out about 1 dB over its middle's
    peak, as its middle wanders by as much, and are left out. Every one within 5 cents: the tonal band holds
    their phase (format 1.11; the predicted phase left the 250 and 440 Hz ones 6.0 and 5.1 cents sharp)."""
    for case, m in _tones(12.0):
        assert abs(m["level_db"]) <= 2 and m["spur_db"] <= -30, (case.name, m)
        assert abs(m["pitch_cents"]) <= fidelity.MAX_PITCH_CENTS, (case.name, m)
        if case.rate == 16000:
            assert m["onset_db"] <= 1 and abs(m["end_db"]) <= 2 and not m["clipped"], (case.name, m)


@pytest.mark.parametrize("silence", [0.888, 0.896])
def test_an_onset_near_a_packets_end_does_not_burst(silence: float) -> None:
    """The suite's 3 kHz tone after 0.888 and 0.896 s of silence, at 12 kbps as the CLI codes it: the onset
    falls in the first packet's window but past its own samples (the lead-in's 128 ms on), so that packet's
    own gain, of silence, was 140 times the next one's, and the first 10 ms after the onset peaked 3.4 and
    2.8 dB over the tone's steady peak (from 0.5 s after the onset). Held to twice that of its window from its
    own first sample on (`level.window_capped`): +0.2 and +0.6 dB (docs/MEASURED.md, "A packet's gain held by
    its window")."""
    a = np.sqrt(2) * 10 ** (-12 / 20)
    n, half = int(silence * fidelity.RATE), fidelity.RATE // 2
    t = np.arange(int(2.5 * fidelity.RATE)) / fidelity.RATE
    x = np.concatenate([np.zeros(n), a * np.sin(2 * np.pi * 3000 * t)])[None].astype(np.float32)
    y = fidelity.ours(12.0)(x, fidelity.RATE)[0]
    steady = np.abs(y[n + half : -half]).max()
    onset = np.abs(y[n : n + fidelity.RATE // 100]).max()
    assert 20 * np.log10(onset / steady) <= 1.0


@pytest.mark.parametrize("name", ["chord C-E-G", "harmonic-rich 200 Hz"])
def test_a_chord_and_a_harmonic_rich_tone_pass_at_12_kbps(name: str) -> None:
    """Partials 2.1 STFT bins apart (the chord) and a tone's many harmonics: no phase built from a magnitude
    keeps them (docs/MEASURED.md); the 12 kbps point's tonal band does (format 1.11; predicted: the chord
    -18.2 dB and 186 cents off, the harmonic-rich tone's components -24.9 dB)."""
    case = CASES[name]
    m = fidelity.measure(case, fidelity.ours(12.0)(case.audio, case.rate))
    assert m["ok"], m


@pytest.mark.parametrize("name", ["chord C-E-G", "harmonic-rich 200 Hz", "1000 Hz blip, 10 ms, -12 dBFS"])
@pytest.mark.parametrize("kbps", [3.0, 6.0, 10.0])
def test_the_level_match_keeps_chords_tones_and_blips_at_their_level(kbps: float, name: str) -> None:
    """The encoder stores the gain that brings the decoded level to the input's (FORMAT.md 7.7); the points
    below 12 kbps missed it before (the chord -3.9 and +3.1 dB at 3 and 6 kbps, the harmonic-rich tone -2.2,
    -2.1, -2.3 dB at 3, 6, 10, the 10 ms blip -3.4 dB at 10; docs/fidelity.md)."""
    case = CASES[name]
    m = fidelity.measure(case, fidelity.ours(kbps)(case.audio, case.rate))
    assert m["ok"], m


@pytest.mark.parametrize("name", ["tone 1000 Hz -6 dBFS", "tone 1000 Hz -6 dBFS after 100 ms of silence",
                                  "1000 Hz blip, 10 ms, -12 dBFS"])
def test_the_level_match_keeps_the_low_latency_points_tones_and_blips_at_their_level(name: str) -> None:
    """A causal model's sections are matched unless their input is noise-like (FORMAT.md 7.7): its 1 kHz
    tones came back 1.8 to 2.1 dB low, its 10 ms blip 3.9 dB low (docs/MEASURED.md, "The causal level
    match"); within 1 dB, and the blip within the suite's 3."""
    case = CASES[name]
    m = fidelity.measure(case, fidelity.ours(None, low_latency=True)(case.audio, case.rate))
    assert m["ok"] and abs(m["level_db"]) <= (3 if case.kind == "blip" else 1), m


@pytest.mark.parametrize("point", ["12", "18", "fixed"])
def test_tones_keep_their_pitch_over_the_kind(point: str) -> None:
    """20 tones from 80 Hz to 4 kHz at -25 to -8 dBFS (`fidelity.tone_survey`): most within 5 cents and the
    median within 2, so that no point drifts off key on the whole whatever its luck on the suite's few
    frequencies (12 kbps: 20 of 20, median 0.1 cents; 18 kbps 20, 0.5; fixed width 20, 0.1; without the tonal
    band 15, 1.1 and 15, 1.4, the lowest tones up to 22 cents off)."""
    run = fidelity.ours(**POINTS[point])
    cents = np.abs([fidelity.measure(c, run(c.audio, c.rate))["pitch_cents"] for c in fidelity.tone_survey()])
    assert np.sum(cents <= fidelity.MAX_PITCH_CENTS) >= 14 and np.median(cents) <= 2, np.round(cents, 1)


def test_tones_at_6_kbps_keep_their_level_and_stay_clean() -> None:
    """The 6 kbps point, trained with the suite's kinds (LADDER.md stages 12, 15 and 21): every tone within
    2 dB (they come back within 1.1 dB; stage 12 left the 250 Hz one 2.9 dB low), nothing within 80 Hz above
    -30 dB, and no onset burst, from the file's first sample or after silence (stage 12: +2.6 dB; stage 21's
    run burst up to 3.9 dB at some of its averages)."""
    for case, m in _tones(6.0):
        assert abs(m["level_db"]) <= 2 and m["spur_db"] <= -30 and not m["clipped"], (case.name, m)
        assert m["onset_db"] <= 1, (case.name, m)


@functools.cache
def _low_tone(point: str) -> dict[str, float]:
    """LOW_TONE's metrics through `point` (a key of POINTS), coded once for the tests that read them."""
    case = CASES[LOW_TONE]
    return fidelity.measure(case, fidelity.ours(**POINTS[point])(case.audio, case.rate))


@pytest.mark.parametrize("point", ["3", "6", "12", "18", "fixed", "ll"])
def test_a_100_hz_tone_keeps_its_level_and_stays_clean(point: str) -> None:
    """The 100 Hz tone comes back within 2 dB with nothing within 80 Hz of it above -30 dB at every point
    (docs/fidelity.md; 3 and 6 kbps: its components were 20 dB down before the tonal band held its phase;
    the low-latency point: 20.7 dB down, at 50 and 150 Hz, before its decoder's steady bins, FORMAT.md 6.5)."""
    m = _low_tone(point)
    assert abs(m["level_db"]) <= 2 and m["spur_db"] <= -30 and not m["clipped"], m


@pytest.mark.parametrize("point", ["3", "6", "12", "18", "fixed", "ll"])
def test_a_100_hz_tone_keeps_its_pitch(point: str) -> None:
    """Within 5 cents where the blob holds the low band's phase: its tonal band (format 1.11), or the bins
    up to 500 Hz at 18 kbps and 450 Hz at low latency (a point that predicted every bin's phase put it +5.5
    cents off at 12 kbps, +9.5 at the fixed width, -55 at 6)."""
    assert abs(_low_tone(point)["pitch_cents"]) <= fidelity.MAX_PITCH_CENTS, _low_tone(point)


def test_tones_at_24_kbps_keep_their_level_pitch_and_cleanness() -> None:
    """The 24 kbps point holds the phase of the bins up to 700 Hz at 4 bits: every tone of the suite, the
    100 Hz one too, within 2 dB and 5 cents with nothing within 80 Hz above -30 dB, no onset burst and no
    fade at the end. Before format 1.10 dithered the codes (FORMAT.md 4.3) their rounding error repeated
    with a steady tone's phase advance: the 440 and 100 Hz tones' components were 29.8 and 25.0 dB down."""
    run = fidelity.ours(24.0)
    for case in (c for c in CASES.values() if c.kind == "tone"):
        m = fidelity.measure(case, run(case.audio, case.rate))
        assert abs(m["level_db"]) <= 2 and m["spur_db"] <= -30 and not m["clipped"], (case.name, m)
        assert abs(m["pitch_cents"]) <= fidelity.MAX_PITCH_CENTS, (case.name, m)
        if case.rate == 16000:
            assert m["onset_db"] <= 1 and abs(m["end_db"]) <= 2, (case.name, m)


@pytest.mark.parametrize("kbps", [18.0, 24.0])
def test_the_points_with_the_low_band_pass_every_check_of_the_suite(kbps: float) -> None:
    """Every case of the suite at 18 and 24 kbps (the 12 kbps model with the phase of the bins up to 500 Hz
    at 3 bits, and up to 700 Hz at 4). The last to pass at 24 was the harmonic-rich 200 Hz tone, whose 800
    Hz partial lies above the stored band: it went on at the decoded magnitude's peak, 6.9 cents sharp with
    components 26.6 dB down, and goes on at 4 times the band's pitch now (FORMAT.md 6.5, "Non-causal, mode
    2: the band's harmonics"). The 18 kbps point's band reaches the 440 Hz tone: with 15 bins its 25 ms
    blip came back 4.7 dB low (docs/fidelity.md)."""
    rows = fidelity.run_suite({f"{kbps:g}": fidelity.ours(kbps)})
    assert len(rows) == len(CASES)
    failed = {r["case"]: r for r in rows if not r["ok"]}
    assert not failed, failed


@pytest.mark.parametrize("kbps", [3.0, 6.0, 10.0, 12.0])
def test_the_points_up_to_12_kbps_pass_every_check_of_the_suite(kbps: float) -> None:
    """Every case of the suite at 3, 6, 10 and 12 kbps. The last to pass was the 10 kbps point's 3 kHz tone
    after silence, its first 10 ms 1.45 dB over its steady peak: rate-aware rounding kept its onset's steps
    plainly rounded, louder than the steady steps after them, as it keeps a click's; it keeps a transient's
    alone now (`entropy.TRANSIENT_POWER_DROP`), +0.76 dB, the clicks' pre-echo unchanged at -11.6 dB."""
    rows = fidelity.run_suite({f"{kbps:g}": fidelity.ours(kbps)})
    assert len(rows) == len(CASES)
    failed = {r["case"]: r for r in rows if not r["ok"]}
    assert not failed, failed


def test_the_fixed_width_passes_every_check_of_the_suite() -> None:
    """Every case of the suite at the fixed width (5 bits). Max-norm scales left the harmonic-rich tone's
    600 Hz partial 2.2 dB low, the other partials' levels scattered by as much (the levels spent on a
    packet's edge); fitted scales (`quantize.fitted_scales`) keep them within 1.2 dB, and the step weights
    keep a 10 ms blip's level, which unweighted fitting took 4.2 dB down (docs/MEASURED.md)."""
    rows = fidelity.run_suite({"fixed": fidelity.ours(None, fixed_width=True)})
    assert len(rows) == len(CASES)
    failed = {r["case"]: r for r in rows if not r["ok"]}
    assert not failed, failed


@pytest.mark.parametrize("freqs", [[690.0], [700.0], [720.0], [697.0, 1209.0]], ids=str)
def test_tones_at_the_stored_bands_edge_keep_their_pitch_at_24_kbps(freqs: list[float]) -> None:
    """A tone just above the stored band (bins up to 687.5 Hz), alone or as DTMF's "1" (697 + 1209 Hz): the
    band holds its skirt, where YIN hears a clean "pitch" near half its frequency, and the band's harmonics
    took the 700 Hz tone to 678 Hz (-56 cents, 25 dB low) and DTMF's pair 2.6 % and 1.9 % off (outside the
    1.5 % a receiver must accept) until a peak moved only within a quarter of a bin (FORMAT.md 6.5)."""
    t = np.arange(3 * fidelity.RATE) / fidelity.RATE
    x = sum(0.35 * np.sin(2 * np.pi * f * t) for f in freqs)
    case = fidelity.Case("edge", "chord", np.asarray(x, np.float32)[None], fidelity.RATE, {"freqs": freqs})
    m = fidelity.measure(case, fidelity.ours(24.0)(case.audio, case.rate))
    assert m["ok"], m


def test_a_live_streams_dither_runs_on_across_its_packets() -> None:
    """The low-latency model with every bin's phase stored at 3 bits, streamed live in packets of one step (4
    frames): the 440 Hz tone's components 27 dB down, 18 undithered and 19 with the dither restarted in every
    packet (it would repeat every 4 frames); in the whole file 33. Format 1.10 counts the stream's frames."""
    from codec_rt import StreamEncoder

    case = CASES["tone 440 Hz -20 dBFS"]
    codec = Codec.load(low_latency=True)
    enc = StreamEncoder(codec, case.rate, 1, mode="store_phase", phase_bits=3, packet_steps=1)
    m = fidelity.measure(case, codec.decode(enc.push(case.audio) + enc.flush())[0].astype(np.float64))
    assert m["spur_db"] <= -25 and abs(m["level_db"]) <= 3, m


def test_tones_at_the_fixed_width_point_keep_their_level() -> None:
    """The fixed-width point used to code a model of its own whose tones on a bin's centre came back 11 to 12 dB
    low; it now codes the 12 kbps point's weights (LADDER.md stage 17): every tone within 2 dB, nothing within
    80 Hz above -30 dB, no onset burst and no fade at the file's end."""
    for case, m in _tones(None, fixed_width=True):
        assert abs(m["level_db"]) <= 2 and m["spur_db"] <= -30 and not m["clipped"], (case.name, m)
        assert abs(m["pitch_cents"]) <= fidelity.MAX_PITCH_CENTS, (case.name, m)
        if case.rate == 16000:
            assert m["onset_db"] <= 1 and abs(m["end_db"]) <= 2, (case.name, m)


@pytest.mark.parametrize("point", [*POINTS, "10"])
def test_a_sound_a_few_frames_long_keeps_its_level(point: str) -> None:
    """A 25 ms blip alone in its file: 8 to 11 dB low at every point before the lead-out (format 1.5), within
    2 dB with it (docs/fidelity.md); at 10 kbps -2.4 dB, its rounding pulling a steady tone's level down by
    1.4 to 1.9 dB (the suite's limit is 3)."""
    case = CASES["440 Hz blip, 25 ms, -12 dBFS"]
    m = fidelity.measure(case, fidelity.ours(**POINTS.get(point, {"kbps": 10.0}))(case.audio, case.rate))
    assert m["ok"], m


@pytest.mark.parametrize("point", [*POINTS, "24", "10"])
def test_a_click_comes_back_without_pre_echo(point: str) -> None:
    """Clicks on quiet noise: the 20 ms before each held -2.4 to +0.6 dB of the 20 ms after's energy at every
    point (libopus: -11), the phase vocoder's start smearing them over the window; its impulses (FORMAT.md
    6.5) keep every point under -10 dB. The low-latency point, which cannot look ahead for them, +0.8 dB
    until its decoder placed a click late in the first frame that holds it ("Causal: clicks").
    At 10 kbps the rate-aware rounding pulled the clicks' rare symbols towards common ones (-4.7 dB) until
    steps at an onset kept plain rounding (`entropy.ONSET_STEP_CHANGE`)."""
    case = CASES["clicks on -50 dBFS noise"]
    kwargs = POINTS[point] if point in POINTS else {"kbps": float(point)}
    m = fidelity.measure(case, fidelity.ours(**kwargs)(case.audio, case.rate))
    assert m["ok"] and m["pre_echo_db"] <= -10, m


def test_the_low_latency_point_keeps_its_tones() -> None:
    """The causal point used to return its tones 45 to 80 dB down: the old model erased them, and RTISI alone
    continues a tone at its decoded peak's frequency, 10 to 35 Hz off. Its phase-advance model (FORMAT.md 6.5)
    keeps every tone of the suite within 5 dB, and the 1 kHz ones, the issue's case, within 3 dB
    (docs/fidelity.md: 3 and 6 kHz come back 4.7 dB low). Their pitch is not held here: the 1 kHz ones are
    within 1.4 cents, but 440 Hz comes back 32 cents sharp and 250 Hz 70 flat (docs/fidelity.md). Off the suite's
    frequencies it moves tones by 15 to 30 Hz: 8 of the survey's 20 keep their level (docs/fidelity.md)."""
    run = fidelity.ours(None, True)
    for case in CASES.values():
        if case.kind == "tone" and case.name != LOW_TONE:  # 100 Hz: its own tests above
            m = fidelity.measure(case, run(case.audio, case.rate))
            assert abs(m["level_db"]) <= (3 if case.meta["freqs"] == [1000.0] else 5), (case.name, m)
            assert not m["clipped"], (case.name, m)


def test_a_quiet_background_stays_steady_beside_loud_packets_at_12_kbps() -> None:
    """The file's level holds the packets' gains together (docs/FORMAT.md 7.6); with each packet's own gain
    the tone's level stepped around the packets that held a burst (docs/fidelity.md)."""
    case = CASES["300 Hz -33.5 dBFS under speech bursts"]
    m = fidelity.measure(case, fidelity.ours(12.0)(case.audio, case.rate))
    assert m["ok"], m


@pytest.mark.parametrize("point", POINTS)
def test_a_quiet_background_stays_steady_beside_loud_packets(point: str) -> None:
    """Noise at -40 dBFS and a 300 Hz tone at -33.5 dBFS between loud speech bursts: 10 ms levels within 6 dB
    (at the causal point, whose sections are level-matched unless noise-like, 5.0 and 3.8, FORMAT.md 7.7).
    A quiet packet's gain is held within 6 dB of its own level (FORMAT.md 7.6), so
    gains step at packet boundaries; from format 1.7 the decoder averages the log-gain over the steps
    either side (6.2), where dividing by the step left a dip and a peak of 3 to 5 dB at each boundary
    (12 kbps: 6.5 dB, now 2.9; 3 kbps: 6.3, now 5.4)."""
    run = fidelity.ours(**POINTS[point])
    for name in ["noise -40 dBFS under speech bursts", "300 Hz -33.5 dBFS under speech bursts"]:
        case = CASES[name]
        m = fidelity.measure(case, run(case.audio, case.rate))
        assert m["ok"], (name, m)
