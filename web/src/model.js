/**
 * A model (docs/FORMAT.md section 3): its two ONNX graphs as onnxruntime sessions, and their metadata read
 * from the ONNX protobuf (onnxruntime's JavaScript API cannot read `metadata_props`): the config, the model
 * id, the entropy tables and the postfilter contrast. Also the checks of a blob header against a model.
 */

import { ModelError, ModelMismatchError, FormatError } from './errors.js';
import { cdf24 } from './rangecoder.js';

export const DEFAULT_CONTRAST = 1.15;
const CONFIG_DEFAULTS = {
  sample_rate: 16000, n_fft: 512, hop: 128, channels: 8, hidden: 32, freq_downsamples: 3,
  time_downsamples: 2, default_bits: 8, coder: 0, causal: 0, phase_context: 0, phase_advance: 0, phase_floor: 0,
};

/**
 * @typedef {object} Config
 * @property {number} sampleRate
 * @property {number} nFft
 * @property {number} hop
 * @property {number} channels latent channels
 * @property {number} freqDownsamples
 * @property {number} timeDownsamples
 * @property {number} defaultBits
 * @property {number} coder
 * @property {number} causal
 * @property {number} phaseContext frames each side that a decoded frame's phase depends on (3.4)
 * @property {number} phaseAdvance 1: the decoder's phase output is each frame's phase advance (3.4)
 * @property {number} phaseFloor 1: the encoder reads a bin under MAG_FLOOR as phase 0 (3.4, 7.3)
 * @property {number} nBins
 * @property {number} timeStride
 * @property {number} latentBins
 */

/**
 * The parts of onnxruntime (node or web) that a model uses.
 * @typedef {object} Ort
 * @property {{create(model: Uint8Array, options?: object): Promise<any>}} InferenceSession
 * @property {new (type: 'float32', data: Float32Array, dims: number[]) => any} Tensor
 */

/**
 * Reads a model folder's files: a name -> its bytes.
 * @typedef {(name: string) => Promise<Uint8Array>} ReadFile
 */

/** @param {Uint8Array} buf @param {number} pos @returns {[number, number]} */
function varint(buf, pos) {
  let value = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) throw new ModelError('ONNX file ends inside a varint');
    const b = buf[pos++];
    value += (b & 0x7f) * mul;
    mul *= 128;
    if (!(b & 0x80)) return [value, pos];
  }
  throw new ModelError('ONNX file has a varint over 10 bytes');
}

/**
 * The fields of a protobuf message: [field number, wire type, value] (3.3), values of wire type 2 as bytes.
 * @param {Uint8Array} buf
 * @returns {Array<[number, number, number | Uint8Array]>}
 */
export function protoFields(buf) {
  /** @type {Array<[number, number, number | Uint8Array]>} */
  const out = [];
  let pos = 0;
  while (pos < buf.length) {
    let key;
    [key, pos] = varint(buf, pos);
    const num = Math.floor(key / 8);
    const wire = key % 8;
    /** @type {number | Uint8Array} */
    let value;
    if (wire === 0) [value, pos] = varint(buf, pos);
    else if (wire === 1 || wire === 5) {
      value = 0;
      pos += wire === 1 ? 8 : 4;
    } else if (wire === 2) {
      let n;
      [n, pos] = varint(buf, pos);
      if (pos + n > buf.length) throw new ModelError('ONNX file ends inside a field');
      value = buf.subarray(pos, pos + n);
      pos += n;
    } else throw new ModelError(`ONNX file has protobuf wire type ${wire}`);
    if (pos > buf.length) throw new ModelError('ONNX file ends inside a field');
    out.push([num, wire, value]);
  }
  return out;
}

/**
 * The `metadata_props` of an ONNX file (ModelProto field 14; key = field 1, value = field 2).
 * @param {Uint8Array} onnx
 * @returns {Map<string, string>}
 */
