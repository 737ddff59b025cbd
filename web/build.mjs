/**
 * Bundle the browser library (src/browser.js, with fft.js, libsamplerate-js and wavefile) into one ES module,
 * dist/codec-rt-web.js; onnxruntime-web stays outside it (a page maps 'onnxruntime-web' to its dist/ort.wasm.min.mjs).
 */

import { build } from 'esbuild';

await build({
  entryPoints: ['src/browser.js'],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  outfile: 'dist/codec-rt-web.js',
  external: ['onnxruntime-web'],
  logLevel: 'warning',
  // src/wav.js reads wavefile's CommonJS `default` in Node only
  logOverride: { 'import-is-undefined': 'silent' },
});
