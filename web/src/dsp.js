/**
 * Signal processing of docs/FORMAT.md sections 6 and 7: the STFT, the inverse STFT, the postfilter, fast
 * Griffin-Lim over a run of frames and causal RTISI, with codec-rt's float32 storage between steps (the
 * FFTs themselves run in float64, fft.js). Spectra are [F, T] (bins major) unless said otherwise.
 */

import FFT from 'fft.js';
import { CLICK_AT, CLICK_SPREAD } from './clicks.js';
import { impulsePhase } from './phase_gradient.js';
/** The log-magnitude feature's floor (Python: `stft.MAG_FLOOR`). */
export const MAG_FLOOR = 1e-5;

const f32 = Math.fround;
export const MOMENTUM = 0.99;
const TINY = 1e-30;

/** Periodic Hann window, float64. @param {number} n */
export function hann(n) {
  const w = new Float64Array(n);
  for (let j = 0; j < n; j++) w[j] = 0.5 - 0.5 * Math.cos((2 * Math.PI * j) / n);
  return w;
}

/** rfft and irfft of one size (a power of two), reusing their buffers. */
export class RealFFT {
  /** @param {number} n */
  constructor(n) {
    this.n = n;
    this.fft = new FFT(n);
    this.out = this.fft.createComplexArray();
    this.real = new Float64Array(n);
    // irfft runs as a complex FFT of n / 2 points over the even and odd samples
    this.half = new FFT(n / 2);
    this.z = this.half.createComplexArray();
    this.zOut = this.half.createComplexArray();
    this.cos = new Float64Array(n / 2);
    this.sin = new Float64Array(n / 2);
    for (let k = 0; k < n / 2; k++) {
      this.cos[k] = Math.cos((2 * Math.PI * k) / n);
      this.sin[k] = Math.sin((2 * Math.PI * k) / n);
    }
  }

  /**
   * rfft of `x[0..n)` -> `re`, `im` of bins 0..n/2 (no scaling).
   * @param {ArrayLike<number>} x @param {Float64Array} re @param {Float64Array} im
   */
  rfft(x, re, im) {
    const r = this.real;
    for (let j = 0; j < this.n; j++) r[j] = x[j];
    this.fft.realTransform(this.out, r);
    const o = this.out;
    for (let k = 0; k <= this.n / 2; k++) {
      re[k] = o[2 * k];
      im[k] = o[2 * k + 1];
    }
  }

  /**
   * irfft of bins 0..n/2 (from index `off` of `re`, `im`) -> `y[0..n)`; the imaginary parts of bins 0 and
   * n/2 are ignored. With E, O the spectra of the even and odd samples, X_k = E_k + e^(-2 pi i k / n) O_k
   * and conj(X_(n/2 - k)) = E_k - e^(-2 pi i k / n) O_k; the inverse FFT of E + i O gives y[2m] + i y[2m + 1].
   * @param {ArrayLike<number>} re @param {ArrayLike<number>} im @param {Float64Array} y @param {number} [off]
   */
  irfft(re, im, y, off = 0) {
    const h = this.n / 2;
    const z = this.z;
    for (let k = 0; k < h; k++) {
      const ar = re[off + k];
      const ai = k === 0 ? 0 : im[off + k];
      const br = re[off + h - k];
      const bi = k === 0 ? 0 : -im[off + h - k];
      const er = 0.5 * (ar + br);
      const ei = 0.5 * (ai + bi);
      const dr = 0.5 * (ar - br);
      const di = 0.5 * (ai - bi);
      const or = dr * this.cos[k] - di * this.sin[k];
      const oi = dr * this.sin[k] + di * this.cos[k];
      z[2 * k] = er - oi;
      z[2 * k + 1] = ei + or;
    }
    this.half.inverseTransform(this.zOut, z);
    const o = this.zOut;
    for (let j = 0; j < this.n; j++) y[j] = o[j];
  }
}

/** @type {Map<number, RealFFT>} */
const FFTS = new Map();
/** @param {number} n */
export function realFFT(n) {
  let f = FFTS.get(n);
  if (!f) FFTS.set(n, (f = new RealFFT(n)));
  return f;
}

