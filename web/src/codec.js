/**
 * The library's core, independent of the onnxruntime flavour: a `ModelStore` (a ladder of models read from
 * a folder or a URL, loaded on first use) and `decode` / `encode` over it. `node.js` and `browser.js` bind
 * it to onnxruntime-node or onnxruntime-web and to a way of reading files.
 */

import { readHeader } from './container.js';
import { decodeBlob } from './decoder.js';
import { encodeAudio } from './encoder.js';
import { findPoint, parseLadder, selectPoint } from './ladder.js';
import { CodecError, ModelError } from './errors.js';
import { Model } from './model.js';

/**
 * Reads a file of the models' folder: a relative path ("rd12k/decoder.onnx") -> its bytes.
 * @typedef {(path: string) => Promise<Uint8Array>} Reader
 */

export class ModelStore {
  /**
   * @param {object} p
   * @param {import('./model.js').Ort} p.ort onnxruntime (node or web)
   * @param {Reader} p.read the models' folder (with ladder.json) or one model's folder
   * @param {string} p.source where, for messages
   * @param {object} [p.sessionOptions] onnxruntime session options
   */
  constructor(p) {
    this.ort = p.ort;
    this.read = p.read;
    this.source = p.source;
    this.sessionOptions = p.sessionOptions ?? {};
    /** @type {Map<string, Promise<Model>>} */
    this.models = new Map();
    /** @type {Promise<import('./ladder.js').Ladder> | null} */
    this._ladder = null;
  }

  /** The ladder (ladder.json). */
  ladder() {
    if (!this._ladder) {
      this._ladder = this.read('ladder.json').then((b) => parseLadder(new TextDecoder().decode(b)), (e) => {
        throw new ModelError(`no ladder at ${this.source} (ladder.json: ${e instanceof Error ? e.message : e})`);
      });
    }
    return this._ladder;
  }

  /** The model in sub-folder `dir` ('' : the store's folder itself is one model). @param {string} dir */
  load(dir) {
    let m = this.models.get(dir);
    if (!m) {
      const prefix = dir ? `${dir}/` : '';
      m = Model.load(this.ort, (name) => this.read(prefix + name), `${this.source}${dir ? `/${dir}` : ''}`, this.sessionOptions);
      this.models.set(dir, m);
      m.catch(() => this.models.delete(dir));
    }
    return m;
  }

  /**
   * The ladder's model for `bitrate` kbps (see `selectPoint`).
   * @param {number} [bitrate] @param {boolean} [lowLatency] @param {boolean} [fixedWidth]
   */
  async select(bitrate, lowLatency = false, fixedWidth = false) {
    return this.load(selectPoint(await this.ladder(), bitrate, lowLatency, fixedWidth).dir);
  }

  /** The ladder's model that wrote blob `data` (FormatError for a bad header, ModelMismatchError if none). @param {Uint8Array} data */
  async forBlob(data) {
    const { header } = readHeader(data);
    return this.load(findPoint(await this.ladder(), header.modelId).dir);
  }
}

/** Each option's type where it is given (null and undefined: the default; rateLambda has its own check): a
 * string 'no' for a flag counted as true and '1.2' for a number passed unchecked; codec-rt's API refuses both. */
const OPTION_TYPES = {
  boolean: ['lowLatency', 'framed', 'jointStereo', 'levelMatch', 'highpass', 'strict', 'tracks'],
  number: ['phaseIters', 'contrast', 'phaseStart', 'bits', 'phaseBits', 'phaseBins', 'packetSteps',
    'bitrate', 'threads'],
  function: ['onWarning'],
};

/** CodecError for an option of the wrong type. @param {object} opts */
export function checkOptionTypes(opts) {
  if (opts === null || typeof opts !== 'object') throw new CodecError(`options must be an object, got ${opts === null ? 'null' : typeof opts}`);
  for (const [type, names] of Object.entries(OPTION_TYPES)) {
    for (const name of names) {
      const v = /** @type {any} */ (opts)[name];
      if (v != null && typeof v !== type) throw new CodecError(`${name} must be a ${type}, got ${JSON.stringify(v)}`);
    }
  }
}

/**
 * blob bytes -> {channels, sampleRate}: exactly the encoded channel count, rate and length.
 * @param {ModelStore | Model} models the ladder (the blob's model is found by its id), or a model
 * @param {Uint8Array} blob
 * @param {import('./decoder.js').DecodeOptions} [opts]
 */
export async function decode(models, blob, opts = {}) {
  checkOptionTypes(opts);
  // a string, null or an ArrayBuffer failed inside with a TypeError, and an Int8Array read as another model's
  if (!(blob instanceof Uint8Array)) {
    const got = /** @type {unknown} */ (blob);
    throw new CodecError(`blob must be a Uint8Array (or a Node Buffer), got ${got === null ? 'null' : /** @type {any} */ (got)?.constructor?.name ?? typeof got}`);
  }
  const model = models instanceof Model ? models : await models.forBlob(blob);
  return decodeBlob(model, blob, opts);
}

/**
 * audio (one Float32Array per channel, samples in [-1, 1]) at `sampleRate` Hz -> blob bytes.
 * @param {ModelStore | Model} models the ladder (a point picked by `opts.bitrate` / `opts.lowLatency`; `opts.bits`
 *   picks a fixed-width point; it encodes in the point's mode and rate-aware rounding unless `opts.mode`,
 *   `opts.rateLambda`, and in the point's own mode with its band unless `opts.phaseBins`,
 *   `opts.phaseBits`), or a model
 * @param {Float32Array[]} channels @param {number} sampleRate
 * @param {import('./encoder.js').EncodeOptions & {bitrate?: number, lowLatency?: boolean}} [opts]
 */
export async function encode(models, channels, sampleRate, opts = {}) {
  checkOptionTypes(opts);
  if (models instanceof Model) return encodeAudio(models, channels, sampleRate, opts);
  const point = selectPoint(await models.ladder(), opts.bitrate, !!opts.lowLatency, opts.bits != null);
  const mode = opts.mode ?? point.mode;
  // the point's band, in the point's own mode only
  const low = mode === point.mode ? { phaseBins: point.phaseBins, phaseBits: point.phaseBits } : {};
  return encodeAudio(await models.load(point.dir), channels, sampleRate, {
    ...opts, mode, rateLambda: opts.rateLambda ?? point.rateLambda, tracks: opts.tracks ?? point.tracks,
    phaseBins: opts.phaseBins ?? low.phaseBins, phaseBits: opts.phaseBits ?? low.phaseBits,
  });
}

export { Model };
