/** The command line: decode and encode in the Python CLI's shape, errors as one line on stderr and exit 2. */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { readBlob } from '../src/container.js';
import { crc32 } from '../src/crc32.js';
import { readWav, writeWav } from '../src/wav.js';
import { REF, REPO, WEB, f32, manifest, split } from './helpers.js';

const M = manifest();
const CLI = path.join(WEB, 'bin', 'codec-rt-web.mjs');
const dir = mkdtempSync(path.join(tmpdir(), 'codec-rt-web-'));

/** @param {string[]} args */
function run(...args) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

describe('codec-rt-web', () => {
  it('decodes a Python blob to a WAV of its exact shape', () => {
    const c = M.cases.find((/** @type {any} */ x) => x.name === 'rd6k_speech48st_framed_predicted');
    const out = path.join(dir, 'a.wav');
    const r = run('decode', path.join(REF, c.blob), '-o', out, '--phase-iters', '4');
    assert.equal(r.status, 0, r.stderr);
    const wav = readWav(new Uint8Array(readFileSync(out)), out);
    assert.equal(wav.sampleRate, c.sample_rate);
    assert.deepEqual(wav.channels.map((x) => x.length), [c.samples, c.samples]);
  });

  it('encodes a WAV to a framed blob, --bitrate and --low-latency picking the point, --bits the fixed-width one', () => {
    const input = M.inputs.speech16;
    const wavFile = path.join(dir, 'in.wav');
    writeFileSync(wavFile, writeWav(split(f32(input.file), 1), input.sample_rate));
    const ids = [], modes = [];
    for (const opt of [['--bitrate', '6'], ['--low-latency'], ['--bitrate', '40', '--layout', 'whole']]) {
      const out = path.join(dir, `${opt.join('')}.cra`);
      const r = run('encode', wavFile, '-o', out, ...opt);
      assert.equal(r.status, 0, r.stderr);
      const { header: h } = readBlob(new Uint8Array(readFileSync(out)));
      assert.equal(h.numSamples, input.samples);
      assert.equal(h.layout, opt.includes('whole') ? 0 : 1);
      ids.push(h.modelId);
      modes.push(h.mode);
      const back = path.join(dir, `${opt.join('')}.wav`);
      assert.equal(run('decode', out, '-o', back).status, 0);
      assert.equal(readWav(new Uint8Array(readFileSync(back)), back).channels[0].length, input.samples);
    }
    // the shipped ladder's points: 6 kbps, low latency, and the highest range-coded one (40 is above them all;
    // the fixed-width model, picked by --bits, is not on that ladder), each in its mode (24 kbps: low_band_phase)
    const ladder = JSON.parse(readFileSync(path.join(REPO, 'runtime', 'codec_rt', 'models', 'ladder.json'), 'utf8'));
    const coded = ladder.points.filter((/** @type {any} */ p) => !p.low_latency && !p.fixed_width);
    const top = coded.reduce((/** @type {any} */ a, /** @type {any} */ b) => (b.kbps > a.kbps ? b : a));
    const point = (/** @type {number} */ kbps, low = false) =>
      ladder.points.find((/** @type {any} */ p) => p.kbps === kbps && !!p.low_latency === low).model_id;
    assert.deepEqual(ids, [point(6), point(12, true), top.model_id]);
    const code = /** @type {Record<string, number>} */ ({ predicted: 0, store_phase: 1, low_band_phase: 2, tonal_band_phase: 3 });
    const mode = (/** @type {number} */ kbps, low = false) =>
      code[ladder.points.find((/** @type {any} */ p) => p.kbps === kbps && !!p.low_latency === low).mode ?? 'predicted'];
    assert.deepEqual(modes, [mode(6), mode(12, true), code[top.mode ?? 'predicted']]);
    const fixed = ladder.points.find((/** @type {any} */ p) => p.fixed_width);
    const out = path.join(dir, 'bits.cra');
    const r = run('encode', wavFile, '-o', out, '--bits', '4');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readBlob(new Uint8Array(readFileSync(out))).header.modelId, fixed.model_id);
  });

  it('reads stdin and writes stdout for -, the same bytes as through files', () => {
    const input = M.inputs.speech16;
    const wavFile = path.join(dir, 'stdio.wav');
    const wav = writeWav(split(f32(input.file), 1), input.sample_rate);
    writeFileSync(wavFile, wav);
    const blobFile = path.join(dir, 'stdio.cra');
    assert.equal(run('encode', wavFile, '-o', blobFile, '--bitrate', '6').status, 0);
    const piped = spawnSync(process.execPath, [CLI, 'encode', '-', '-o', '-', '--bitrate', '6'], { input: wav });
    assert.equal(piped.status, 0, String(piped.stderr));
    assert.deepEqual(new Uint8Array(piped.stdout), new Uint8Array(readFileSync(blobFile)));
    const outFile = path.join(dir, 'stdio_out.wav');
    assert.equal(run('decode', blobFile, '-o', outFile).status, 0);
    const back = spawnSync(process.execPath, [CLI, 'decode', '-', '-o', '-'], { input: readFileSync(blobFile) });
    assert.equal(back.status, 0, String(back.stderr));
    assert.deepEqual(new Uint8Array(back.stdout), new Uint8Array(readFileSync(outFile)));
    const info = spawnSync(process.execPath, [CLI, 'info', '-'], { input: readFileSync(blobFile), encoding: 'utf8' });
    assert.equal(JSON.parse(info.stdout).numSamples, input.samples);
    // nothing on stdin: one line naming it, exit 2
    const empty = spawnSync(process.execPath, [CLI, 'encode', '-', '-o', '-'], { input: '', encoding: 'utf8' });
    assert.equal(empty.status, 2, empty.stderr);
    assert.match(empty.stderr, /<stdin>/);
    assert.equal(empty.stderr.trim().split('\n').length, 1, empty.stderr);
    assert.equal(empty.stdout, '');
  });

  it('refuses mistakes with one line on stderr and exit code 2', () => {
    const bad = path.join(dir, 'bad.cra');
    writeFileSync(bad, 'CRTB\x02\x00\x38\x00');
    const exists = path.join(dir, 'exists.wav');
    writeFileSync(exists, '');
    const copy = path.join(dir, 'copy.cra');
    writeFileSync(copy, readFileSync(path.join(REF, 'cut.cra')));
    const fifo = path.join(dir, 'pipe.wav');
    spawnSync('mkfifo', [fifo]);
    const cases = [
      [['decode', path.join(dir, 'missing.cra'), '-o', path.join(dir, 'x.wav')], /does not exist/],
      [['decode', bad, '-o', path.join(dir, 'x.wav')], /format 2\.0/],
      [['decode', path.join(REF, 'cut.cra'), '-o', exists], /exists/],
      [['decode', path.join(REF, 'cut.cra'), '-o', path.join(dir, 'x.flac')], /writes WAV only/],
      [['decode', path.join(REF, 'cut.cra'), '-o', path.join(dir, 'x.raw')], /writes WAV only/],
      [['encode', bad, '-o', path.join(dir, 'y.cra')], /not a WAV file/],
      [['encode', bad, '-o', path.join(dir, 'y.cra'), '--bitrate', '1'], /not a WAV file|no model at or below/],
      // a ladder that is not there, by folder or URL (a port nothing listens on): a line, not a stack trace
      [['decode', path.join(REF, 'cut.cra'), '-o', path.join(dir, 'x.wav'), '--models', path.join(dir, 'nowhere')],
        /no ladder at .*nowhere \(ladder.json: no such file\)/],
      [['decode', path.join(REF, 'cut.cra'), '-o', path.join(dir, 'x.wav'), '--models', 'http://127.0.0.1:9/'],
        /no ladder at http:\/\/127.0.0.1:9\/? \(ladder.json: /],
      // an option the command does not take, a fraction where a count is asked for: usage errors, one line
      [['decode', path.join(REF, 'cut.cra'), '-o', path.join(dir, 'x.wav'), '--bitrate', '6'], /decode takes no --bitrate/],
      [['decode', path.join(REF, 'cut.cra'), '-o', path.join(dir, 'x.wav'), '--phase-iters', '1.5'], /whole number, got 1.5/],
      // the input under another spelling, even with --force; a folder as the output
      [['decode', copy, '-o', path.join(dir, '.', 'copy.cra'), '--force'], /is the input file/],
      [['decode', path.join(REF, 'cut.cra'), '-o', dir, '--force'], /is a directory/],
      // a pipe even with --force (the rename replaced it: as root, /dev/null), a folder's path, a name too long
      [['decode', path.join(REF, 'cut.cra'), '-o', fifo, '--force'], /is not a regular file \(a device, pipe or socket\)/],
      [['decode', path.join(REF, 'cut.cra'), '-o', `${path.join(dir, 'new')}/`], /names a folder/],
      [['decode', path.join(REF, 'cut.cra'), '-o', path.join(dir, `${'b'.repeat(300)}.wav`)], /file name too long/],
      // a negative value reaches the range check, in one line (parseArgs took it for an option: three lines)
      [['decode', path.join(REF, 'cut.cra'), '-o', path.join(dir, 'x.wav'), '--phase-iters', '-1'], /phase_iters must be in 0\.\.10000, got -1/],
      [['decode', path.join(REF, 'cut.cra'), '-o', path.join(dir, 'x.wav'), '--bogus'], /Unknown option '--bogus'/],
    ];
    for (const [args, msg] of cases) {
      const r = run(.../** @type {string[]} */ (args));
      assert.equal(r.status, 2, `${args}: ${r.stderr}`);
      assert.match(r.stderr, /** @type {RegExp} */ (msg));
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
    assert.deepEqual(readFileSync(copy), readFileSync(path.join(REF, 'cut.cra')));  // the input untouched
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.tmp-')), []);  // and nothing left behind
    assert.ok(statSync(fifo).isFIFO());
  });

  it('writes an output whose name is the longest a folder holds (255 bytes)', () => {
    const out = path.join(dir, `${'a'.repeat(251)}.wav`);
    const r = run('decode', path.join(REF, 'cut.cra'), '-o', out);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readWav(new Uint8Array(readFileSync(out)), out).sampleRate > 0, true);
  });

  it('reads a WAV whose header announces 0 bytes, or more than it holds, as codec-rt does, with its warning', () => {
    const input = M.inputs.speech16;
    const full = new Uint8Array(writeWav(split(f32(input.file), 1), input.sample_rate));
    const at = Buffer.from(full).indexOf('data') + 4;
    const zero = full.slice();
    new DataView(zero.buffer).setUint32(at, 0, true);
    const cases = /** @type {Array<[Uint8Array, string, RegExp, number]>} */ ([
      [zero, 'zero.wav', /announces 0 bytes of audio, but \d+ bytes follow it/, input.samples],
      [full.slice(0, full.length - 1001), 'short.wav', /is truncated: its header announces/, input.samples - 501]]);
    for (const [bytes, name, msg, samples] of cases) {
      const wav = path.join(dir, name);
      writeFileSync(wav, bytes);
      const out = path.join(dir, `${name}.cra`);
      const r = run('encode', wav, '-o', out);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, msg);
      assert.equal(readBlob(new Uint8Array(readFileSync(out))).header.numSamples, samples);
    }
  });

  it('info checks a blob against its model, as decode does', () => {
    const input = M.inputs.speech16;
    const wavFile = path.join(dir, 'info.wav');
    writeFileSync(wavFile, writeWav(split(f32(input.file), 1), input.sample_rate));
    const good = path.join(dir, 'info.cra');
    assert.equal(run('encode', wavFile, '-o', good, '--bitrate', '6', '--mode', 'predicted').status, 0);
    const r = run('info', good);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).model, 'checked');
    // A 1.7 blob whose pre_skip or post_skip, resealed under its own CRC, disagrees with its frame count (as
    // the Python CLI's test): decode refuses it, and info must too, not print it as good.
    for (const at of [64, 72]) {
      const data = new Uint8Array(readFileSync(good));
      const view = new DataView(data.buffer);
      assert.equal(data[5], 7);
      view.setUint32(at, view.getUint32(at, true) + 2048, true);
      view.setUint32(at + 4, crc32(data, at, at + 4), true);
      const bad = path.join(dir, 'info_bad.cra');
      writeFileSync(bad, data);
      for (const args of [['info', bad], ['decode', bad, '-o', path.join(dir, 'info_bad.wav')]]) {
        const b = run(...args);
        assert.equal(b.status, 2, `${at} ${args}: ${b.stderr}`);
        assert.match(b.stderr, /does not match the model/);
        assert.equal(b.stderr.trim().split('\n').length, 1, b.stderr);
      }
    }
  });

  it('codes a stereo WAV as mid/side (format 1.4 on) when asked or where mid or side is near silent', () => {
    const input = M.inputs.speech48st;
    const wavFile = path.join(dir, 'st.wav');
    writeFileSync(wavFile, writeWav(split(f32(input.file), 2), input.sample_rate));
    const [left] = split(f32(input.file), 2);
    const anti = path.join(dir, 'anti.wav');  // R = -L: all side, so auto picks mid/side, the causal point too
    writeFileSync(anti, writeWav([left, left.map((v) => -v)], input.sample_rate));
    const cases = /** @type {Array<[string, string[], number]>} */ ([
      [wavFile, ['--stereo', 'mid-side'], 1], [wavFile, ['--stereo', 'independent'], 0], [anti, [], 1],
      [anti, ['--low-latency'], 1]]);
    for (const [i, [src, opt, stereo]] of cases.entries()) {
      const out = path.join(dir, `st${i}.cra`);
      const r = run('encode', src, '-o', out, ...(opt.includes('--low-latency') ? opt : ['--bitrate', '6', ...opt]));
      assert.equal(r.status, 0, r.stderr);
      const { header: h } = readBlob(new Uint8Array(readFileSync(out)));
      // framed: a lead-in, a lead-out and smoothed gains, 1.11 for the 6 kbps point's tonal band; the causal
      // point has none of them, and 1.12 for its sinusoidal tracks (beside its low band's phase, its mode)
      const low = opt.includes('--low-latency');
      assert.deepEqual([h.minor, h.channels, h.stereo, h.preSkip > 0, h.postSkip > 0], [low ? 12 : 11, 2, stereo, !low, !low]);
    }
  });

  it('decodes a cut blob up to its cut, with a warning', () => {
    const out = path.join(dir, 'cut.wav');
    const r = run('decode', path.join(REF, 'cut.cra'), '-o', out, '--phase-iters', '0');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /warning: blob is cut after packet 1/);
    assert.equal(readWav(new Uint8Array(readFileSync(out)), out).channels[0].length, M.cut.samples);
  });
});