/**
 * Features of T frames of a padded signal (7.3): frame t is `seg[t * hop .. t * hop + n_fft)` windowed.
 * -> features [2, F, T] float32 (log-magnitude, phase). With `phaseFloor` (3.4 `phase_floor`), a bin whose
 * magnitude is under MAG_FLOOR has phase 0.
 * @param {Float64Array | Float32Array} seg @param {number} nFft @param {number} hop @param {number} frames
 * @param {number} [phaseFloor]
 */
export function stftFeatures(seg, nFft, hop, frames, phaseFloor = 0) {
  const floor32 = Math.fround(MAG_FLOOR); // |X| is float32: compared as Python compares it
  const nb = nFft / 2 + 1;
  const w = hann(nFft);
  const fft = realFFT(nFft);
  const x = new Float64Array(nFft);
  const re = new Float64Array(nb);
  const im = new Float64Array(nb);
  const feats = new Float32Array(2 * nb * frames);
  for (let t = 0; t < frames; t++) {
    for (let j = 0; j < nFft; j++) x[j] = seg[t * hop + j] * w[j];
    fft.rfft(x, re, im);
    for (let k = 0; k < nb; k++) {
      const a = f32(re[k]);
      const b = f32(im[k]); // the spectrum is kept as complex64
      const mag = f32(Math.sqrt(a * a + b * b));
      feats[k * frames + t] = Math.log(Math.max(mag, MAG_FLOOR));
      feats[(nb + k) * frames + t] = phaseFloor && mag < floor32 ? 0 : Math.atan2(b, a);
    }
  }
  return feats;
}

/**
 * 6.4's postfilter of one channel's log-magnitude [F, T] (in place; contrast 1 leaves it).
 * @param {Float32Array} logmag @param {number} nb @param {number} frames @param {number} kappa
 */
export function postfilter(logmag, nb, frames, kappa) {
  if (kappa === 1) return;
  const e = new Float64Array(nb);
  for (let t = 0; t < frames; t++) {
    let mu = 0;
    for (let k = 0; k < nb; k++) mu += logmag[k * frames + t];
    mu /= nb;
    let topX = -Infinity;
    let topE = -Infinity;
    for (let k = 0; k < nb; k++) {
      const x = logmag[k * frames + t];
      e[k] = mu + kappa * (x - mu);
      topX = Math.max(topX, x);
      topE = Math.max(topE, e[k]);
    }
    let sx = 0;
    let se = 0;
    for (let k = 0; k < nb; k++) {
      sx += Math.exp(2 * (logmag[k * frames + t] - topX));
      se += Math.exp(2 * (e[k] - topE));
    }
    const shift = topX + 0.5 * Math.log(sx) - (topE + 0.5 * Math.log(se));
    for (let k = 0; k < nb; k++) logmag[k * frames + t] = e[k] + shift;
  }
}

/**
 * Overlap-add of T windowed frames [T, n_fft] into `out` (n_fft + hop * (T - 1) samples, zeroed first).
 * @param {Float32Array} frames @param {number} t @param {number} nFft @param {number} hop @param {Float32Array} out
 */
function overlapAdd(frames, t, nFft, hop, out) {
  out.fill(0);
  for (let i = 0; i < t; i++) {
    const o = i * hop;
    const b = i * nFft;
    for (let j = 0; j < nFft; j++) out[o + j] = f32(out[o + j] + frames[b + j]);
  }
}

/**
 * Fast Griffin-Lim over T consecutive frames (6.5, as codec-rt runs it per block): magnitude and initial
 * phase [F, T] -> the frames' signal after `iters` iterations, n_fft + hop * (T - 1) samples from n_fft / 2
 * before frame 0's centre; samples outside [lo, hi) held at zero. iters = 0: the inverse STFT (6.6).
 * `matchEnergy` (iters > 0): each frame of the result that holds less energy than its target magnitude
 * scaled up to it, by at most a factor 2, and overlap-added again (6.5).
 * @param {Float32Array} mag @param {Float32Array} phase @param {number} nFft @param {number} hop
 * `hold`: bins [0, hold) keep their initial phase through every iteration (mode 2's low band, 6.3);
 * `held` [T]: frames that keep it likewise (the phase-gradient start's impulses, 6.5). `bandRows` [T] (a
 * tonal band, 6.3 and 4.8): frame t keeps bins [0, bandRows[t]) instead of [0, hold).
 * @param {number} iters @param {number} lo @param {number | null} hi @param {boolean} [matchEnergy]
 * @param {number} [hold] @param {Uint8Array | null} [held] @param {Int32Array | null} [bandRows]
 */
