/**
 * A decoder graph's own decoding defaults (FORMAT.md 3.6): `codec_rt.phase_iters` sets the phase iterations a
 * blob is decoded with when the caller names none, `codec_rt.energy_match` whether Griffin-Lim's frames get
 * their energy back, and a bad value refuses the model, as in codec-rt.
 */

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { Model } from '../src/model.js';
import { ModelError, decode } from '../src/node.js';
import { REPO, bytes } from './helpers.js';

const DIR = path.join(REPO, 'tests', 'data', 'golden_model_range');

/** A protobuf varint. @param {number} n */
function varint(n) {
  const out = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/** `onnx` with one more `metadata_props` entry (ModelProto field 14) appended. @param {Uint8Array} onnx @param {string} key @param {string} value */
function withMetadata(onnx, key, value) {
  const k = new TextEncoder().encode(key);
  const v = new TextEncoder().encode(value);
  const entry = [0x0a, ...varint(k.length), ...k, 0x12, ...varint(v.length), ...v];
  return new Uint8Array([...onnx, 0x72, ...varint(entry.length), ...entry]);
}

/**
 * The golden range-coded model with `value` as its decoder's `key` (codec_rt.phase_iters by default).
 * @param {string} value @param {string} [key]
 */
async function load(value, key = 'codec_rt.phase_iters') {
  /** @param {string} name */
  const read = async (name) => {
    const b = new Uint8Array(await readFile(path.join(DIR, name)));
    return name === 'decoder.onnx' ? withMetadata(b, key, value) : b;
  };
  return Model.load(/** @type {any} */ (ort), read, DIR, { executionProviders: ['cpu'] });
}

describe('codec_rt.phase_iters', () => {
  it('is the default phase iterations of the blobs the model decodes', async () => {
    const model = await load('0');
    assert.equal(model.phaseIters, 0);
    const blob = bytes('golden_v1_3_range_predicted.cra');
    const byDefault = await decode(blob, { model });
    const none = await decode(blob, { model, phaseIters: 0 });
    const refined = await decode(blob, { model, phaseIters: 4 });
    assert.deepEqual(byDefault.channels, none.channels);
    assert.notDeepEqual(byDefault.channels, refined.channels);
  });

  for (const bad of ['-1', 'ten', '10001', ' 3', '']) {
    it(`refuses the model for ${JSON.stringify(bad)}`, async () => {
      await assert.rejects(load(bad), (e) => e instanceof ModelError && /phase_iters/.test(e.message));
    });
  }
});

describe('codec_rt.energy_match', () => {
  it('rescales the refined frames to their energy: the same blob decodes louder where Griffin-Lim lost some', async () => {
    const on = await load('1', 'codec_rt.energy_match');
    const off = await load('0', 'codec_rt.energy_match');
    assert.equal(on.energyMatch, true);
    assert.equal(off.energyMatch, false);
    const blob = bytes('golden_v1_3_range_predicted.cra');
    const energy = (/** @type {Float32Array} */ x) => x.reduce((a, v) => a + v * v, 0);
    const a = (await decode(blob, { model: on })).channels[0];
    const b = (await decode(blob, { model: off })).channels[0];
    assert.equal(a.length, b.length);
    assert.ok(energy(a) > energy(b), `${energy(a)} <= ${energy(b)}`);
    // with no refinement there is nothing to match
    assert.deepEqual((await decode(blob, { model: on, phaseIters: 0 })).channels,
      (await decode(blob, { model: off, phaseIters: 0 })).channels);
  });

  for (const bad of ['2', 'yes', '']) {
    it(`refuses the model for ${JSON.stringify(bad)}`, async () => {
      await assert.rejects(load(bad, 'codec_rt.energy_match'),
        (e) => e instanceof ModelError && /energy_match/.test(e.message));
    });
  }
});

describe('phase_context (FORMAT.md 3.4, 6.9)', () => {
  it('widens the receptive field of the decoder by its frames, as codec-rt does', async () => {
    const { parseConfig } = await import('../src/model.js');
    const { decoderSteps } = await import('../src/decoder.js');
    const plain = parseConfig('{"channels": 6}');
    const net = parseConfig('{"channels": 6, "phase_context": 14}');
    assert.equal(plain.phaseContext, 0);
    // codec-rt: ModelConfig(channels=6).decoder_steps(160, 200) == (36, 54); with phase_context 14, (32, 58)
    assert.deepEqual(decoderSteps(plain, 160, 200), [36, 54]);
    assert.deepEqual(decoderSteps(net, 160, 200), [32, 58]);
  });

  it('refuses a phase context where the network could not keep time', async () => {
    const { parseConfig } = await import('../src/model.js');
    assert.throws(() => parseConfig('{"phase_context": 3, "causal": 1, "time_downsamples": 0}'), ModelError);
    assert.throws(() => parseConfig('{"phase_context": 3, "time_downsamples": 1}'), ModelError);
    assert.throws(() => parseConfig('{"phase_context": 65}'), ModelError);
  });
});
