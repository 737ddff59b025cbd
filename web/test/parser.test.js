/**
 * The blob parser against hostile input, as codec-rt's Python parser is tested: every truncation and every
 * byte flip of real blobs, and thousands of mutated blobs (scripts/fuzz_blob.py's mutations, half with their
 * CRCs re-sealed so the field checks see them) give only typed errors, the same error class as codec-rt
 * gives each mutant, in bounded time, with latent arrays bounded by the blob's size.
 */

import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { readBlob, readHeader } from '../src/container.js';
import { latents } from '../src/decoder.js';
import { CodecError, TruncatedError, decode, loadModel } from '../src/node.js';
import { REPO, bytes, manifest } from './helpers.js';

const M = manifest();
const SLOW_MS = 1000;

/**
 * What codec-rt's `outcome` does: read strictly, check against the model, decode the symbols -> the
 * error class name, or "ok"; and the latent values it made.
 * @param {Uint8Array} data @param {import('../src/model.js').Model} model
 */
function outcome(data, model) {
  try {
    const blob = readBlob(data);
    model.checkCompatible(blob.header);
    const lat = latents(model, blob);
    return { kind: 'ok', values: lat.z.length + (lat.phase?.length ?? 0) };
  } catch (e) {
    if (!(e instanceof CodecError)) throw e;
    return { kind: e.name, values: 0 };
  }
}

/** @type {Map<string, Promise<import('../src/model.js').Model>>} */
const models = new Map();
/** @param {string} dir */
function model(dir) {
  let m = models.get(dir);
  if (!m) models.set(dir, (m = loadModel(path.join(REPO, dir))));
  return m;
}

const seeds = M.cases.filter((/** @type {any} */ c) => c.name.startsWith('golden') || /_speech16_(framed|whole)_predicted$/.test(c.name));

/**
 * The byte positions to cut or flip a blob at: all of them, but in the stored-phase golden blobs (33 kB,
 * mostly phase codes) the first 2 kB and every 61st byte after (each try parses the blob: quadratic time).
 * @param {number} n
 */
function positions(n) {
  const out = [];
  for (let i = 0; i < n; i += n <= 16384 || i < 2048 ? 1 : 61) out.push(i);
  return out;
}

describe('real blobs', () => {
  it('section 9\'s golden header reads as the spec says', () => {
    const { header: h } = readHeader(bytes('golden_v1_3_context_predicted.cra'));
    assert.deepEqual(
      [h.minor, h.headerSize, h.mode, h.coder, h.sampleRate, h.channels, h.latentChannels, h.latentBins, h.nBins, h.modelId, h.layout, h.timeStride, h.packetSteps],
      [3, 64, 0, 2, 16000, 1, 2, 33, 257, 'eace621bf5d21b4e', 1, 4, 8],
    );
  });

  it('every truncation is a TruncatedError', () => {
    for (const c of seeds) {
      const data = bytes(c.blob);
      for (const n of positions(data.length)) {
        assert.throws(() => readBlob(data.subarray(0, n)), TruncatedError, `${c.name} cut at ${n}`);
      }
    }
  });

  it('every byte flip is refused with a typed error', async () => {
    for (const c of seeds) {
      const m = await model(c.model);
      const data = bytes(c.blob);
      for (const i of positions(data.length)) {
        const bad = data.slice();
        bad[i] ^= 0xff;
        const t = performance.now();
        const r = outcome(bad, m);
        assert.ok(performance.now() - t < SLOW_MS, `${c.name} byte ${i}: slow`);
        assert.notEqual(r.kind, 'ok', `${c.name} byte ${i}: a flipped byte passed every CRC`);
      }
    }
  });
});

describe('mutated blobs', () => {
  const { file, index } = M.mutants;
  const all = bytes(file);
  it(`${index.length} mutants: codec-rt's error class for each, no hang, latents bounded by the size`, async () => {
    /** @type {string[]} */
    const wrong = [];
    let slowest = 0;
    for (const [pos, len, dir, want] of index) {
      const data = all.subarray(pos, pos + len);
      const t = performance.now();
      const r = outcome(data, await model(dir));
      slowest = Math.max(slowest, performance.now() - t);
      if (r.kind !== want) wrong.push(`mutant at ${pos}: ${r.kind}, codec-rt ${want}`);
      assert.ok(r.values <= 1024 * 8 * Math.max(len, 64), `mutant at ${pos}: ${r.values} latent values from ${len} bytes`);
    }
    assert.deepEqual(wrong.slice(0, 10), []);
    assert.ok(slowest < SLOW_MS, `slowest mutant ${slowest} ms`);
  });

  it('the mutants codec-rt accepts decode to audio of their stated length, or a typed error', async () => {
    let decoded = 0;
    for (const [pos, len, dir, want] of index) {
      if (want !== 'ok' || decoded >= 60) continue;
      const data = all.subarray(pos, pos + len);
      const m = await model(dir);
      try {
        const out = await decode(data, { model: m, phaseIters: 2, strict: true });
        const h = readBlob(data).header;
        assert.equal(out.channels.length, h.channels);
        assert.ok(out.channels.every((x) => x.length === h.numSamples && x.every(Number.isFinite)));
        decoded++;
      } catch (e) {
        assert.ok(e instanceof CodecError, `mutant at ${pos}: ${e}`);
      }
    }
    assert.ok(decoded > 10, `only ${decoded} mutants decoded`);
  });
});
