/**
 * A causal decoder's steady peaks (docs/FORMAT.md 6.5, "Causal: steady peaks"; codec_rt.peaks.steady_peaks):
 * the phase vocoder's peak locking for a model that predicts each frame's phase advance. With P a bin's mean
 * power over the last PEAK_FRAMES frames, bin q (1 < q < F - 2) is a steady peak in an unvoiced frame (2N - 1
 * frames or more after the stream's start) where P[q] > P[q - 1], P[q] >= P[q + 1], P[q] is PEAK_PROMINENCE_DB
 * or more over P[q - 2] and P[q + 2] and within PEAK_RANGE_DB of the frame's largest, and either P[q] is within PEAK_DB of its mean over the N frames before or q was a steady
 * peak in the frame before. Its advance is the angle of its advances' phasors summed over those N frames
 * (next to the coded band, q - 1 < K: the coded bins' from q - 2 on, weighted by P); each bin at or above K
 * within PEAK_WIDTH of a steady peak starts from the frame before advanced at the strongest's.
 */

export const PEAK_FRAMES = 12;
export const PEAK_DB = 1.0;
export const PEAK_RANGE_DB = 40.0;
export const PEAK_PROMINENCE_DB = 20.0;
export const PEAK_WIDTH = 2;

/** One row's state (a channel, or the channels' joint), carried from block to block. */
export class SteadyPeaks {
  /** @param {number} nBins */
  constructor(nBins) {
    this.nBins = nBins;
    /** @type {Float64Array[]} the last frames' power [F] each, oldest first */
    this.power = [];
    /** @type {{re: Float64Array, im: Float64Array}[]} their advance phasors */
    this.turn = [];
    /** @type {Float64Array | null} the last frame's coded phase */
    this.held = null;
    this.was = new Uint8Array(nBins);
    this.frames = 0; // frames since the stream's start
  }

  /**
   * Each bin's advance from the frame before where it locks to a steady peak (NaN: none), `[nBins * frames]`
   * bin-major, for the frames after those seen so far.
   * @param {Float32Array} mag magnitude `[nBins * frames]` @param {Float32Array} init the predicted advance less
   * a bin-centred sinusoid's, same layout @param {{rows: number, phase: Float32Array} | null} held the coded
   * band @param {Float64Array | null} pitch `[frames]` cycles a sample (0: unvoiced) @param {number} nFft
   * @param {number} hop @param {number} frames @returns {Float32Array}
   */
  lock(mag, init, held, pitch, nFft, hop, frames) {
    const nb = this.nBins;
    const n = PEAK_FRAMES;
    const kh = held ? held.rows : 0;
    const out = new Float32Array(nb * frames).fill(NaN);
    const now = new Float64Array(nb);
    const before = new Float64Array(nb);
    const peaks = new Uint8Array(nb);
    const best = new Float64Array(nb);
    for (let t = 0; t < frames; t++) {
      const p = new Float64Array(nb);
      const turn = { re: new Float64Array(nb), im: new Float64Array(nb) };
      for (let k = 0; k < nb; k++) {
        const m = mag[k * frames + t];
        p[k] = m * m;
        let a = (2 * Math.PI * hop / nFft) * k + init[k * frames + t];
        if (k < kh && held) {
          const c = held.phase[k * frames + t];
          a = c - (t > 0 ? held.phase[k * frames + t - 1] : this.held ? this.held[k] : c);
        }
        turn.re[k] = Math.cos(a);
        turn.im[k] = Math.sin(a);
      }
      this.power.push(p);
      this.turn.push(turn);
      if (this.power.length > 2 * n - 1 + 1) {
        this.power.shift();
        this.turn.shift();
      }
      peaks.fill(0);
      if (this.frames >= 2 * n - 1 && !(pitch && pitch[t] > 0)) {
        const len = this.power.length; // 2N
        now.fill(0);
        before.fill(0);
        for (let i = 0; i < n; i++) {
          for (let k = 0; k < nb; k++) {
            now[k] += this.power[len - n + i][k];
            before[k] += this.power[len - 2 * n + i][k];
          }
        }
        let top = 0;
        for (let k = 0; k < nb; k++) {
          now[k] /= n;
          before[k] /= n;
          top = Math.max(top, now[k]);
        }
        for (let q = 2; q < nb - 2; q++) {
          if (!(now[q] > now[q - 1] && now[q] >= now[q + 1] && now[q] > 0)) continue;
          if (now[q] < 10 ** (PEAK_PROMINENCE_DB / 10) * Math.max(now[q - 2], now[q + 2])) continue;
          if (now[q] < top * 10 ** (-PEAK_RANGE_DB / 10)) continue;
          const calm = Math.abs(10 * Math.log10(Math.max(now[q], 1e-300) / Math.max(before[q], 1e-300))) < PEAK_DB;
          if (calm || this.was[q]) peaks[q] = 1;
        }
        best.fill(0);
        for (let q = 2; q < nb - 2; q++) {
          if (!peaks[q]) continue;
          let re = 0;
          let im = 0;
          const lo = q - 1 < kh ? Math.max(0, q - 2) : q;
          const hi = q - 1 < kh ? kh : q + 1;
          for (let k = lo; k < hi; k++) {
            const w = q - 1 < kh ? now[k] : 1;
            let sr = 0;
            let si = 0;
            for (let i = len - n; i < len; i++) {
              sr += this.turn[i].re[k];
              si += this.turn[i].im[k];
            }
            re += w * sr;
            im += w * si;
          }
          const a = Math.atan2(im, re);
          for (let j = Math.max(kh, q - PEAK_WIDTH); j < Math.min(nb, q + PEAK_WIDTH + 1); j++) {
            if (now[q] > best[j]) {
              best[j] = now[q];
              out[j * frames + t] = a;
            }
          }
        }
      }
      this.was.set(peaks);
      this.frames++;
    }
    if (held && frames) this.held = Float64Array.from({ length: kh }, (_, k) => held.phase[k * frames + frames - 1]);
    return out;
  }
}
