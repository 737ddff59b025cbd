/**
 * A causal model's steady bins (docs/FORMAT.md 6.5, "Causal: steady bins"; codec_rt.postfilter.steady):
 * a bin whose mean power over its last STEADY_FRAMES frames is within STEADY_DB of that over the frames
 * before takes that mean as its log-magnitude, which removes a steady tone's swing from frame to frame.
 */

export const STEADY_FRAMES = 5;
export const STEADY_DB = 1.0;

/** One channel's state, carried from block to block: each bin's power in its last 2 L frames. */
export class SteadyBins {
  /** @param {number} nBins */
  constructor(nBins) {
    /** @type {number[][]} per bin, oldest first */
    this.power = Array.from({ length: nBins }, () => []);
  }

  /**
   * In place: log-magnitude `[nBins * frames]` (bin-major) of the frames after those seen so far.
   * @param {Float32Array} logmag @param {number} frames
   */
  apply(logmag, frames) {
    const n = STEADY_FRAMES;
    for (let k = 0; k < this.power.length; k++) {
      const p = this.power[k];
      for (let t = 0; t < frames; t++) {
        const i = k * frames + t;
        p.push(Math.exp(2 * logmag[i]));
        if (p.length > 2 * n) p.shift();
        if (p.length < 2 * n) continue;
        let before = 0;
        let recent = 0;
        for (let j = 0; j < n; j++) before += p[j];
        for (let j = n; j < 2 * n; j++) recent += p[j];
        before /= n;
        recent /= n;
        if (Math.abs(10 * Math.log10(recent / before)) < STEADY_DB) logmag[i] = Math.fround(0.5 * Math.log(recent));
      }
    }
  }
}
