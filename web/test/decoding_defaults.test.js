/**
 * A decoder graph's own decoding defaults (FORMAT.md 3.6): `codec_rt.phase_iters` sets the phase iterations a
 * blob is decoded with when the caller names none, `codec_rt.energy_match` whether Griffin-Lim's frames get
 * their energy back, `codec_rt.phase_start` whether the predicted phase starts from the phase-gradient start
 * (6.5; block by block as the whole file, 6.9), and a bad value refuses the model, as in codec-rt.
 */

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { phaseDither, readBlob } from '../src/container.js';
import { MAX_LOGMAG, latents } from '../src/decoder.js';
import { postfilter, refineFrames } from '../src/dsp.js';
import { Model, codedLength } from '../src/model.js';
import { CodecError, ModelError, decode, encode } from '../src/node.js';
import { crc32 } from '../src/crc32.js';
import { gradientPhase } from '../src/phase_gradient.js';
import { REPO, bytes, maxDiff } from './helpers.js';

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

/**
 * A whole-file decode of a whole-layout mono blob with the phase-gradient start and no iteration (6.2, 6.4,
 * 6.5, 6.6), the decoder graph run once over the whole latent. @param {Model} model @param {Uint8Array} data
 */
async function wholeGradientDecode(model, data) {
  const c = model.config;
  const h = readBlob(data).header;
  const lat = latents(model, readBlob(data));
  const y = await model.decode(lat.z, 1, lat.steps);
  const n = h.nFrames;
  const tOut = lat.steps * c.timeStride;
  const logmag = new Float32Array(c.nBins * n);
  for (let k = 0; k < c.nBins; k++) for (let t = 0; t < n; t++) logmag[k * n + t] = Math.min(y[k * tOut + t], MAX_LOGMAG);
  postfilter(logmag, c.nBins, n, model.contrast);
  const mag = logmag.map((v, i) => Math.fround(Math.fround(Math.exp(v)) / lat.gains[Math.floor((i % n) / c.timeStride)]));
  const phase = Float32Array.from(gradientPhase(logmag, c.nBins, c.nFft, c.hop));
  const len = codedLength(h, c.sampleRate);
  const y0 = c.nFft / 2 + h.preSkip; // the audio's first sample, after the lead-in (6.7; the blob's rate is the model's)
  return refineFrames(mag, phase, c.nFft, c.hop, 0, c.nFft / 2, c.nFft / 2 + len).slice(y0, y0 + h.numSamples);
}