export function onnxMetadata(onnx) {
  const dec = new TextDecoder('utf-8', { fatal: false });
  const meta = new Map();
  for (const [num, wire, value] of protoFields(onnx)) {
    if (num !== 14 || wire !== 2 || !(value instanceof Uint8Array)) continue;
    let k = '';
    let v = '';
    for (const [n, w, x] of protoFields(value)) {
      if (w !== 2 || !(x instanceof Uint8Array)) continue;
      if (n === 1) k = dec.decode(x);
      else if (n === 2) v = dec.decode(x);
    }
    meta.set(k, v);
  }
  return meta;
}

/** @param {unknown} x @param {string} what */
function int(x, what) {
  if (typeof x !== 'number' || !Number.isInteger(x)) throw new ModelError(`bad model config: ${what} is not an integer`);
  return x;
}

/**
 * The model config (3.4) from its JSON: defaults filled in, unknown keys and bad values refused.
 * @param {string} json
 * @returns {Config}
 */
export function parseConfig(json) {
  let d;
  try {
    d = JSON.parse(json);
  } catch (e) {
    throw new ModelError(`model config is not JSON: ${e}`);
  }
  if (!d || typeof d !== 'object' || Array.isArray(d)) throw new ModelError('model config is not a JSON object');
  const unknown = Object.keys(d).filter((k) => !(k in CONFIG_DEFAULTS));
  if (unknown.length) throw new ModelError(`unknown model config keys: ${unknown.sort().join(', ')}`);
  /** @type {Record<string, number>} */
  const c = { ...CONFIG_DEFAULTS };
  for (const [k, v] of Object.entries(d)) c[k] = int(v, k);
  if (!(c.sample_rate >= 1000 && c.sample_rate <= 384000)) throw new ModelError(`sample_rate ${c.sample_rate} out of range`);
  if (c.n_fft < 16 || c.n_fft % 2 || !(c.hop > 0 && c.hop <= c.n_fft / 2)) {
    throw new ModelError(`bad STFT parameters n_fft=${c.n_fft} hop=${c.hop}`);
  }
  if (!(c.channels >= 1 && c.channels <= 256) || !(c.hidden >= 1 && c.hidden <= 1024)) throw new ModelError('channels/hidden out of range');
  if (!(c.freq_downsamples >= 1 && c.freq_downsamples <= 6) || !(c.time_downsamples >= 0 && c.time_downsamples <= c.freq_downsamples)) {
    throw new ModelError('bad downsample counts');
  }
  if (!(c.default_bits >= 1 && c.default_bits <= 16)) throw new ModelError('default_bits must be in 1..16');
  if (![0, 1, 2].includes(c.coder)) throw new ModelError(`unknown coder ${c.coder}`);
  if (![0, 1].includes(c.causal) || (c.causal && c.time_downsamples)) {
    throw new ModelError('causal must be 0 or 1, and a causal model cannot downsample time');
  }
  const stride = 2 ** c.time_downsamples;
  if (!(c.phase_context >= 0 && c.phase_context <= 64)) throw new ModelError('phase_context must be in 0..64');
  if (c.phase_context && (c.causal || (stride * c.hop) % c.n_fft)) {
    throw new ModelError('phase_context needs a non-causal model whose time stride times hop is a multiple of n_fft');
  }
  if (![0, 1].includes(c.phase_advance) || (c.phase_advance && !c.causal)) {
    throw new ModelError('phase_advance must be 0 or 1, and 1 needs a causal model');
  }
  if (![0, 1].includes(c.phase_floor)) throw new ModelError('phase_floor must be 0 or 1');
  // This runtime's FFT (fft.js) takes powers of two, and the phase refinement needs n_fft % hop == 0.
  if (c.n_fft & (c.n_fft - 1) || c.n_fft % c.hop) {
    throw new ModelError(`this runtime needs n_fft a power of two and a multiple of hop (n_fft=${c.n_fft} hop=${c.hop})`);
  }
  let latentBins = c.n_fft / 2 + 1;
  for (let i = 0; i < c.freq_downsamples; i++) latentBins = Math.ceil(latentBins / 2);
  return {
    sampleRate: c.sample_rate, nFft: c.n_fft, hop: c.hop, channels: c.channels, freqDownsamples: c.freq_downsamples,
    timeDownsamples: c.time_downsamples, defaultBits: c.default_bits, coder: c.coder, causal: c.causal,
    phaseContext: c.phase_context, phaseAdvance: c.phase_advance, phaseFloor: c.phase_floor, nBins: c.n_fft / 2 + 1,
    timeStride: 2 ** c.time_downsamples, latentBins,
  };
}

