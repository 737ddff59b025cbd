/**
 * The range coder of docs/FORMAT.md section 5 (constriction 0.4.1's queue coder: 32-bit words, 64-bit
 * state, 24-bit cumulative counts) and the symbol order and contexts of 5.1. The 64-bit state is kept in
 * BigInts; every product and sum below is exact.
 */

import { FormatError } from './errors.js';
import { rint } from './round.js';

const M64 = (1n << 64n) - 1n;
const B32 = 1n << 32n;
const B24 = 1n << 24n;

/**
 * The entropy tables a range-coded model carries (3.5), ready for coding.
 * @typedef {object} Tables
 * @property {number} channels C
 * @property {number} bins F
 * @property {Int32Array} offsets [C * F]: the symbol value of each row's entry 0
 * @property {Int32Array} sizes [C * F]: each row's number of symbols
 * @property {Int32Array | null} centers [C * F] with context tables, else null
 * @property {number} contexts K: 1, or 15 with context tables
 * @property {Float64Array[]} cdfs [C * F * K] cumulative counts cdf[0..n] (5.2)
 * @property {Float64Array[]} bits [C * F * K] each symbol's cost, precision - log2(freq) on a grid of 2^-16,
 *   for an encoder's rate-aware rounding (`rateAwareSymbols`)
 */

/**
 * 5.2: frequencies summing to 2^p -> 24-bit cumulative counts cdf[0..n].
 * @param {number[]} q @param {number} p
 */
export function cdf24(q, p) {
  const n = q.length;
  const cdf = new Float64Array(n + 1);
  let acc = 0;
  for (let i = 0; i < n; i++) {
    cdf[i] = Math.floor((acc * (2 ** 24 - n)) / 2 ** p) + i; // acc * (2^24 - n) < 2^48: exact
    acc += q[i];
  }
  cdf[n] = 2 ** 24;
  return cdf;
}

/**
 * 5.1: the table of each symbol of row (c, f), from the rows already coded in `v` [C, F, S].
 * @param {Tables} t @param {Int32Array} v @param {number} c @param {number} f @param {number} steps
 * @param {Int32Array} out [steps] table indices
 */
function tablesOf(t, v, c, f, steps, out) {
  const r = c * t.bins + f;
  if (!t.centers) {
    out.fill(r);
    return;
  }
  const ctr = t.centers;
  const below = (r - 1) * steps; // row (c, f - 1)
  const back = (r - t.bins) * steps; // row (c - 1, f)
  for (let i = 0; i < steps; i++) {
    const a = f > 0 ? Math.min(Math.max(v[below + i] - ctr[r - 1], -2), 2) + 2 : 2;
    const b = c > 0 ? Math.min(Math.abs(v[back + i] - ctr[r - t.bins]), 2) : 0;
    out[i] = r * 15 + 3 * a + b;
  }
}

/**
 * 5.3-5.4: one section's coded bytes -> its symbol values [C, F, steps] (row-major). FormatError for
 * data no encoder writes.
 * @param {Uint8Array} coded @param {Tables} t @param {number} steps
 */
export function rangeDecode(coded, t, steps) {
  const m = coded.length >>> 2;
  const dv = new DataView(coded.buffer, coded.byteOffset, coded.byteLength);
  /** @param {number} i */
  const word = (i) => (i < m ? BigInt(dv.getUint32(4 * i, true)) : 0n);
  let lower = 0n;
  let range = M64;
  let point = (word(0) << 32n) | word(1);
  let next = 2;
  const v = new Int32Array(t.channels * t.bins * steps);
  const tab = new Int32Array(steps);
  for (let c = 0; c < t.channels; c++) {
    for (let f = 0; f < t.bins; f++) {
      const r = c * t.bins + f;
      tablesOf(t, v, c, f, steps, tab);
      const off = t.offsets[r];
      for (let j = 0; j < steps; j++) {
        const cdf = t.cdfs[tab[j]];
        const scale = range >> 24n;
        const qb = ((point - lower) & M64) / scale;
        if (qb >= B24) throw new FormatError('range-coded latent is invalid: invalid range-coded data');
        const q = Number(qb);
        let lo = 0; // the index with cdf[i] <= q < cdf[i + 1]
        let hi = cdf.length - 1;
        while (hi - lo > 1) {
          const mid = (lo + hi) >>> 1;
          if (cdf[mid] <= q) lo = mid;
          else hi = mid;
        }
        lower = (lower + scale * BigInt(cdf[lo])) & M64;
        range = scale * BigInt(cdf[lo + 1] - cdf[lo]);
        if (range < B32) {
          lower = (lower << 32n) & M64;
          range <<= 32n;
          point = ((point << 32n) & M64) | word(next);
          next++;
        }
        v[r * steps + j] = lo + off;
      }
    }
  }
  return v;
}

/** Rate-aware rounding's largest lambda (codec-rt's `entropy.MAX_RATE_LAMBDA`). */
export const MAX_RATE_LAMBDA = 1000;
/** Steps whose latent changes by more than this (root mean square) keep plain rounding (`ONSET_STEP_CHANGE`). */
export const ONSET_STEP_CHANGE = 5;
/** ... where the onset is a transient: the power of the two steps after its burst under this fraction of it (`TRANSIENT_POWER_DROP`). */
export const TRANSIENT_POWER_DROP = 0.25;

/** A rate-aware rounding's lambda: a number in 0..MAX_RATE_LAMBDA. @param {unknown} v @returns {v is number} */
export function isRateLambda(v) {
  return typeof v === 'number' && v >= 0 && v <= MAX_RATE_LAMBDA;
}

