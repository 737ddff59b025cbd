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
import { crc32 } from '../src/crc32.js';
import { latents } from '../src/decoder.js';
import { ChecksumError, CodecError, FormatError, TruncatedError, decode, loadModel } from '../src/node.js';
import { packHeader } from '../src/writer.js';
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

  it('section 9\'s golden 1.5 header reads as the spec says: 72 bytes, pre_skip 2048', () => {
    const data = bytes('golden_v1_5_context_predicted.cra');
    assert.deepEqual(Array.from(data.subarray(64, 72)), [0x00, 0x08, 0x00, 0x00, 0xa4, 0x8e, 0x57, 0x2f]);
    const { header: h } = readBlob(data);
    assert.deepEqual(
      [h.minor, h.headerSize, h.preSkip, h.layout, h.numSamples, h.nFrames, h.latentSteps],
      [5, 72, 2048, 1, 16000, 142, 36],
    );
    assert.equal(readHeader(bytes('golden_v1_4_context_stereo_predicted.cra')).header.preSkip, 0);
  });

  it('section 9\'s golden 1.6 header reads as the spec says: 80 bytes, pre_skip and post_skip 2048', () => {
    const data = bytes('golden_v1_6_context_predicted.cra');
    assert.deepEqual(Array.from(data.subarray(72, 80)), [0x00, 0x08, 0x00, 0x00, 0xa4, 0x8e, 0x57, 0x2f]);
    const { header: h } = readBlob(data);
    assert.deepEqual(
      [h.minor, h.headerSize, h.preSkip, h.postSkip, h.layout, h.numSamples, h.nFrames, h.latentSteps],
      [6, 80, 2048, 2048, 1, 16000, 158, 40],
    );
    assert.equal(readHeader(bytes('golden_v1_5_context_predicted.cra')).header.postSkip, 0);
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

/**
 * A framed header of format 1.`minor` (72 bytes in 1.5, 80 in 1.6, 88 from 1.7 on) with `preSkip`,
 * `postSkip` and `gainSmoothing`, as the writer makes it.
 * @param {number} minor @param {number} preSkip @param {number} [postSkip] @param {number} [gainSmoothing]
 */
function header(minor, preSkip, postSkip = 0, gainSmoothing = 0) {
  return packHeader({
    minor, headerSize: 0, mode: 0, bits: 0, phaseBits: 0, coder: 2, sampleRate: 16000, channels: 1,
    latentChannels: 2, latentBins: 33, nBins: 257, numSamples: 0, nFrames: 0, latentSteps: 0,
    modelId: 'eace621bf5d21b4e', layout: 1, stereo: 0, timeStride: 4, packetSteps: 8, preSkip, postSkip,
    gainSmoothing, phaseBins: 0, phaseStride: 0, trackFrames: 0,
  }, 0);
}

/** Both header CRC-32s of `b` made right again, in place (so a field check, not a CRC, sees an edit). @param {Uint8Array} b */
function reseal(b) {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  v.setUint32(60, crc32(b, 0, 60), true);
  if (b[5] >= 5 && b.length >= 72) v.setUint32(68, crc32(b, 64, 68), true);
  if (b[5] >= 6 && b.length >= 80) v.setUint32(76, crc32(b, 72, 76), true);
  if (b[5] >= 7 && b.length >= 88) v.setUint32(84, crc32(b, 80, 84), true);
  return b;
}

describe('format 1.5 header: pre_skip (4.1, 4.2)', () => {
  it('is written at 64 with its own CRC-32 at 68 and read back; 0 below 1.5', () => {
    const b = header(5, 2048);
    assert.equal(b.length, 72);
    assert.deepEqual([b[6], b[7]], [72, 0]);
    assert.deepEqual(Array.from(b.subarray(64, 68)), [0x00, 0x08, 0x00, 0x00]);
    assert.equal(new DataView(b.buffer).getUint32(68, true), crc32(b, 64, 68));
    assert.deepEqual([readHeader(b).header.preSkip, readHeader(b).header.headerSize], [2048, 72]);
    assert.equal(readHeader(header(5, 65536)).header.preSkip, 65536);
    assert.equal(readHeader(header(5, 0)).header.preSkip, 0);
    const old = header(4, 0);
    assert.equal(old.length, 64);
    assert.equal(readHeader(old).header.preSkip, 0);
    assert.throws(() => header(4, 2048), FormatError);
  });

  it('a bad header_crc_5 is a ChecksumError', () => {
    const b = header(5, 2048);
    b[68] ^= 1;
    assert.throws(() => readHeader(b), ChecksumError);
    const c = header(5, 2048);
    c[65] = 0x09; // pre_skip changed, its CRC not
    assert.throws(() => readHeader(c), ChecksumError);
  });

  it('pre_skip 65537 is a FormatError naming pre_skip', () => {
    const b = header(5, 0);
    new DataView(b.buffer).setUint32(64, 65537, true);
    assert.throws(() => readHeader(reseal(b)), (e) => e instanceof FormatError && /pre_skip/.test(e.message));
  });

  it('a 1.5 header cut short of 72 bytes is a TruncatedError, before its CRC is looked at', () => {
    const b = header(5, 2048);
    for (const n of [64, 68, 70, 71]) assert.throws(() => readHeader(b.subarray(0, n)), TruncatedError, `cut at ${n}`);
    b[68] ^= 1;
    assert.throws(() => readHeader(b.subarray(0, 70)), TruncatedError);
  });

  it('header_size under 72 with minor 5 is a FormatError', () => {
    for (const size of [64, 71]) {
      const b = header(5, 2048);
      b[6] = size;
      assert.throws(() => readHeader(reseal(b)), FormatError, `header_size ${size}`);
    }
  });

  it('bytes from 72 to header_size are reserved: skipped, but needed', () => {
    const b = new Uint8Array(80);
    b.set(header(5, 2048));
    b[6] = 80;
    b.fill(0xee, 72);
    reseal(b);
    assert.equal(readHeader(b).header.preSkip, 2048);
    assert.throws(() => readHeader(b.subarray(0, 76)), TruncatedError);
  });
});

describe('format 1.6 header: post_skip (4.1, 4.2)', () => {
  it('is written at 72 with its own CRC-32 at 76 and read back; 0 below 1.6', () => {
    const b = header(6, 2048, 4096);
    assert.equal(b.length, 80);
    assert.deepEqual([b[6], b[7]], [80, 0]);
    assert.deepEqual(Array.from(b.subarray(72, 76)), [0x00, 0x10, 0x00, 0x00]);
    assert.equal(new DataView(b.buffer).getUint32(76, true), crc32(b, 72, 76));
    const { header: h } = readHeader(b);
    assert.deepEqual([h.preSkip, h.postSkip, h.headerSize], [2048, 4096, 80]);
    assert.equal(readHeader(header(5, 2048)).header.postSkip, 0);
    assert.throws(() => header(5, 2048, 2048), FormatError);
  });

  it('a bad header_crc_6 is a ChecksumError naming post_skip', () => {
    const b = header(6, 2048, 2048);
    b[73] ^= 1;
    assert.throws(() => readHeader(b), (e) => e instanceof ChecksumError && /post_skip/.test(e.message));
  });

  it('post_skip 65537 is a FormatError naming post_skip', () => {
    const b = header(6, 2048, 0);
    new DataView(b.buffer).setUint32(72, 65537, true);
    assert.throws(() => readHeader(reseal(b)), (e) => e instanceof FormatError && /post_skip/.test(e.message));
  });

  it('a 1.6 header cut short of 80 bytes is a TruncatedError; header_size under 80 a FormatError', () => {
    const b = header(6, 2048, 2048);
    for (const n of [72, 76, 79]) assert.throws(() => readHeader(b.subarray(0, n)), TruncatedError, `cut at ${n}`);
    const c = header(6, 2048, 2048);
    c[6] = 72;
    assert.throws(() => readHeader(reseal(c)), FormatError);
  });
});

describe('format 1.7 header: gain_smoothing (4.1, 4.2)', () => {
  it('is written at 80 with its own CRC-32 at 84 and read back; 0 below 1.7', () => {
    const b = header(7, 2048, 2048, 2);
    assert.deepEqual([b.length, b[6], b[80], b[81]], [88, 88, 2, 0]);
    assert.equal(new DataView(b.buffer).getUint32(84, true), crc32(b, 80, 84));
    assert.deepEqual([readHeader(b).header.gainSmoothing, readHeader(header(6, 2048, 2048)).header.gainSmoothing], [2, 0]);
    assert.throws(() => header(6, 2048, 2048, 2), FormatError);
  });

  it('a bad header_crc_7 is a ChecksumError naming gain_smoothing; 3 a FormatError naming it', () => {
    const b = header(7, 2048, 2048, 2);
    b[80] ^= 3;
    assert.throws(() => readHeader(b), (e) => e instanceof ChecksumError && /gain_smoothing/.test(e.message));
    assert.throws(() => readHeader(reseal(header(7, 2048, 2048, 3))), (e) => e instanceof FormatError && /gain_smoothing 3/.test(e.message));
  });

  it('a causal model refuses a blob whose gains it would have to smooth', async () => {
    const m = await model('runtime/codec_rt/models/ll12k');
    const h = readHeader(header(7, 0, 0, 2)).header;
    assert.throws(() => m.checkCompatible({ ...h, modelId: m.modelId, latentChannels: m.config.channels,
      latentBins: m.config.latentBins, nBins: m.config.nBins, timeStride: m.config.timeStride }),
    (e) => e instanceof FormatError && /gain_smoothing/.test(e.message));
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