/**
 * The entropy tables (3.5) from their JSON, checked against the config, with their 24-bit cumulative counts.
 * @param {string} json @param {Config} cfg
 * @returns {import('./rangecoder.js').Tables}
 */
export function parseTables(json, cfg) {
  let d;
  try {
    d = JSON.parse(json);
  } catch (e) {
    throw new ModelError(`entropy tables are not JSON: ${e}`);
  }
  const bad = (/** @type {string} */ m) => new ModelError(`entropy tables: ${m}`);
  if (!d || typeof d !== 'object') throw bad('not a JSON object');
  const isInts = (/** @type {unknown} */ a) => Array.isArray(a) && a.every((x) => Number.isInteger(x));
  const { channels, bins, precision, offsets, freqs } = d;
  const context = d.context ?? 0;
  if (![channels, bins, precision, context].every(Number.isInteger)) throw bad('bad channels, bins, precision or context');
  if (!(channels >= 1 && channels <= 256 && bins >= 1 && bins <= 4096 && precision >= 8 && precision <= 24)) {
    throw bad('bad channels, bins or precision');
  }
  if (context !== 0 && context !== 1) throw bad(`unknown context ${context}`);
  if (channels !== cfg.channels || bins !== cfg.latentBins) throw bad('they do not match the latent shape');
  if (context !== cfg.coder - 1) throw bad(`they do not fit coder ${cfg.coder}`);
  const rows = channels * bins;
  const k = context ? 15 : 1;
  if (!isInts(offsets) || offsets.length !== rows || !Array.isArray(freqs) || freqs.length !== rows * k) {
    throw bad('wrong number of tables');
  }
  const centers = context ? d.centers : [];
  if (!isInts(centers) || centers.length !== (context ? rows : 0)) throw bad('wrong number of centers');
  const sizes = new Int32Array(rows);
  /** @type {Float64Array[]} */
  const cdfs = [];
  /** @type {Float64Array[]} */
  const bits = [];
  for (let i = 0; i < freqs.length; i++) {
    const q = /** @type {number[]} */ (freqs[i]);
    if (!isInts(q) || q.length < 2 || q.length > 4096 || Math.min(...q) < 1 || q.reduce((a, b) => a + b, 0) !== 2 ** precision) {
      throw bad('a table has under 2 or too many entries, a zero or a wrong sum');
    }
    const r = Math.floor(i / k);
    if (i % k === 0) sizes[r] = q.length;
    else if (q.length !== sizes[r]) throw bad('the tables of a row differ in size');
    cdfs.push(cdf24(q, precision));
    // on a grid of 2^-16, as codec-rt's: two log2s that differ in the last bit round alike (FORMAT.md 7.4)
    bits.push(Float64Array.from(q, (x) => Math.round((precision - Math.log2(x)) * 65536) / 65536));
  }
  for (let r = 0; r < (context ? rows : 0); r++) {
    if (!(centers[r] >= offsets[r] && centers[r] < offsets[r] + sizes[r])) throw bad("a center is outside its row's range");
  }
  return {
    channels, bins, offsets: Int32Array.from(offsets), sizes, centers: context ? Int32Array.from(centers) : null,
    contexts: k, cdfs, bits,
  };
}

