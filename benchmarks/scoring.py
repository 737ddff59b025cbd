"""Time alignment and the five figures of one decoded clip (mono, 16 kHz).

Codecs delay their output by different amounts (Codec2 about 13 ms here, resamplers a fraction of a
sample), and waveform metrics collapse on small shifts (SI-SDR of Opus at 24 kbps loses 3 to 5 dB to a
one-sample error), so every clip is aligned before scoring, in two steps:
- coarse, one integer lag per codec point (`codec_lag`): the peak of the normalized cross-correlation of
  the clips' energy envelopes within +-`max_lag_s`, summed over all its clips, then moved to the peak of the
  summed waveform cross-correlation within `ENVELOPE_WINDOW` samples of it where that peak is clear (a mean
  correlation over `WAVEFORM_MIN_CORRELATION`). The envelope finds the delay of
  codecs that synthesize their own phase (Codec2, our decoders, whose phase comes from Griffin-Lim): their
  waveform correlates with the input weakly or not at all, and its peak can land anywhere in the search
  range (a model trained on magnitudes only was put 17 ms off). The waveform then makes the lag sample-exact
  where the codec keeps the waveform (Opus). One clip's own peak is unreliable, the sum over many is not;
- fine, per clip (`refine`): a parabola through that clip's correlation at the lag and its two neighbours
  gives the sub-sample delay (within one sample), which differs with content: Opus delays its SILK
  (speech) frames by about 0.7 sample more than its CELT (music) frames.
`align` applies the fractional shift with an FFT phase ramp and cuts both signals to their overlap.

A metric that cannot score a clip (PESQ finds no utterance in silence, a package is missing) gives NaN,
and the aggregation counts NaNs instead of failing the run.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from codec_rt import metrics

RATE = 16000
MAX_LAG_S = 0.05
ENVELOPE_WINDOW = 32  # samples (2 ms): the envelope's smoothing, and how far the waveform may move its lag
WAVEFORM_MIN_CORRELATION = 0.1  # mean normalized waveform correlation that makes the waveform's peak count
# Figures per clip; higher is better for the first three, lower for the two distances.
METRICS = ("pesq_wb", "stoi", "si_sdr", "lsd", "mel")
HIGHER_IS_BETTER = {"pesq_wb": True, "stoi": True, "si_sdr": True, "lsd": False, "mel": False}

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


def xcorr(ref: npt.ArrayLike, deg: npt.ArrayLike, max_lag: int) -> F64:
    """Normalized cross-correlation at lags -max_lag..max_lag: entry k + max_lag is
    sum_i ref[i] deg[i + k] / (|ref| |deg|); all zeros when either signal is silent."""
    r = np.asarray(ref, dtype=np.float64)
    d = np.asarray(deg, dtype=np.float64)
    norm = float(np.linalg.norm(r) * np.linalg.norm(d))
    if norm == 0.0:
        return np.zeros(2 * max_lag + 1)
    n = 1 << int(math.ceil(math.log2(max(r.shape[0] + d.shape[0], 2))))
    c = np.fft.irfft(np.conj(np.fft.rfft(r, n)) * np.fft.rfft(d, n), n)  # c[k] = sum r[i] d[i + k], k mod n
    return np.asarray(c[np.arange(-max_lag, max_lag + 1) % n] / norm, dtype=np.float64)


def _peak(curve: F64, max_lag: int) -> int:
    best = int(np.argmax(curve))
    return best - max_lag if curve[best] > 0 else 0  # no positive correlation (silence): no shift


def estimate_lag(ref: npt.ArrayLike, deg: npt.ArrayLike, max_lag: int) -> int:
    """Samples by which `deg` lags `ref` (deg[n] ~ ref[n - lag]), searched in [-max_lag, max_lag]; 0 for silence."""
    return _peak(xcorr(ref, deg, max_lag), max_lag)


def envelope(x: F32) -> F64:
    """Energy envelope `[N]`: RMS over `ENVELOPE_WINDOW` samples around each sample, its mean removed."""
    e = np.sqrt(np.convolve(np.asarray(x, np.float64) ** 2, np.ones(ENVELOPE_WINDOW) / ENVELOPE_WINDOW, "same"))
    return np.asarray(e - e.mean(), dtype=np.float64)


def codec_lag(pairs: list[tuple[F32, F32]], max_lag: int) -> tuple[int, list[int]]:
    """One integer lag for a codec from (ref, deg) pairs (each clip weighs the same, whatever its length or
    level): the peak of the summed envelope cross-correlations, moved to the summed waveform
    cross-correlation's peak within `ENVELOPE_WINDOW` samples; also each clip's own waveform peak."""
    if not pairs:
        return 0, []
    coarse = _peak(np.sum([xcorr(envelope(r), envelope(d), max_lag) for r, d in pairs], axis=0), max_lag)
    curves = [xcorr(r, d, max_lag) for r, d in pairs]
    total = np.sum(curves, axis=0)
    lo, hi = max(coarse - ENVELOPE_WINDOW, -max_lag), min(coarse + ENVELOPE_WINDOW, max_lag)
    near = total[lo + max_lag : hi + max_lag + 1] / len(pairs)
    # A phase-synthesizing codec's waveform correlation is noise (a few hundredths): keep the envelope's lag.
    lag = lo + int(np.argmax(near)) if near.max() > WAVEFORM_MIN_CORRELATION else coarse
    return lag, [_peak(c, max_lag) for c in curves]


def refine(ref: F32, deg: F32, lag: int) -> float:
    """Sub-sample lag near the integer `lag`: the vertex of the parabola through the correlation at
    lag - 1, lag, lag + 1, kept within one sample of `lag`; `lag` itself where the curve is not peaked there."""
    a, b, c = xcorr(ref, deg, abs(lag) + 1)[abs(lag) + lag : abs(lag) + lag + 3]
    curvature = a - 2 * b + c
    if curvature >= 0:
        return float(lag)
    return lag + float(np.clip(0.5 * (a - c) / curvature, -1.0, 1.0))


def _advance(x: F32, frac: float) -> F32:
    """x(n + frac), 0 <= frac < 1, band-limited (FFT phase ramp over a zero-padded copy, so no wrap-around)."""
    n = x.shape[0]
    m = 2 * n
    spec = np.fft.rfft(x.astype(np.float64), m)
    ramp = np.exp(2j * np.pi * np.arange(spec.shape[0]) * frac / m)
    return np.fft.irfft(spec * ramp, m)[:n].astype(np.float32)


def align(ref: F32, deg: F32, lag: float) -> tuple[F32, F32]:
    """Both signals cut to their overlap once `deg` is shifted back by `lag` samples (may be fractional)."""
    k = math.floor(lag)
    frac = lag - k
    n = min(ref.shape[0], deg.shape[0])
    r, d = (ref[: n - k], deg[k:n]) if k >= 0 else (ref[-k:n], deg[: n + k])
    if frac > 0:
        # d(n + frac) needs a sample past the end for the last n: drop it from both.
        r, d = r[:-1], _advance(d, frac)[:-1]
    return r, d


def _nan_if_none(v: float | None) -> float:
    return float("nan") if v is None else float(v)


def score(ref: F32, deg: F32, lag: float | None = None, max_lag_s: float = MAX_LAG_S) -> dict[str, float]:
    """All METRICS for one clip after shifting `deg` back by `lag` samples (None: this clip's own refined
    correlation peak), plus `lag_ms` (positive: the codec's output is late)."""
    if lag is None:
        lag = refine(ref, deg, estimate_lag(ref, deg, int(round(max_lag_s * RATE))))
    r, d = align(ref, deg, lag)
    r2, d2 = r[None, :], d[None, :]
    return {
        "lag_ms": 1000.0 * lag / RATE,
        "pesq_wb": _nan_if_none(metrics.pesq_wb(r2, d2, RATE)),
        "stoi": _nan_if_none(metrics.stoi(r2, d2, RATE)),
        "si_sdr": metrics.si_sdr(r2, d2),
        "lsd": metrics.lsd(r2, d2),
        "mel": metrics.mel_distance(r2, d2, RATE),
    }