export function refineFrames(mag, phase, nFft, hop, iters, lo, hi, matchEnergy = false, hold = 0, held = null,
  bandRows = null) {
  const nb = nFft / 2 + 1;
  const t = mag.length / nb;
  const span = nFft + hop * (t - 1);
  const win = Float32Array.from(hann(nFft));
  const w2 = new Float32Array(t * nFft);
  for (let i = 0; i < t; i++) for (let j = 0; j < nFft; j++) w2[i * nFft + j] = f32(win[j] * win[j]);
  const inv = new Float32Array(span);
  overlapAdd(w2, t, nFft, hop, inv);
  const end = hi === null ? span : Math.max(0, hi);
  for (let p = 0; p < span; p++) inv[p] = p < Math.max(0, lo) || p >= end ? 0 : f32(1 / Math.max(inv[p], f32(1e-8)));
  // c, prev, proj: [T, F] complex, as float32 pairs
  const target = new Float32Array(t * nb);
  const cr = new Float32Array(t * nb);
  const ci = new Float32Array(t * nb);
  for (let k = 0; k < nb; k++) {
    for (let i = 0; i < t; i++) {
      const m = mag[k * t + i];
      const a = phase[k * t + i];
      target[i * nb + k] = m;
      cr[i * nb + k] = f32(m * f32(Math.cos(a)));
      ci[i * nb + k] = f32(m * f32(Math.sin(a)));
    }
  }
  const pr = cr.slice();
  const pi = ci.slice();
  const frozen = held !== null && held.some((x) => x !== 0);
  const heldR = hold || frozen || bandRows ? cr.slice() : cr;
  const heldI = hold || frozen || bandRows ? ci.slice() : ci;
  const fft = realFFT(nFft);
  const frames = new Float32Array(t * nFft);
  const y = new Float32Array(span);
  const buf = new Float64Array(nFft);
  const re = new Float64Array(nb);
  const im = new Float64Array(nb);
  const synth = () => {
    for (let i = 0; i < t; i++) {
      fft.irfft(cr, ci, buf, i * nb);
      for (let j = 0; j < nFft; j++) frames[i * nFft + j] = f32(f32(buf[j]) * win[j]);
    }
    overlapAdd(frames, t, nFft, hop, y);
    for (let p = 0; p < span; p++) y[p] = f32(y[p] * inv[p]);
  };
  const mNeg = f32(-MOMENTUM);
  const mPos = f32(1 + MOMENTUM);
  /** Frame i of y, windowed, into re and im. @param {number} i */
  const analyse = (i) => {
    for (let j = 0; j < nFft; j++) buf[j] = f32(y[i * hop + j] * win[j]);
    fft.rfft(buf, re, im);
  };
  for (let it = 0; it < iters; it++) {
    synth();
    for (let i = 0; i < t; i++) {
      analyse(i);
      const keep = frozen && /** @type {Uint8Array} */ (held)[i] ? nb : bandRows ? bandRows[i] : hold;
      for (let k = 0; k < nb; k++) {
        const q = i * nb + k;
        const projR = f32(re[k]);
        const projI = f32(im[k]);
        const ar = f32(f32(pr[q] * mNeg) + f32(mPos * projR));
        const ai = f32(f32(pi[q] * mNeg) + f32(mPos * projI));
        pr[q] = projR;
        pi[q] = projI;
        const size = f32(target[q] / Math.max(f32(Math.sqrt(ar * ar + ai * ai)), TINY));
        cr[q] = k < keep ? heldR[q] : f32(ar * size);
        ci[q] = k < keep ? heldI[q] : f32(ai * size);
      }
    }
  }
  synth();
  if (matchEnergy && iters > 0) {
    for (let i = 0; i < t; i++) {
      analyse(i);
      let want = 0;
      let have = 0;
      for (let k = 0; k < nb; k++) {
        const q = i * nb + k;
        const gr = f32(re[k]);
        const gi = f32(im[k]);
        want += target[q] * target[q];
        have += gr * gr + gi * gi;
        cr[q] = gr;
        ci[q] = gi;
      }
      const scale = f32(Math.min(Math.max(Math.sqrt((want + 1e-12) / (have + 1e-12)), 1), 2));
      for (let k = 0; k < nb; k++) {
        cr[i * nb + k] = f32(cr[i * nb + k] * scale);
        ci[i * nb + k] = f32(ci[i * nb + k] * scale);
      }
    }
    synth();
  }
  return y;
}

