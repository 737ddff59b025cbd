/**
 * A causal decoder's clicks (docs/FORMAT.md 6.5, "Causal: clicks"; codec_rt.phase.causal_clicks): a frame
 * whose energy is CLICK_JUMP_DB over the most of the CLICK_MEMORY frames before it and whose power spectrum
 * is at least CLICK_FLATNESS flat (geometric over arithmetic mean), and louder than CLICK_FLOOR_DB, is where a
 * click begins; it and the frame after it take a click's phase, CLICK_AT into the first's newest hop, swept
 * over nFft / CLICK_SPREAD samples (`dsp.causalFrames`).
 */

export const CLICK_JUMP_DB = 15;
export const CLICK_FLATNESS = 0.2;
export const CLICK_MEMORY = 3;
export const CLICK_AT = 0.75;
export const CLICK_FLOOR_DB = -20;
export const CLICK_SPREAD = 8;

/** One row's detector (a channel, or the channels' joint), carried from block to block. */
export class CausalClicks {
  constructor() {
    /** @type {number[]} the energies (dB) of the last frames, oldest first */
    this.energy = [];
  }

  /**
   * Each frame's part in a click (1: its first frame, 2: the frame after, 0: none) of `mag` `[nBins *
   * frames]` (bin-major, the frames after those seen so far).
   * @param {Float32Array} mag @param {number} nBins @param {number} frames @returns {Uint8Array}
   */
  flags(mag, nBins, frames) {
    const out = new Uint8Array(frames);
    for (let t = 0; t < frames; t++) {
      if (this.energy.length && this.energy[this.energy.length - 1] === Infinity) out[t] = 2;
      let sum = 0;
      let logs = 0;
      for (let k = 0; k < nBins; k++) {
        const p = mag[k * frames + t] * mag[k * frames + t];
        sum += p;
        logs += Math.log(p + 1e-30);
      }
      const e = 10 * Math.log10(sum + 1e-30);
      const flat = Math.exp(logs / nBins) / (sum / nBins + 1e-30);
      if (this.energy.length === CLICK_MEMORY && e - Math.max(...this.energy) > CLICK_JUMP_DB && flat >= CLICK_FLATNESS
        && e > CLICK_FLOOR_DB) {
        out[t] = 1;
      }
      // a click's frame counts as infinitely loud to the frames after it: they are not another click
      this.energy.push(out[t] === 1 ? Infinity : e);
      if (this.energy.length > CLICK_MEMORY) this.energy.shift();
    }
    return out;
  }
}
