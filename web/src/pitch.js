/**
 * The pitch of a blob's stored low band, for a causal model's voiced frames (docs/FORMAT.md 6.5, "Causal,
 * mode 2: voiced frames"): YIN (de Cheveigne and Kawahara 2002, steps 1 to 5) over the low band's
 * overlap-add of the frames decoded so far, with no lookahead. The sums are written out (Python takes the
 * cross term by FFT): the spec does not promise bit-exact pitch, and section 10 bounds what differs.
 */

import { hann } from './dsp.js';

export const F_MIN = 70; // Hz
export const F_MAX = 400; // Hz
export const THRESHOLD = 0.15;
export const VOICED = 0.35;
export const SILENCE = 1e-7;
export const AHEAD_VOICED = THRESHOLD; // the non-causal band's harmonics want a clearer pitch (6.5)
const NORM_FLOOR = 1e-3;

/**
 * YIN's period of one segment, samples, or 0 where it is unvoiced.
 * @param {Float64Array} x [window + tauMax] @param {number} window @param {number} tauMin @param {number} tauMax
 * @param {number} [voicedBelow] voiced where the normalized difference at the period is below this
 */
export function yin(x, window, tauMin, tauMax, voicedBelow = VOICED) {
  const len = window + tauMax;
  const a0 = len - window;
  const d = new Float64Array(tauMax + 1);
  for (let tau = 1; tau <= tauMax; tau++) {
    let s = 0;
    for (let i = 0; i < window; i++) {
      const v = x[a0 + i] - x[a0 + i - tau];
      s += v * v;
    }
    d[tau] = s;
  }
  const dp = new Float64Array(tauMax + 1);
  dp[0] = 1;
  let total = 0;
  for (let tau = 1; tau <= tauMax; tau++) {
    total += d[tau];
    dp[tau] = total > 0 ? (d[tau] * tau) / total : 1;
  }
  let t0 = -1;
  for (let tau = tauMin; tau <= tauMax; tau++) {
    if (dp[tau] < THRESHOLD && dp[tau] < dp[tau - 1]) { t0 = tau; break; } // below, and falling
  }
  if (t0 >= 0) {
    while (t0 < tauMax && dp[t0 + 1] < dp[t0]) t0++;
  } else {
    t0 = tauMin;
    for (let tau = tauMin + 1; tau <= tauMax; tau++) if (dp[tau] < dp[t0]) t0 = tau;
  }
  let energy = 0;
  for (let i = 0; i < window; i++) energy += x[a0 + i] * x[a0 + i];
  // a dip, not the far side of one below tauMin (a pitch above F_MAX is heard an octave or more down)
  if (!(dp[t0] < voicedBelow && dp[t0] < dp[t0 - 1] && energy / window > SILENCE)) return 0;
  if (t0 < tauMax) {
    const den = dp[t0 - 1] - 2 * dp[t0] + dp[t0 + 1];
    if (den > 0) return t0 + (dp[t0 - 1] - dp[t0 + 1]) / (2 * den);
  }
  return t0;
}

/**
 * The windowed low band of frame `i` of a block: w * irfft of its stored bins, as numpy's irfft (bin 0: its
 * real part).
 * @param {Float32Array} logmag [F, T] @param {{rows: number, phase: Float32Array}} held [K, T]
 * @param {number} i @param {number} nFft @param {Float64Array} win
 */
function bandFrame(logmag, held, i, nFft, win) {
  const k = held.rows;
  const t = held.phase.length / k;
  const u = new Float64Array(nFft);
  for (let b = 0; b < k; b++) {
    const m = Math.exp(logmag[b * t + i]);
    const p = held.phase[b * t + i];
    for (let n = 0; n < nFft; n++) {
      const c = Math.cos(p + (2 * Math.PI * b * n) / nFft);
      u[n] += (b === 0 ? 1 : 2) * m * c;
    }
  }
  for (let n = 0; n < nFft; n++) u[n] = (u[n] / nFft) * win[n];
  return u;
}

/** One stream's low-band pitch, block after block, in order (Python: `codec_rt.pitch.LowBandPitch`). */
export class LowBandPitch {
  /**
   * @param {number} nFft @param {number} hop @param {number} sampleRate
   * @param {number} [voicedBelow] voiced where the normalized difference at the period is below this
   */
  constructor(nFft, hop, sampleRate, voicedBelow = VOICED) {
    this.nFft = nFft;
    this.hop = hop;
    this.voicedBelow = voicedBelow;
    this.tauMin = Math.floor(sampleRate / F_MAX);
    this.tauMax = Math.floor(sampleRate / F_MIN);
    this.len = nFft + this.tauMax;
    this.win = hann(nFft);
    this.reach = Math.ceil(this.len / hop); // frames before frame t that its segment still covers
    /** @type {Float64Array[]} the windowed low-band frames so far (those a segment still reaches) */
    this.frames = [];
    this.seg = new Float64Array(this.len);
    this.norm = new Float64Array(this.len);
  }

