"""Quality and size figures of a round trip. PESQ-WB and STOI need the `metrics` extra (pesq, pystoi);
without it they are reported as None, never faked.

All functions take reference and degraded audio `[C, N]` of equal shape at `sample_rate`; the codec
output is time-aligned with its input, so no delay compensation is applied here.
"""

from __future__ import annotations

import importlib.util
import logging
import warnings
from typing import Any

import numpy as np
import numpy.typing as npt

from . import stft
from .resample import model_length, resample

log = logging.getLogger(__name__)
Audio = npt.NDArray[np.floating[Any]]
EPS = 1e-12


def snr(ref: Audio, deg: Audio) -> float:
    """Signal-to-noise ratio in dB."""
    noise = np.sum((ref - deg) ** 2.0)
    return float(10 * np.log10((np.sum(ref**2.0) + EPS) / (noise + EPS)))


def si_sdr(ref: Audio, deg: Audio) -> float:
    """Scale-invariant SDR in dB, per channel (zero-mean), averaged over channels."""
    vals = []
    for r, d in zip(np.asarray(ref, np.float64), np.asarray(deg, np.float64), strict=True):
        r, d = r - r.mean(), d - d.mean()
        target = (np.dot(d, r) / (np.dot(r, r) + EPS)) * r
        vals.append(10 * np.log10((np.sum(target**2) + EPS) / (np.sum((d - target) ** 2) + EPS)))
    return float(np.mean(vals))


def lsd(ref: Audio, deg: Audio, n_fft: int = 512, hop: int = 128) -> float:
    """Log-spectral distance in dB: RMS over bins of the log-power difference, averaged over frames.

    Powers are floored 80 dB below the reference's peak bin, so silence and empty bands (a 16 kHz model
    decoding 44.1 kHz audio has nothing above 8 kHz) count as at most 80 dB, not as log(0)."""
    p_ref = np.abs(stft.stft(ref, n_fft, hop)).astype(np.float64) ** 2
    p_deg = np.abs(stft.stft(deg, n_fft, hop)).astype(np.float64) ** 2
    floor = max(float(p_ref.max(initial=0.0)), EPS) * 1e-8
    d = 10 * np.log10(np.maximum(p_ref, floor)) - 10 * np.log10(np.maximum(p_deg, floor))
    return float(np.mean(np.sqrt(np.mean(d**2, axis=-2))))


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int) -> npt.NDArray[np.float64]:
    """Triangular filters on the HTK mel scale from 0 Hz to Nyquist, `[n_mels, n_fft // 2 + 1]`, peak 1."""
    mel_max = 2595.0 * np.log10(1.0 + (sample_rate / 2) / 700.0)
    hz = 700.0 * (10.0 ** (np.linspace(0.0, mel_max, n_mels + 2) / 2595.0) - 1.0)
    bins = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    lo, mid, hi = hz[:-2, None], hz[1:-1, None], hz[2:, None]
    return np.maximum(0.0, np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)))


def mel_distance(
    ref: Audio, deg: Audio, sample_rate: int, n_fft: int = 1024, hop: int = 256, n_mels: int = 80
) -> float:
    """Log-mel L1 distance in dB: mean absolute difference of the mel-band powers in dB, per channel.

    Mel bands weigh the spectrum as hearing does (fine at low, coarse at high frequencies), so this
    complements LSD, which weighs every linear bin alike. Powers are floored 80 dB below the reference's
    peak band, as in `lsd`, so silence costs a bounded amount, not log(0)."""
    fb = mel_filterbank(sample_rate, n_fft, n_mels)
    m_ref = fb @ (np.abs(stft.stft(ref, n_fft, hop)).astype(np.float64) ** 2)  # [C, n_mels, T]
    m_deg = fb @ (np.abs(stft.stft(deg, n_fft, hop)).astype(np.float64) ** 2)
    floor = max(float(m_ref.max(initial=0.0)), EPS) * 1e-8
    d = 10 * np.log10(np.maximum(m_ref, floor)) - 10 * np.log10(np.maximum(m_deg, floor))
    return float(np.mean(np.abs(d)))


def _mono16k(x: Audio, sample_rate: int) -> npt.NDArray[np.float64]:
    m = np.asarray(x, np.float32).mean(axis=0, keepdims=True)
    n = model_length(m.shape[1], sample_rate, 16000)
    return np.asarray(resample(m, sample_rate, 16000, n)[0], dtype=np.float64)


def pesq_wb(ref: Audio, deg: Audio, sample_rate: int) -> float | None:
    """PESQ wide-band (ITU-T P.862.2) on the channel mix at 16 kHz; None without the `pesq` package
    or when PESQ cannot score the clip (silence, shorter than 0.25 s)."""
    if importlib.util.find_spec("pesq") is None:
        return None
    from pesq import pesq

    r, d = _mono16k(ref, sample_rate), _mono16k(deg, sample_rate)
    try:
        return float(pesq(16000, r, d, "wb"))
    except Exception as e:  # the pesq package raises its own untyped errors for unscorable input
        log.warning("PESQ could not score this clip: %s", e)
        return None


STOI_FLOOR = 1e-5  # what pystoi returns, with a warning, when too few frames carry speech to score


def stoi(ref: Audio, deg: Audio, sample_rate: int) -> float | None:
    """STOI on the channel mix; None without the `pystoi` package, or when STOI cannot score the clip (it needs
    30 frames of 25.6 ms with speech in them: silence, or shorter than about 0.4 s of speech)."""
    if importlib.util.find_spec("pystoi") is None:
        return None
    from pystoi import stoi as _stoi

    try:
        with warnings.catch_warnings():  # its "not enough frames" warning: said below, once, as a log line
            warnings.simplefilter("ignore")
            score = float(_stoi(_mono16k(ref, sample_rate), _mono16k(deg, sample_rate), 16000, extended=False))
    except Exception as e:  # pystoi raises numpy's errors for clips of a few samples
        log.warning("STOI could not score this clip: %s", e)
        return None
    if score <= STOI_FLOOR:
        log.warning("STOI could not score this clip: too few frames with speech")
        return None
    return score


def round_trip_report(ref: Audio, deg: Audio, sample_rate: int, blob_bytes: int) -> dict[str, float | None]:
    """Every figure of `codec-rt eval` for one round trip; the quality figures are None for no samples."""
    seconds = ref.shape[1] / sample_rate
    pcm16_bytes = ref.shape[0] * ref.shape[1] * 2
    sizes: dict[str, float | None] = {
        "seconds": seconds,
        "blob_bytes": float(blob_bytes),
        "kbps": 8 * blob_bytes / seconds / 1000 if seconds > 0 else None,
        "compression_ratio": pcm16_bytes / blob_bytes,
    }
    names = ("snr_db", "si_sdr_db", "lsd_db", "mel_db", "pesq_wb", "stoi")
    if ref.shape[1] == 0:
        return sizes | dict.fromkeys(names)
    return sizes | {
        "snr_db": snr(ref, deg),
        "si_sdr_db": si_sdr(ref, deg),
        "lsd_db": lsd(ref, deg),
        "mel_db": mel_distance(ref, deg, sample_rate),
        "pesq_wb": pesq_wb(ref, deg, sample_rate),
        "stoi": stoi(ref, deg, sample_rate),
    }
