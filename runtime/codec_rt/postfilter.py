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
