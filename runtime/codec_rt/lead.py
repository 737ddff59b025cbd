"""The encoder's lead-in and lead-out (docs/FORMAT.md 7.1): what the signal would have been before its first
sample and after its last.

A convolutional encoder and decoder see a signal that starts abruptly at sample 0 through their zero
padding and render its first 100 ms loud. The framed encoder codes `pre_skip` model-rate samples before
the audio instead, which the decoder drops: a lead-in made at the input's rate, before the resampler, so
that no stage sees a step. It continues the audio backwards by linear prediction, the standard way to
extrapolate a signal (Kauppinen and Roth, "Audio signal extrapolation: theory and applications", DAFx
2002): an autoregressive model fitted to the audio's first samples (as many as the lead-in has) by Burg's
method (Burg 1975; the recursion of Kay and Marple, "Spectrum analysis: a modern perspective", Proc. IEEE
1981), run backwards in time. A steady tone continues with its frequency, level and phase; speech and
noise die away into silence within a few ms. The models turn even a small step in a tone's level into a
burst, so the continuation has to be close: mirror images (even or odd extensions) start a tone with the
wrong phase or a DC offset and do worse than no lead-in at all (docs/fidelity.md).

The file's end is the same edge seen from the other side: its last frames came back low, and a sound only
a few frames long lost most of its level (docs/fidelity.md). Format 1.6 codes `post_skip` samples after
the audio, the lead-in of the time-reversed audio, time-reversed: the audio's last samples continued
forwards.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
ORDER = 32  # prediction order: resonances of speech and up to 16 steady partials
# In exact arithmetic, reflections below 1 keep every pole inside the unit circle. In floating point the
# later stages of a steady tone's fit see only rounding, and for a tone whose period is the order or less
# the rounded coefficients can put poles outside (docs/FORMAT.md 7.1): a continuation that grows past
# GROWTH times its audio's peak is refitted at half the order, down to 2, else there is no lead-in. (Keeping
# rounding out of the fit with a ridge made the suite's pure tones start up to 2 dB loud.)
MAX_REFLECTION = 1.0 - 1e-6
GROWTH = 2.0
EXACT = 1e-11  # a stage that leaves this share of the error: predictable to rounding (a constant); stop
SILENCE = 1e-20  # energy below which the lead-in is zeros


def burg(x: F64, order: int = ORDER) -> F64:
    """Burg's method: the prediction-error filter `a [order + 1]` (a[0] = 1) of `x [n] float64`, so that
    `x[t] ~ -sum_k a[k] x[t - k]`. Reflection coefficients are clamped to +-MAX_REFLECTION. The recursion
    stops early (the rest of `a` 0) once a stage leaves EXACT or less of the error before it (a constant:
    predictable to rounding). (Stopping once the error is merely small, as a share of the signal, left the
    fitted frequency of a steady tone off enough to matter.)"""
    f = np.array(x, dtype=np.float64)
    b = f.copy()
    a = np.zeros(order + 1)
    a[0] = 1.0
    last = 0.0
    for m in range(min(order, len(f) - 1)):
        ff, bb = f[m + 1 :], b[m:-1]
        den = float(ff @ ff + bb @ bb)
        # A stage that left no error, or next to none: later stages would fit rounding noise (a constant's
        # predictor would pile up poles next to 1, whose coefficients overflow).
        if not den > EXACT * last:
            break
        k = min(max(-2.0 * float(ff @ bb) / den, -MAX_REFLECTION), MAX_REFLECTION)
        a[: m + 2] = a[: m + 2] + k * a[m + 1 :: -1]
        f[m + 1 :], b[m + 1 :] = ff + k * bb, bb + k * ff
        last = den
    return a


def lengths(minimum: int, model_rate: int, rate: int) -> tuple[int, int]:
    """A lead-in of at least `minimum` model-rate samples -> (`pre_skip`, its length at the input `rate`):
    the smallest multiple of `model_rate / gcd(model_rate, rate)` at or above `minimum`, so that both are
    whole numbers of samples (16 kHz, 48 kHz: `minimum` itself; 44.1 kHz: a multiple of 160). (0, 0), no
    lead-in, where that is over twice `minimum` (rates nearly coprime with the model's, such as 7919 Hz,
    would code a whole second of it)."""
    q = model_rate // math.gcd(model_rate, rate)
    pre_skip = -(-minimum // q) * q
    if pre_skip > 2 * minimum:
        return 0, 0
    return pre_skip, pre_skip * rate // model_rate


def extrapolate(seg: F64, n: int, order: int) -> F64:
    """`seg [m] float64` continued by `n` samples with `burg`'s predictor of `order` -> `[n] float64`."""
    taps = -burg(seg, order)[1:]  # taps[k - 1] weighs the sample k steps back
    m = seg.size
    z = np.concatenate([seg, np.zeros(n)])
    for i in range(m, m + n):
        z[i] = taps @ z[i - 1 : i - 1 - order : -1]
    return z[m:]


def lead_in(y: npt.ArrayLike, n: int) -> F32:
    """Audio `y [C, m]` -> the `n` samples before it, `[C, n] float32`: per channel, its first `n` samples
    (zeros past its end) extrapolated backwards by `burg`'s predictor of order ORDER, or half that, ... down
    to 2 where the higher order's continuation grows past GROWTH times their peak; bounded by their peak.
    Digital silence, or a continuation that grows at every order, gives zeros."""
    ya = np.asarray(y, dtype=np.float64)
    out = np.zeros((ya.shape[0], n))
    for c in range(ya.shape[0]):
        seg = np.zeros(n)
        head = ya[c, :n]
        seg[: head.size] = head
        if n <= ORDER or float(seg @ seg) <= SILENCE:
            continue
        peak = float(np.abs(seg).max())
        order = ORDER
        while order >= 2:  # backwards in time: predicting "forward" through the reversed audio extends its start
            z = extrapolate(seg[::-1], n, order)
            if np.all(np.abs(z) <= GROWTH * peak):  # (False for NaN too)
                out[c] = np.clip(z[::-1], -peak, peak)
                break
            order //= 2
    return out.astype(np.float32)


def lead_out(y: npt.ArrayLike, n: int) -> F32:
    """Audio `y [C, m]` -> the `n` samples after it, `[C, n] float32`: `lead_in` of the time-reversed audio,
    time-reversed (its last `n` samples, zeros before its start, continued forwards)."""
    return np.ascontiguousarray(lead_in(np.asarray(y)[..., ::-1], n)[..., ::-1])
