/**
 * Conformance with the Python runtime (docs/FORMAT.md section 10), on reference data that
 * scripts/make_web_reference.py writes: every golden blob (formats 1.0 to 1.6), the retired models' blobs
 * and blobs of every shipped point (mono and mid/side stereo, whole and framed, 16, 44.1 and 48 kHz) decode
 * to exactly codec-rt's symbols, gains, scales and sample counts; the audio agrees within stated tolerances:
 * - refinement off: every sample within 1e-4 of the reference's peak at the model rate (onnxruntime-web's
 *   WebAssembly backend: within 1e-4 of the native backend from the graphs' phase, and within 0.1 dB with
 *   the phase-gradient start, which turns last-bit differences into a slow phase drift); at another rate
 *   (where the two runtimes' resamplers differ: libsamplerate here, soxr there) a log-spectral distance
 *   under 0.01 dB over the model's band (below 0.9 of its Nyquist frequency);
 * - refinement on (Griffin-Lim): log-spectral distance under 0.1 dB (over the model's band at another rate);
 * - causal RTISI, which decorrelates the waveform: each decode's distance to the original input within
 *   0.2 dB of the other's.
 */

import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { readBlob } from '../src/container.js';
import { latents } from '../src/decoder.js';
import { decode, loadModel, TruncatedError } from '../src/node.js';
import { rangeDecode } from '../src/rangecoder.js';
import { REPO, bytes, f32, i32, lsd, manifest, maxDiff, split } from './helpers.js';

const M = manifest();

/** @param {any} c @param {'native' | 'wasm'} [backend] */
function model(c, backend = 'native') {
  return loadModel(path.join(REPO, c.model), { backend });
}

/** The spectral comparison of case `c`: STFT size, hop and bins (the model's band at the blob's rate). @param {any} c */
function grid(c) {
  const ratio = c.sample_rate / c.model_rate;
  const nFft = 2 ** Math.round(Math.log2(c.n_fft * ratio));
  return { nFft, hop: nFft / 4, bins: ratio === 1 ? undefined : Math.floor((0.9 * nFft) / 2 / ratio) };
}

describe('symbols, gains and scales equal codec-rt\'s', () => {
  for (const c of M.cases) {
    it(c.name, async () => {
      const m = await model(c);
      const blob = readBlob(bytes(c.blob));
      assert.equal(blob.packets.length, c.packets);
      const sym = [];
      const gains = [];
      const scales = [];
      for (const p of blob.packets) {
        for (const s of p.sections) {
          sym.push(...(s.coded ? rangeDecode(s.coded, /** @type {any} */ (m.tables), p.steps) : /** @type {Uint16Array} */ (s.codes)));
          gains.push(s.gain);
          if (s.scales) scales.push(...s.scales);
        }
      }
      assert.deepEqual(Int32Array.from(sym), i32(`${c.name}.sym.i32`));
      assert.deepEqual(Float32Array.from(gains), f32(`${c.name}.gains.f32`));
      assert.deepEqual(Float32Array.from(scales), f32(`${c.name}.scales.f32`));
      const lat = latents(m, blob);
      assert.equal(lat.steps, blob.header.latentSteps);
    });
  }
});

describe('audio agrees with codec-rt\'s', () => {
  for (const c of M.cases) {
    it(c.name, async () => {
      const m = await model(c);
      const data = bytes(c.blob);
      const off = await decode(data, { model: m, phaseIters: 0 });
      assert.equal(off.sampleRate, c.sample_rate);
      assert.equal(off.channels.length, c.channels);
      const refOff = split(f32(`${c.name}.off.f32`), c.channels);
      const g = grid(c);
      for (let ch = 0; ch < c.channels; ch++) {
        assert.equal(off.channels[ch].length, c.samples);
        if (c.sample_rate === c.model_rate) {
          const d = maxDiff(refOff[ch], off.channels[ch]);
          assert.ok(d.diff <= 1e-4 * d.max, `channel ${ch}: max diff ${d.diff} of ${d.max}`);
        } else {
          const dist = lsd(refOff[ch], off.channels[ch], g.nFft, g.hop, g.bins);
          assert.ok(dist < 0.01, `channel ${ch}: LSD ${dist} dB`);
        }
      }
      if (c.name.startsWith('golden')) return; // their references pin the graphs, refinement off
      const on = await decode(data, { model: m });
      const refOn = split(f32(`${c.name}.on.f32`), c.channels);
      for (let ch = 0; ch < c.channels; ch++) {
        assert.equal(on.channels[ch].length, c.samples);
        if (!c.causal) {
          const dist = lsd(refOn[ch], on.channels[ch], g.nFft, g.hop, g.bins);
          assert.ok(dist < 0.1, `channel ${ch}: LSD ${dist} dB with refinement on`);
        } else if (c.input) { // (the retired blobs' inputs are not at hand: refinement off is their check)
          const input = M.inputs[c.input];
          const x = split(f32(input.file), input.channels)[ch];
          const ours = lsd(x, on.channels[ch], g.nFft, g.hop, g.bins);
          const theirs = lsd(x, refOn[ch], g.nFft, g.hop, g.bins);
          assert.ok(Math.abs(ours - theirs) < 0.2, `channel ${ch}: ${ours} dB from the input, codec-rt ${theirs} dB`);
        }
      }
    });
  }
});

