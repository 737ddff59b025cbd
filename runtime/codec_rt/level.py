"""Level normalization: the model always sees audio at about the same loudness.

The encoder scales each channel by `gain = TARGET_RMS / rms` (clamped to [MIN_GAIN, MAX_GAIN], so silence
is not amplified into noise) and stores the gain in the blob; the decoder divides it out.
Training applies the same function to its crops, so model and runtime agree.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

TARGET_RMS = 0.05  # about -26 dBFS
MIN_GAIN = 1.0 / 64.0
MAX_GAIN = 64.0


def normalizing_gain(x: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
    """Gain per row of `x [C, N]` -> `[C] float32`."""
    if x.shape[-1] == 0:
        return np.ones(x.shape[:-1], dtype=np.float32)
    rms = np.sqrt(np.mean(np.square(x, dtype=np.float64), axis=-1))
    gain = TARGET_RMS / np.maximum(rms, 1e-12)
    return np.asarray(np.clip(gain, MIN_GAIN, MAX_GAIN), dtype=np.float32)
