/**
 * The encoder's features (FORMAT.md 7.3) with a model's phase_floor (3.4): a bin under the magnitude floor
 * reads as phase 0, so a steady tone gives every frame the same features. The same check as
 * tests/test_stft.py.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAG_FLOOR, stftFeatures } from '../src/dsp.js';
import { ModelError } from '../src/errors.js';
import { parseConfig } from '../src/model.js';

const N_FFT = 256;
const HOP = 64;
const NB = N_FFT / 2 + 1;

/** 3 kHz at 16 kHz, 12 whole cycles a hop: every frame inside it is the same frame. -> [2, F, T]. */
function steadyTone(/** @type {number} */ phaseFloor) {
  const n = 16000;
  const frames = Math.floor(n / HOP) + 1;
  const seg = new Float64Array(N_FFT + HOP * (frames - 1));
  for (let i = 0; i < n; i++) seg[i + N_FFT / 2] = Math.fround(0.5 * Math.sin((2 * Math.PI * 3000 * i) / 16000));
  return { feats: stftFeatures(seg, N_FFT, HOP, frames, phaseFloor), frames };
}

/** The largest change of any feature from one inner frame to the next. */
function wander(/** @type {Float32Array} */ feats, /** @type {number} */ frames) {
  let worst = 0;
  for (let r = 0; r < 2 * NB; r++) {
    for (let t = 11; t < frames - 10; t++) worst = Math.max(worst, Math.abs(feats[r * frames + t] - feats[r * frames + t - 1]));
  }
  return worst;
}

describe('phase_floor (FORMAT.md 3.4, 7.3)', () => {
  it('reads a floored bin as phase 0 and leaves every other feature as it was', () => {
    const plain = steadyTone(0);
    const zeroed = steadyTone(1);
    let floored = 0;
    for (let i = 0; i < NB * plain.frames; i++) {
      assert.equal(zeroed.feats[i], plain.feats[i]); // the log-magnitude
      const isFloored = Math.exp(plain.feats[i]) < Math.fround(MAG_FLOOR) * 1.000001;
      const p = NB * plain.frames + i;
      if (isFloored) floored++;
      if (!isFloored) assert.equal(zeroed.feats[p], plain.feats[p]);
    }
    assert.ok(floored > 0.5 * NB * plain.frames, `${floored} floored`);
    assert.ok(wander(plain.feats, plain.frames) > 1, 'rounding wanders');
    assert.ok(wander(zeroed.feats, zeroed.frames) < 1e-3, 'the encoder input is as steady as the tone');
  });

  it('is read from the config, 0 when absent, and refused out of range', () => {
    assert.equal(parseConfig('{}').phaseFloor, 0);
    assert.equal(parseConfig('{"phase_floor": 1}').phaseFloor, 1);
    assert.throws(() => parseConfig('{"phase_floor": 2}'), (e) => e instanceof ModelError && /phase_floor/.test(e.message));
  });
});