describe('onnxruntime-web (WebAssembly) in Node', () => {
  for (const c of M.cases.filter((/** @type {any} */ x) => /^(golden_v1_3_context_predicted|rd12k_speech16_framed_predicted|ll12k_speech16_whole_predicted|fixed32k_speech16_framed_predicted)$/.test(x.name))) {
    it(`${c.name}: the graphs' phase, refinement off, within 1e-4 of the native backend`, async () => {
      const m = await model(c, 'wasm');
      const native = await model(c);
      const off = await decode(bytes(c.blob), { model: m, phaseIters: 0, phaseStart: 0 });
      const ref = await decode(bytes(c.blob), { model: native, phaseIters: 0, phaseStart: 0 });
      for (let ch = 0; ch < c.channels; ch++) {
        const d = maxDiff(ref.channels[ch], off.channels[ch]);
        assert.ok(d.diff <= 1e-4 * d.max, `max diff ${d.diff} of ${d.max}`);
      }
    });
    // The phase-gradient start integrates each peak's frequency over the frames, so the backends' last-bit
    // differences in the magnitude grow into a slow phase drift: the spectrum is the promise there.
    it(`${c.name}: its own decoding, refinement off, within 0.1 dB (LSD) of codec-rt's`, async () => {
      const m = await model(c, 'wasm');
      const off = await decode(bytes(c.blob), { model: m, phaseIters: 0 });
      const ref = split(f32(`${c.name}.off.f32`), c.channels);
      const g = grid(c);
      for (let ch = 0; ch < c.channels; ch++) {
        const dist = lsd(ref[ch], off.channels[ch], g.nFft, g.hop, g.bins);
        assert.ok(dist < 0.1, `channel ${ch}: LSD ${dist} dB`);
      }
    });
  }
});

describe('a framed blob cut inside a packet', () => {
  it('decodes its whole packets, as codec-rt does', async () => {
    const c = M.cut;
    const m = await model(c);
    const data = bytes(c.blob);
    /** @type {string[]} */
    const warnings = [];
    const out = await decode(data, { model: m, phaseIters: 0, onWarning: (w) => warnings.push(w) });
    assert.equal(out.truncated, true);
    assert.equal(out.channels[0].length, c.samples);
    assert.match(warnings[0], /cut after packet 1 \(2 whole packets/);
    const d = maxDiff(f32(c.blob.replace('.cra', '.off.f32')), out.channels[0]);
    assert.ok(d.diff <= 1e-4 * d.max, `max diff ${d.diff}`);
  });

  it('is refused when strict, and when no packet is whole', async () => {
    const c = M.cut;
    const m = await model(c);
    const data = bytes(c.blob);
    await assert.rejects(decode(data, { model: m, strict: true }), TruncatedError);
    const first = readBlob(data, { allowCut: true });
    assert.equal(first.packets.length, 2);
    await assert.rejects(decode(data.subarray(0, 100), { model: m }), TruncatedError);
  });
});

describe('models from a URL', () => {
  it('a ladder served over http decodes as the folder does', async () => {
    const { serve } = await import('./browser/server.mjs');
    const server = await serve(REPO);
    try {
      const c = M.cases.find((/** @type {any} */ x) => x.name === 'rd3k_speech16_framed_predicted');
      const out = await decode(bytes(c.blob), { models: `${server.url}/runtime/codec_rt/models/`, phaseIters: 0 });
      const d = maxDiff(split(f32(`${c.name}.off.f32`), 1)[0], out.channels[0]);
      assert.ok(d.diff <= 1e-4 * d.max);
      await assert.rejects(loadModel(`${server.url}/runtime/codec_rt/models/nothing`), /has no readable encoder.onnx: 404/);
    } finally {
      await server.close();
    }
  });
});
