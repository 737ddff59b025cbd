/**
 * A model directory's SHA256SUMS (FORMAT.md 3.8): damaged weights are a ModelError naming the file, as in
 * codec-rt, not other audio; a directory without the file loads as before.
 */

import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ModelError, loadModel } from '../src/node.js';
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
      const bare = path.join(tmp, 'bare');
      await cp(damaged, bare, { recursive: true });
      await rm(path.join(bare, 'SHA256SUMS'));
      assert.equal((await loadModel(bare)).modelId, good.modelId); // exported before the sums: as before
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});
