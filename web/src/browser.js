/**
 * The library in a browser: onnxruntime-web (WebAssembly), models fetched from a URL. Import
 * onnxruntime-web's dist/ort.wasm.min.mjs as 'onnxruntime-web' (an import map) and set
 * `ort.env.wasm.wasmPaths` to its dist folder; `build.mjs` bundles this file with it left external.
 *
 *     import { ModelStore, decode, encode, webStore } from './codec-rt-web.js';
 *     const models = webStore('/runtime/codec_rt/models/');
 *     const blob = await encode(models, [samples], 48000, { bitrate: 6, framed: true });
 */

import * as ort from 'onnxruntime-web';
import { ModelStore } from './codec.js';

export * from './errors.js';
export { ModelStore, Model, decode, encode } from './codec.js';
export { readBlob, readHeader } from './container.js';
export { spectrogram } from './dsp.js';
export { readWav, writeWav } from './wav.js';

/**
 * The ladder (or one model) at URL `base`, on onnxruntime-web's WebAssembly back end.
 * @param {string} base @param {{threads?: number}} [opts]
 */
export function webStore(base, opts = {}) {
  ort.env.wasm.numThreads = opts.threads ?? 1;
  const root = new URL(base.endsWith('/') ? base : `${base}/`, globalThis.location?.href);
  return new ModelStore({
    ort: /** @type {any} */ (ort),
    source: root.href,
    sessionOptions: { executionProviders: ['wasm'] },
    read: async (name) => {
      const res = await fetch(new URL(name, root));
      if (!res.ok) throw new Error(`${res.status} ${res.statusText} for ${name}`);
      return new Uint8Array(await res.arrayBuffer());
    },
  });
}
