/** Shared by the tests: the reference folder (scripts/make_web_reference.py), raw arrays, spectral distance. */

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spectrogram as power } from '../src/dsp.js';

export const WEB = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO = path.resolve(WEB, '..');
export const REF = path.join(WEB, 'test', 'ref');

/** The reference manifest; the tests fail with the command that makes it when it is missing. */
export function manifest() {
  const file = path.join(REF, 'manifest.json');
  if (!existsSync(file)) {
    throw new Error(`no reference data in ${REF}: run python scripts/make_web_reference.py (web/ci.sh does)`);
  }
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** @param {string} name a file of the reference folder */
export function bytes(name) {
  return new Uint8Array(readFileSync(path.join(REF, name)));
}

/** @param {string} name */
export function f32(name) {
  const b = readFileSync(path.join(REF, name));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** @param {string} name */
export function i32(name) {
  const b = readFileSync(path.join(REF, name));
  return new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** [C * N] -> C arrays of N. @param {Float32Array} x @param {number} c */
export function split(x, c) {
  const n = x.length / c;
  return Array.from({ length: c }, (_, i) => x.subarray(i * n, (i + 1) * n));
}

/**
 * Section 10's log-spectral distance (dB) between two signals, powers floored at 1e-8 of the reference's max,
 * over bins 0 .. `bins` - 1 (default all).
 * @param {Float32Array} ref @param {Float32Array} x @param {number} nFft @param {number} hop @param {number} [bins]
 */
export function lsd(ref, x, nFft, hop, bins) {
  const a = power(ref, nFft, hop);
  const b = power(x, nFft, hop);
  const nb = Math.min(bins ?? a.nb, a.nb);
  let max = 0;
  for (const v of a.p) max = Math.max(max, v);
  const floor = max * 1e-8;
  let total = 0;
  for (let i = 0; i < a.t; i++) {
    let s = 0;
    for (let k = 0; k < nb; k++) {
      const d = 10 * Math.log10(Math.max(a.p[k * a.t + i], floor)) - 10 * Math.log10(Math.max(b.p[k * a.t + i], floor));
      s += d * d;
    }
    total += Math.sqrt(s / nb);
  }
  return total / a.t;
}

/** max |a - b| and max |a|. @param {Float32Array} a @param {Float32Array} b */
export function maxDiff(a, b) {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(a[i]));
  }
  return { diff: d, max: m };
}
