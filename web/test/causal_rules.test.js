/**
 * The causal decoder's rules on the magnitude (docs/FORMAT.md 6.5): steady bins, clicks and steady peaks, as
 * tests/test_postfilter.py and tests/test_causal_phase.py check them in Python, fed in chunks of any sizes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CausalClicks } from '../src/clicks.js';
import { SteadyBins } from '../src/steady.js';
import { SteadyPeaks, lobeOffset } from '../src/peaks.js';

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
  /** A steady tone's main lobe at bins 14 .. 18, its level wandering frame by frame (bin-major [NB * n]). */
  const tone = (/** @type {number} */ n) => {
    const mag = frames(n, 0, true);
    let seed = 7;
    const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    for (let t = 0; t < n; t++) {
      const g = 10 ** (1.5 * (rand() - 0.5) / 20);
      for (let k = 14; k <= 18; k++) mag[k * n + t] = Math.fround(mag[k * n + t] * g);
    }
    return mag;
  };

  it("lock a steady peak's main lobe to its lobe's frequency and mean level, and nothing far from it", () => {
    const n = 80;
    const mag = tone(n);
    const { lock, mag: level } = new SteadyPeaks(NB).lock(mag, null, null, 256, 64, n);
    for (let t = 0; t < 47; t++) for (let k = 0; k < NB; k++) assert.ok(Number.isNaN(lock[k * n + t]));
    const t = 60;
    // a symmetric lobe: the tone sits on bin 16, 2 pi 16 64 / 256 = 8 pi, 0 modulo 2 pi
    for (let k = 14; k <= 18; k++) assert.ok(Math.abs(lock[k * n + t]) < 1e-12, `bin ${k}`);
    for (const k of [10, 13, 19, 30]) {
      assert.ok(Number.isNaN(lock[k * n + t]), `bin ${k}`);
      assert.equal(level[k * n + t], mag[k * n + t]);
    }
    for (let k = 14; k <= 18; k++) {
      let sum = 0;
      for (let s = t - 47; s <= t; s++) sum += mag[k * n + s] * mag[k * n + s];
      assert.equal(level[k * n + t], Math.fround(Math.sqrt(sum / 48)), `bin ${k}`);
    }
    const voiced = new Float64Array(n).fill(0.01);
    assert.ok(new SteadyPeaks(NB).lock(mag, null, voiced, 256, 64, n).lock.every((v) => Number.isNaN(v)));
  });

  it("take the offset of a tone between bins from its Hann lobe's shape", () => {
    for (const offset of [-0.45, -0.2, 0, 0.3, 0.5]) {
      const p = [31, 32, 33].map((k) => {
        let re = 0;
        let im = 0;
        for (let i = 0; i < 256; i++) {
          const x = (0.5 - 0.5 * Math.cos(2 * Math.PI * i / 256)) * Math.cos(2 * Math.PI * (32 + offset) * i / 256 + 0.3);
          re += x * Math.cos(2 * Math.PI * k * i / 256);
          im -= x * Math.sin(2 * Math.PI * k * i / 256);
        }
        return re * re + im * im;
      });
      assert.ok(Math.abs(lobeOffset(p[0], p[1], p[2]) - offset) < 2e-3, `offset ${offset}`);
    }
  });

  it('lock the same bins to the same levels whatever the chunks', () => {
    const n = 101;
    const mag = tone(n);
    const whole = new SteadyPeaks(NB).lock(mag, null, null, 256, 64, n);
    const peaks = new SteadyPeaks(NB);
    const parts = chunked(mag, n, [1, 19, 2, 30], (p) => p);
    for (const { a, b, part } of parts) {
      const { lock, mag: level } = peaks.lock(part, null, null, 256, 64, b - a);
      for (let k = 0; k < NB; k++) {
        for (let t = a; t < b; t++) {
          assert.ok(Object.is(lock[k * (b - a) + t - a], whole.lock[k * n + t]), `bin ${k} frame ${t}`);
          assert.ok(Object.is(level[k * (b - a) + t - a], whole.mag[k * n + t]), `bin ${k} frame ${t}`);
        }
      }
    }
  });
});