/**
 * The latent [C, F, S] -> symbol values that trade error for rate, as codec-rt's
 * `entropy.rate_aware_symbols` (bit for bit: float64 throughout): each value becomes whichever of its two
 * neighbouring integers (clipped to its row's range) costs less in (x - s)^2 + lambda * bits(s) under the
 * table its context picks (rows in coding order), but for the steps at an onset (step t and its neighbours
 * where the latent's root-mean-square change from step t - 1 exceeds ONSET_STEP_CHANGE; with `power`, only
 * where the onset is a transient, TRANSIENT_POWER_DROP), which round plainly; lambda 0 rounds half to even.
 * An encoder's choice: any in-range symbols decode (FORMAT.md 7.4).
 * @param {Float32Array} x [C, F, S] @param {Tables} t @param {number} steps @param {number} lambda
 * @param {Float64Array | null} [power] [S + k] each step's input power (codec-rt's `latent.step_power`), then
 *   that of the k steps after the latent's that the encoder has
 * @returns {Int32Array}
 */
export function rateAwareSymbols(x, t, steps, lambda, power = null) {
  const rows = t.channels * t.bins;
  const v = new Int32Array(rows * steps);
  if (!(lambda > 0)) { // plain rounding: no onsets to look for (every default point's path)
    for (let r = 0; r < rows; r++) {
      const lo = t.offsets[r];
      const hi = lo + t.sizes[r] - 1;
      for (let j = 0; j < steps; j++) v[r * steps + j] = Math.min(Math.max(rint(x[r * steps + j]), lo), hi);
    }
    return v;
  }
  const tab = new Int32Array(steps);
  const onset = new Uint8Array(steps);
  for (let j = 1; j < steps; j++) {
    let sum = 0; // rows one by one, in coding order, as codec-rt sums them
    for (let r = 0; r < rows; r++) {
      const d = x[r * steps + j] - x[r * steps + j - 1];
      sum += d * d;
    }
    onset[j] = sum > ONSET_STEP_CHANGE ** 2 * rows ? 1 : 0;
  }
  if (power) { // a transient's burst, or an onset too near the end to tell
    for (let j = 1; j < steps; j++) {
      if (!onset[j]) continue;
      if (j + 2 >= power.length) continue;
      const burst = Math.max(...power.subarray(Math.max(j - 1, 0), j + 2));
      const after = Math.max(...power.subarray(j + 2, j + 4));
      onset[j] = after < TRANSIENT_POWER_DROP * burst ? 1 : 0;
    }
  }
  const keep = onset.map((o, j) => o | (onset[j + 1] ?? 0) | (j > 0 ? onset[j - 1] : 0));
  for (let c = 0; c < t.channels; c++) {
    for (let f = 0; f < t.bins; f++) {
      const r = c * t.bins + f;
      const lo = t.offsets[r];
      const hi = lo + t.sizes[r] - 1;
      const clip = (/** @type {number} */ s) => Math.min(Math.max(s, lo), hi);
      tablesOf(t, v, c, f, steps, tab);
      for (let j = 0; j < steps; j++) {
        const xj = x[r * steps + j];
        if (keep[j]) {
          v[r * steps + j] = clip(rint(xj));
          continue;
        }
        const s0 = clip(Math.floor(xj));
        const s1 = clip(Math.floor(xj) + 1);
        const b = t.bits[tab[j]];
        const d0 = xj - s0;
        const d1 = xj - s1;
        const cost0 = d0 * d0 + lambda * b[s0 - lo];
        const cost1 = d1 * d1 + lambda * b[s1 - lo];
        v[r * steps + j] = cost1 < cost0 ? s1 : s0;
      }
    }
  }
  return v;
}

/**
 * 5.5: symbol values [C, F, S] (each within its row's range) -> the section's coded bytes.
 * @param {Int32Array} v @param {Tables} t @param {number} steps
 */
export function rangeEncode(v, t, steps) {
  /** @type {bigint[]} */
  const out = [];
  let lower = 0n;
  let range = M64;
  /** @type {[number, bigint] | null} */
  let pending = null; // (count, head)
  /** @param {boolean} carry */
  const flush = (carry) => {
    if (!pending) return;
    const [count, head] = pending;
    if (carry) {
      out.push((head + 1n) & 0xffffffffn);
      for (let i = 1; i < count; i++) out.push(0n);
    } else {
      out.push(head);
      for (let i = 1; i < count; i++) out.push(0xffffffffn);
    }
    pending = null;
  };
  const tab = new Int32Array(steps);
  for (let c = 0; c < t.channels; c++) {
    for (let f = 0; f < t.bins; f++) {
      const r = c * t.bins + f;
      tablesOf(t, v, c, f, steps, tab);
      for (let j = 0; j < steps; j++) {
        const cdf = t.cdfs[tab[j]];
        const i = v[r * steps + j] - t.offsets[r];
        if (!(i >= 0 && i < cdf.length - 1)) throw new RangeError('symbol outside its table');
        const scale = range >> 24n;
        range = scale * BigInt(cdf[i + 1] - cdf[i]);
        const newLower = (lower + scale * BigInt(cdf[i])) & M64;
        if (pending && newLower + range <= M64) flush(newLower < lower);
        lower = newLower;
        if (range < B32) {
          range <<= 32n;
          const w = lower >> 32n;
          lower = (lower << 32n) & M64;
          if (pending) pending[0] += 1;
          else if (lower + range <= M64) out.push(w);
          else pending = [1, w];
        }
      }
    }
  }
  if (range !== M64) {
    const point = (lower + B32 - 1n) & M64;
    flush(point < lower);
    out.push(point >> 32n);
    if (((lower + range) & M64) >> 32n === point >> 32n) out.push(0n);
  }
  const bytes = new Uint8Array(4 * out.length);
  const dv = new DataView(bytes.buffer);
  out.forEach((w, i) => dv.setUint32(4 * i, Number(w), true));
  return bytes;
}