/**
 * FORMAT.md 3.8: each file a model directory's SHA256SUMS lists against its SHA-256, where the directory has
 * one and this runtime can hash (WebCrypto: Node, and browsers in a secure context). Damaged weights keep
 * the model id and decode to other audio; a mismatch is a ModelError naming the file.
 * @param {(name: string) => Promise<Uint8Array>} read @param {Record<string, Uint8Array>} files @param {string} source
 */
async function checkSums(read, files, source) {
  /** @type {string} */
  let text;
  try {
    text = new TextDecoder().decode(await read('SHA256SUMS'));
  } catch {
    return; // none: a model exported before the sums were written
  }
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return;
  for (const graph of ['encoder.onnx', 'decoder.onnx']) { // a file cut short or emptied would check nothing
    if (!text.split('\n').some((l) => l.trim().replace(/^\S+\s+\*?/, '') === graph)) {
      throw new ModelError(`${source}/SHA256SUMS does not list ${graph}`);
    }
  }
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const m = /^([0-9a-fA-F]{64})\s+\*?([^/\\\s][^/\\]*)$/.exec(line.trim());
    if (!m) throw new ModelError(`${source}/SHA256SUMS: not a SHA256SUMS line: ${JSON.stringify(line)}`);
    const [, want, name] = m;
    const bytes = files[name.replace(/\.onnx$/, '')] ?? (await read(name));
    const digest = new Uint8Array(await subtle.digest('SHA-256', /** @type {Uint8Array<ArrayBuffer>} */ (bytes)));
    const got = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
    if (got !== want.toLowerCase()) {
      throw new ModelError(`${source}/${name} is damaged: its SHA-256 is ${got.slice(0, 16)}..., SHA256SUMS says ${want.slice(0, 16).toLowerCase()}...`);
    }
  }
}

/** Per onnxruntime (node or web): the last call queued. @type {WeakMap<object, Promise<unknown>>} */
const QUEUES = new WeakMap();

/**
 * `fn` once every call queued before it on `ort` has ended: onnxruntime-web's WebAssembly back end cannot
 * overlap runs or session creation, even of different sessions (two decodes under Promise.all failed inside
 * it with a TypeError), so each onnxruntime's calls go one after another.
 * @template T @param {object} ort @param {() => Promise<T>} fn @returns {Promise<T>}
 */
function serial(ort, fn) {
  const next = (QUEUES.get(ort) ?? Promise.resolve()).then(fn, fn);
  QUEUES.set(ort, next.catch(() => undefined));
  return next;
}

/** A loaded model: sessions, config, id, tables, contrast, default phase iterations and phase start. */
export class Model {
  /**
   * @param {object} p
   * @param {Ort} p.ort
   * @param {Config} p.config
   * @param {string} p.modelId
   * @param {number} p.contrast
   * @param {number | null} [p.phaseIters] the decoder's declared default phase iterations (3.6), null: by kind
   * @param {boolean} [p.energyMatch] Griffin-Lim's frames get their energy back (3.6, 6.5)
   * @param {number} [p.phaseStart] 1: a non-causal model's predicted phase starts from the phase-gradient
   *   start (3.6, 6.5); 0: from the graph's phase output
   * @param {import('./rangecoder.js').Tables | null} p.tables
   * @param {any} p.decoder an InferenceSession
   * @param {(() => Promise<any>)} p.loadEncoder the encoder's session, created on first use
   * @param {string} p.source where it was loaded from
   */
  constructor(p) {
    this.ort = p.ort;
    this.config = p.config;
    this.modelId = p.modelId;
    this.contrast = p.contrast;
    this.phaseIters = p.phaseIters ?? null;
    this.energyMatch = p.energyMatch ?? false;
    this.phaseStart = p.phaseStart ?? 0;
    this.tables = p.tables;
    this.decoderSession = p.decoder;
    this._loadEncoder = p.loadEncoder;
    /** @type {any} */
    this._encoder = null;
    this.source = p.source;
  }


