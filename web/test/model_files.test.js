/**
 * Models as an app uses them: a directory's SHA256SUMS (FORMAT.md 3.8), damaged weights a ModelError naming
 * the file, as in codec-rt, not other audio (a directory without the file loads as before); and decodes
 * started together on the WebAssembly back end, which cannot overlap onnxruntime calls.
 */

import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CodecError, ModelError, decode, encode, loadModel } from '../src/node.js';
import { REPO } from './helpers.js';

const RD12K = path.join(REPO, 'runtime', 'codec_rt', 'models', 'rd12k');

describe('a model directory on disk', () => {
  it('refuses a decoder.onnx whose weights were damaged, and loads one without sums', async () => {
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'codec-rt-'));
    try {
      const dir = path.join(tmp, 'rd12k');
      await cp(RD12K, dir, { recursive: true });
      const good = await loadModel(dir);
      const data = new Uint8Array(await readFile(path.join(dir, 'decoder.onnx')));
      for (let i = 200000; i < 200400; i++) data[i] ^= 0x5a;
      await writeFile(path.join(dir, 'decoder.onnx'), data);
      const damaged = path.join(tmp, 'damaged');
      await cp(dir, damaged, { recursive: true });
      await assert.rejects(loadModel(damaged), (e) => e instanceof ModelError && /decoder\.onnx is damaged: its SHA-256 is/.test(e.message));
      const cut = path.join(tmp, 'cut');
      await cp(damaged, cut, { recursive: true });
      const sums = await readFile(path.join(cut, 'SHA256SUMS'), 'utf8');
      await writeFile(path.join(cut, 'SHA256SUMS'), `${sums.split('\n')[0]}\n`); // would check nothing of the decoder
      await assert.rejects(loadModel(cut), /SHA256SUMS does not list decoder\.onnx/);
      const bare = path.join(tmp, 'bare');
      await cp(damaged, bare, { recursive: true });
      await rm(path.join(bare, 'SHA256SUMS'));
      assert.equal((await loadModel(bare)).modelId, good.modelId); // exported before the sums: as before
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});

describe('decodes started together', () => {
  it('give on the WebAssembly back end what they give one after another', async () => {
    // 3 s, several decoder runs a blob (a short tone, one run, did not show it)
    const x = [new Float32Array(48000).map((_, i) => 0.3 * Math.sin(i / 5) * Math.sin(i / 3000) + 0.05 * Math.sin(i * 0.37))];
    const a = await encode(x, 16000, {});
    const b = await encode(x, 16000, { lowLatency: true });
    // first, so that the sessions are made while the other decodes run (what failed)
    const together = await Promise.all([decode(a, { backend: 'wasm' }), decode(a, { backend: 'wasm' }),
      decode(b, { backend: 'wasm' })]);
    const apart = [await decode(a, { backend: 'wasm' }), await decode(b, { backend: 'wasm' })];
    for (const [got, want] of [[together[0], apart[0]], [together[1], apart[0]], [together[2], apart[1]]]) {
      assert.deepEqual(got.channels, want.channels);
    }
  });
});

describe('the decode API', () => {
  it('refuses what is not a blob\'s bytes, and a back end it does not have, with a CodecError', async () => {
    const blob = await encode([new Float32Array(4000).map((_, i) => 0.3 * Math.sin(i / 5))], 16000, {});
    // a string or null failed inside with a TypeError; an Int8Array read as another model's blob
    for (const bad of ['abc', null, blob.buffer, new Int8Array(blob.buffer)]) {
      await assert.rejects(decode(/** @type {any} */ (bad)), (e) => e instanceof CodecError && /blob must be a Uint8Array/.test(e.message));
    }
    await assert.rejects(decode(blob, { backend: /** @type {any} */ ('cuda') }), /backend must be native or wasm, got "cuda"/);
    assert.equal((await decode(Buffer.from(blob))).channels[0].length, 4000);
  });
});

describe('the options', () => {
  it('of the wrong type are a CodecError, not taken as truthy or passed on unchecked', async () => {
    const x = [new Float32Array(4000).map((_, i) => 0.3 * Math.sin(i / 5))];
    await assert.rejects(encode(x, 16000, /** @type {any} */ ({ lowLatency: 'no' })), /lowLatency must be a boolean, got "no"/);
    await assert.rejects(encode(x, 16000, /** @type {any} */ ({ bitrate: '6' })), /bitrate must be a number/);
    await assert.rejects(encode(x, 16000, /** @type {any} */ (null)), /options must be an object, got null/);
    const blob = await encode(x, 16000, {});
    await assert.rejects(decode(blob, /** @type {any} */ ({ contrast: '1.2' })), (e) => e instanceof CodecError && /contrast must be a number/.test(e.message));
    assert.equal((await decode(blob, { contrast: 1.2 })).channels[0].length, 4000);
  });
});
