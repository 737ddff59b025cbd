"""Phase refinement for the predicted-phase mode: fast Griffin-Lim (Perraudin, Balazs, Sondergaard 2013).

The decoder predicts a magnitude and a phase; the predicted phase is a rough start. A few iterations of
projecting onto consistent spectrograms (STFT of an iSTFT) with momentum make the phase agree with the
magnitude across overlapping frames, which is what the ear hears as clean speech. It is deterministic
(no random start) and runs in NumPy at the model rate.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from . import stft

MOMENTUM = 0.99


def refine(
    mag: npt.NDArray[np.floating], phase: npt.NDArray[np.floating], n_fft: int, hop: int, length: int, iters: int
) -> npt.NDArray[np.float32]:
    """magnitude and initial phase `[..., F, T]` -> audio `[..., length] float32` after `iters` iterations."""
    target = np.asarray(mag, dtype=np.float64)
    c = target * np.exp(1j * np.asarray(phase, dtype=np.float64))
    prev = c
    for _ in range(iters):
        t = stft.stft(stft.istft(c, n_fft, hop, length), n_fft, hop).astype(np.complex128)
        accel = t + MOMENTUM * (t - prev)
        prev = t
        c = target * np.exp(1j * np.angle(accel))
    return stft.istft(c, n_fft, hop, length)