  /**
   * Load the model folder that `read` reads: both graphs' metadata checked as 3.2 says; the decoder's
   * session at once, the encoder's on first use.
   * @param {Ort} ort @param {ReadFile} read @param {string} source @param {object} [sessionOptions]
   */
  static async load(ort, read, source, sessionOptions = {}) {
    /** @type {Record<string, Uint8Array>} */
    const files = {};
    /** @type {Record<string, Map<string, string>>} */
    const metas = {};
    for (const role of ['encoder', 'decoder']) {
      try {
        files[role] = await read(`${role}.onnx`);
      } catch (e) {
        throw new ModelError(`model ${source} has no readable ${role}.onnx: ${e instanceof Error ? e.message : e}`);
      }
      metas[role] = onnxMetadata(files[role]);
      if (metas[role].get('codec_rt.role') !== role) {
        throw new ModelError(`${source}/${role}.onnx is not a codec-rt ${role} graph (metadata codec_rt.role missing)`);
      }
    }
    await checkSums(read, files, source);
    const enc = metas.encoder;
    const dec = metas.decoder;
    for (const key of ['codec_rt.model_id', 'codec_rt.config', 'codec_rt.entropy']) {
      if (enc.get(key) !== dec.get(key)) throw new ModelError(`encoder and decoder in ${source} come from different models`);
    }
    const config = parseConfig(enc.get('codec_rt.config') ?? '');
    const modelId = enc.get('codec_rt.model_id') ?? '';
    if (!/^[0-9a-f]{16}$/.test(modelId)) throw new ModelError(`model ${source} has a bad codec_rt.model_id ${JSON.stringify(modelId)}`);
    let tables = null;
    if (config.coder !== 0) {
      const json = enc.get('codec_rt.entropy');
      if (json === undefined) throw new ModelError(`model in ${source} is range-coded but carries no entropy tables`);
      tables = parseTables(json, config);
    }
    let contrast = DEFAULT_CONTRAST;
    const cs = dec.get('codec_rt.contrast');
    if (cs !== undefined) {
      contrast = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(cs) ? Number(cs) : NaN;
      if (!(contrast >= 0.5 && contrast <= 2.0)) throw new ModelError(`decoder in ${source} has a bad codec_rt.contrast ${JSON.stringify(cs)}`);
    }
    /** @type {number | null} */
    let phaseIters = null;
    const pi = dec.get('codec_rt.phase_iters');
    if (pi !== undefined) {
      if (!/^[0-9]+$/.test(pi) || Number(pi) > 10000) throw new ModelError(`decoder in ${source} has a bad codec_rt.phase_iters ${JSON.stringify(pi)}`);
      phaseIters = Number(pi);
    }
    const em = dec.get('codec_rt.energy_match') ?? '0';
    if (em !== '0' && em !== '1') throw new ModelError(`decoder in ${source} has a bad codec_rt.energy_match ${JSON.stringify(em)}`);
    const ps = dec.get('codec_rt.phase_start') ?? '0';
    if (ps !== '0' && ps !== '1') throw new ModelError(`decoder in ${source} has a bad codec_rt.phase_start ${JSON.stringify(ps)}`);
    const create = async (/** @type {Uint8Array} */ bytes, /** @type {string} */ role) => {
      try {
        return await serial(ort, () => ort.InferenceSession.create(bytes, sessionOptions));
      } catch (e) {
        throw new ModelError(`cannot load ${source}/${role}.onnx: ${e instanceof Error ? e.message : e}`);
      }
    };
    const decoder = await create(files.decoder, 'decoder');
    const encBytes = files.encoder;
    return new Model({
      ort, config, modelId, contrast, phaseIters, energyMatch: em === '1', phaseStart: Number(ps), tables, decoder,
      loadEncoder: () => create(encBytes, 'encoder'), source,
    });
  }