/**
 * 6.9's crossfade: fade-in sin^2 and fade-out cos^2 over 2v samples (they sum to 1).
 * @param {number} v
 */
export function crossfade(v) {
  const fin = new Float32Array(2 * v);
  const fout = new Float32Array(2 * v);
  for (let i = 0; i < 2 * v; i++) {
    const x = ((i + 0.5) / (2 * v)) * (Math.PI / 2);
    fin[i] = f32(f32(Math.sin(x)) ** 2);
    fout[i] = f32(f32(Math.cos(x)) ** 2);
  }
  return [fin, fout];
}

/**
 * The sum of the squared windows of frames 0 .. nFrames - 1 (null: no last frame) over samples
 * start .. start + count - 1 (frame t on samples t * hop - n_fft / 2 ..), floored at 1e-8, float32.
 * @param {number} start @param {number} count @param {number} nFft @param {number} hop @param {number | null} nFrames
 */
export function windowSquareSum(start, count, nFft, hop, nFrames) {
  const w = hann(nFft);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const pos = start + i + nFft / 2;
    let s = 0;
    for (let k = 0; k < nFft / hop; k++) {
      const t = Math.floor(pos / hop) - k;
      if (t >= 0 && (nFrames === null || t < nFrames)) {
        const j = Math.min(Math.max(pos - t * hop, 0), nFft - 1);
        s += w[j] * w[j];
      }
    }
    out[i] = Math.max(s, 1e-8);
  }
  return out;
}

/**
 * Causal RTISI without lookahead (6.5) over T consecutive frames, going on from `tail` (the committed
 * frames' overlap-add over the n_fft - hop samples they share with the next frame; zeros at a stream's
 * start). `init` [F, T]: start each frame from this phase (iters = 0: the plain inverse STFT), else null.
 * With `advance` (a model with phase_advance, 3.4), `init` is each frame's phase advance less a bin-centred
 * sinusoid's, and a frame starts from `last` (the frame committed before it, {re, im} [F]; null at a
 * stream's start: from the committed frames' signal) advanced so.
 * -> [the overlap-add of the T * hop samples these frames finish, the new tail, the new last frame].
 * Channels coded one by one (6.5): `record` {re, im} [F, T] receives the joint's committed frames, and
 * `joint` {shared [T], re, im} makes a channel take the joint's phase, once refined, in the shared frames.
 * Mode 2 (6.3): `held` {rows: K, phase [K, T]} keeps bins [0, K) at that phase after every step, and
 * `pitch` [T] (cycles a sample, 0: unvoiced; `pitch.js`) starts a voiced frame after a stream's first from the
 * frame before, each bin advanced at its nearest harmonic (6.5). `clicks` [T] (`clicks.js`): a click's first
 * frame (1) and the next (2) take its phase, held rows kept (6.5). `lock` [F, T] (`peaks.js`): with `advance`,
 * a steady peak's bins start from the frame before at the peak's advance (NaN: none); a stream's first frame
 * starts from an impulse nFft / 4 before its centre (6.5, "Causal: steady peaks").
 * @param {Float32Array} mag @param {Float32Array | null} init @param {Float32Array} tail
 * @param {number} nFft @param {number} hop @param {number} iters
 * @param {boolean} [advance] @param {{re: Float64Array, im: Float64Array} | null} [last]
 * @param {{re: Float64Array, im: Float64Array} | null} [record]
 * @param {{shared: Uint8Array, re: Float64Array, im: Float64Array} | null} [joint]
 * @param {{rows: number, phase: Float32Array} | null} [held] @param {Float64Array | null} [pitch]
 * @param {Uint8Array | null} [clicks] @param {Float32Array | null} [lock]
 * @returns {[Float32Array<ArrayBuffer>, Float32Array<ArrayBuffer>, {re: Float64Array, im: Float64Array}]}
 */
