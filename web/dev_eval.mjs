/**
 * The JavaScript side of scripts/web_dev_eval.py: decode and encode a batch of files in one process.
 *
 *     node dev_eval.mjs JOBS.json        JOBS: {decodes: [{blob, model, phaseIters, out}],
 *                                              encodes: [{input, channels, samples, rate, model, framed, jointStereo, out}]}
 * Decoded audio is written as raw float32 [channels, samples]; prints {decodeMs, encodeMs} as JSON.
 */

import { readFileSync, writeFileSync } from 'node:fs';
import { decode, encode, loadModel } from './src/node.js';

const jobs = JSON.parse(readFileSync(process.argv[2], 'utf8'));
let decodeMs = 0;
let encodeMs = 0;
for (const j of jobs.decodes) {
  const model = await loadModel(j.model);
  const t = performance.now();
  const out = await decode(new Uint8Array(readFileSync(j.blob)), { model, phaseIters: j.phaseIters ?? undefined });
  decodeMs += performance.now() - t;
  const n = out.channels[0].length;
  const y = new Float32Array(out.channels.length * n);
  out.channels.forEach((c, i) => y.set(c, i * n));
  writeFileSync(j.out, y);
}
for (const j of jobs.encodes) {
  const model = await loadModel(j.model);
  const b = readFileSync(j.input);
  const x = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  const channels = Array.from({ length: j.channels }, (_, i) => x.slice(i * j.samples, (i + 1) * j.samples));
  const t = performance.now();
  const blob = await encode(channels, j.rate, { model, framed: j.framed, jointStereo: j.jointStereo });
  encodeMs += performance.now() - t;
  writeFileSync(j.out, blob);
}
console.log(JSON.stringify({ decodeMs, encodeMs }));
