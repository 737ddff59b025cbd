"""Section 6 of docs/FORMAT.md: from a blob to model-rate audio (the decoder graph run with onnxruntime, the
rest in NumPy), and section 10's log-spectral distance."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .container import Packet, SpecError, check_against_model, read_blob
from .model import Model
from .rangecoder import range_decode


def hann(n_fft: int) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)


def ola(frames: np.ndarray, hop: int) -> np.ndarray:
    """[T, n_fft] -> [n_fft + hop * (T - 1)], frame t placed at t * hop."""
    t, n_fft = frames.shape
    out = np.zeros(n_fft + hop * (t - 1), frames.dtype)
    for i in range(t):
        out[i * hop : i * hop + n_fft] += frames[i]
    return out


def frame_gains(steps: np.ndarray, n: int, stride: int, r: int) -> np.ndarray:
    """6.2: each frame's gain, its section's, or from 1.7 (a non-causal model) times exp of the mean log ratio
    to it over the frames within r steps, steps clipped to the stream's."""
    g = np.empty(n, np.float32)
    for t in range(n):
        own = float(steps[t // stride])
        us = range(t - r * stride, t + r * stride + 1)
        around = [float(steps[min(max(u // stride, 0), len(steps) - 1)]) for u in us]
        g[t] = own * np.exp(np.mean([np.log(a / own) for a in around]))
    return g


def lowbias32(x: int) -> int:
    """4.3's hash, on Python integers masked to 32 bits."""
    x ^= x >> 16
    x = (x * 0x7FEB352D) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x846CA68B) & 0xFFFFFFFF
    return x ^ (x >> 16)


def dequantize_phase(codes: np.ndarray, h: dict[str, Any], first: int) -> np.ndarray:
    """4.3: a section's phase codes [rows, frames], its first frame the stream's frame `first` -> angles
    float32; from 1.10 on each code k of row r and the stream's frame t is -pi + 2 pi (k + 1/2 - u) / 2**bits,
    u = (lowbias32(t + lowbias32(r)) >> 16) / 2**16."""
    if h["minor"] < 10:
        return codes.astype(np.float32) * np.float32(2 * np.pi / (1 << h["phase_bits"])) - np.float32(np.pi)
    out = np.empty(codes.shape, np.float32)
    for r in range(codes.shape[0]):
        hr = lowbias32(r)
        for j in range(codes.shape[1]):
            u = (lowbias32((first + j + hr) & 0xFFFFFFFF) >> 16) / 65536
            out[r, j] = (int(codes[r, j]) + 0.5 - u) * (2 * np.pi / (1 << h["phase_bits"])) - np.pi
    return out


def features(m: Model, h: dict[str, Any], packets: list[Packet], ch: int) -> tuple[np.ndarray, ...]:
    """6.1-6.2 for audio channel `ch` -> (logmag [F, N] capped, phase0 [F, N], gains [N], stored phase or None)."""
    import onnxruntime as ort

    parts, gains, phase = [], [], []
    first = 0  # the stream's frame that the packet's first is (4.5)
    for pk in packets:
        sec = pk.sections[ch]
        if h["coder"]:
            parts.append(range_decode(sec.coded, m, pk.steps).astype(np.float32))
        else:
            assert sec.codes is not None and sec.scales is not None
            step = np.float32(2 / ((1 << h["bits"]) - 1))
            parts.append((sec.codes.astype(np.float32) * step - np.float32(1)) * sec.scales[:, None, None])
        gains += [sec.gain] * pk.steps
        if sec.phase is not None:
            phase.append(dequantize_phase(sec.phase, h, first))
        first += pk.frames
    z = np.concatenate(parts, axis=-1)[None]
    sess = ort.InferenceSession(str(m.path / "decoder.onnx"), providers=["CPUExecutionProvider"])
    (y,) = sess.run(None, {sess.get_inputs()[0].name: z})
    n = h["n_frames"]
    g = frame_gains(np.array(gains, np.float32), n, m.stride, 0 if m.cfg["causal"] else h["gain_smoothing"])
    stored = None
    if phase:
        stored = np.concatenate(phase, axis=-1)
    return np.minimum(y[0, 0, :, :n], 12.0), y[0, 1, :, :n], g, stored


def tonal_band(m: Model, h: dict[str, Any], packets: list[Packet], ch: int) -> tuple[np.ndarray, np.ndarray]:
    """4.8 for audio channel `ch` -> (the band's phase [phase_bins, N], and r_t [N]: frame t holds bins [0, r_t))."""
    K, R, L = h["phase_stride"], h["phase_bins"], 1 << h["phase_bits"]
    n_fft, hop, n = m.cfg["n_fft"], m.cfg["hop"], h["n_frames"]
    phase, r_t = np.zeros((R, n + K)), np.zeros(n + K, np.int64)
    f0 = 0
    for pk in packets:
        if pk.sections[ch].band is None:  # 4.5: a packet without bands holds nothing
            f0 += pk.frames
            continue
        flags, edges, anchors, cycles = pk.sections[ch].band
        a, held, prev = 0, 0, None
        for j, i in enumerate(range(-(-f0 // K), -(-(f0 + pk.frames) // K))):
            if not flags[j]:
                prev = None
                continue
            if prev is None:
                prev, a = anchors[a], a + 1
            ca, cb, c = prev, anchors[a], cycles[held]
            a, r = a + 1, int(edges[held]) + 1
            held += 1
            if (i + 1) * K > n - 1:
                raise SpecError("FormatError", "a band interval held past the stream's last frame")
            for k in range(R):
                d = int(cb[k]) - int(ca[k])
                base = (2 * (k * K * hop * L - d * n_fft) + n_fft * L) // (2 * n_fft * L)
                T = d + L * (base + int(c[k]) - 8)
                for jj in range(K + 1):
                    phase[k, i * K + jj] = -np.pi + 2 * np.pi * ((int(ca[k]) * K + T * jj) % (L * K)) / (L * K)
            r_t[i * K : i * K + K + 1] = np.maximum(r_t[i * K : i * K + K + 1], r)
            prev = cb
        f0 += pk.frames
    return phase[:, :n].astype(np.float32), r_t[:n]


def postfilter(logmag: np.ndarray, kappa: float) -> np.ndarray:
    """6.4: the postfiltered log-magnitude `e`, float64 (before exp and the gains)."""
    if kappa == 1.0:
        return logmag.astype(np.float64)
    x = logmag.astype(np.float64)
    mu = x.mean(axis=0)
    e = mu + kappa * (x - mu)

    def energy(v: np.ndarray) -> np.ndarray:
        top = v.max(axis=0)
        return top + 0.5 * np.log(np.exp(2 * (v - top)).sum(axis=0))

    return e + energy(x) - energy(e)


def istft(spec: np.ndarray, n_fft: int, hop: int, model_len: int) -> np.ndarray:
    """6.6: [F, N] complex -> [model_len]."""
    w = hann(n_fft)
    sig = ola(np.fft.irfft(spec.T, n=n_fft) * w, hop)
    wsum = ola(np.tile(w * w, (spec.shape[1], 1)), hop)
    return (sig / np.maximum(wsum, 1e-8))[n_fft // 2 : n_fft // 2 + model_len]


def impulses(L: np.ndarray, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """6.5, "Impulses": log-magnitudes `L` [K, N] -> (`impulse` [N] bool, `o` [N] samples)."""
    n = L.shape[1]
    m = L.max(axis=0)
    E = 10 / np.log(10) * (2 * m + np.log(np.exp(2 * (L - m)).sum(axis=0)))

    def at(t: int) -> float:
        return float(E[t]) if 0 <= t < n else -np.inf

    impulse, o = np.zeros(n, bool), np.zeros(n)
    for p in range(n):
        if not (at(p) > -20 and at(p) - max(at(p - 3), at(p + 3)) > 20):
            continue
        if not all(at(p) > at(p - j) and at(p) >= at(p + j) for j in (1, 2, 3)):
            continue
        A = [j for j in range(p - 2, p + 3) if 0 <= j < n]
        P = np.array([10 ** ((at(j) - at(p)) / 10) for j in A])
        c = np.sum(np.array([j - p for j in A]) * P) / np.sum(P)
        for t in A:
            impulse[t] = True
            o[t] = np.clip(hop * (c - (t - p)), -2 * hop, 2 * hop)
    return impulse, o


def phase_start(lm: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """6.5, "the phase start": the postfiltered log-magnitude `L` [K, N] (natural log, before the gain) of a
    whole channel -> the phase-gradient start `phi` [K, N], float64 in [0, 2 pi)."""
    return phase_start_impulses(lm, n_fft, hop)[0]


def phase_start_impulses(lm: np.ndarray, n_fft: int, hop: int, pitch: np.ndarray | None = None,
                         band: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`phase_start`, and the frames `impulse` [N] that took an impulse's phase ("Impulses"). Mode 2 ("the
    band's harmonics"): `pitch` [N] (cycles a sample, 0: unvoiced) of the stored band's `band` bins."""
    L = np.asarray(lm, dtype=np.float64)
    n_bins, n = L.shape
    lam, rng = 0.25645, np.log(1000.0)
    k = np.arange(n_bins, dtype=np.float64)[:, None]
    # nu: the vertex of the parabola through a bin's L and its two neighbours', where it opens downwards
    nu = np.repeat(k, n, axis=1)
    c = L[:-2] - 2 * L[1:-1] + L[2:]
    neg = c < 0
    vertex = np.clip(0.5 * (L[:-2] - L[2:]) / np.where(neg, c, -1.0), -1.5, 1.5)
    nu[1:-1] = np.where(neg, k[1:-1] + vertex, nu[1:-1])
    if pitch is not None:  # voiced frames: the frequencies in bins [band, 2 band) near a harmonic, at it
        for t in np.flatnonzero(pitch > 0):
            f, was = pitch[t], nu[band : 2 * band, t]
            at = np.maximum(1, np.floor(was / (n_fft * f) + 0.5)) * n_fft * f
            nu[band : 2 * band, t] = np.where(np.abs(at - was) <= 0.25, at, was)
    dn = np.zeros_like(L)
    dn[:, 1:-1] = (L[:, 2:] - L[:, :-2]) / (2 * hop)
    d = np.clip(lam * n_fft**2 * dn / (2 * np.pi), -2 * hop, 2 * hop)
    g = -2 * np.pi * (d + n_fft / 2) / n_fft
    G = np.zeros_like(L)
    G[1:] = np.cumsum((g[:-1] + g[1:]) / 2, axis=0)  # sequential, in order of k
    bins = np.arange(n_bins)
    impulse, o = impulses(L, hop)
    phi = np.zeros_like(L)
    for t in range(n):
        col = L[:, t]
        base = np.zeros(n_bins) if t == 0 else phi[:, t - 1] + 2 * np.pi * hop * nu[:, t] / n_fft
        peak = np.zeros(n_bins, bool)
        peak[1:-1] = (col[1:-1] >= col[:-2]) & (col[1:-1] > col[2:])
        peak &= col > col.max() - rng
        peaks = np.flatnonzero(peak)
        if peaks.size == 0:
            p = bins
        else:  # the nearest peak; the lower of two at the same distance
            j = np.searchsorted(peaks, bins)  # peaks[j - 1] < k <= peaks[j]
            lower = peaks[np.maximum(j - 1, 0)]
            upper = peaks[np.minimum(j, peaks.size - 1)]
            use_lower = (j > 0) & ((j == peaks.size) | (bins - lower <= upper - bins))
            p = np.where(use_lower, lower, upper)
        phi[:, t] = np.mod(base[p] + G[:, t] - G[p, t], 2 * np.pi)
        if impulse[t]:
            kk = k[:, 0]
            sweep = (2 * np.pi / 32) * (kk**2 / (2 * (n_bins - 1)) - kk / 2)
            phi[:, t] = np.mod(-2 * np.pi * kk * (o[t] + n_fft / 2) / n_fft - sweep, 2 * np.pi)
    return phi, impulse


def griffin_lim(mag: np.ndarray, phase0: np.ndarray, n_fft: int, hop: int, model_len: int, iters: int,
                hold: int = 0, impulse: np.ndarray | None = None, band: np.ndarray | None = None) -> np.ndarray:
    """6.5, non-causal, over the whole signal; bins [0, hold) keep phase0 (mode 2, 6.3; mode 3: where `band`
    [F, N] is true), and so do the frames with `impulse` [N] (the phase start's)."""
    w, n = hann(n_fft), mag.shape[1]
    span = n_fft + hop * (n - 1)
    pos = np.arange(span) - n_fft // 2
    inv = ((pos >= 0) & (pos < model_len)) / np.maximum(ola(np.tile(w * w, (n, 1)), hop), 1e-8)
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n)[:, None]

    def synth(c: np.ndarray) -> np.ndarray:
        return ola(np.fft.irfft(c.T, n=n_fft) * w, hop) * inv

    c = mag * np.exp(1j * phase0)
    prev = c
    for _ in range(iters):
        proj = np.fft.rfft(synth(c)[idx] * w).T
        acc = proj + 0.99 * (proj - prev)
        prev = proj
        c = mag * acc / np.maximum(np.abs(acc), 1e-30)
        if band is not None:
            c[band] = mag[band] * np.exp(1j * phase0[band])
        else:
            c[:hold] = mag[:hold] * np.exp(1j * phase0[:hold])
        if impulse is not None:
            c[:, impulse] = mag[:, impulse] * np.exp(1j * phase0[:, impulse])
    return synth(c)[n_fft // 2 : n_fft // 2 + model_len]


def low_band_pitch(e: np.ndarray, held: np.ndarray, n_fft: int, hop: int, rate: int,
                   voiced_below: float = 0.35) -> np.ndarray:
    """6.5, causal, mode 2, voiced frames: the postfilter's log-magnitude `e` [F, N] and the stored phase
    [K, N] -> f [N], cycles a sample (0: unvoiced; voiced where d'(T0) < `voiced_below`, 0.15 for the
    non-causal band's harmonics). Frame by frame, the sums written out."""
    k_held, n = held.shape
    tau_min, tau_max = math.floor(rate / 400), math.floor(rate / 70)
    big_l = n_fft + tau_max
    w = hann(n_fft)
    u = []
    f = np.zeros(n)
    for t in range(n):
        x_j = np.zeros(n_fft // 2 + 1, complex)
        x_j[:k_held] = np.exp(e[:k_held, t].astype(np.float64)) * np.exp(1j * held[:, t].astype(np.float64))
        u.append(w * np.fft.irfft(x_j, n_fft))
        end = t * hop + n_fft - hop
        num, den = np.zeros(big_l), np.zeros(big_l)
        for j in range(t + 1):
            idx = end - big_l + np.arange(big_l) - j * hop
            ok = (idx >= 0) & (idx < n_fft)
            num[ok] += u[j][idx[ok]]
            den[ok] += w[idx[ok]] ** 2
        x = num / np.maximum(den, 1e-3)
        a = x[big_l - n_fft :]
        d = np.array([np.sum((a - x[big_l - n_fft - tau : big_l - tau]) ** 2) for tau in range(tau_max + 1)])
        dp = np.ones(tau_max + 1)
        for tau in range(1, tau_max + 1):
            total = d[1 : tau + 1].sum()
            dp[tau] = d[tau] * tau / total if total > 0 else 1.0
        under = [tau for tau in range(tau_min, tau_max + 1) if dp[tau] < 0.15 and dp[tau] < dp[tau - 1]]
        if under:
            t0 = under[0]
            while t0 < tau_max and dp[t0 + 1] < dp[t0]:
                t0 += 1
        else:
            t0 = tau_min + int(np.argmin(dp[tau_min:]))
        if dp[t0] < voiced_below and dp[t0] < dp[t0 - 1] and np.mean(a**2) > 1e-7:
            p = float(t0)
            if t0 < tau_max:
                dd = dp[t0 - 1] - 2 * dp[t0] + dp[t0 + 1]
                if dd > 0:
                    p = t0 + (dp[t0 - 1] - dp[t0 + 1]) / (2 * dd)
            f[t] = 1 / p
    return f


def rtisi(mag: np.ndarray, phase0: np.ndarray, n_fft: int, hop: int, model_len: int, iters: int,
          advance: bool = False, follow: tuple[np.ndarray, np.ndarray] | None = None,
          keep: np.ndarray | None = None, held: np.ndarray | None = None, pitch: np.ndarray | None = None,
          ) -> np.ndarray:
    """6.5, causal (`advance`: phase_advance = 1, phase0 is the advance). Channels coded one by one: `keep`
    [F, N] receives the joint's committed frames; `follow` (shared [N], those frames) makes a channel take
    their phase in the shared frames. Mode 2 (6.3): bins [0, K) take `held` [K, N] after every step, and a
    voiced frame (`pitch` [N] > 0) after the first starts at its harmonics. A click's first frame takes a
    click's phase."""

    def hold(c: np.ndarray, t: int) -> np.ndarray:
        if held is not None:
            c = c.copy()
            c[: held.shape[0]] = mag[: held.shape[0], t] * np.exp(1j * held[:, t])
        return c

    w, n = hann(n_fft), mag.shape[1]
    norm = np.zeros(n_fft)
    for k in range(n_fft // hop):
        norm[: n_fft - k * hop] += w[k * hop :] ** 2
    norm = np.maximum(norm, 1e-3)
    a, b = w / norm, w**3 / norm

    def like(mt: np.ndarray, x: np.ndarray) -> np.ndarray:
        return (x + 1e-30) * mt / np.abs(x + 1e-30)

    z = np.zeros(n_fft + hop * (n - 1))
    centre = 2 * np.pi * np.arange(mag.shape[0]) * hop / n_fft
    c = np.zeros(mag.shape[0], complex)
    p = mag.astype(np.float64) ** 2  # 6.5, causal: clicks
    energy = 10 * np.log10(p.sum(axis=0) + 1e-30)
    flat = np.exp(np.log(p + 1e-30).mean(axis=0)) / (p.mean(axis=0) + 1e-30)
    k, nb = np.arange(mag.shape[0]), mag.shape[0]
    def click(o: float) -> np.ndarray:  # "Impulses": a click o samples after the frame's centre, over n_fft / 8
        return -2 * np.pi * k * (o + n_fft / 2) / n_fft - (2 * np.pi / 8) * (k**2 / (2 * (nb - 1)) - k / 2)

    at = n_fft / 2 - hop + 0.75 * hop
    clicked = np.zeros(n, bool)
    lock, mag = steady_peaks(mag, n_fft, hop, held, pitch) if advance else (None, mag)
    for t in range(n):
        seg = z[t * hop : t * hop + n_fft]
        before = c
        if advance and t == 0:  # steady peaks: the stream's start, an impulse n_fft / 4 before the centre
            c = mag[:, t] * np.exp(-1j * np.pi * k / 2)
        elif pitch is not None and t > 0 and pitch[t] > 0:
            h = np.maximum(1, np.floor(np.arange(mag.shape[0]) / (n_fft * pitch[t]) + 0.5))
            c = mag[:, t] * np.exp(1j * (np.angle(c) + 2 * np.pi * hop * pitch[t] * h))
        elif advance and t > 0:
            c = mag[:, t] * np.exp(1j * (np.angle(c) + centre + phase0[:, t]))
        elif iters == 0 and not advance:
            c = mag[:, t] * np.exp(1j * phase0[:, t])
        else:
            c = like(mag[:, t], np.fft.rfft(seg * a))
        if lock is not None and t > 0:
            c = np.where(np.isnan(lock[:, t]), c, mag[:, t] * np.exp(1j * (np.angle(before) + lock[:, t])))
        c = hold(c, t)
        for _ in range(iters):
            c = hold(like(mag[:, t], np.fft.rfft(seg * a + np.fft.irfft(c, n=n_fft) * b)), t)
        if (iters > 0 or advance) and t >= 3 and energy[t] - energy[t - 3 : t].max() > 15 and flat[t] >= 0.2 \
                and energy[t] > -20 and not clicked[t - 3 : t].any():
            c = hold(mag[:, t] * np.exp(1j * click(at)), t)
            clicked[t] = True
        elif t >= 1 and clicked[t - 1]:
            c = hold(mag[:, t] * np.exp(1j * click(at - hop)), t)
        if follow is not None and follow[0][t]:
            c = hold(like(mag[:, t], follow[1][:, t]), t)
        if keep is not None:
            keep[:, t] = c
        seg += np.fft.irfft(c, n=n_fft) * w
    wsum = ola(np.tile(w * w, (n, 1)), hop)
    return (z / np.maximum(wsum, 1e-8))[n_fft // 2 : n_fft // 2 + model_len]


def steady_peaks(mag: np.ndarray, n_fft: int, hop: int, held: np.ndarray | None, pitch: np.ndarray | None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """6.5, causal, phase advance: steady peaks. -> ([F, N] each bin's advance where a steady peak's, NaN: none;
    [F, N] the magnitude, a locked bin's its mean over the last M frames)."""
    n_bins, n = mag.shape
    p, big, lobe_frames = mag.astype(np.float64) ** 2, 12, 48
    kk = 0 if held is None else held.shape[0]
    turn = np.ones((kk, n), complex)
    if held is not None:
        turn[:, 1:] = np.exp(1j * (held[:, 1:].astype(np.float64) - held[:, :-1]))
    lock, out = np.full(mag.shape, np.nan), mag.astype(np.float32).copy()
    was = np.zeros(n_bins, bool)
    for t in range(n):
        now_peaks = np.zeros(n_bins, bool)
        if t >= lobe_frames - 1 and (pitch is None or pitch[t] <= 0):
            now = p[:, t - big + 1 : t + 1].mean(axis=1)
            old = p[:, t - 2 * big + 1 : t - big + 1].mean(axis=1)
            lobe = p[:, t - lobe_frames + 1 : t + 1].mean(axis=1)
            for q in range(2, n_bins - 2):
                now_peaks[q] = (now[q] > now[q - 1] and now[q] >= now[q + 1] and now[q] > 0
                                and now[q] >= 100 * max(now[q - 2], now[q + 2])
                                and now[q] >= now.max() * 1e-4
                                and (abs(10 * np.log10(now[q] / max(old[q], 1e-300))) < 1.0
                                     and abs(10 * np.log10(now[q] / lobe[q])) < 1.0
                                     or was[q] and abs(10 * np.log10(now[q] / lobe[q])) < 3.0))
            best = np.zeros(n_bins)
            for q in np.flatnonzero(now_peaks):
                if q - 1 < kk:  # next to the coded band: its bins from q - 2 on, weighted by mean power
                    lo = max(0, q - 2)
                    a = np.angle((now[lo:kk, None] * turn[lo:kk, t - big + 1 : t + 1]).sum())
                else:  # the frequency of its Hann main lobe
                    up = lobe[q + 1] >= lobe[q - 1]
                    r = min(max(np.sqrt((lobe[q + 1] if up else lobe[q - 1]) / lobe[q]), 0.5), 1.0)
                    d = (2 * r - 1) / (r + 1) * (1 if up else -1)
                    a = np.mod(2 * np.pi * (q + d) * hop / n_fft, 2 * np.pi)
                    a = a - 2 * np.pi if a > np.pi else a
                for j in range(max(kk, q - 2), min(n_bins, q + 3)):
                    if now[q] > best[j]:
                        best[j], lock[j, t] = now[q], a
            own = out[:, t].astype(np.float64)
            level = np.minimum(np.maximum(np.sqrt(lobe), own / 2), own * 2).astype(np.float32)
            out[:, t] = np.where(best > 0, level, out[:, t])
        was = now_peaks
    return lock, out


def steady_bins(e: np.ndarray) -> np.ndarray:
    """6.5, causal, modes 0 and 2: `e` [F, N] with each steady bin's value the mean power of its last 5 frames."""
    n = 5
    p = np.exp(2 * e.astype(np.float64))
    out = e.astype(np.float32)
    for t in range(2 * n - 1, e.shape[1]):
        recent = p[:, t - n + 1 : t + 1].sum(axis=1) / n
        before = p[:, t - 2 * n + 1 : t - n + 1].sum(axis=1) / n
        calm = np.abs(10 * np.log10(recent / before)) < 1.0
        out[calm, t] = (0.5 * np.log(recent[calm])).astype(np.float32)
    return out


def decode_audio(data: bytes, m: Model, iters: int | None = None, contrast: float | None = None,
                 highpass: bool = True, start: int | None = None, harmonics: bool = True) -> np.ndarray:
    """Section 6 at the model rate -> [channels, model_len] (the coded signal without its lead-in and
    lead-out). `start`: the phase start (3.6, 6.5), the caller's, else the model's `codec_rt.phase_start`.
    `harmonics`: mode 2's band's harmonics in the phase start (6.5; False: as a reader that predates them)."""
    h, packets = read_blob(data)
    check_against_model(h, m)
    n_fft, hop = m.cfg["n_fft"], m.cfg["hop"]
    model_len = h["pre_skip"] + -(-h["num_samples"] * m.cfg["sample_rate"] // h["sample_rate"]) + h["post_skip"]
    if iters is None:  # 6.5: the caller's, else (6.3) 0 in mode 2 (non-causal), else the decoder's, else 3 or 32
        own = m.phase_iters if m.phase_iters is not None else 3 if m.cfg["causal"] else 32
        iters = 0 if h["mode"] == 2 and not m.cfg["causal"] else own
    if contrast is None:  # 6.4: the caller's, else (6.3) 1 in mode 2, else the decoder's
        contrast = 1.0 if h["mode"] == 2 else m.contrast
    out = []
    feats = [features(m, h, packets, ch) for ch in range(h["channels"])]
    es = [postfilter(f[0], contrast).astype(np.float32) for f in feats]
    own = iters > 0 or bool(m.cfg["phase_advance"])  # 6.5, causal, the decoder's own phase: steady bins
    if m.cfg["causal"] and h["mode"] != 1 and own:
        es = [steady_bins(e) for e in es]
    gradient = (m.phase_start if start is None else start) and not m.cfg["causal"]
    joint, follow = None, None
    if h["channels"] > 1 and h["stereo"] == 0:  # 6.5, channels coded one by one: their joint log-magnitude
        S = np.array(es, dtype=np.float64)
        top = S.max(axis=0)
        J = top + 0.5 * np.log(np.exp(2 * (S - top)).sum(axis=0))
        shared = np.median(S.max(axis=0) - S.min(axis=0), axis=0) <= 0.5
    def voiced(ch: int, below: float = 0.35) -> np.ndarray | None:  # 6.5, causal, mode 2: each channel's pitch
        stored = feats[ch][3]  # (the joint: the first's)
        if stored is None or h["mode"] != 2:
            return None
        return low_band_pitch(es[ch], stored, n_fft, hop, m.cfg["sample_rate"], below)

    def ahead(ch: int) -> tuple[np.ndarray | None, int]:  # 6.5, non-causal, mode 2: frame t + 1's (the last: its own)
        f = voiced(ch, 0.15) if harmonics else None
        return (None, 0) if f is None else (np.append(f[1:], f[-1:]), feats[ch][3].shape[0])

    if gradient and h["channels"] > 1 and h["stereo"] == 0:
        joint, joint_impulse = phase_start_impulses(J, n_fft, hop, *ahead(0))

    if m.cfg["causal"] and h["channels"] > 1 and h["stereo"] == 0 and h["mode"] != 1:  # 6.5, causal, one by one
        louder = np.argmax(S, axis=0)
        p0 = np.take_along_axis(np.array([f[1] for f in feats]), louder[None], axis=0)[0]
        cj = np.zeros(J.shape, complex)
        rtisi(np.exp(J).astype(np.float32), p0, n_fft, hop, model_len, iters, bool(m.cfg["phase_advance"]), keep=cj,
              held=feats[0][3], pitch=voiced(0))  # mode 2: the joint holds the first channel's low band (6.3)
        follow = (shared, cj)
    for ch in range(h["channels"]):
        logmag, phase0, g, stored = feats[ch]
        if stored is not None and h["mode"] == 1:
            out.append(istft(np.exp(logmag) / g * np.exp(1j * stored), n_fft, hop, model_len))
            continue
        e = es[ch]
        mag = np.exp(e) / g
        impulse = None
        if gradient:
            phase0, impulse = phase_start_impulses(e, n_fft, hop, *ahead(ch))  # 6.5: all N frames of the channel
            if joint is not None:
                phase0 = np.where(shared, joint, phase0)
                impulse = np.where(shared, joint_impulse, impulse)
            phase0 = phase0.astype(np.float32)
        if m.cfg["causal"]:  # mode 2 (6.3): the blob's low band held through every step
            out.append(rtisi(mag, phase0, n_fft, hop, model_len, iters, bool(m.cfg["phase_advance"]), follow,
                             held=stored, pitch=voiced(ch)))
            continue
        if stored is not None:  # mode 2 (6.3): the blob's low band replaces the start there
            phase0 = phase0.copy()
            phase0[: stored.shape[0]] = stored
        band = None
        if h["mode"] == 3:  # 6.3: the tonal band's bins [0, r_t) replace the start, and are held
            tonal, r_t = tonal_band(m, h, packets, ch)
            band = np.arange(phase0.shape[0])[:, None] < r_t[None, :]
            phase0 = phase0.copy()
            phase0[: tonal.shape[0]] = np.where(band[: tonal.shape[0]], tonal, phase0[: tonal.shape[0]])
        out.append(griffin_lim(mag, phase0, n_fft, hop, model_len, iters, 0 if stored is None else stored.shape[0],
                               impulse, band))
    y = np.array(out)
    if highpass and not m.cfg["causal"]:  # 6.7: the output's DC and infrasound removed
        y = remove_dc(y, round(0.1 * m.cfg["sample_rate"]) // 2)
    if h["track_frames"]:  # 6.10: each coded channel's tracks, in float32
        y = y.astype(np.float32) + np.array([tracks(h, packets, ch, hop, model_len) for ch in range(h["channels"])])
    y = y[:, h["pre_skip"] : y.shape[1] - h["post_skip"]]  # 6.7: the lead-in and the lead-out are not audio
    return np.stack([y[0] + y[1], y[0] - y[1]]) if h["stereo"] == 1 else y  # 6.7: mid and side


def tracks(h: dict[str, Any], packets: list[Packet], ch: int, hop: int, coded_len: int) -> np.ndarray:
    """6.10: the sum of channel `ch`'s tracks over the coded signal -> [coded_len] float32 (4.9's checks)."""
    B = h["track_frames"]
    Q = B * hop
    alive: list[dict[str, Any]] = []  # F, A, phase, level
    out: list[np.ndarray] = []
    f0 = 0
    for pk in packets:
        n_blocks = len(range(-(-f0 // B), -(-(f0 + pk.frames) // B)))
        f0 += pk.frames
        field = pk.sections[ch].tracks
        if field is None:  # 4.5: a packet without track fields: its blocks hold none, and none may be alive
            field = (0, [([], [], [])] * n_blocks)
        if field[0] != len(alive):
            raise SpecError("FormatError", "alive")
        for ends, steps, births in field[1]:
            j = np.arange(Q)
            r = (j + 1) / Q
            s = np.zeros(Q)
            going = iter(steps)
            after = []
            todo = []
            for t, end in zip(alive, ends, strict=True):
                da, dp = (0, 0) if end else next(going)
                a = t["A"] + da
                if not 0 <= a <= 511:
                    raise SpecError("FormatError", "amplitude code")
                todo.append((t, 0.0 if end else 10 ** ((a - 487) * 0.25 / 20), dp, a, end))
            for freq, start, amp in births:
                t = {"F": freq, "A": amp, "phase": start * 2**11, "level": 0.0}
                todo.append((t, 10 ** ((amp - 487) * 0.25 / 20), 0, amp, False))
            for t, target, d, a, end in todo:
                turns = ((t["phase"] + t["F"] * j) % 2**17) / 2**17 + d * j / (128 * Q)
                s += (t["level"] + (target - t["level"]) * r) * np.cos(2 * np.pi * turns)
                t.update(phase=(t["phase"] + t["F"] * Q + d * 2**10) % 2**17, level=target, A=a)
                if not end:
                    after.append(t)
            alive = after
            out.append(s)
    full = np.concatenate(out) if out else np.zeros(0)
    return np.pad(full, (0, max(0, coded_len - full.size)))[:coded_len].astype(np.float32)


def remove_dc(x: np.ndarray, h: int) -> np.ndarray:
    """7.2 / 6.7: each sample minus the mean of the samples within h of it (fewer at the edges)."""
    n = x.shape[-1]
    c = np.concatenate([np.zeros(x.shape[:-1] + (1,)), np.cumsum(x, axis=-1)], axis=-1)
    lo, hi = np.maximum(np.arange(n) - h, 0), np.minimum(np.arange(n) + h + 1, n)
    return x - (c[..., hi] - c[..., lo]) / (hi - lo)


def power(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """|STFT|^2 of a model-rate signal [n] by 7.3 -> [F, n // hop + 1]."""
    n = x.shape[-1] // hop + 1
    xp = np.pad(x.astype(np.float64), (n_fft // 2, n_fft + hop * (n - 1) - x.shape[-1] - n_fft // 2))
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n)[:, None]
    return np.abs(np.fft.rfft(xp[idx] * hann(n_fft))).T ** 2


def lsd(p_ref: np.ndarray, p: np.ndarray) -> float:
    """Section 10's log-spectral distance between two power spectrograms [F, N], in dB."""
    floor = p_ref.max() * 1e-8
    d = 10 * np.log10(np.maximum(p_ref, floor)) - 10 * np.log10(np.maximum(p, floor))
    return float(np.mean(np.sqrt(np.mean(d**2, axis=0))))
