/**
 * The library in Node: onnxruntime-node (native, the default) or onnxruntime-web (WebAssembly), models read
 * from a folder (default: the shipped ladder, runtime/codec_rt/models) or a URL.
 *
 *     import { decode, encode } from 'codec-rt-web';
 *     const blob = await encode([samples], 16000, { bitrate: 6, framed: true });
 *     const { channels, sampleRate } = await decode(blob);
 */

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as codec from './codec.js';
import { CodecError, ModelError } from './errors.js';

export * from './errors.js';
export { Model, ModelStore } from './codec.js';
export { readBlob, readHeader } from './container.js';

/** The shipped ladder of the repository this package sits in. */
export const SHIPPED_MODELS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../runtime/codec_rt/models');

/**
 * @typedef {object} StoreOptions
 * @property {string} [models] a folder or an http(s) URL: the ladder (with ladder.json) or one model's folder
 * @property {'native' | 'wasm'} [backend] onnxruntime-node, or onnxruntime-web's WebAssembly
 * @property {number} [threads] intra-op threads (default: onnxruntime's)
 */

/**
 * A reader of the files under `base`, a folder or a URL.
 * @param {string} base
 * @returns {import('./codec.js').Reader}
 */
export function reader(base) {
  /** A file that cannot be read is a ModelError saying why, not a system error (the CLI's one line); the
   * caller names the file. */
  const failed = (/** @type {unknown} */ e) => {
    const code = /** @type {any} */ (e)?.code;
    return new ModelError(code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a folder'
      : e instanceof Error ? e.message : String(e));
  };
  if (/^https?:\/\//.test(base)) {
    const root = base.endsWith('/') ? base : `${base}/`;
    return async (name) => {
      let res;
      try {
        res = await fetch(new URL(name, root));
      } catch (e) {
        throw failed(/** @type {any} */ (e)?.cause ?? e);
      }
      if (!res.ok) throw failed(`${res.status} ${res.statusText}`);
      return new Uint8Array(await res.arrayBuffer());
    };
  }
  return async (name) => {
    try {
      return new Uint8Array(await readFile(path.join(base, name)));
    } catch (e) {
      throw failed(e);
    }
  };
}

/** @type {Map<string, codec.ModelStore>} */
const STORES = new Map();

/**
 * The models under `opts.models`, on the backend asked for (cached per folder and backend).
 * @param {StoreOptions} [opts]
 */
export async function store(opts = {}) {
  const models = opts.models ?? SHIPPED_MODELS;
  const backend = opts.backend ?? 'native';
  if (backend !== 'native' && backend !== 'wasm') throw new CodecError(`backend must be native or wasm, got ${JSON.stringify(backend)}`);
  const key = `${backend}:${opts.threads ?? ''}:${models}`;
  let s = STORES.get(key);
  if (!s) {
    /** @type {import('./model.js').Ort} */
    let ort;
    /** @type {Record<string, unknown>} */
    const sessionOptions = {};
    if (backend === 'wasm') {
      const web = await import('onnxruntime-web');
      web.env.wasm.numThreads = opts.threads ?? 1;
      ort = /** @type {any} */ (web);
      sessionOptions.executionProviders = ['wasm'];
    } else {
      ort = /** @type {any} */ (await import('onnxruntime-node'));
      sessionOptions.executionProviders = ['cpu'];
      if (opts.threads) Object.assign(sessionOptions, { intraOpNumThreads: opts.threads, interOpNumThreads: 1 });
    }
    s = new codec.ModelStore({ ort, read: reader(models), source: models, sessionOptions });
    STORES.set(key, s);
  }
  return s;
}

/**
 * One model's folder or URL -> the loaded model.
 * @param {string} dir @param {Omit<StoreOptions, 'models'>} [opts]
 */
export async function loadModel(dir, opts = {}) {
  return (await store({ ...opts, models: dir })).load('');
}

/**
 * blob bytes -> {channels, sampleRate, header, truncated}: the ladder's model that wrote it (or `opts.model`).
 * @param {Uint8Array} blob
 * @param {import('./decoder.js').DecodeOptions & StoreOptions & {model?: codec.Model}} [opts]
 */
export async function decode(blob, opts = {}) {
  codec.checkOptionTypes(opts);
  return codec.decode(opts.model ?? (await store(opts)), blob, opts);
}

/**
 * audio (a Float32Array per channel) at `sampleRate` Hz -> blob bytes.
 * @param {Float32Array[]} channels @param {number} sampleRate
 * @param {import('./encoder.js').EncodeOptions & StoreOptions & {bitrate?: number, lowLatency?: boolean, model?: codec.Model}} [opts]
 */
export async function encode(channels, sampleRate, opts = {}) {
  codec.checkOptionTypes(opts);
  return codec.encode(opts.model ?? (await store(opts)), channels, sampleRate, opts);
}
