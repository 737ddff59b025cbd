"""Training losses: L1 on log-magnitude, magnitude-weighted L1 on the wrapped phase error, L1 on the
waveform, and L1 on log-mel spectra at two resolutions; optionally spectral convergence (`sc`) and the level
error of the frames after onsets (`onset`, `onset_level_error`).

The waveform and mel terms are computed on `istft(predicted magnitude, TRUE phase)` by default
(`wave_phase="true"`): a predicted phase is near random for most of training, and a waveform built from it
teaches the magnitude to shrink rather than to be right. The predicted-phase decoder refines its phase at
run time (`codec_rt.phase`), and store_phase decodes exactly this signal. `wave_phase="predicted"` uses
the predicted phase instead, and `"both"` averages the two (used to fine-tune the phase so that it starts
the run-time refinement closer to a consistent spectrogram, while the magnitude stays anchored).
Log-magnitudes below LOGMAG_FLOOR (-80 dB re. full scale bins, inaudible) are not told apart by the loss.

`wave_phase="gl"` averages the true-phase signal with the signal that `gl_iters` iterations of the runtime's fast
Griffin-Lim (same momentum) rebuild from the predicted magnitude and phase, unrolled and differentiable: the
magnitude learns to be one that Griffin-Lim inverts well (the shipped models' magnitudes lose far more
through Griffin-Lim than the input's own do: docs/TRAINING.md, "Measured so far").

`phase_loss="antiwrap"` replaces the magnitude-weighted phase term by the anti-wrapping losses of Ai and
Ling (ICASSP 2023, eqs. 5-9): the anti-wrapping function f(x) = |x - 2 pi round(x / 2 pi)| of the error of the
instantaneous phase, of the group delay (the phase difference between neighbouring bins) and of the
instantaneous angular frequency (between neighbouring frames), each averaged over the bins that carry
signal (target above LOGMAG_FLOOR). They are made for `phase_head=1` decoders, whose phase is an angle.

`phase_loss="advance"` trains the phase channel as each frame's phase advance from the frame before, less a
bin-centred sinusoid's (2 pi k hop / n_fft): the anti-wrapped error of the instantaneous angular frequency
alone, weighted by the square root of the target magnitude. A steady tone's advance is constant in time,
which a convolution can hold where an absolute phase is not; a causal decoder integrates it frame by frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from codec_rt.phase import MOMENTUM

from . import stft_torch as st

MEL_RESOLUTIONS = ((1024, 256, 80), (256, 64, 40))  # (n_fft, hop, mels)
LOGMAG_FLOOR = -9.0
LOGMAG_CEIL = 10.0  # exp() of a wild early prediction must not overflow into inf/NaN


def mel_filterbank(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    """HTK mel filterbank `[n_mels, n_fft // 2 + 1]` (triangles, unnormalized)."""

    def hz_to_mel(f: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + f / 700.0)

    mels = np.linspace(hz_to_mel(np.array(0.0)), hz_to_mel(np.array(sr / 2)), n_mels + 2)
    hz = 700.0 * (10 ** (mels / 2595.0) - 1.0)
    bins = np.linspace(0, sr / 2, n_fft // 2 + 1)
    fb = np.zeros((n_mels, bins.size))
    for i in range(n_mels):
        lo, c, hi = hz[i], hz[i + 1], hz[i + 2]
        fb[i] = np.maximum(0, np.minimum((bins - lo) / (c - lo), (hi - bins) / (hi - c)))
    return fb.astype(np.float32)


@dataclass(frozen=True)
class LossWeights:
    mag: float = 1.0
    phase: float = 1.0
    wave: float = 10.0
    mel: float = 0.003
    wave_phase: str = "true"
    phase_loss: str = "weighted"  # or "antiwrap", "advance"
    gl_iters: int = 8  # wave_phase="gl": unrolled Griffin-Lim iterations
    sc: float = 0.0  # spectral convergence
    onset: float = 0.0  # frame-level error at onsets (onset_level_error)
    peak: float = 0.0  # spectral peaks' frequency error (peak_frequency_error)


def unrolled_griffin_lim(mag: torch.Tensor, phase: torch.Tensor, n_fft: int, hop: int, length: int,
                         iters: int) -> torch.Tensor:
    """`[B, F, T]` magnitude and initial phase -> `[B, length]` audio after `iters` iterations of fast
    Griffin-Lim (Perraudin, Balazs and Sondergaard 2013) with the runtime's momentum (`codec_rt.phase`),
    differentiable in both inputs."""
    c = torch.polar(mag, phase)
    prev = c
    for _ in range(iters):
        proj = st.stft(st.istft(c, n_fft, hop, length), n_fft, hop)
        accel = proj + MOMENTUM * (proj - prev)
        prev = proj
        c = mag * accel / accel.abs().clamp_min(1e-12)
    return st.istft(c, n_fft, hop, length)


def spectral_convergence(pred_logmag: torch.Tensor, target_logmag: torch.Tensor) -> torch.Tensor:
    """Spectral convergence ||S - S'||_F / ||S||_F of linear magnitudes, per clip, averaged (Arik et al., "Fast
    spectrogram inversion using multi-head convolutional neural networks", 2018, eq. 2; the first term of
    Parallel WaveGAN's multi-resolution STFT loss). `[B, F, T]` log-magnitudes in. A log-magnitude L1 prices a
    steady tone at the few bins it fills, so rate-distortion training finds erasing it cheap; this term is
    dominated by the strongest components and prices the tone at its energy."""
    s = torch.exp(target_logmag)
    diff = torch.exp(pred_logmag.clamp_max(LOGMAG_CEIL)) - s
    return (torch.linalg.vector_norm(diff, dim=(-2, -1))
            / torch.linalg.vector_norm(s, dim=(-2, -1)).clamp_min(1e-8)).mean()


ONSET_RISE_DB = 10.0
ONSET_LOOKBACK = 4  # frames: a rise over the loudest of the 4 before (32 ms at hop 128, 16 kHz)
ONSET_SPAN = 3  # frames priced from each onset: the onset frame and the two after


def onset_frames(target_logmag: torch.Tensor) -> torch.Tensor:
    """`[B, F, T]` log-magnitudes -> `[B, T]` 0/1: the frames within ONSET_SPAN of an onset, a frame whose energy
    rises ONSET_RISE_DB over the loudest of the ONSET_LOOKBACK frames before it (silence before the clip counts
    as the floor). Frames more than 60 dB under the clip's loudest are never onsets."""
    e = _frame_log_power(target_logmag)
    silence = 2 * LOGMAG_FLOOR + float(np.log(target_logmag.shape[1]))  # every bin at the floor
    padded = torch.cat([torch.full_like(e[:, :1], silence).expand(-1, ONSET_LOOKBACK), e], dim=1)
    before = padded.unfold(1, ONSET_LOOKBACK, 1)[:, : e.shape[1]].amax(dim=-1)
    rise = (e - before) > ONSET_RISE_DB * np.log(10) / 10
    loud = e > e.amax(dim=1, keepdim=True) - 6 * np.log(10)
    start = (rise & loud).float()
    # Dilate forward: frame t is priced when an onset is at t, t - 1, ... t - ONSET_SPAN + 1.
    spans = torch.nn.functional.max_pool1d(torch.nn.functional.pad(start[:, None], (ONSET_SPAN - 1, 0)),
                                           ONSET_SPAN, stride=1)[:, 0]
    return spans * loud.float()


