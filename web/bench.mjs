/**
 * Decode speed of the JavaScript runtime beside the Python one, in one run, one thread each: every shipped
 * point's blob of the test speech (3.56 s, 16 kHz, framed; from the reference folder) decoded with the
 * default settings (refinement on) and with refinement off, by codec-rt (Python), Node with onnxruntime-node
 * (native) and Node with onnxruntime-web (WebAssembly). Median of 3 runs after a warm-up.
 *
 *     node bench.mjs [--json OUT.json]      (after python scripts/make_web_reference.py)
 */

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decode, loadModel } from './src/node.js';
import { REF, REPO, bytes, manifest } from './test/helpers.js';

const RUNS = 3;
const M = manifest();
const cases = M.cases.filter((/** @type {any} */ c) => /_speech16_framed_predicted$/.test(c.name));

/** @param {number[]} xs */
const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** @param {() => Promise<unknown>} fn */
async function time(fn) {
  await fn();
  const t = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await fn();
    t.push(performance.now() - t0);
  }
  return median(t);
}

const PY = `
import json, sys, time
from codec_rt import Codec
out = {}
for name, model, blob in json.loads(sys.argv[1]):
    codec = Codec.load(model, threads=1)
    data = open(blob, "rb").read()
    for key, iters in (("on", None), ("off", 0)):
        codec.decode(data, phase_iters=iters)
        t = []
        for _ in range(${RUNS}):
            t0 = time.perf_counter(); codec.decode(data, phase_iters=iters); t.append(1000 * (time.perf_counter() - t0))
        out[name + ":" + key] = sorted(t)[len(t) // 2]
print(json.dumps(out))
`;

const jobs = cases.map((/** @type {any} */ c) => [c.name, path.join(REPO, c.model), path.join(REF, c.blob)]);
const env = { ...process.env, PYTHONPATH: [M.pythonpath, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter) };
const py = spawnSync(M.python, ['-c', PY, JSON.stringify(jobs)], { env, encoding: 'utf8' });
if (py.status !== 0) throw new Error(py.stderr);
const python = JSON.parse(py.stdout);
const rows = [];
for (const c of cases) {
  const data = bytes(c.blob);
  const seconds = c.samples / c.sample_rate;
  /** @type {Record<string, number>} */
  const row = { seconds };
  for (const backend of /** @type {const} */ (['native', 'wasm'])) {
    const model = await loadModel(path.join(REPO, c.model), { backend, threads: 1 });
    row[`${backend}:on`] = await time(() => decode(data, { model }));
    row[`${backend}:off`] = await time(() => decode(data, { model, phaseIters: 0 }));
  }
  row['python:on'] = python[`${c.name}:on`];
  row['python:off'] = python[`${c.name}:off`];
  rows.push({ point: String(c.point), row });
}
const f = (/** @type {number} */ x) => x.toFixed(0);
console.log(`${os.cpus()[0].model}, ${os.cpus().length} cores, Node ${process.version}; ms to decode, one thread, median of ${RUNS}`);
console.log('| point | audio (s) | Python | Node native | Node wasm | Python, refinement off | native, off | wasm, off |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
for (const { point, row: r } of rows) {
  console.log(`| ${point} | ${r.seconds.toFixed(2)} | ${f(r['python:on'])} | ${f(r['native:on'])} | ${f(r['wasm:on'])} | `
    + `${f(r['python:off'])} | ${f(r['native:off'])} | ${f(r['wasm:off'])} |`);
}
const i = process.argv.indexOf('--json');
if (i > 0) writeFileSync(process.argv[i + 1], JSON.stringify({ node: process.version, cpu: os.cpus()[0].model, rows }, null, 1));