describe('codec_rt.phase_start', () => {
  it('is read (absent: 0) and makes the predicted phase start from the phase-gradient start', async () => {
    const on = await load('1', 'codec_rt.phase_start');
    const off = await load('0', 'codec_rt.phase_start');
    assert.equal(on.phaseStart, 1);
    assert.equal(off.phaseStart, 0);
    assert.equal((await load('0')).phaseStart, 0); // no phase_start key
    const blob = bytes('golden_v1_3_range_predicted.cra');
    const a = (await decode(blob, { model: on, phaseIters: 0 })).channels;
    const b = (await decode(blob, { model: off, phaseIters: 0 })).channels;
    assert.notDeepEqual(a, b);
    // the decoder option overrides the model's
    assert.deepEqual((await decode(blob, { model: on, phaseIters: 0, phaseStart: 0 })).channels, b);
    assert.deepEqual((await decode(blob, { model: off, phaseIters: 0, phaseStart: 1 })).channels, a);
    await assert.rejects(decode(blob, { model: on, phaseStart: 2 }), CodecError);
    // stored phase is the blob's own
    const stored = bytes('golden_v1_3_range_store_phase.cra');
    assert.deepEqual((await decode(stored, { model: on })).channels, (await decode(stored, { model: off })).channels);
  });

  it('decoded block by block, each block going on from the one before, is the whole-file recursion', async () => {
    const model = await load('1', 'codec_rt.phase_start');
    const rate = model.config.sampleRate;
    const x = Float32Array.from({ length: 3 * rate }, (_, i) => 0.3 * Math.sin((2 * Math.PI * 440 * i) / rate)
      + 0.2 * Math.sin((2 * Math.PI * 1234.5 * i) / rate) * (0.5 + 0.5 * Math.sin((2 * Math.PI * 1.7 * i) / rate)));
    const data = await encode([x], rate, { model });
    const h = readBlob(data).header;
    assert.ok(h.nFrames > 2 * 128, `${h.nFrames} frames: 3 blocks or more`);
    assert.equal(h.preSkip, 16 * model.config.hop); // the whole layout's lead-in (7.5), decoded and dropped
    const blocks = (await decode(data, { model, phaseIters: 0, highpass: false })).channels[0];
    const whole = await wholeGradientDecode(model, data);
    assert.equal(blocks.length, whole.length);
    const d = maxDiff(whole, blocks);
    assert.ok(d.diff <= 1e-4 * d.max, `max diff ${d.diff} of ${d.max}`);
  });

  for (const bad of ['2', '01', ' 1', 'gradient', '']) {
    it(`refuses the model for ${JSON.stringify(bad)}`, async () => {
      await assert.rejects(load(bad, 'codec_rt.phase_start'),
        (e) => e instanceof ModelError && /phase_start/.test(e.message) && e.message.includes(JSON.stringify(bad)));
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

describe('mode 2 with a causal model (FORMAT.md 6.3, format 1.9)', () => {
  it('decodes the 1.9 golden and refuses it relabelled 1.8, as codec-rt does', async () => {
    const dir = path.join(REPO, 'tests', 'data', 'golden_model_causal');
    const read = async (/** @type {string} */ name) => new Uint8Array(await readFile(path.join(dir, name)));
    const model = await Model.load(/** @type {any} */ (ort), read, dir, { executionProviders: ['cpu'] });
    const blob = new Uint8Array(await readFile(path.join(REPO, 'tests', 'data', 'golden_v1_9_causal_low_band_phase.cra')));
    const { channels } = await decode(blob, { model });
    assert.equal(channels[0].length, 16000);
    const old = Uint8Array.from(blob);
    old[5] = 8;
    new DataView(old.buffer).setUint32(60, crc32(old, 0, 60), true);
    await assert.rejects(decode(old, { model }), /format 1.8 has no mode low_band_phase with a causal model/);
  });
});

describe('dithered phase codes (FORMAT.md 4.3, format 1.10)', () => {
  it('has the dither the spec works out', () => {
    assert.deepEqual([phaseDither(0, 0), phaseDither(0, 1), phaseDither(1, 0)], [0, 0.4083404541015625, 0.3474884033203125]);
  });

  it('reads the 1.8 golden relabelled 1.10 with each angle moved by (1/2 - u[k, t]) steps, t the stream\'s frame', async () => {
    const dir = path.join(REPO, 'tests', 'data', 'golden_model_context');
    const read = async (/** @type {string} */ name) => new Uint8Array(await readFile(path.join(dir, name)));
    const model = await Model.load(/** @type {any} */ (ort), read, dir, { executionProviders: ['cpu'] });
    const blob = new Uint8Array(await readFile(path.join(REPO, 'tests', 'data', 'golden_v1_8_context_low_band_phase.cra')));
    const relabelled = Uint8Array.from(blob);
    relabelled[5] = 10;
    new DataView(relabelled.buffer).setUint32(60, crc32(relabelled, 0, 60), true);
    const a = readBlob(blob);
    const before = /** @type {Float32Array} */ (latents(model, a).phase);
    const after = /** @type {Float32Array} */ (latents(model, readBlob(relabelled)).phase);
    const frames = a.packets.reduce((n, p) => n + p.frames, 0);
    const step = (2 * Math.PI) / 2 ** a.header.phaseBits;
    assert.ok(a.packets.length > 1);
    let worst = 0;
    for (let k = 0; k < a.header.phaseBins; k++) {
      for (let t = 0; t < frames; t++) {
        const i = k * frames + t;
        worst = Math.max(worst, Math.abs(after[i] - before[i] - (0.5 - phaseDither(k, t)) * step));
      }
    }
    assert.ok(worst < 1e-5, `moved off the dither by ${worst}`);
  });
});