  /**
   * The next T frames' low band -> their pitch [T], cycles a sample (0: unvoiced).
   * @param {Float32Array} logmag [F, T] the postfilter's log-magnitude, before the level gain
   * @param {{rows: number, phase: Float32Array}} held the stored phase [K, T]
   */
  block(logmag, held) {
    const t = held.phase.length / held.rows;
    const out = new Float64Array(t);
    for (let i = 0; i < t; i++) out[i] = this.push(bandFrame(logmag, held, i, this.nFft, this.win));
    return out;
  }

  /** The next frame's windowed low band -> its pitch, cycles a sample (0: unvoiced). @param {Float64Array} u */
  push(u) {
    const { nFft, hop, len, win, seg, norm } = this;
    this.frames.push(u);
    if (this.frames.length > this.reach + 1) this.frames.shift();
    seg.fill(0);
    norm.fill(0);
    const have = this.frames.length;
    for (let d = 0; d < have; d++) {
      const frame = this.frames[have - 1 - d];
      const pos = len - (nFft - hop) - d * hop; // frame t - d's first sample, from the segment's first
      for (let n = Math.max(pos, 0); n < Math.min(pos + nFft, len); n++) {
        seg[n] += frame[n - pos];
        norm[n] += win[n - pos] * win[n - pos];
      }
    }
    for (let n = 0; n < len; n++) seg[n] /= Math.max(norm[n], NORM_FLOOR);
    const period = yin(seg, nFft, this.tauMin, this.tauMax, this.voicedBelow);
    return period > 0 ? 1 / period : 0;
  }
}

/**
 * A non-causal stream's low-band pitch, for the phase-gradient start's harmonics (docs/FORMAT.md 6.5,
 * "Non-causal, mode 2: the band's harmonics"), in overlapping blocks in order: frame t's is the one
 * `LowBandPitch` hears at frame t + 1, voiced below AHEAD_VOICED (a block's last frame: its own). Each
 * frame is heard once, and its estimate kept while a later block's window still holds it (Python:
 * `codec_rt.pitch.AheadPitch`).
 */
export class AheadPitch {
  /** @param {number} nFft @param {number} hop @param {number} sampleRate */
  constructor(nFft, hop, sampleRate) {
    this.nFft = nFft;
    this.hop = hop;
    this.sampleRate = sampleRate;
    this.track = new LowBandPitch(nFft, hop, sampleRate, AHEAD_VOICED);
    this.count = 0; // frames the track has heard
    this.frame = 0; // the next block's first frame
    /** @type {Float64Array | null} the estimates of frames [frame, count) */
    this.own = null;
  }

  /**
   * Frames [w0, w0 + T) -> their pitch [T], cycles a sample (0: unvoiced); keeps what frame nextW0's block needs.
   * @param {Float32Array} logmag [F, T] @param {{rows: number, phase: Float32Array}} held [K, T]
   * @param {number} w0 @param {number} nextW0
   */
  block(logmag, held, w0, nextW0) {
    if (w0 > 0 && (this.own === null || this.frame !== w0)) {
      throw new RangeError(`low-band pitch: block from frame ${w0} out of order (expected ${this.frame})`);
    }
    if (w0 === 0 && this.count) { // a stream decoded again from its start
      this.track = new LowBandPitch(this.nFft, this.hop, this.sampleRate, AHEAD_VOICED);
      this.count = 0;
    }
    const t = held.phase.length / held.rows;
    const heard = w0 > 0 ? this.count - w0 : 0;
    if (heard > t) throw new RangeError(`low-band pitch: block of ${t} frames from ${w0} ends before frame ${w0 + heard}`);
    const own = new Float64Array(t);
    if (heard > 0 && this.own) own.set(this.own.subarray(0, heard));
    for (let i = heard; i < t; i++) own[i] = this.track.push(bandFrame(logmag, held, i, this.nFft, this.track.win));
    this.count = w0 + t;
    if (nextW0 >= w0 && nextW0 < w0 + t) {
      this.frame = nextW0;
      this.own = own.slice(nextW0 - w0);
    }
    const out = new Float64Array(t);
    for (let i = 0; i < t; i++) out[i] = own[Math.min(i + 1, t - 1)];
    return out;
  }
}