  /**
   * The decoder graph: latent [B, C, F', T'] -> features [B, 2, n_bins, T' * time_stride].
   * @param {Float32Array} latent @param {number} batch @param {number} steps
   * @returns {Promise<Float32Array>}
   */
  async decode(latent, batch, steps) {
    const c = this.config;
    const s = this.decoderSession;
    const input = new this.ort.Tensor('float32', latent, [batch, c.channels, c.latentBins, steps]);
    const out = await serial(this.ort, () => s.run({ [s.inputNames[0]]: input }));
    return /** @type {Float32Array} */ (out[s.outputNames[0]].data);
  }

  /**
   * The encoder graph: features [B, 2, n_bins, T] -> latent [B, C, F', ceil(T / time_stride)].
   * @param {Float32Array} feats @param {number} batch @param {number} frames
   * @returns {Promise<Float32Array>}
   */
  async encode(feats, batch, frames) {
    if (!this._encoder) { // one session, however many encodes start at once; a failed load is tried again
      this._encoder = this._loadEncoder();
      this._encoder.catch(() => { this._encoder = null; });
    }
    const s = await this._encoder;
    const input = new this.ort.Tensor('float32', feats, [batch, 2, this.config.nBins, frames]);
    const out = await serial(this.ort, () => s.run({ [s.inputNames[0]]: input }));
    return /** @type {Float32Array} */ (out[s.outputNames[0]].data);
  }

  /**
   * 4.2's checks of a header against this model, and 4.6's lengths (skipped for a framed header whose
   * lengths are not known: a cut stream).
   * @param {import('./container.js').Header} h
   */
  checkCompatible(h) {
    const c = this.config;
    if (h.modelId !== this.modelId) {
      throw new ModelMismatchError(`blob was encoded with model ${h.modelId}, but the loaded model is ${this.modelId}`);
    }
    if (h.coder !== c.coder) throw new FormatError(`blob uses coder ${h.coder}, the model coder ${c.coder}`);
    const shape = [h.latentChannels, h.latentBins, h.nBins];
    const want = [c.channels, c.latentBins, c.nBins];
    if (shape.some((x, i) => x !== want[i])) throw new FormatError(`blob geometry (${shape}) does not match the model (${want})`);
    if (h.layout === 1 && h.timeStride !== c.timeStride) {
      throw new FormatError(`blob's time stride ${h.timeStride} is not the model's ${c.timeStride}`);
    }
    if (h.gainSmoothing && c.causal) {
      throw new FormatError("blob's gain_smoothing needs a non-causal model (a causal decoder cannot look ahead)");
    }
    if (h.layout === 1 && h.nFrames === 0) return;
    const frames = Math.floor(codedLength(h, c.sampleRate) / c.hop) + 1;
    const steps = Math.ceil(frames / c.timeStride);
    if (h.nFrames !== frames || h.latentSteps !== steps) {
      throw new FormatError(`blob geometry (${h.nFrames} frames, ${h.latentSteps} steps) does not match the model `
        + `and sample count (${frames}, ${steps})`);
    }
  }
}

/**
 * 4.6's coded_len: the coded signal's model-rate samples, the lead-in (`preSkip`), the audio's, then the
 * lead-out (`postSkip`).
 * @param {import('./container.js').Header} h @param {number} modelRate
 */
export function codedLength(h, modelRate) {
  return h.preSkip + modelLength(h.numSamples, h.sampleRate, modelRate) + (h.postSkip ?? 0);
}

/**
 * Samples at `modelRate` for `n` samples at `rate`, rounded up (4.6), exactly.
 * @param {number} n @param {number} rate @param {number} modelRate
 */
export function modelLength(n, rate, modelRate) {
  return Number((BigInt(n) * BigInt(modelRate) + BigInt(rate) - 1n) / BigInt(rate));
}
