/**
 * The browser test: Debian's Chromium, headless, driven by playwright-core, loads the demo page from a static
 * server on 127.0.0.1, encodes and decodes a speech clip through the page (onnxruntime-web, WebAssembly),
 * checks the numbers it shows against the blob it made (which Node decodes to the clip's shape), opens a
 * Python-written stereo .cra and plays it, records from Chromium's fake microphone and codes that, and saves a
 * screenshot to test/ref/web_demo.png (git-ignored, so a test run leaves the tree clean).
 *
 *     node test/browser/run.mjs        (after node build.mjs; CHROMIUM=path overrides /usr/bin/chromium;
 *                                       SCREENSHOT=../docs/web_demo.png refreshes the docs' picture)
 */

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { decode } from '../../src/node.js';
import { readWav, writeWav } from '../../src/wav.js';
import { REF, REPO, WEB, f32, manifest, split } from '../helpers.js';
import { serve } from './server.mjs';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream'];

test('the demo page encodes, decodes and plays in headless Chromium', { timeout: 300_000 }, async () => {
  const M = manifest();
  const out = path.join(WEB, 'test', 'out');
  mkdirSync(out, { recursive: true });
  // 2 s of the test speech at 16 kHz, as a 16-bit WAV
  const input = M.inputs.speech16;
  const clip = path.join(out, 'speech_2s.wav');
  writeFileSync(clip, writeWav([split(f32(input.file), 1)[0].subarray(0, 32000)], 16000));
  const server = await serve(REPO);
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1380, height: 760 } });
    /** @type {string[]} */
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(`${server.url}/web/demo/index.html`);
    await page.waitForFunction(() => /** @type {any} */ (window).codecDemo?.ready || /** @type {any} */ (window).codecDemo?.error, null, { timeout: 60_000 });

    const text = async (/** @type {string} */ id) => (await page.textContent(`#${id}`)) ?? '';
    const settled = () => page.waitForFunction(() => {
      const s = /** @type {any} */ (window).codecDemo;
      return !s.busy && (s.decoded || s.error);
    }, null, { timeout: 120_000 });

    // A WAV file: encode at 6 kbps, decode, both spectrograms.
    await page.setInputFiles('#file', clip);
    await page.waitForFunction(() => !(/** @type {HTMLButtonElement} */ (document.getElementById('encode'))).disabled);
    await page.selectOption('#bitrate', '6');
    await page.click('#encode');
    await settled();
    const state = await page.evaluate(() => /** @type {any} */ (window).codecDemo);
    assert.equal(state.error, null, state.error);
    const blob = Uint8Array.from(state.blob);
    assert.equal(Number(await text('size')), blob.length);
    assert.equal(await text('duration'), '2.00');
    const kbps = await text('kbps');
    assert.equal(kbps, ((8 * blob.length) / 2 / 1000).toFixed(2));
    const times = `encode ${await text('encode-ms')} ms, decode ${await text('decode-ms')} ms in the page`;
    const ladder = JSON.parse(readFileSync(path.join(REPO, 'runtime', 'codec_rt', 'models', 'ladder.json'), 'utf8'));
    const rd6k = ladder.points.find((/** @type {any} */ p) => p.kbps === 6 && !p.low_latency).model_id;
    assert.equal(await text('model'), rd6k); // the page encodes at 6 kbps
    // the page offers every range-coded point of the ladder, and the low-latency one
    const offered = await page.$$eval('#bitrate option', (os) => os.map((o) => /** @type {HTMLOptionElement} */ (o).value));
    const coded = ladder.points.filter((/** @type {any} */ p) => !p.low_latency && !p.fixed_width);
    assert.deepEqual(offered, [...coded.map((/** @type {any} */ p) => String(p.kbps)), 'll']);
    assert.deepEqual(state.decoded, { channels: 1, samples: 32000, sampleRate: 16000 });
    // The page's blob decodes in Node to the clip's shape, and is about the size Node writes for it.
    const again = await decode(blob, { phaseIters: 0 });
    assert.deepEqual([again.channels.length, again.channels[0].length, again.sampleRate], [1, 32000, 16000]);
    const wav = readWav(new Uint8Array(await import('node:fs').then((fs) => fs.readFileSync(clip))), clip);
    const { encode } = await import('../../src/node.js');
    const nodeBlob = await encode(wav.channels, wav.sampleRate, { bitrate: 6, framed: true });
    assert.ok(Math.abs(nodeBlob.length - blob.length) <= 0.01 * nodeBlob.length, `page ${blob.length} bytes, Node ${nodeBlob.length}`);
    const painted = await page.evaluate(() => ['spec-original', 'spec-decoded'].map((id) => {
      const c = /** @type {HTMLCanvasElement} */ (document.getElementById(id));
      const d = /** @type {CanvasRenderingContext2D} */ (c.getContext('2d')).getImageData(0, 0, c.width, c.height).data;
      let lit = 0;
      for (let i = 0; i < d.length; i += 4) lit += d[i] > 40 ? 1 : 0;
      return lit / (d.length / 4);
    }));
    assert.ok(painted.every((f) => f > 0.05), `spectrograms painted: ${painted}`);
    const playable = await page.evaluate(() => ['original', 'decoded'].map((id) => !!(/** @type {HTMLAudioElement} */ (document.getElementById(id))).src));
    assert.deepEqual(playable, [true, true]);
    const shot = path.resolve(process.env.SCREENSHOT ?? path.join(REF, 'web_demo.png'));
    mkdirSync(path.dirname(shot), { recursive: true });
    await page.screenshot({ path: shot, fullPage: true });

    // A .cra written by Python: stereo, 48 kHz.
    const c = M.cases.find((/** @type {any} */ x) => x.name === 'rd12k_speech48st_framed_predicted');
    await page.evaluate(() => { /** @type {any} */ (window).codecDemo.decoded = null; });
    await page.setInputFiles('#file', path.join(REF, c.blob));
    await settled();
    const s2 = await page.evaluate(() => /** @type {any} */ (window).codecDemo);
    assert.equal(s2.error, null, s2.error);
    assert.deepEqual(s2.decoded, { channels: 2, samples: c.samples, sampleRate: 48000 });
    assert.equal(await text('channels'), '2');

    // The microphone (Chromium's fake device: a beep): record about a second, then encode it.
    await page.evaluate(() => { /** @type {any} */ (window).codecDemo.decoded = null; });
    await page.click('#record');
    await page.waitForTimeout(1500);
    await page.click('#record');
    await page.waitForFunction(() => document.getElementById('source')?.textContent === 'recording', null, { timeout: 30_000 });
    assert.ok(Number(await text('duration')) > 0.8, `recorded ${await text('duration')} s`);
    await page.click('#encode');
    await settled();
    const s3 = await page.evaluate(() => /** @type {any} */ (window).codecDemo);
    assert.equal(s3.error, null, s3.error);
    assert.ok(s3.decoded.samples > 0.8 * s3.decoded.sampleRate);
    assert.deepEqual(errors, []);
    console.log(`page: ${blob.length} bytes (${kbps} kbps), Node: ${nodeBlob.length} bytes; ${times}`);
  } finally {
    await browser.close();
    await server.close();
  }
});
