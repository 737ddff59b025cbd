/**
 * The causal decoder's rules on the magnitude (docs/FORMAT.md 6.5): steady bins, clicks and steady peaks, as
 * tests/test_postfilter.py and tests/test_causal_phase.py check them in Python, fed in chunks of any sizes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CausalClicks } from '../src/clicks.js';
import { SteadyBins } from '../src/steady.js';
import { SteadyPeaks } from '../src/peaks.js';

const NB = 129;

/**
 * Row `[NB * n]` (bin-major) of quiet noise with a flat loud frame at `at`, or a peaky tone from `at`.
 * @param {number} n @param {number} at @param {boolean} tone
 */
function frames(n, at, tone) {
  const mag = new Float32Array(NB * n);
  let seed = 1;
  const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  for (let k = 0; k < NB; k++) {
    for (let t = 0; t < n; t++) {
      let v = tone ? 1e-5 : 1e-3 * rand();
      if (t === at && !tone) v = 0.5 * (0.7 + 0.6 * rand());
      if (tone && t >= at && k >= 14 && k <= 18) v = [0.5, 4, 12, 4, 0.5][k - 14];
      mag[k * n + t] = v;
    }
  }
  return mag;
}

/**
 * Apply `f(part, frames)` to the `n` frames of `mag` in chunks of `sizes`, gathering its outputs.
 * @template R
 * @param {Float32Array} mag @param {number} n @param {number[]} sizes
 * @param {(part: Float32Array, frames: number) => R} f
 * @returns {{a: number, b: number, part: Float32Array, res: R}[]}
 */
function chunked(mag, n, sizes, f) {
  const out = [];
  for (let a = 0, i = 0; a < n; i++) {
    const b = Math.min(n, a + sizes[i % sizes.length]);
    const part = new Float32Array(NB * (b - a));
    for (let k = 0; k < NB; k++) part.set(mag.subarray(k * n + a, k * n + b), k * (b - a));
    out.push({ a, b, part, res: f(part, b - a) });
    a = b;
  }
  return out;
}

describe('causal clicks', () => {
  it('marks a flat frame far over the frames before, and the frame after it; not a tone onset', () => {
    const flags = new CausalClicks().flags(frames(40, 20, false), NB, 40);
    assert.deepEqual(Array.from(flags.subarray(19, 23)), [0, 1, 2, 0]);
    assert.equal(flags.reduce((s, v) => s + v, 0), 3);
    assert.ok(new CausalClicks().flags(frames(40, 20, true), NB, 40).every((v) => v === 0));
  });

  it('finds the same frames whatever the chunks', () => {
    const mag = frames(41, 21, false);
    const whole = new CausalClicks().flags(mag, NB, 41);
    const det = new CausalClicks();
    const parts = chunked(mag, 41, [1, 19, 2, 30], (p, n) => det.flags(p, NB, n));
    assert.deepEqual(parts.flatMap((p) => Array.from(p.res)), Array.from(whole));
  });
});

describe('steady bins', () => {
  it('hold a swinging bin at its mean power and are the same whatever the chunks', () => {
    const n = 40;
    const mag = new Float32Array(NB * n);
    const swing = [-0.9, -0.7, 2.3, -0.2, -0.7];
    for (let k = 0; k < NB; k++) for (let t = 0; t < n; t++) mag[k * n + t] = Math.fround(3 + (Math.log(10) / 20) * swing[t % 5]);
    const whole = Float32Array.from(mag);
    new SteadyBins(NB).apply(whole, n);
    const mean = 0.5 * Math.log(swing.reduce((s, d) => s + Math.exp(2 * (3 + (Math.log(10) / 20) * d)), 0) / 5);
    for (let t = 9; t < n; t++) assert.ok(Math.abs(whole[t] - mean) < 1e-5, `frame ${t}`);
    for (let t = 0; t < 9; t++) assert.equal(whole[t], mag[t]);
    const bins = new SteadyBins(NB);
    const parts = chunked(mag, n, [3, 9, 1, 27], (p, m) => { bins.apply(p, m); return p; });
    for (const { a, b, part } of parts) {
      for (let t = a; t < b; t++) assert.equal(part[t - a], whole[t], `frame ${t}`);
    }
  });
});

describe('steady peaks', () => {
  /** A steady tone's main lobe at bins 14 .. 18 and its predicted advance wandering (bin-major [NB * n]). */
  const tone = (/** @type {number} */ n) => {
    const mag = frames(n, 0, true);
    const init = new Float32Array(NB * n);
    let seed = 7;
    const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    for (let i = 0; i < init.length; i++) init[i] = Math.fround(0.6 * (rand() - 0.5));
    return { mag, init };
  };

  it("lock a steady peak's main lobe to one advance, the mean of the peak bin's, and nothing far from it", () => {
    const n = 60;
    const { mag, init } = tone(n);
    const lock = new SteadyPeaks(NB).lock(mag, init, null, null, 256, 64, n);
    for (let t = 0; t < 23; t++) for (let k = 0; k < NB; k++) assert.ok(Number.isNaN(lock[k * n + t]));
    const t = 40;
    let re = 0;
    let im = 0;
    for (let s = t - 11; s <= t; s++) {
      const a = (2 * Math.PI * 64 / 256) * 16 + init[16 * n + s];
      re += Math.cos(a);
      im += Math.sin(a);
    }
    for (let k = 14; k <= 18; k++) assert.ok(Math.abs(lock[k * n + t] - Math.fround(Math.atan2(im, re))) < 1e-6, `bin ${k}`);
    for (const k of [10, 13, 19, 30]) assert.ok(Number.isNaN(lock[k * n + t]), `bin ${k}`);
    const voiced = new Float64Array(n).fill(0.01);
    assert.ok(new SteadyPeaks(NB).lock(mag, init, null, voiced, 256, 64, n).every((v) => Number.isNaN(v)));
  });

  it('lock the same bins whatever the chunks', () => {
    const n = 61;
    const { mag, init } = tone(n);
    const whole = new SteadyPeaks(NB).lock(mag, init, null, null, 256, 64, n);
    const peaks = new SteadyPeaks(NB);
    const inits = chunked(init, n, [1, 19, 2, 30], (p) => p);
    const parts = chunked(mag, n, [1, 19, 2, 30], (p) => p);
    parts.forEach(({ a, b, part }, i) => {
      const lock = peaks.lock(part, inits[i].part, null, null, 256, 64, b - a);
      for (let k = 0; k < NB; k++) {
        for (let t = a; t < b; t++) assert.ok(Object.is(lock[k * (b - a) + t - a], whole[k * n + t]), `bin ${k} frame ${t}`);
      }
    });
  });
});
