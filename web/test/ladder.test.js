/**
 * The ladder's selection (src/ladder.js), as codec-rt's ladder.py: `bitrate` climbs the range-coded points,
 * the low-latency and the fixed-width points are ladders of their own, and a retired model is found by id only.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { CodecError } from '../src/errors.js';
import { findPoint, parseLadder, selectPoint } from '../src/ladder.js';

const LADDER = parseLadder(JSON.stringify({
  default_kbps: 12,
  points: [
    { kbps: 32, dir: 'f32', model_id: 'f' },
    { kbps: 6, dir: 'a', model_id: 'a' },
    { kbps: 12, dir: 'b', model_id: 'b' },
    { kbps: 16, dir: 'c', model_id: 'c' },
    { kbps: 24, dir: 'b', model_id: 'b', mode: 'low_band_phase' },
    { kbps: 12, dir: 'll', model_id: 'l', low_latency: true },
  ].map((p) => (p.dir === 'f32' ? { ...p, fixed_width: true } : p)),
  retired: [{ model_id: 'old', dir: 'retired/old', was: 'a, 6 kbps' }],
}));

describe('the ladder', () => {
  it('picks the highest range-coded point at or below a bitrate, never the fixed-width one', () => {
    assert.equal(selectPoint(LADDER, undefined, false).modelId, 'b');
    assert.equal(selectPoint(LADDER, 13, false).modelId, 'b');
    assert.equal(selectPoint(LADDER, 20, false).modelId, 'c');
    assert.throws(() => selectPoint(LADDER, 3, false),
      (e) => e instanceof CodecError && /no model at or below 3/.test(e.message));
  });

  it('keeps the low-latency and fixed-width points on ladders of their own', () => {
    assert.equal(selectPoint(LADDER, undefined, true).modelId, 'l');
    assert.equal(selectPoint(LADDER, undefined, false, true).modelId, 'f');
    assert.equal(selectPoint(LADDER, 40, false, true).modelId, 'f');
    assert.throws(() => selectPoint(LADDER, undefined, true, true), /no low-latency fixed-width model/);
  });

  it('codes a point in its own mode: 24 kbps is the 12 kbps model with the low band in the blob', () => {
    assert.deepEqual([13, 24, 40].map((k) => [selectPoint(LADDER, k, false).modelId, selectPoint(LADDER, k, false).mode]),
      [['b', 'predicted'], ['b', 'low_band_phase'], ['b', 'low_band_phase']]);
    assert.throws(() => parseLadder(JSON.stringify({ default_kbps: 6, points: [{ kbps: 6, dir: 'a', model_id: 'a', mode: 'x' }] })),
      /unreadable: unknown mode x/);
  });

  it('reads a point\'s rate-aware rounding (default 0) and refuses a bad one', () => {
    const l = parseLadder(JSON.stringify({
      default_kbps: 12,
      points: [{ kbps: 12, dir: 'b', model_id: 'b' }, { kbps: 10, dir: 'b', model_id: 'b', rate_lambda: 0.3 }],
    }));
    assert.deepEqual([10, 11, 12].map((k) => selectPoint(l, k, false).rateLambda), [0.3, 0.3, 0]);
    for (const bad of [-1, 'x', null, true, '0.3', 1e308]) {
      assert.throws(() => parseLadder(JSON.stringify({ default_kbps: 6, points: [{ kbps: 6, dir: 'a', model_id: 'a', rate_lambda: bad }] })),
        /unreadable: bad rate_lambda/);
    }
  });

  it('reads a low_band_phase point\'s band (default the model\'s) and refuses a bad one', () => {
    const l = parseLadder(JSON.stringify({
      default_kbps: 12,
      points: [{ kbps: 12, dir: 'b', model_id: 'b' },
        { kbps: 18, dir: 'b', model_id: 'b', mode: 'low_band_phase', phase_bins: 16, phase_bits: 3 },
        { kbps: 24, dir: 'b', model_id: 'b', mode: 'low_band_phase' }],
    }));
    assert.deepEqual([12, 18, 24].map((k) => [selectPoint(l, k, false).phaseBins, selectPoint(l, k, false).phaseBits]),
      [[undefined, undefined], [16, 3], [undefined, undefined]]);
    /** @type {[string, unknown][]} */
    const bad = [['phase_bins', 0], ['phase_bins', 1.5], ['phase_bins', '16'], ['phase_bits', 17], ['phase_bits', true]];
    for (const [k, v] of bad) {
      const pt = { kbps: 6, dir: 'a', model_id: 'a', mode: 'low_band_phase', [k]: v };
      assert.throws(() => parseLadder(JSON.stringify({ default_kbps: 6, points: [pt] })), new RegExp(`unreadable: ${k}`));
    }
    const predicted = { kbps: 6, dir: 'a', model_id: 'a', phase_bins: 16 };  // a band means nothing there
    assert.throws(() => parseLadder(JSON.stringify({ default_kbps: 6, points: [predicted] })), /only at a point with a band/);
  });

  it('finds every shipped and retired model by its id', () => {
    for (const id of ['a', 'b', 'c', 'f', 'l', 'old']) assert.equal(findPoint(LADDER, id).modelId, id);
    // another id names each shipped model once ('b' is two points), as codec-rt's ladder.find does
    assert.throws(() => findPoint(LADDER, 'zz'), /model zz, which is not in this ladder \(a, b, l, c, f\)/);
  });
});
