/**
 * A causal decoder's steady peaks (docs/FORMAT.md 6.5, "Causal: steady peaks"; codec_rt.peaks.steady_peaks):
 * the phase vocoder's peak locking for a model that predicts each frame's phase advance. With P a bin's mean
 * power over the last PEAK_FRAMES (N) frames and Q over the last LOBE_FRAMES (M), bin q (1 < q < F - 2) is a
 * steady peak in an unvoiced frame (M - 1 frames or more after the stream's start) where P[q] > P[q - 1],
 * P[q] >= P[q + 1], P[q] is PEAK_PROMINENCE_DB or more over P[q - 2] and P[q + 2] and within PEAK_RANGE_DB of
 * the frame's largest, and either P[q] is within PEAK_DB of its mean over the N frames before and of Q[q],
 * or q was a steady peak in the frame before and P[q] is within PEAK_HOLD_DB of Q[q]. Its advance: next to the coded band (q - 1 < K) the angle of the coded
 * bins' advance phasors from q - 2 on, summed over the last N frames and weighted by P; else the frequency
 * its Hann main lobe gives from Q (`lobeOffset`). Each bin at or above K within PEAK_WIDTH of a steady peak
 * starts from the frame before advanced at the strongest's, with the magnitude sqrt(Q) of its own, kept within
 * LOCK_RANGE of the frame's.
 */

export const PEAK_FRAMES = 12;
export const LOBE_FRAMES = 48;
export const PEAK_DB = 1.0;
export const PEAK_HOLD_DB = 3.0;
export const LOCK_RANGE = 2.0;

/** |10 log10(a / b)|, dB, each at least 1e-300. @param {number} a @param {number} b */
const db = (a, b) => Math.abs(10 * Math.log10(Math.max(a, 1e-300) / Math.max(b, 1e-300)));
export const PEAK_RANGE_DB = 40.0;
export const PEAK_PROMINENCE_DB = 20.0;
export const PEAK_WIDTH = 2;

/**
 * A peak's power and its neighbours' -> the offset in bins, within [-1/2, 1/2], of the tone whose Hann main
 * lobe that is (Grandke 1983; codec_rt.peaks.lobe_offset): r = sqrt(larger neighbour / peak) clipped to
 * [1/2, 1], (2 r - 1) / (r + 1), negative where the bin below is the larger.
 * @param {number} below @param {number} peak @param {number} above @returns {number}
 */
export function lobeOffset(below, peak, above) {
  const up = above >= below;
  const r = Math.min(Math.max(Math.sqrt((up ? above : below) / peak), 0.5), 1);
  const d = (2 * r - 1) / (r + 1);
  return up ? d : -d;
}

/** One row's state (a channel, or the channels' joint), carried from block to block. */
export class SteadyPeaks {
  /** @param {number} nBins */
  constructor(nBins) {
    this.nBins = nBins;
    /** @type {Float64Array[]} the last M frames' power [F] each, oldest first */
    this.power = [];
    /** @type {{re: Float64Array, im: Float64Array}[]} the last N frames' coded advance phasors [K] each */
    this.turn = [];
    /** @type {Float64Array | null} the last frame's coded phase */
    this.held = null;
    this.was = new Uint8Array(nBins);
    this.frames = 0; // frames since the stream's start
  }

