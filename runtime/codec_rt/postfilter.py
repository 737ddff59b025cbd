"""Spectral-contrast postfilter for the predicted-phase mode.

A regression decoder predicts over-smoothed spectra: formant peaks too low, valleys too high, which the ear
hears as muffled, noisy speech. As the postfilters of CELP speech codecs do, this deepens the contrast of
each frame's log-magnitude around its mean by a factor `contrast`, then restores the frame's energy, so
the level does not change. contrast = 1 is the identity. The default and what it was chosen on:
docs/MEASURED.md.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from . import stft

DEFAULT_CONTRAST = 1.15


def enhance(logmag: npt.NDArray[np.float32], contrast: float) -> npt.NDArray[np.float32]:
    """log-magnitude `[..., F, T]` -> the same with each frame's contrast scaled and its energy kept."""
    if contrast == 1.0:
        return logmag
    lm = np.asarray(logmag, dtype=np.float64)
    mean = lm.mean(axis=-2, keepdims=True)
    out = mean + contrast * (lm - mean)
    # Energies are sums of exp(2 * logmag): compare them in the log domain, shifted by the max for stability.
    def log_energy(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        peak = x.max(axis=-2, keepdims=True)
        return np.asarray(peak + 0.5 * np.log(np.sum(np.exp(2 * (x - peak)), axis=-2, keepdims=True)))

    out += log_energy(lm) - log_energy(out)
    return np.asarray(out, dtype=np.float32)


# ------------------------------------------------------------------------------ causal models: steady bins

STEADY_FRAMES = 5  # L: frames in each of the two spans compared (20 ms at hop 64 / 16 kHz)
STEADY_DB = 1.0  # the largest change of mean power between them, dB, for which a bin counts as steady


def steady(logmag: npt.NDArray[np.float32], history: npt.NDArray[np.float64] | None
           ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float64]]:
    """A causal model's log-magnitude `[C, F, T] float32` of consecutive frames -> the same with each steady
    bin's value replaced by the mean over its last `STEADY_FRAMES` frames, and the history to pass with the
    next frames (`[C, F, <= 2 L - 1] float64`, the last frames' power; None at a stream's start).

    A bin is steady in frame t when the mean of `exp(2 logmag)` over frames t - L + 1 .. t is within
    STEADY_DB of that over the L frames before (FORMAT.md 6.5, "Causal: steady bins"; frames before the
    stream's `2 L - 1`th are left as they are). The causal decoder's magnitude of a steady tone swings from
    frame to frame with the tone's phase at each hop (a 100 Hz tone at hop 64: +-1.6 dB with a period of 5
    frames), which is heard as components beside it (-20.7 dB at 50 and 150 Hz); the mean removes the swing
    and leaves onsets and speech's moving partials, whose power changes faster, as they were. Needs only
    frames up to t: no latency. Chosen on the fidelity suite and development speech (docs/MEASURED.md,
    "Steady bins of the causal decoder")."""
    n_span = STEADY_FRAMES
    power = np.exp(2 * np.asarray(logmag, dtype=np.float64))
    full = power if history is None else np.concatenate([history, power], axis=-1)
    n = power.shape[-1]
    off = full.shape[-1] - n
    out = np.array(logmag, dtype=np.float32)
    first = max(off, 2 * n_span - 1)  # the first of these frames (index in `full`) with 2 L frames to compare
    if full.shape[-1] > first:
        sums = stft.window_sums(full, n_span)  # [..., i]: frames i .. i + L - 1, in order
        g = np.arange(first, off + n)
        recent, before = sums[..., g - n_span + 1] / n_span, sums[..., g - 2 * n_span + 1] / n_span
        calm = np.abs(10 * np.log10(recent / before)) < STEADY_DB
        out[..., g - off] = np.where(calm, 0.5 * np.log(recent), out[..., g - off]).astype(np.float32)
    return out, np.ascontiguousarray(full[..., -(2 * n_span - 1) :])
