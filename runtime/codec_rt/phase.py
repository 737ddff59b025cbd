"""Phase refinement for the predicted-phase mode: fast Griffin-Lim (Perraudin, Balazs, Sondergaard 2013).

The decoder predicts a magnitude and a phase; the predicted phase is a rough start. A few iterations of
projecting onto consistent spectrograms (STFT of an iSTFT) with momentum make the phase agree with the
magnitude across overlapping frames, which is what the ear hears as clean speech. It is deterministic
(no random start) and runs in NumPy at the model rate, in float32.

`refine_frames` works on any run of consecutive frames: the decoder refines a file block by block with
overlapping margins (`stream.py`), so a file and a stream are refined identically and memory stays bounded.
Its signal is the whole support of the frames, zero outside `[lo, hi)` (the file's edges, where the
whole-file iSTFT cuts); at the edges of a block that are not the file's, the frames simply end.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

from . import stft
from .pitch import harmonic_advance

MOMENTUM = 0.99
ENERGY_RANGE = 2.0  # the most `match_energy` scales a frame up by (6 dB)
SPREAD = 32  # an impulse's chirp spans n_fft / SPREAD samples (1 ms at 16 kHz): a sharper one overshoots
TWO_PI = 2 * np.pi

F32 = npt.NDArray[np.float32]
C64 = npt.NDArray[np.complex64]


def _frames(y: F32, n_fft: int, hop: int, win: F32) -> F32:
    """Signal `[..., n_fft + hop * (T - 1)]` -> windowed frames `[..., T, n_fft]` (n_fft a multiple of hop):
    frame t is hop-blocks t .. t + r - 1, so r shifted slices fill it, windowed on the way (one pass)."""
    r = n_fft // hop
    blocks = y.reshape(y.shape[:-1] + (-1, hop))
    t = (y.shape[-1] - n_fft) // hop + 1
    out = np.empty(y.shape[:-1] + (t, r, hop), np.float32)
    parts = win.reshape(r, hop)
    for k in range(r):
        np.multiply(blocks[..., k : k + t, :], parts[k], out=out[..., k, :])
    return out.reshape(y.shape[:-1] + (t, n_fft))


def _overlap_add(frames: F32, hop: int) -> F32:
    """`[..., T, n_fft]` -> `[..., n_fft + hop * (T - 1)]`, frames placed `hop` apart and summed."""
    t, n_fft = frames.shape[-2:]
    r = n_fft // hop
    blocks = frames.reshape(frames.shape[:-1] + (r, hop))
    out = np.zeros(frames.shape[:-2] + (t + r - 1, hop), np.float32)
    for k in range(r):
        out[..., k : k + t, :] += blocks[..., :, k, :]
    return out.reshape(frames.shape[:-2] + (-1,))


def refine_frames(
    mag: npt.NDArray[np.floating], phase: npt.NDArray[np.floating], n_fft: int, hop: int, iters: int,
    lo: int = 0, hi: int | None = None, match_energy: bool = False, hold: int = 0,
    held: npt.NDArray[np.bool_] | None = None, band_rows: npt.NDArray[np.integer] | None = None,
) -> F32:
    """Magnitude and initial phase of `T` consecutive frames `[..., F, T]` -> their signal after `iters`
    iterations, `[..., n_fft + hop * (T - 1)] float32`: sample 0 is `n_fft // 2` before frame 0's centre.
    Samples outside `[lo, hi)` are held at zero (the file's edges). iters = 0 is a plain inverse STFT.
    `match_energy` (with iters > 0): the result's frames that hold less energy than `mag`'s are scaled up to
    it (by at most ENERGY_RANGE) and overlap-added again. A magnitude no signal has (a regression decoder's)
    comes out of Griffin-Lim with less energy than it holds, where overlapping frames cancel
    (docs/fidelity.md).
    `hold`: bins [0, hold) keep their initial phase through every iteration (a blob's coded low band,
    FORMAT.md 6.3), or with `band_rows` `[..., T]` bins [0, band_rows[t]) alone (a tonal band, 6.3). `held`
    `[..., T]`: frames that keep their initial phase likewise (the phase-gradient start's impulses, 6.5).
    """
    if n_fft % hop:
        raise ValueError("refine_frames needs n_fft to be a multiple of hop")
    win = stft.window(n_fft).astype(np.float32)
    t = mag.shape[-1]
    span = n_fft + hop * (t - 1)
    wsum = _overlap_add(np.ascontiguousarray(np.broadcast_to(win * win, (t, n_fft))), hop)
    inv = (1.0 / np.maximum(wsum, np.float32(1e-8))).astype(np.float32)
    inv[: max(0, lo)] = 0.0
    inv[span if hi is None else max(0, hi) :] = 0.0
    target = np.ascontiguousarray(np.swapaxes(np.asarray(mag, dtype=np.float32), -1, -2))  # [..., T, F]
    angle = np.swapaxes(np.asarray(phase, dtype=np.float32), -1, -2)
    # target * exp(i angle), in float32: a complex exp would go through complex128 (docs/STREAMING.md)
    c = np.empty(target.shape, np.complex64)
    np.multiply(target, np.cos(angle), out=c.real)
    np.multiply(target, np.sin(angle), out=c.imag)
    prev = c.copy()
    frames = None if held is None or not held.any() else np.broadcast_to(held, c.shape[:-1])
    band = None if band_rows is None else np.arange(hold) < np.asarray(band_rows)[..., None]  # [..., T, hold]
    start = c.copy() if hold or frames is not None else c
    tiny = np.float32(1e-30)

    def synth(spec: npt.NDArray[np.complex64]) -> F32:  # FORMAT.md 6.5's synth: frames -> their signal
        frames = np.fft.irfft(spec, n=n_fft, axis=-1).astype(np.float32, copy=False)
        frames *= win
        y = _overlap_add(frames, hop)
        y *= inv
        return y

    def analyse(y: F32) -> npt.NDArray[np.complex64]:  # and its analyse: a signal -> its frames
        return np.fft.rfft(_frames(y, n_fft, hop, win), axis=-1).astype(np.complex64, copy=False)

    for _ in range(iters):
        proj = analyse(synth(c))
        # accel = proj + momentum * (proj - prev), written into the buffer of prev, which becomes proj.
        accel = prev
        accel *= np.float32(-MOMENTUM)
        accel += np.float32(1 + MOMENTUM) * proj
        prev = proj
        # The magnitude projection: |c| = target, the phase of accel (a zero accel stays zero).
        size = np.abs(accel)
        np.maximum(size, tiny, out=size)
        np.divide(target, size, out=size)
        accel *= size
        c = accel
        if hold and band is None:
            c[..., :hold] = start[..., :hold]
        elif hold:
            c[..., :hold][band] = start[..., :hold][band]
        if frames is not None:
            c[frames] = start[frames]
    y = synth(c)
    if match_energy and iters > 0:
        got = analyse(y)
        want = np.sum(np.square(target, dtype=np.float64), axis=-1)
        have = np.sum(np.square(np.abs(got), dtype=np.float64), axis=-1)
        # only what cancelling took is given back, and at most ENERGY_RANGE: a frame Griffin-Lim left near
        # silent is not blown up
        scale = np.clip(np.sqrt((want + 1e-12) / (have + 1e-12)), 1.0, ENERGY_RANGE)
        y = synth(got * scale[..., None].astype(np.float32))
    return y


def impulse_phase(offset: npt.NDArray[np.float64], n_fft: int, n_bins: int, spread: int = SPREAD
                  ) -> npt.NDArray[np.float64]:
    """Offsets of an impulse from frames' centres `[...]` (samples) -> the phase `[..., F]` of a click there,
    swept by a chirp over n_fft / spread samples (its group delay rising linearly with frequency, centred on
    the offset), for frames taken from their first sample (FORMAT.md 6.5, "Impulses")."""
    k = np.arange(n_bins, dtype=np.float64)
    sweep = (TWO_PI / spread) * (k * k / (2 * max(n_bins - 1, 1)) - k / 2)
    out: npt.NDArray[np.float64] = np.mod(-TWO_PI * (offset[..., None] + n_fft / 2) * k / n_fft - sweep, TWO_PI)
    return out


@functools.lru_cache(maxsize=8)
def crossfade(v: int) -> tuple[F32, F32]:
    """Raised-cosine fade-in and fade-out `[2v] float32` over 2v samples; they sum to 1 (blocks refined
    apart are joined with it). Read-only (cached: every block's join asks for the same)."""
    x = (np.arange(2 * v) + 0.5) / (2 * v) * (np.pi / 2)
    fade_in, fade_out = np.sin(x).astype(np.float32) ** 2, np.cos(x).astype(np.float32) ** 2
    fade_in.flags.writeable = fade_out.flags.writeable = False
    return fade_in, fade_out


def refine(
    mag: npt.NDArray[np.floating], phase: npt.NDArray[np.floating], n_fft: int, hop: int, length: int, iters: int
) -> F32:
    """magnitude and initial phase `[..., F, T]` -> audio `[..., length] float32` after `iters` iterations,
    over the whole signal at once (the frames of `stft.stft` of a `length`-sample signal)."""
    half = n_fft // 2
    y = refine_frames(mag, phase, n_fft, hop, iters, half, half + length)[..., half : half + length]
    if y.shape[-1] < length:
        y = np.pad(y, [(0, 0)] * (y.ndim - 1) + [(0, length - y.shape[-1])])
    return np.ascontiguousarray(y, dtype=np.float32)


# ------------------------------------------------------------------------------ causal mode (low latency)

CAUSAL_ITERS = 3  # chosen on development speech with true magnitudes (docs/MEASURED.md)
# A causal decoder's clicks (FORMAT.md 6.5, "Causal: clicks"): a frame this far over the most of the
# CLICK_MEMORY frames before it (dB of energy), whose power spectrum is this flat (geometric over arithmetic
# mean: clicks on noise 0.26 to 0.77, tones' onsets 0.004 and 0.16; no frame of 20 clips each of development
# speech and music both rises so and is so flat), begins a click
CLICK_JUMP_DB = 15.0
CLICK_FLATNESS = 0.2
CLICK_MEMORY = 3
CLICK_FLOOR_DB = -20.0  # and louder than this (near-silence rising is no click; the non-causal rule's floor)
# swept over n_fft / CLICK_SPREAD samples (2 ms at 16 kHz), 4 times the non-causal impulses' chirp: a noise
# burst's onset, which passes for a click, was gathered into a spike 5 dB over the input's peaks (1.7 so)
CLICK_SPREAD = 8
# placed three quarters into its first frame's newest hop: magnitudes place a pulse's energy around its centre,
# so it must lie after the click's onset, somewhere in that hop (docs/MEASURED.md, "Clicks through the causal
# decoder": the middle of the hop left 9 of 72 clicks with more than -10 dB before them, this none)
CLICK_AT = 0.75


def causal_clicks(mag: npt.NDArray[np.floating], history: npt.NDArray[np.float64] | None
                  ) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float64]]:
    """Magnitude `[..., F, T]` of consecutive frames, the energies (dB) of up to CLICK_MEMORY frames before
    them `[..., <= CLICK_MEMORY]` (None at a stream's start; a click's first frame's: inf) -> each frame's
    part in a click `[..., T]` (1: its first frame, 2: the frame after; 0: none), and the energies to pass
    with the next frames. A click's first frame holds it in its newest hop only: the frames before did not."""
    power = np.asarray(mag, dtype=np.float64) ** 2
    energy = 10 * np.log10(power.sum(axis=-2) + 1e-30)
    flat = stft.flatness(power, axis=-2)
    full = energy if history is None else np.concatenate([history, energy], axis=-1)
    off = full.shape[-1] - energy.shape[-1]
    clicks = np.zeros(energy.shape, np.int8)
    for t in range(energy.shape[-1]):
        g = off + t
        if g >= 1:
            clicks[..., t] = np.where(np.isposinf(full[..., g - 1]), 2, 0)
        if g >= CLICK_MEMORY:
            first = (full[..., g] - full[..., g - CLICK_MEMORY : g].max(axis=-1) > CLICK_JUMP_DB) & (
                flat[..., t] >= CLICK_FLATNESS) & (full[..., g] > CLICK_FLOOR_DB)
            clicks[..., t] = np.where(first, 1, clicks[..., t])
            # a click's first frame counts as infinitely loud to the frames after it: they hold the click
            # higher in their windows, rise over it too, and are not another click
            full[..., g] = np.where(first, np.inf, full[..., g])
    return clicks, np.ascontiguousarray(full[..., -CLICK_MEMORY:])


@functools.cache
def _click_start(n_fft: int, hop: int, n_bins: int) -> C64:
    """`[2, F] complex64`: the unit phasors of a click CLICK_AT into a frame's newest hop, for its first frame
    and the frame after (the same sample), swept over n_fft / CLICK_SPREAD samples. Read-only (cached: a
    live stream decodes a block a frame)."""
    at = n_fft / 2 - hop + CLICK_AT * hop  # from the first frame's centre
    click_phase = impulse_phase(np.array([at, at - hop]), n_fft, n_bins, CLICK_SPREAD).astype(np.float32)
    out: C64 = np.exp(1j * click_phase).astype(np.complex64)
    out.flags.writeable = False
    return out


@functools.cache
def _stream_start(n_fft: int, n_bins: int) -> C64:
    """`[F] complex64`: the unit phasors of an impulse n_fft / 4 before a frame's centre, exp(-i pi k / 2) (a
    stream's first frame: its samples there come before the stream and are never heard). Read-only (cached)."""
    k = np.arange(n_bins, dtype=np.float64)
    out: C64 = np.exp(1j * np.mod(-TWO_PI * (n_fft // 4) * k / n_fft, TWO_PI).astype(np.float32)).astype(np.complex64)
    out.flags.writeable = False
    return out


@functools.cache
def _causal_windows(n_fft: int, hop: int) -> tuple[F32, F32, F32]:
    """(window, window / norm, window^3 / norm), norm at each sample of the newest frame: the window-square
    sum of it and the frames before it (RTISI's partial reconstruction divides by it)."""
    win = stft.window(n_fft).astype(np.float32)
    w2 = win * win
    norm = np.zeros(n_fft, np.float32)
    for k in range(n_fft // hop):
        norm[: n_fft - k * hop] += w2[k * hop :]
    norm = np.maximum(norm, np.float32(1e-3))
    return win, (win / norm).astype(np.float32), (win * w2 / norm).astype(np.float32)


def causal_frames(
    mag: npt.NDArray[np.floating], init: npt.NDArray[np.floating] | None, tail: F32, n_fft: int, hop: int,
    iters: int = CAUSAL_ITERS, advance: bool = False, last: C64 | None = None,
    shared: npt.NDArray[np.bool_] | None = None, held: npt.NDArray[np.floating] | None = None,
    pitch: npt.NDArray[np.floating] | None = None, clicks: npt.NDArray[np.int8] | None = None,
    lock: npt.NDArray[np.float32] | None = None,
) -> tuple[F32, F32, C64]:
    """Phase without lookahead, for a causal model: real-time iterative spectrogram inversion (RTISI; Zhu,
    Beauregard and Wyse 2007) with no look-ahead frames. Each new frame's phase is refined, `iters` times,
    against the frames already committed (and never changed again): a few FFTs per frame, and a sample is
    final as soon as the last frame that covers it is committed.

    mag, init: `[..., F, T]` magnitude and initial phase of consecutive frames (init None: start each frame
    from the phase of the committed frames' signal, as RTISI does). With `advance`, init is instead each
    frame's phase advance from the frame before less a bin-centred sinusoid's (2 pi k hop / n_fft; a model
    with `phase_advance`), and a frame starts from the frame committed before it, advanced so (a phase
    vocoder's step, which keeps a tone between two bins at its frequency where the magnitude alone does not).
    tail: `[..., n_fft - hop] float32`, the overlap-add of the windowed frames committed so far over the
    samples that they still share with the next frame (zeros at the start of a stream); last: `[..., F]
    complex64`, the last frame committed (None at the start). shared: `[T]`, with channels coded one by one
    and their joint as the last row of `mag` (`phase_gradient.causal_joint`): in these frames every other
    row takes the joint row's phase once it is refined (FORMAT.md 6.5). held: `[..., K, T]` radians, the phase
    of bins `[0, K)` coded in the blob (mode low_band_phase), kept through every iteration. pitch: `[..., T]`
    cycles a sample (0: unvoiced), the held band's (`pitch.LowBandPitch`): a voiced frame after a stream's
    first starts each bin from the frame before, advanced at its nearest harmonic (FORMAT.md 6.5). clicks:
    `[..., T]`, each frame's part in a click (`causal_clicks`): its first frame and the next take the phase
    of a click CLICK_AT into the first's newest hop, after their iterations (the held rows kept), and the
    frames after them go on from it (FORMAT.md 6.5, "Causal: clicks"). lock: `[..., F, T]`, with `advance`,
    a bin's advance from the frame before where it is part of a steady peak (NaN: none; `peaks.steady_peaks`),
    which its frame starts from instead; a stream's first frame starts from an impulse a quarter of the window
    before its centre, outside the stream (FORMAT.md 6.5, "Causal: steady peaks"). Returns (the
    overlap-add of the `T * hop`
    samples that these frames finish, the new tail, the new last frame): divide the first by
    `window_square_sum` for the signal.
    """
    if n_fft % hop:
        raise ValueError("causal_frames needs n_fft to be a multiple of hop")
    if advance and init is None:
        raise ValueError("causal_frames: advance needs the advances (init)")
    win, a, b = _causal_windows(n_fft, hop)
    mag = np.asarray(mag, dtype=np.float32)
    t_count = mag.shape[-1]
    buf = np.concatenate([tail, np.zeros(tail.shape[:-1] + (t_count * hop,), np.float32)], axis=-1)
    tiny = np.float32(1e-30)
    centre = (2 * np.pi * hop / n_fft) * np.arange(mag.shape[-2])  # a bin-centred sinusoid's advance per frame

    def with_phase_of(m: F32, x: npt.NDArray[np.complexfloating]) -> npt.NDArray[np.complexfloating]:
        x = x + tiny  # the magnitude m with the phase of x (x = 0, as at a stream's start: phase 0)
        out: npt.NDArray[np.complexfloating] = x * (m / np.abs(x))
        return out

    def keep_held(c: npt.NDArray[np.complexfloating], rows: npt.NDArray[np.complexfloating] | None
                  ) -> npt.NDArray[np.complexfloating]:
        """`c` with its first rows set to `rows` (the coded low band), or as it is without one."""
        return c if rows is None else np.concatenate([rows, c[..., rows.shape[-1] :]], axis=-1)

    c: npt.NDArray[np.complexfloating] = np.zeros(mag.shape[:-1], np.complex64) if last is None else last
    if pitch is not None:  # each voiced frame's bins' advance at their nearest harmonic, `[..., T, F]`
        voiced = np.asarray(pitch) > 0
        harmonics = harmonic_advance(np.where(voiced, pitch, 1.0), mag.shape[-2], n_fft, hop)
    for t in range(t_count):
        seg = buf[..., t * hop : t * hop + n_fft]  # a view: committing the frame writes into buf
        m = mag[..., t]
        prev = c
        # The estimate of the frame's signal: committed frames plus this one, over the window-square sum of
        # both; the newest frame enters with the window squared, as RTISI's asymmetric analysis window, so
        # it counts for less where the committed frames already say most. Windowed again for analysis.
        seg_a = seg * a
        if advance and last is None and t == 0:
            c = m * _stream_start(n_fft, mag.shape[-2])
        elif init is None:
            c = with_phase_of(m, np.fft.rfft(seg_a, axis=-1))
        elif advance:
            c = (m * np.exp(1j * (np.angle(c) + centre + init[..., t]))).astype(np.complex64)
        else:
            c = m * np.exp(1j * np.asarray(init[..., t], dtype=np.float32))
        if pitch is not None and (t > 0 or last is not None) and voiced[..., t].any():
            c = np.where(voiced[..., t, None], m * np.exp(1j * (np.angle(prev) + harmonics[..., t, :])), c)
            c = c.astype(np.complex64)
        if lock is not None and (t > 0 or last is not None) and not np.isnan(lock[..., t]).all():
            step = lock[..., t]  # a steady peak's bins: the frame before's phase, advanced at the peak's
            c = np.where(np.isnan(step), c, m * np.exp(1j * (np.angle(prev) + np.nan_to_num(step))))
            c = c.astype(np.complex64)
        # the coded rows keep their phase through every step: computed once a frame
        rows = None if held is None else m[..., : held.shape[-2]] * np.exp(1j * held[..., t])
        for i in range(iters + 1):
            c = keep_held(c, rows)
            if i < iters:
                c = with_phase_of(m, np.fft.rfft(seg_a + np.fft.irfft(c, n=n_fft, axis=-1) * b, axis=-1))
        if clicks is not None and clicks[..., t].any():
            part = np.asarray(clicks[..., t])
            click = keep_held(m * _click_start(n_fft, hop, mag.shape[-2])[np.maximum(part, 1) - 1], rows)
            c = np.where(part[..., None] > 0, click, c).astype(np.complex64)
        if shared is not None and shared[t]:
            c = keep_held(np.concatenate([with_phase_of(m[:-1], np.broadcast_to(c[-1:], c[:-1].shape)), c[-1:]]), rows)
        seg += np.fft.irfft(c, n=n_fft, axis=-1).astype(np.float32) * win
    return buf[..., : t_count * hop], np.ascontiguousarray(buf[..., t_count * hop :]), c.astype(np.complex64)


def window_square_sum(start: int, count: int, n_fft: int, hop: int, n_frames: int | None = None) -> F32:
    """`[count]`: the sum of the squared windows of the frames `0 .. n_frames - 1` (None: no last frame) over
    the samples `start .. start + count - 1`, with frame t on samples `t * hop - n_fft / 2 ..` (stft.py's
    frames). Dividing an overlap-add of windowed frames by it gives the least-squares inverse STFT.
    Read-only (cached: a stream asks for the same sums block after block)."""
    if n_frames is None and start >= n_fft // 2:  # every frame over these samples exists: periodic in hop
        start = n_fft // 2 + (start - n_fft // 2) % hop
    return _window_square_sum(start, count, n_fft, hop, n_frames)


@functools.lru_cache(maxsize=64)
def _window_square_sum(start: int, count: int, n_fft: int, hop: int, n_frames: int | None) -> F32:
    win = stft.window(n_fft)
    pos = np.arange(start, start + count) + n_fft // 2  # the sample as seen from frame 0's start
    out = np.zeros(count)
    for k in range(n_fft // hop):
        t = pos // hop - k  # the frames that cover each sample
        ok = (t >= 0) if n_frames is None else (t >= 0) & (t < n_frames)
        out += np.where(ok, win[np.clip(pos - t * hop, 0, n_fft - 1)] ** 2, 0.0)
    sums: F32 = np.maximum(out, 1e-8).astype(np.float32)
    sums.flags.writeable = False
    return sums