def _frame_log_power(logmag: torch.Tensor) -> torch.Tensor:
    """`[B, F, T]` log-magnitudes -> `[B, T]` natural log of each frame's power (sum over bins of |X|^2)."""
    return torch.logsumexp(2 * logmag.clamp(LOGMAG_FLOOR, LOGMAG_CEIL), dim=1)


def onset_level_error(pred_logmag: torch.Tensor, target_logmag: torch.Tensor) -> torch.Tensor:
    """Mean absolute error of the frame level (dB) over the frames of `onset_frames` (weighted by amplitude),
    relative to the clip's mean level error over its loud frames; `[B, F, T]` log-magnitudes in, a scalar out
    (0 without onsets).

    A burst at a tone's onset is the first frames decoding louder than the rest: the fidelity suite measures
    the onset's peak against the steady part's (docs/fidelity.md). The log-magnitude L1 prices those few
    frames like any others, so a rate-trained encoder spends nothing on them (docs/TRAINING.md, "The onset
    after silence"); this term prices the onset's level against the clip's own level error, so a clip decoded
    uniformly low is not charged twice."""
    e_t = _frame_log_power(target_logmag)
    err = (_frame_log_power(pred_logmag) - e_t) * (10 / np.log(10))  # dB
    loud = (e_t > e_t.amax(dim=1, keepdim=True) - 6 * np.log(10)).float()
    clip_err = (err * loud).sum(dim=1, keepdim=True) / loud.sum(dim=1, keepdim=True).clamp_min(1.0)
    # Each onset frame weighs its amplitude re. the clip's loudest: the partial frame before a tone (-20 to -30 dB)
    # hardly counts, the frames a listener hears as the burst fully.
    w = onset_frames(target_logmag) * torch.exp(0.5 * (e_t - e_t.amax(dim=1, keepdim=True)))
    return ((err - clip_err.detach()).abs() * w).sum() / w.sum().clamp_min(1e-8)