  /**
   * Each bin's advance from the frame before where it locks to a steady peak (NaN: none), and the magnitudes
   * with each locked bin's replaced by its mean over the last M frames (a new array), both `[nBins * frames]`
   * bin-major, for the frames after those seen so far.
   * @param {Float32Array} mag magnitude `[nBins * frames]` (after the level gain)
   * @param {{rows: number, phase: Float32Array} | null} held the coded band
   * @param {Float64Array | null} pitch `[frames]` cycles a sample (0: unvoiced) @param {number} nFft
   * @param {number} hop @param {number} frames @returns {{lock: Float32Array, mag: Float32Array}}
   */
  lock(mag, held, pitch, nFft, hop, frames) {
    const nb = this.nBins;
    const n = PEAK_FRAMES;
    const m = LOBE_FRAMES;
    const kh = held ? held.rows : 0;
    const out = new Float32Array(nb * frames).fill(NaN);
    const level = Float32Array.from(mag);
    const now = new Float64Array(nb);
    const before = new Float64Array(nb);
    const lobe = new Float64Array(nb);
    const peaks = new Uint8Array(nb);
    const best = new Float64Array(nb);
    for (let t = 0; t < frames; t++) {
      const p = new Float64Array(nb);
      for (let k = 0; k < nb; k++) {
        const v = mag[k * frames + t];
        p[k] = v * v;
      }
      const turn = { re: new Float64Array(kh), im: new Float64Array(kh) };
      for (let k = 0; k < kh && held; k++) {
        const c = held.phase[k * frames + t];
        const a = c - (t > 0 ? held.phase[k * frames + t - 1] : this.held ? this.held[k] : c);
        turn.re[k] = Math.cos(a);
        turn.im[k] = Math.sin(a);
      }
      this.power.push(p);
      this.turn.push(turn);
      if (this.power.length > m) this.power.shift();
      if (this.turn.length > n) this.turn.shift();
      peaks.fill(0);
      if (this.frames >= m - 1 && !(pitch && pitch[t] > 0)) {
        const len = this.power.length; // M
        now.fill(0);
        before.fill(0);
        lobe.fill(0);
        for (let i = 0; i < n; i++) {
          for (let k = 0; k < nb; k++) {
            now[k] += this.power[len - n + i][k];
            before[k] += this.power[len - 2 * n + i][k];
          }
        }
        for (let i = 0; i < m; i++) for (let k = 0; k < nb; k++) lobe[k] += this.power[i][k];
        let top = 0;
        for (let k = 0; k < nb; k++) {
          now[k] /= n;
          before[k] /= n;
          lobe[k] /= m;
          top = Math.max(top, now[k]);
        }
        for (let q = 2; q < nb - 2; q++) {
          if (!(now[q] > now[q - 1] && now[q] >= now[q + 1] && now[q] > 0)) continue;
          if (now[q] < 10 ** (PEAK_PROMINENCE_DB / 10) * Math.max(now[q - 2], now[q + 2])) continue;
          if (now[q] < top * 10 ** (-PEAK_RANGE_DB / 10)) continue;
          const drift = db(now[q], lobe[q]); // its level now against the last M frames'
          if ((db(now[q], before[q]) < PEAK_DB && drift < PEAK_DB) || (this.was[q] && drift < PEAK_HOLD_DB)) peaks[q] = 1;
        }
        best.fill(0);
        for (let q = 2; q < nb - 2; q++) {
          if (!peaks[q]) continue;
          let a;
          if (q - 1 < kh) { // next to the coded band: its advance, the input's
            let re = 0;
            let im = 0;
            for (let k = Math.max(0, q - 2); k < kh; k++) {
              let sr = 0;
              let si = 0;
              for (const ph of this.turn) {
                sr += ph.re[k];
                si += ph.im[k];
              }
              re += now[k] * sr;
              im += now[k] * si;
            }
            a = Math.atan2(im, re);
          } else { // the frequency of its main lobe
            const d = lobeOffset(lobe[q - 1], lobe[q], lobe[q + 1]);
            a = (2 * Math.PI * (q + d) * hop / nFft) % (2 * Math.PI);
            if (a > Math.PI) a -= 2 * Math.PI;
          }
          for (let j = Math.max(kh, q - PEAK_WIDTH); j < Math.min(nb, q + PEAK_WIDTH + 1); j++) {
            if (now[q] > best[j]) {
              best[j] = now[q];
              out[j * frames + t] = a;
            }
          }
        }
        for (let j = kh; j < nb; j++) {
          if (!(best[j] > 0)) continue;
          const own = mag[j * frames + t]; // the mean, kept within LOCK_RANGE of the frame's own
          level[j * frames + t] = Math.min(Math.max(Math.sqrt(lobe[j]), own / LOCK_RANGE), own * LOCK_RANGE);
        }
      }
      this.was.set(peaks);
      this.frames++;
    }
    if (held && frames) this.held = Float64Array.from({ length: kh }, (_, k) => held.phase[k * frames + frames - 1]);
    return { lock: out, mag: level };
  }
}