export function causalFrames(mag, init, tail, nFft, hop, iters, advance = false, last = null, record = null, joint = null,
  held = null, pitch = null, clicks = null, lock = null) {
  const nb = nFft / 2 + 1;
  const t = mag.length / nb;
  // a click's first frame holds it in its newest hop: it and the next frame place it CLICK_AT into that hop
  const at = nFft / 2 - hop + CLICK_AT * hop;
  const click = [new Float64Array(nb), new Float64Array(nb)];
  if (clicks) click.forEach((out, j) => impulsePhase(at - j * hop, nb, nFft, out, CLICK_SPREAD));
  const win = Float32Array.from(hann(nFft));
  const norm = new Float32Array(nFft);
  for (let k = 0; k < nFft / hop; k++) {
    for (let j = 0; j < nFft - k * hop; j++) norm[j] = f32(norm[j] + f32(win[k * hop + j] * win[k * hop + j]));
  }
  const a = new Float32Array(nFft);
  const b = new Float32Array(nFft);
  for (let j = 0; j < nFft; j++) {
    const nj = Math.max(norm[j], f32(1e-3));
    a[j] = f32(win[j] / nj);
    b[j] = f32(f32(win[j] * f32(win[j] * win[j])) / nj);
  }
  const buf = new Float32Array(tail.length + t * hop);
  buf.set(tail);
  const fft = realFFT(nFft);
  const segA = new Float32Array(nFft);
  const x = new Float64Array(nFft);
  const y = new Float64Array(nFft);
  const re = new Float64Array(nb);
  const im = new Float64Array(nb);
  const cr = last === null ? new Float64Array(nb) : Float64Array.from(last.re);
  const ci = last === null ? new Float64Array(nb) : Float64Array.from(last.im);
  const withPhaseOf = (/** @type {number} */ i) => {
    for (let k = 0; k < nb; k++) {
      const xr = re[k] + TINY;
      const m = mag[k * t + i] / Math.sqrt(xr * xr + im[k] * im[k]);
      cr[k] = xr * m;
      ci[k] = im[k] * m;
    }
  };
  const keepHeld = (/** @type {number} */ i) => {
    if (!held) return;
    for (let k = 0; k < held.rows; k++) { // as complex64: the unit phasor, then its product, rounded to float32
      const p = held.phase[k * t + i];
      cr[k] = f32(mag[k * t + i] * f32(Math.cos(p)));
      ci[k] = f32(mag[k * t + i] * f32(Math.sin(p)));
    }
  };
  const prevR = new Float64Array(nb);
  const prevI = new Float64Array(nb);
  const start = new Float64Array(nb);
  for (let k = 0; advance && last === null && k < nb; k++) { // as numpy.mod(x, 2 pi)
    const m = (-2 * Math.PI * (nFft >> 2) * k / nFft) % (2 * Math.PI);
    start[k] = m === 0 ? 0 : m < 0 ? m + 2 * Math.PI : m;
  }
  for (let i = 0; i < t; i++) {
    const o = i * hop;
    for (let j = 0; j < nFft; j++) segA[j] = f32(buf[o + j] * a[j]);
    if (lock) {
      prevR.set(cr);
      prevI.set(ci);
    }
    if (pitch && pitch[i] > 0 && (i > 0 || last !== null)) {
      const f = pitch[i];
      for (let k = 0; k < nb; k++) { // the frame before's phase, advanced at the bin's nearest harmonic
        const h = Math.max(1, Math.floor(k / (nFft * f) + 0.5));
        const p = f32(Math.atan2(ci[k], cr[k])) + 2 * Math.PI * hop * f * h;
        cr[k] = f32(mag[k * t + i] * Math.cos(p));
        ci[k] = f32(mag[k * t + i] * Math.sin(p));
      }
    } else if (advance && i === 0 && last === null) { // a stream's start: an impulse before the stream (6.5)
      for (let k = 0; k < nb; k++) {
        const p = f32(start[k]);
        cr[k] = f32(mag[k * t + i] * f32(Math.cos(p)));
        ci[k] = f32(mag[k * t + i] * f32(Math.sin(p)));
      }
    } else if (init === null) {
      fft.rfft(segA, re, im);
      withPhaseOf(i);
    } else if (advance) {
      for (let k = 0; k < nb; k++) {
        // the frame before's phase (float32, as Python keeps it), advanced by the prediction and the bin centre's
        const p = f32(Math.atan2(ci[k], cr[k])) + (2 * Math.PI * hop / nFft) * k + init[k * t + i];
        cr[k] = f32(mag[k * t + i] * Math.cos(p));
        ci[k] = f32(mag[k * t + i] * Math.sin(p));
      }
    } else {
      for (let k = 0; k < nb; k++) {
        cr[k] = mag[k * t + i] * Math.cos(init[k * t + i]);
        ci[k] = mag[k * t + i] * Math.sin(init[k * t + i]);
      }
    }
    if (lock && (i > 0 || last !== null)) { // a steady peak's bins: the frame before's phase at its advance (6.5)
      for (let k = 0; k < nb; k++) {
        const s = lock[k * t + i];
        if (Number.isNaN(s)) continue;
        const p = f32(f32(Math.atan2(prevI[k], prevR[k])) + s);
        cr[k] = f32(mag[k * t + i] * f32(Math.cos(p)));
        ci[k] = f32(mag[k * t + i] * f32(Math.sin(p)));
      }
    }
    keepHeld(i);
    for (let it = 0; it < iters; it++) {
      fft.irfft(cr, ci, y);
      for (let j = 0; j < nFft; j++) x[j] = segA[j] + y[j] * b[j];
      fft.rfft(x, re, im);
      withPhaseOf(i);
      keepHeld(i);
    }
    if (clicks && clicks[i]) {
      for (let k = 0; k < nb; k++) {
        const p = f32(click[clicks[i] - 1][k]);
        cr[k] = f32(mag[k * t + i] * f32(Math.cos(p)));
        ci[k] = f32(mag[k * t + i] * f32(Math.sin(p)));
      }
      keepHeld(i);
    }
    if (joint && joint.shared[i]) {
      for (let k = 0; k < nb; k++) {
        re[k] = joint.re[k * t + i];
        im[k] = joint.im[k * t + i];
      }
      withPhaseOf(i);
      keepHeld(i);
    }
    if (record) {
      for (let k = 0; k < nb; k++) {
        record.re[k * t + i] = cr[k];
        record.im[k * t + i] = ci[k];
      }
    }
    fft.irfft(cr, ci, y);
    for (let j = 0; j < nFft; j++) buf[o + j] = f32(buf[o + j] + f32(f32(y[j]) * win[j]));
  }
  return [buf.slice(0, t * hop), buf.slice(t * hop), { re: cr, im: ci }];
}

/**
 * |STFT|^2 of a signal by 7.3 (no gain): frames t = 0 .. len // hop, each centred on sample t * hop, zeros
 * outside the signal -> {p: [F, T] float64 (bins major), nb: F, t: T}.
 * @param {Float32Array} x @param {number} nFft @param {number} hop
 */
export function spectrogram(x, nFft, hop) {
  const t = Math.floor(x.length / hop) + 1;
  const nb = nFft / 2 + 1;
  const w = hann(nFft);
  const fft = realFFT(nFft);
  const seg = new Float64Array(nFft);
  const re = new Float64Array(nb);
  const im = new Float64Array(nb);
  const p = new Float64Array(nb * t);
  for (let i = 0; i < t; i++) {
    for (let j = 0; j < nFft; j++) {
      const s = i * hop + j - nFft / 2;
      seg[j] = s >= 0 && s < x.length ? x[s] * w[j] : 0;
    }
    fft.rfft(seg, re, im);
    for (let k = 0; k < nb; k++) p[k * t + i] = re[k] * re[k] + im[k] * im[k];
  }
  return { p, nb, t };
}