PEAK_RANGE = 40.0  # dB: peaks priced, within this of their frame's strongest bin
PEAK_PROMINENCE = 12.0  # dB: a priced peak over the louder of the bins 3 either side (Hann: 31.5 dB for a tone)
MAX_VERTEX = 1.5  # bins: a vertex further from its bin is clamped (a predicted lobe with no peak there)


def _vertex(logmag: torch.Tensor) -> torch.Tensor:
    """`[B, F, T]` log-magnitudes -> `[B, F - 2, T]` the vertex of the parabola through each inner bin and its
    two neighbours, as an offset from the bin (bins): where the runtime's phase-gradient start puts a peak's
    frequency (`codec_rt.phase_gradient`). A bin that is no maximum (the parabola opens upwards) gets its
    curvature bounded, so the offset stays finite and keeps its sign."""
    lo, mid, hi = logmag[:, :-2], logmag[:, 1:-1], logmag[:, 2:]
    den = (lo - 2 * mid + hi).clamp_max(-0.05)
    return (0.5 * (lo - hi) / den).clamp(-MAX_VERTEX, MAX_VERTEX)


def peak_frequency_error(pred_logmag: torch.Tensor, target_logmag: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference (bins) between the decoded and the input's peak frequencies, at the input's
    tonal peaks (curved and prominent as a steady partial's lobe is) within PEAK_RANGE dB of their frame's
    strongest bin, weighted by amplitude; `[B, F, T]` log-magnitudes in, a scalar out (0 without peaks).

    A magnitude-only decoder sets a steady tone's pitch by where its decoded lobe peaks: the runtime's
    phase-gradient start reads it off the parabola's vertex and Griffin-Lim keeps it. A lobe decoded a little
    lopsided costs the log-magnitude L1 almost nothing and the tone 10 to 60 cents of pitch (docs/fidelity.md),
    and the waveform and mel terms, built with the true phase, never hear it."""
    t = target_logmag.clamp(LOGMAG_FLOOR, LOGMAG_CEIL)
    p = pred_logmag.clamp(LOGMAG_FLOOR, LOGMAG_CEIL)
    inner = t[:, 1:-1]
    peak = (inner >= t[:, :-2]) & (inner > t[:, 2:])
    rel = inner - t.amax(dim=1, keepdim=True)
    peak &= (rel > -PEAK_RANGE * np.log(10) / 20) & (inner > LOGMAG_FLOOR + 1)
    # Tonal peaks only: a lobe as curved as half the window's (Hann: -1.39 nepers across three bins) that
    # stands PEAK_PROMINENCE over the bins 3 away. A noise maximum has no pitch to keep.
    peak &= (t[:, :-2] - 2 * inner + t[:, 2:]) < -0.7
    side = torch.nn.functional.pad(t, (0, 0, 2, 2), value=LOGMAG_FLOOR)
    peak &= inner - torch.maximum(side[:, :-6], side[:, 6:]) > PEAK_PROMINENCE * np.log(10) / 20
    w = torch.exp(rel) * peak.float()
    return ((_vertex(p) - _vertex(t)).abs() * w).sum() / w.sum().clamp_min(1e-8)


def anti_wrap(x: torch.Tensor) -> torch.Tensor:
    """|x - 2 pi round(x / 2 pi)|: the distance of an angle difference to the nearest multiple of 2 pi, in [0, pi]."""
    return (x - 2 * np.pi * torch.round(x / (2 * np.pi))).abs()


def anti_wrapping_losses(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """Instantaneous phase, group delay and instantaneous angular frequency losses of `[B, F, T]` phases,
    averaged over `mask` (`[B, F, T]` 0/1: bins with signal; a difference needs both its bins)."""

    def masked_mean(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        return (x * m).sum() / m.sum().clamp_min(1.0)

    mf = mask[:, 1:] * mask[:, :-1]
    mt = mask[..., 1:] * mask[..., :-1]
    return {
        "ip": masked_mean(anti_wrap(pred - target), mask),
        "gd": masked_mean(anti_wrap(torch.diff(pred, dim=1) - torch.diff(target, dim=1)), mf),
        "iaf": masked_mean(anti_wrap(torch.diff(pred, dim=2) - torch.diff(target, dim=2)), mt),
    }


def advance_loss(pred: torch.Tensor, target_phase: torch.Tensor, target_logmag: torch.Tensor, hop: int,
                 n_fft: int) -> torch.Tensor:
    """`pred [B, F, T]`: frame t's phase advance from frame t - 1 less bin k's centre advance 2 pi k hop / n_fft;
    its anti-wrapped error against the target's, averaged with weights sqrt(magnitude) (frames 1 .. T - 1)."""
    k = torch.arange(pred.shape[1], device=pred.device, dtype=pred.dtype)[:, None]
    want = torch.diff(target_phase, dim=2) - 2 * np.pi * k * hop / n_fft
    w = torch.exp(0.5 * target_logmag[..., 1:]) * (target_logmag[..., 1:] > LOGMAG_FLOOR)
    return (anti_wrap(pred[..., 1:] - want) * w).sum() / w.sum().clamp_min(1e-8)


class CodecLoss(torch.nn.Module):
    def __init__(self, sample_rate: int, n_fft: int, hop: int, weights: LossWeights) -> None:
        super().__init__()
        self.n_fft, self.hop, self.w = n_fft, hop, weights
        for i, (nf, _, nm) in enumerate(MEL_RESOLUTIONS):
            self.register_buffer(f"mel{i}", torch.from_numpy(mel_filterbank(sample_rate, nf, nm)))

    def _log_mel(self, x: torch.Tensor, i: int) -> torch.Tensor:
        nf, hop, _ = MEL_RESOLUTIONS[i]
        mag = st.stft(x, nf, hop).abs()
        return torch.log(torch.matmul(getattr(self, f"mel{i}"), mag) + 1e-5)

    def forward(
        self, pred: torch.Tensor, target: torch.Tensor, wave: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """pred, target `[B, 2, F, T]` features; wave `[B, N]` the target audio."""
        mag = (pred[:, 0].clamp_min(LOGMAG_FLOOR) - target[:, 0].clamp_min(LOGMAG_FLOOR)).abs().mean()
        extra: dict[str, float] = {}
        if self.w.phase_loss == "antiwrap":
            aw = anti_wrapping_losses(pred[:, 1], target[:, 1], (target[:, 0] > LOGMAG_FLOOR).float())
            phase = aw["ip"] + aw["gd"] + aw["iaf"]
            extra = {k: v.item() for k, v in aw.items()}
        elif self.w.phase_loss == "advance":
            phase = advance_loss(pred[:, 1], target[:, 1], target[:, 0], self.hop, self.n_fft)
        else:
            wrapped = anti_wrap(pred[:, 1] - target[:, 1])
            weight = torch.exp(target[:, 0])
            weight = weight / weight.mean(dim=(-2, -1), keepdim=True).clamp_min(1e-8)
            phase = (wrapped * weight).mean()
        sources = {"true": [target], "predicted": [pred], "both": [target, pred], "gl": [target, None]}[
            self.w.wave_phase]
        wav = torch.zeros(())
        mel_t = torch.zeros(())
        for phase_src in sources:
            if phase_src is None:
                amp = torch.exp(pred[:, 0].clamp_max(LOGMAG_CEIL))
                y = unrolled_griffin_lim(amp, pred[:, 1], self.n_fft, self.hop, wave.shape[-1], self.w.gl_iters)
            else:
                feats = torch.stack([pred[:, 0].clamp_max(LOGMAG_CEIL), phase_src[:, 1]], dim=1)
                y = st.istft(st.from_features(feats), self.n_fft, self.hop, wave.shape[-1])
            wav = wav + (y - wave).abs().mean() / len(sources)
            for i in range(len(MEL_RESOLUTIONS)):
                mel_t = mel_t + (self._log_mel(y, i) - self._log_mel(wave, i)).abs().mean() / len(sources)
        total = self.w.mag * mag + self.w.phase * phase + self.w.wave * wav + self.w.mel * mel_t
        if self.w.sc:
            sc = spectral_convergence(pred[:, 0], target[:, 0])
            total = total + self.w.sc * sc
            extra["sc"] = sc.item()
        if self.w.onset:
            onset = onset_level_error(pred[:, 0], target[:, 0])
            total = total + self.w.onset * onset
            extra["onset"] = onset.item()
        if self.w.peak:
            peak = peak_frequency_error(pred[:, 0], target[:, 0])
            total = total + self.w.peak * peak
            extra["peak"] = peak.item()
        terms = {"mag": mag.item(), "phase": phase.item(), "wave": wav.item(), "mel": mel_t.item(), **extra}
        return total, terms
