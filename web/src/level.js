/**
 * Level (docs/FORMAT.md 6.7 and 7.2): the encoder's gain about the mean, the DC and infrasound removal that
 * the encoder applies to its input and the decoder of a non-causal model to each block's output (format
 * 1.4 on), and the soft clipping of a fixed-point output.
 */

import { rint } from './round.js';

const f32 = Math.fround;
export const DC_SECONDS = 0.1;
export const SOFT_KNEE = 0.9;
export const SOFT_CEILING = 0.999;

/**
 * `x[a:b]` at `rate` Hz without its DC and infrasound, in place: each sample minus the mean of the samples
 * within h = round(0.1 rate) // 2 of it (fewer at the edges: the mean of what is there), in float64.
 * @param {Float32Array} x @param {number} rate @param {number} [a] @param {number} [b]
 */
export function removeDc(x, rate, a = 0, b = x.length) {
  const n = b - a;
  if (n <= 0) return;
  const h = Math.floor(rint(DC_SECONDS * rate) / 2);
  const c = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) c[i + 1] = c[i] + x[a + i];
  for (let i = 0; i < n; i++) {
    const lo = Math.max(i - h, 0);
    const hi = Math.min(i + h + 1, n);
    x[a + i] = f32(x[a + i] - (c[hi] - c[lo]) / (hi - lo));
  }
}

/**
 * 7.2's level gain of `x[a:b]`, about its mean: float32(clip(0.05 / max(rms, 1e-12), 1/64, 64)); 1 when empty.
 * @param {Float32Array} x @param {number} a @param {number} b
 */
export function inputGain(x, a, b) {
  if (b <= a) return 1;
  let mean = 0;
  for (let i = a; i < b; i++) mean += x[i];
  mean /= b - a;
  let s = 0;
  for (let i = a; i < b; i++) s += (x[i] - mean) * (x[i] - mean);
  const rms = Math.sqrt(s / (b - a));
  return f32(Math.min(Math.max(0.05 / Math.max(rms, 1e-12), 1 / 64), 64));
}

/**
 * 7.6's stream gain of a file's channels at the input rate, per coded channel (mid and side when `stereo`):
 * its level about the mean in float64, clipped to [1/64, 64].
 * @param {Float32Array[]} channels @param {number} stereo
 */
export function streamGains(channels, stereo) {
  const n = Math.max(channels[0]?.length ?? 0, 1);
  let s1 = channels.map((x) => x.reduce((a, v) => a + v, 0));
  let s2 = channels.map((x) => x.reduce((a, v) => a + v * v, 0));
  if (stereo && channels.length === 2) {
    const [l, r] = channels;
    let sp = 0;
    for (let i = 0; i < l.length; i++) sp += l[i] * r[i];
    s1 = [(s1[0] + s1[1]) / 2, (s1[0] - s1[1]) / 2];
    s2 = [(s2[0] + s2[1] + 2 * sp) / 4, (s2[0] + s2[1] - 2 * sp) / 4];
  }
  return s1.map((sum, ch) => {
    const mean = sum / n;
    const rms = Math.sqrt(Math.max(s2[ch] / n - mean * mean, 0));
    return Math.min(Math.max(0.05 / Math.max(rms, 1e-12), 1 / 64), 64);
  });
}

/** A packet's gain stays within this factor of the stream's and of its window's (codec-rt's `REFERENCE_SPAN`). */
export const REFERENCE_SPAN = 2;

/**
 * 7.6's packet gain: its own, times the stream's gain `g` over it kept within a factor 2 and rounded to a
 * 0.25 dB grid -> float32.
 * @param {number} own @param {number} g
 */
export function packetGain(own, g) {
  const ratio = Math.min(Math.max(g / own, 1 / REFERENCE_SPAN), REFERENCE_SPAN);
  // kept in the gain range a blob may hold (FORMAT.md 4.3), as codec-rt keeps it
  return f32(Math.min(Math.max(own * 10 ** (Math.floor(20 * Math.log10(ratio) / GAIN_GRID_DB + 0.5) * GAIN_GRID_DB / 20), 1 / 64), 64));
}

/** 6.2 (format 1.7): the gain_smoothing the encoder writes, latent steps either side (0..2 are readable). */
export const GAIN_SMOOTHING_STEPS = 1;

/** 7.6: packet gains move on this grid, in dB (Python: `level.GAIN_GRID_DB`); so does the level match (7.7). */
export const GAIN_GRID_DB = 0.25;

/**
 * 6.2: the gains of STFT frames [w0, w1) of one channel -> Float32Array(w1 - w0). Frame t's is its step's
 * gain, times exp of the mean, over frames u within `smoothing * stride` of t, of ln(gain of u's step / gain
 * of t's step), in float64; steps before 0 and after `lastStep` taken as those. Unchanged where the gain is.
 * @param {Float32Array} gains the channel's gain per latent step @param {number} w0 @param {number} w1
 * @param {number} stride @param {number} smoothing @param {number} lastStep
 */
export function frameGains(gains, w0, w1, stride, smoothing, lastStep) {
  const r = smoothing * stride;
  const at = (/** @type {number} */ u) => gains[Math.min(Math.max(Math.floor(u / stride), 0), lastStep)];
  const out = new Float32Array(w1 - w0);
  for (let t = w0; t < w1; t++) {
    const own = at(t);
    let sum = 0;
    for (let u = t - r; u <= t + r; u++) sum += Math.log(at(u) / own);
    out[t - w0] = f32(own * Math.exp(sum / (2 * r + 1)));
  }
  return out;
}

/**
 * Samples for a fixed-point output: every peak over 0.9 bent smoothly below full scale (tanh, never
 * reaching 0.999), in place -> how many were at or over full scale.
 * @param {Float32Array} x
 */
export function softClip(x) {
  let over = 0;
  const room = SOFT_CEILING - SOFT_KNEE;
  for (let i = 0; i < x.length; i++) {
    const a = Math.abs(x[i]);
    if (a >= 1) over++;
    if (a > SOFT_KNEE) x[i] = Math.sign(x[i]) * (SOFT_KNEE + room * Math.tanh((a - SOFT_KNEE) / room));
  }
  return over;
}
