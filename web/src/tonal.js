/**
 * Mode tonal_band_phase (format 1.11, docs/FORMAT.md 4.8 and 6.3): the low band's phase on straight paths
 * through the steady stretches an encoder picks, one anchor every `phaseStride` frames. `tonalPaths` is
 * the decoder's side (in integers where 4.8 says so, so every runtime finds the same paths); `tonalBand`
 * the encoder's choice, as codec-rt makes it (Python: `codec_rt.tonal`).
 */

import { CYCLE_BITS, bandIntervals } from './container.js';
import { MAG_FLOOR } from './dsp.js';
import { FormatError } from './errors.js';
import { rint } from './round.js';

const f32 = Math.fround;
const CYCLE_OFFSET = 8;
/** The encoder's choices (Python: `tonal.DEFAULT_*`, `FIT_RADIANS`, `RUN`). */
export const TONAL_HZ = 1000;
export const TONAL_BITS = 5;
const STRIDE_S = 0.064;
const FIT_RADIANS = 0.15;
const RUN = 3;

/** Frames between anchors by default (Python: `tonal.default_stride`). @param {number} rate @param {number} hop */
export function defaultStride(rate, hop) {
  return Math.max(2, Math.min(64, Math.round((STRIDE_S * rate) / hop)));
}

/**
 * Bin k's whole turns over an interval for a partial at its centre, less the anchors' difference d (4.8).
 * @param {number} k @param {number} d @param {number} K @param {number} hop @param {number} nFft @param {number} L
 */
function baseTurns(k, d, K, hop, nFft, L) {
  return Math.floor((2 * (k * K * hop * L - d * nFft) + nFft * L) / (2 * nFft * L));
}

/**
 * Every channel's tonal band over a blob's stream -> its paths' phase [B, R, N] and the bins each frame
 * holds [B, N] (frame t: [0, rows[t])).
 * @param {import('./container.js').Blob} blob @param {number} frames N @param {number} hop @param {number} nFft
 */
export function tonalPaths(blob, frames, hop, nFft) {
  const h = blob.header;
  const K = h.phaseStride;
  const R = h.phaseBins;
  const L = 2 ** h.phaseBits;
  const span = L * K;
  const phase = new Float32Array(h.channels * R * frames);
  const rows = new Int32Array(h.channels * frames);
  let f0 = 0;
  for (const p of blob.packets) {
    const [i0, i1] = bandIntervals(h, f0, p.frames);
    for (let ch = 0; ch < h.channels; ch++) {
      const band = p.sections[ch].band;
      if (!band) continue; // a packet without bands holds nothing (4.5)
      let a = 0;
      let held = 0;
      let prev = -1; // the anchor vector the next interval starts from, while a run goes on
      for (let i = i0; i < i1; i++) {
        if (!band.flags[i - i0]) {
          prev = -1;
          continue;
        }
        if (prev < 0) prev = a++;
        const end = a++;
        if ((i + 1) * K > h.nFrames - 1 && !blob.cut) {
          throw new FormatError(`tonal band interval ${i} is held past the stream's last frame`);
        }
        for (let k = 0; k < R; k++) {
          const ca = band.anchors[prev * R + k];
          const d = band.anchors[end * R + k] - ca;
          const turns = d + L * (baseTurns(k, d, K, hop, nFft, L) + band.cycles[held * R + k] - CYCLE_OFFSET);
          for (let j = 0; j <= K && i * K + j < frames; j++) {
            const num = (((ca * K + turns * j) % span) + span) % span;
            phase[(ch * R + k) * frames + i * K + j] = f32(num * ((2 * Math.PI) / span) - Math.PI);
          }
        }
        const r = band.edges[held] + 1;
        for (let j = 0; j <= K && i * K + j < frames; j++) {
          const q = ch * frames + i * K + j;
          rows[q] = Math.max(rows[q], r);
        }
        held += 1;
        prev = end;
      }
    }
    f0 += p.frames;
  }
  return { phase, rows, R };
}

/** @param {number} x */
function wrap(x) {
  const t = (x + Math.PI) % (2 * Math.PI);
  return (t < 0 ? t + 2 * Math.PI : t) - Math.PI;
}

