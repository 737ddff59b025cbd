"""The audio handed to the codec: the one place that says what `[C, N]` samples it codes, and the joint
stereo transform (mid/side) between audio channels and coded channels."""

from __future__ import annotations

import numbers

import numpy as np
import numpy.typing as npt

from .config import MAX_CHANNELS, MAX_SAMPLE_RATE, Stereo
from .errors import AudioError

F32 = npt.NDArray[np.float32]

# Lowest input rate the encoder takes: its memory grows with the length at the model rate, and below 1 kHz
# a small file would be resampled into an enormous one (a 1 Hz WAV of 100 kB is 800 M samples at 16 kHz).
MIN_ENCODE_RATE = 1000
# Largest sample magnitude coded: 2**15, 90 dB over full scale (1.0). Past it a float file is no longer audio
# on that scale (16-bit values written unscaled reach 32768), and far beyond it the STFT's float32 power
# overflows into NaN (docs/BAD_INPUT.md, sample-beyond-32768).
MAX_SAMPLE = 32768.0


def check_rate(sample_rate: object) -> int:
    """An input sample rate (Hz) -> the int; AudioError unless a whole number (16000, or 16000.0 as a float or
    NumPy scalar) in MIN_ENCODE_RATE..MAX_SAMPLE_RATE."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Real) \
            or not float(sample_rate).is_integer():
        raise AudioError(f"sample rate must be a whole number of Hz, got {sample_rate!r}")
    rate = int(float(sample_rate))
    if not MIN_ENCODE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise AudioError(f"sample rate {rate} not in {MIN_ENCODE_RATE}..{MAX_SAMPLE_RATE} Hz")
    return rate


def check_channels(channels: object) -> int:
    """A channel count -> the int; AudioError unless an integer in 1..MAX_CHANNELS."""
    if not isinstance(channels, (int, np.integer)) or isinstance(channels, bool):
        raise AudioError(f"channels must be a whole number in 1..{MAX_CHANNELS}, got {channels!r}")
    if not 1 <= channels <= MAX_CHANNELS:
        raise AudioError(f"{channels} channels; codec-rt codes 1..{MAX_CHANNELS}")
    return int(channels)


def as_audio(audio: npt.ArrayLike, channels: int | None = None) -> F32:
    """Samples `[C, N]` (or `[N]` when `channels` is 1) of any float dtype -> `[C, N] float32`, contiguous.

    Raises AudioError: not two-dimensional, not float, a channel count outside 1..MAX_CHANNELS (or not
    `channels`), NaN or infinite samples, float64 samples beyond the float32 range, or samples beyond
    MAX_SAMPLE (+-32768).
    """
    a = np.asarray(audio)
    if a.ndim == 1 and channels == 1:
        a = a[None, :]
    if a.ndim != 2 or (channels is not None and a.shape[0] != channels):
        want = "channels" if channels is None else channels
        raise AudioError(f"audio must be [{want}, samples], got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.floating):
        raise AudioError(f"audio must be float samples in [-1, 1], got dtype {a.dtype}")
    check_channels(a.shape[0])
    if not np.all(np.isfinite(a)):
        raise AudioError("audio contains NaN or infinite samples")
    with np.errstate(over="ignore"):
        x = np.ascontiguousarray(a, dtype=np.float32)
    if not np.all(np.isfinite(x)):  # float64 beyond the float32 range
        raise AudioError("audio has samples beyond the float32 range (|x| > 3.4e38)")
    peak = float(np.abs(x).max(initial=0.0))
    if peak > MAX_SAMPLE:
        raise AudioError(f"audio has samples of {peak:.3g}, beyond +-{MAX_SAMPLE:g}: codec-rt codes audio on a full "
                         f"scale of 1.0 (float samples written unscaled?)")
    return x


# Mid/side keeps a pair's relation only where one of mid and side is near silent (an anti-phase pair is all
# side, a mono one all mid): the two are phase-refined apart, so where both carry signal (a panned voice, two
# voices) their sum and difference mix the channels (docs/fidelity.md). Below this energy ratio, "auto" picks it.
MID_SIDE_RATIO = 0.01  # -20 dB


class StereoEnergy:
    """The energies of mid and side of a pair of channels, accumulated over `[2, n]` blocks, to choose the
    stereo coding before coding ("auto")."""

    def __init__(self) -> None:
        self.mid = self.side = 0.0

    def add(self, x: npt.ArrayLike) -> None:
        a = np.asarray(x, np.float64)
        self.mid += float(np.sum(np.square(a[0] + a[1])))
        self.side += float(np.sum(np.square(a[0] - a[1])))

    @property
    def mid_side(self) -> bool:
        """Whether mid/side suits this pair: one of mid and side under MID_SIDE_RATIO of the other."""
        return min(self.mid, self.side) < MID_SIDE_RATIO * max(self.mid, self.side)


def prefers_mid_side(x: npt.ArrayLike) -> bool:
    """Whether a pair `[2, N]` is best coded as mid/side (`StereoEnergy.mid_side`); False for other counts."""
    a = np.asarray(x)
    if a.ndim != 2 or a.shape[0] != 2:
        return False
    e = StereoEnergy()
    e.add(a)
    return e.mid_side


def to_coded(x: F32, stereo: int) -> F32:
    """Audio channels `[C, n]` -> the channels the codec codes: with `Stereo.MID_SIDE`, `[(L + R) / 2,
    (L - R) / 2]`, so that what the two channels share and what sets them apart are coded apart (an
    anti-phase pair is all side, a mono one all mid); else unchanged."""
    if stereo != Stereo.MID_SIDE:
        return x
    return np.stack([(x[0] + x[1]) * np.float32(0.5), (x[0] - x[1]) * np.float32(0.5)])


def from_coded(y: F32, stereo: int) -> F32:
    """The inverse of `to_coded`: decoded channels `[C, n]` -> audio channels (mid + side, mid - side)."""
    if stereo != Stereo.MID_SIDE:
        return y
    return np.stack([y[0] + y[1], y[0] - y[1]])
