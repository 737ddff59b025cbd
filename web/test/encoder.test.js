/**
 * The JavaScript encoder against codec-rt's: the same inputs coded with every shipped point, whole and
 * framed, mono and stereo, 16, 44.1 and 48 kHz, predicted and stored phase.
 * - At the model's rate: the same header, gains and symbols or codes as codec-rt's blob (at most 1 in 10^4
 *   symbols may round the other way: two onnxruntime builds differ in the last bits of the encoder graph's
 *   output), fixed-width scales within 1e-5; in practice the range-coded blobs are byte-identical.
 * - At other rates (resampled by libsamplerate here, soxr there): codec-rt decodes the JavaScript blob to
 *   the input's shape, and, with PESQ-WB installed (pesq), scores it within 0.05 of codec-rt's own blob.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { readBlob } from '../src/container.js';
import { latents } from '../src/decoder.js';
import { encode, loadModel } from '../src/node.js';
import { REF, REPO, WEB, bytes, f32, manifest, split } from './helpers.js';

const M = manifest();
const OUT = path.join(WEB, 'test', 'out');
mkdirSync(OUT, { recursive: true });
/** @type {Array<{blob: string, reference: string, input: string, input_info: any, speech: boolean}>} */
const toScore = [];

describe('JavaScript blobs against codec-rt\'s', () => {
  for (const c of M.cases.filter((/** @type {any} */ x) => x.input)) {
    it(c.name, async () => {
      const model = await loadModel(path.join(REPO, c.model));
      const input = M.inputs[c.input];
      const x = split(f32(input.file), input.channels);
      const blob = await encode(x, input.sample_rate, { model, framed: c.framed, mode: c.mode });
      const ours = readBlob(blob);
      const theirs = readBlob(bytes(c.blob));
      assert.deepEqual(ours.header, theirs.header);
      assert.equal(ours.packets.length, theirs.packets.length);
      if (input.sample_rate === c.model_rate) {
        const a = latents(model, ours);
        const b = latents(model, theirs);
        assert.deepEqual(a.gains, b.gains);
        let flips = 0;
        for (let i = 0; i < a.z.length; i++) {
          if (c.coder) flips += a.z[i] !== b.z[i] ? 1 : 0;
          else flips += Math.abs(a.z[i] - b.z[i]) > 1e-5 * Math.max(1, Math.abs(b.z[i])) ? 1 : 0;
        }
        assert.ok(flips <= a.z.length / 1e4, `${flips} of ${a.z.length} latent values differ`);
        if (a.phase && b.phase) assert.deepEqual(a.phase, b.phase);
      }
      const file = path.join(OUT, `${c.name}.cra`);
      writeFileSync(file, blob);
      toScore.push({ blob: file, reference: path.join(REF, c.blob), input: input.file, input_info: input, speech: c.input.startsWith('speech') });
    });
  }

  // Last (a suite's tests run in order): codec-rt decodes every JavaScript blob written above, as well as its
  // own (the Python side: make_web_reference.py score).
  it('codec-rt decodes the JavaScript blobs to the input\'s shape, and as well as its own', () => {
        const list = path.join(REF, 'js_blobs.json');
        writeFileSync(list, JSON.stringify(toScore));
        const env = { ...process.env, PYTHONPATH: [M.pythonpath, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter) };
        const r = spawnSync(M.python, [path.join(REPO, 'scripts', 'make_web_reference.py'), 'score', list], { env, encoding: 'utf8', maxBuffer: 1 << 24 });
        assert.equal(r.status, 0, r.stderr);
        const results = JSON.parse(r.stdout);
        assert.equal(results.length, toScore.length);
        results.forEach((/** @type {any} */ s, /** @type {number} */ i) => {
          const info = toScore[i].input_info;
          assert.deepEqual(s.blob_shape, [info.channels, info.samples, info.sample_rate], s.blob);
          assert.deepEqual(s.reference_shape, s.blob_shape);
          if (toScore[i].speech && s.blob_pesq !== undefined) {
            assert.ok(Math.abs(s.blob_pesq - s.reference_pesq) < 0.05, `${s.blob}: PESQ-WB ${s.blob_pesq}, codec-rt's blob ${s.reference_pesq}`);
          }
        });
        writeFileSync(path.join(OUT, 'scores.json'), JSON.stringify(results, null, 1));
  });
});