/**
 * The encoder's band for one channel's section over stream frames [first, first + nFrames) (7.4): from the
 * features [2, nBins, T] of stream frames [windowFirst, windowFirst + T) (log-magnitude, phase), an
 * interval's edge in the valley of its power between R / 2 and R, held where it and the RUN - 1 before it
 * fit their paths, all its frames are in the window and it ends by `lastFrame`.
 * @param {Float32Array} feats @param {number} base the channel's offset in `feats` @param {number} nBins
 * @param {number} T @param {number} windowFirst @param {number} first @param {number} nFrames
 * @param {import('./container.js').Header} h @param {number} hop @param {number} nFft @param {number} lastFrame
 * @returns {import('./container.js').Band}
 */
export function tonalBand(feats, base, nBins, T, windowFirst, first, nFrames, h, hop, nFft, lastFrame) {
  const K = h.phaseStride;
  const R = h.phaseBins;
  const L = 2 ** h.phaseBits;
  const logmag = (/** @type {number} */ k, /** @type {number} */ t) => feats[base + k * T + t];
  const angle = (/** @type {number} */ k, /** @type {number} */ t) => feats[base + (nBins + k) * T + t];
  /** @type {Map<number, {ok: boolean, r: number, ca: number[], cb: number[], e: number[]}>} */
  const fits = new Map();
  const fit = (/** @type {number} */ i) => {
    const known = fits.get(i);
    if (known) return known;
    const a = i * K - windowFirst;
    let out = { ok: false, r: R, ca: [0], cb: [0], e: [0] };
    if (i >= 0 && a >= 0 && a + K < T && (i + 1) * K <= lastFrame) {
      // |X|^2, as codec-rt weighs; a bin at the features' floor holds nothing (digital silence fits no path)
      const pw = (/** @type {number} */ k, /** @type {number} */ t) => {
        const m = Math.exp(logmag(k, a + t));
        return m <= MAG_FLOOR * 1.000001 ? 0 : m * m;
      };
      const over = [];
      for (let k = 0; k <= Math.min(R, nBins - 1); k++) {
        let sum = 0;
        for (let t = 0; t <= K; t++) sum += pw(k, t);
        over.push(sum);
      }
      const lo = Math.ceil(R / 2);
      let r = R;
      if (R > 1) {
        let best = Infinity;
        for (let rr = lo; rr <= R; rr++) {
          const pair = over[rr - 1] + (rr < over.length ? over[rr] : 0);
          if (pair < best) [best, r] = [pair, rr];
        }
      } else r = 1;
      const ca = [];
      const cb = [];
      const e = [];
      let errSum = 0;
      let total = 0;
      for (let k = 0; k < R; k++) {
        const code = (/** @type {number} */ x) => ((rint((x + Math.PI) * (L / (2 * Math.PI))) % L) + L) % L;
        const qa = code(angle(k, a));
        const qb = code(angle(k, a + K));
        const d = qb - qa;
        const omega = (2 * Math.PI * k * hop) / nFft;
        let steps = 0;
        for (let t = 1; t <= K; t++) steps += wrap(angle(k, a + t) - angle(k, a + t - 1) - omega);
        const trueTurns = (steps + K * omega) / (2 * Math.PI);
        const b0 = baseTurns(k, d, K, hop, nFft, L);
        const ek = Math.min(Math.max(rint(trueTurns - d / L) - b0, -CYCLE_OFFSET), (1 << CYCLE_BITS) - 1 - CYCLE_OFFSET);
        const turns = d + L * (b0 + ek);
        if (k < r) {
          for (let t = 0; t <= K; t++) {
            const path = -Math.PI + (2 * Math.PI * (qa * K + turns * t)) / (L * K);
            const w = pw(k, t);
            errSum += Math.abs(wrap(path - angle(k, a + t))) * w;
            total += w;
          }
        }
        ca.push(qa);
        cb.push(qb);
        e.push(ek + CYCLE_OFFSET);
      }
      out = { ok: total > 0 && errSum < FIT_RADIANS * total, r, ca, cb, e };
    }
    fits.set(i, out);
    return out;
  };
  const [i0, i1] = bandIntervals(h, first, nFrames);
  const flags = new Uint8Array(i1 - i0);
  const edges = [];
  const anchors = [];
  const cycles = [];
  for (let i = i0; i < i1; i++) {
    let held = true;
    for (let back = 0; back < RUN; back++) held = held && fit(i - back).ok;
    if (!held) continue;
    const f = fit(i);
    if (i === i0 || !flags[i - i0 - 1]) anchors.push(...f.ca);
    anchors.push(...f.cb);
    cycles.push(...f.e);
    edges.push(f.r - 1);
    flags[i - i0] = 1;
  }
  return { flags, edges: Uint16Array.from(edges), anchors: Uint16Array.from(anchors), cycles: Uint16Array.from(cycles) };
}
