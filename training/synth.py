"""Synthetic signals of the fidelity suite's kinds, mixed into training so the model does not fail on them.

The shipped models were trained on speech and music only, and lost level on steady tones, grew sidebands
one STFT bin either side, burst at tone onsets and pumped quiet backgrounds under loud speech (the figures:
docs/fidelity.md, issue 12). Each clip here is one random instance of one kind:

- `tone`: one steady sinusoid, 40 Hz to 7.8 kHz (log-uniform; half of them on an STFT bin's centre), starting
  at sample 0 or later, some ending early;
- `chord`: 2 to 5 sinusoids at random relative levels (0 to -20 dB);
- `harmonic`: a band-limited sawtooth or square wave, f0 60 to 800 Hz;
- `sweep`: a logarithmic sweep between two random frequencies;
- `bursts`: a steady tone or noise 25 to 45 dB below a real speech clip gated into one or two spans;
- `clicks`: decaying noise clicks on a quiet noise floor;
- `over_noise`: a tone, chord or harmonic tone as above over white noise 40 to 90 dB under it, a recording's
  floor: the other tonal kinds are digitally clean, and the low-latency point, trained on them and speech,
  decoded a 1 kHz tone over noise 58 dB under it 14 dB low (docs/MEASURED.md, "Steady peaks' level and
  frequency").

The signals are not the suite's cases (those stay held out): frequencies, levels, onsets and spans are
drawn at random. Levels are relative: `ClipSet.batches` normalizes every clip as the runtime does.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
KINDS = ("tone", "chord", "harmonic", "sweep", "bursts", "clicks", "over_noise")
KIND_WEIGHTS = (0.25, 0.1, 0.1, 0.1, 0.2, 0.1, 0.15)
FLOOR_DB = (40.0, 90.0)  # `over_noise`: the noise's level under the tonal signal's (its RMS), dB


def _onset_envelope(n: int, rate: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """1 over a random span: half the time from sample 0 (an abrupt start, as a user's test tone), else from
    a random point after silence, half of those abruptly too and half with a 0-20 ms ramp; a quarter of spans
    end before the clip does. (With a ramp on every later start, a tone switched on after silence was the one
    onset never seen, and the 12 kbps point burst 1.5 to 2.4 dB there: LADDER.md stage 20.)"""
    env = np.zeros(n)
    start = 0 if rng.random() < 0.5 else int(rng.integers(0, n // 2))
    end = n if rng.random() < 0.75 else int(rng.integers(start + n // 4, n + 1))
    env[start:end] = 1.0
    ramp = int(rng.uniform(0, 0.02) * rate) if rng.random() < 0.5 else 0
    if ramp > 1 and start > 0:
        env[start : start + ramp] *= np.linspace(0, 1, ramp)
    return env


def _tones(freqs: npt.ArrayLike, amps: npt.ArrayLike, t: npt.NDArray[np.float64],
           rng: np.random.Generator) -> npt.NDArray[np.float64]:
    f = np.asarray(freqs, np.float64)[:, None]
    phase = rng.uniform(0, 2 * np.pi, (f.shape[0], 1))
    return np.asarray(amps, np.float64) @ np.sin(2 * np.pi * f * t[None] + phase)


def _snap(f: npt.ArrayLike, rate: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """Half the time, `f` rounded to a multiple of rate / 512: test tones are round numbers (1000 Hz, 250 Hz),
    which fall on an STFT bin's centre, where the window's main lobe has exact nulls beside it (a spectrum
    the shipped models, trained on speech, narrowed and lost level on: docs/fidelity.md)."""
    f = np.asarray(f, np.float64)
    if rng.random() < 0.5:
        step = rate / 512
        f = np.maximum(np.round(f / step), 2) * step  # bin 1 (31 Hz) would be below the range drawn
    return f


def synth_clip(kind: str, n: int, rate: int, rng: np.random.Generator, speech: F32 | None = None) -> F32:
    """One clip `[n] float32` of `kind` (one of `KINDS`) at `rate` Hz; `bursts` needs a real `speech` clip.

    Raises ValueError for an unknown kind.
    """
    t = np.arange(n) / rate
    nyq = 0.49 * rate
    if kind == "over_noise":
        x = synth_clip(str(rng.choice(("tone", "chord", "harmonic"))), n, rate, rng).astype(np.float64)
        floor = 10 ** (-rng.uniform(*FLOOR_DB) / 20) * float(np.sqrt(np.mean(x**2)))
        x = x + floor * rng.standard_normal(n)
    elif kind == "tone":
        f = _snap(np.exp(rng.uniform(np.log(40), np.log(min(7800, nyq)))), rate, rng)
        x = _tones([f], [1.0], t, rng) * _onset_envelope(n, rate, rng)
    elif kind == "chord":
        k = int(rng.integers(2, 6))
        freqs = _snap(np.exp(rng.uniform(np.log(80), np.log(min(5000, nyq)), k)), rate, rng)
        x = _tones(freqs, 10 ** (-rng.uniform(0, 20, k) / 20), t, rng) * _onset_envelope(n, rate, rng)
    elif kind == "harmonic":
        f0 = np.exp(rng.uniform(np.log(60), np.log(800)))
        h = np.arange(1, int(nyq // f0) + 1)
        if rng.random() < 0.5:
            amps = 1.0 / h  # sawtooth
        else:
            amps = np.where(h % 2 == 1, 1.0 / h, 0.0)  # square
        amps = amps * np.exp(-h * f0 / rng.uniform(2000, 20000))  # a random low-pass tilt
        x = _tones(h * f0, amps, t, rng) * _onset_envelope(n, rate, rng)
    elif kind == "sweep":
        f1, f2 = np.exp(rng.uniform(np.log(50), np.log(nyq), 2))
        dur = n / rate
        k = np.log(f2 / f1)
        phase = 2 * np.pi * f1 * dur / k * (np.exp(t / dur * k) - 1) if abs(k) > 1e-6 else 2 * np.pi * f1 * t
        x = np.sin(phase)
    elif kind == "bursts":
        if speech is None or speech.size == 0:
            raise ValueError("bursts need a speech clip")
        level = 10 ** (-rng.uniform(25, 45) / 20)
        if rng.random() < 0.6:
            bg = np.sqrt(2) * _tones([np.exp(rng.uniform(np.log(80), np.log(4000)))], [1.0], t, rng)
        else:
            bg = rng.standard_normal(n)
        x = level * bg
        s = np.resize(speech, n).astype(np.float64)
        s = s / max(float(np.sqrt(np.mean(s**2))), 1e-6)
        for _ in range(int(rng.integers(1, 3))):
            a = int(rng.integers(0, n - n // 8))
            b = min(n, a + int(rng.uniform(0.1, 0.3) * n))
            x[a:b] += s[a:b]
    elif kind == "clicks":
        x = 10 ** (-rng.uniform(30, 60) / 20) * rng.standard_normal(n)
        length = int(0.01 * rate)
        decay = np.exp(-np.arange(length) / (rng.uniform(0.001, 0.004) * rate))
        for i in rng.integers(0, n - length, int(rng.integers(1, 6))):
            x[i : i + length] += decay * rng.standard_normal(length)
    else:
        raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")
    peak = float(np.abs(x).max())
    return (x / peak * 0.5).astype(np.float32) if peak > 0 else x.astype(np.float32)


def random_kind(rng: np.random.Generator) -> str:
    return str(rng.choice(KINDS, p=KIND_WEIGHTS))
