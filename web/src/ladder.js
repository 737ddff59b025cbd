/**
 * The shipped bitrate ladder (`models/ladder.json` beside the model folders): a point per bitrate, found
 * by `bitrate` (the highest point at or below it) or by the model id a blob names. Low-latency points and
 * fixed-width points (coder 0, which take `bits`) form ladders of their own (codec-rt's `ladder.py`). A point
 * may name the mode it encodes in; a model may serve more than one point.
 */

import { CodecError, ModelError, ModelMismatchError } from './errors.js';
import { isRateLambda } from './rangecoder.js';

/**
 * @typedef {object} Point
 * @property {number} kbps
 * @property {string} dir the model's folder, relative to the ladder's
 * @property {string} modelId
 * @property {boolean} lowLatency
 * @property {boolean} fixedWidth
 * @property {'predicted' | 'store_phase' | 'low_band_phase' | 'tonal_band_phase'} mode how the point encodes unless asked otherwise
 *   (24 kbps: the 12 kbps model with the low band's phase in the blob)
 * @property {number} rateLambda its latent's rate-aware rounding (`rateAwareSymbols`; 0: plain rounding),
 *   which puts a point between two models' rates (10 kbps: the 12 kbps model)
 * @property {number | undefined} phaseBins mode low_band_phase: the low band's STFT bins (undefined: the
 *   model's default; 18 kbps: the 12 kbps model with 16 bins at 3 bits)
 * @property {number | undefined} phaseBits mode low_band_phase: their phase's bits (undefined: the model's default)
 * @property {boolean} tracks its steady partials as sinusoidal tracks (format 1.12; the low-latency point)
 */

/** A point's `tracks`: true or false, false where absent. @param {any} p */
function tracksOf(p) {
  const v = p.tracks ?? false;
  if (typeof v !== 'boolean') throw new Error(`tracks must be true or false: ${JSON.stringify(v)}`);
  return v;
}

/**
 * @typedef {object} Ladder
 * @property {number} defaultKbps
 * @property {Point[]} points lowest bitrate first
 * @property {Point[]} retired models earlier releases shipped: found by id, never picked by bitrate
 */

/** @param {string} json @returns {Ladder} */
export function parseLadder(json) {
  try {
    const d = JSON.parse(json);
    if (!Array.isArray(d?.points)) throw new Error('it has no "points" list');
    const point = (/** @type {any} */ p) => {
      // a folder below the ladder's: names of letters, digits, '_', '-' and '.', none starting with '.'
      if (typeof p.dir !== 'string' || !/^[A-Za-z0-9_-][A-Za-z0-9_.-]*(\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$/.test(p.dir)) {
        throw new Error(`bad dir ${p.dir}`);
      }
      const mode = p.mode ?? 'predicted';
      if (!['predicted', 'store_phase', 'low_band_phase', 'tonal_band_phase'].includes(mode)) throw new Error(`unknown mode ${mode}`);
      const banded = mode === 'low_band_phase' || mode === 'tonal_band_phase';
      const rateLambda = 'rate_lambda' in p ? p.rate_lambda : 0;
      if (!isRateLambda(rateLambda)) throw new Error(`bad rate_lambda ${rateLambda}`);
      const [phaseBins, phaseBits] = [['phase_bins', 0xffff], ['phase_bits', 16]].map(([k, top]) => {
        const v = p[k] ?? undefined;
        if (v !== undefined && (!banded || !Number.isInteger(v) || v < 1 || v > top)) {
          throw new Error(`${k} must be an integer in 1..${top}, and only at a point with a band: ${JSON.stringify(v)}`);
        }
        return v;
      });
      return {
        kbps: Number(p.kbps ?? 0), dir: p.dir, modelId: String(p.model_id), lowLatency: !!p.low_latency,
        fixedWidth: !!p.fixed_width, mode, rateLambda, phaseBins, phaseBits, tracks: tracksOf(p),
      };
    };
    const points = d.points.map(point);
    points.sort((/** @type {Point} */ a, /** @type {Point} */ b) => a.kbps - b.kbps);
    return { defaultKbps: Number(d.default_kbps), points, retired: (d.retired ?? []).map(point) };
  } catch (e) {
    throw new ModelError(`the ladder (ladder.json) is unreadable: ${e instanceof Error ? e.message : e}`);
  }
}

/**
 * The point for `bitrate` kbps (the highest at or below it; default the ladder's default point, or with
 * `lowLatency` or `fixedWidth` that ladder's highest point) on the ladder asked for.
 * @param {Ladder} ladder @param {number | undefined} bitrate @param {boolean} lowLatency
 * @param {boolean} [fixedWidth]
 */
export function selectPoint(ladder, bitrate, lowLatency, fixedWidth = false) {
  const pts = ladder.points.filter((p) => p.lowLatency === lowLatency && p.fixedWidth === fixedWidth);
  const kind = [...(lowLatency ? ['low-latency'] : []), ...(fixedWidth ? ['fixed-width'] : []), 'model'].join(' ');
  if (!pts.length) throw new CodecError(`this ladder has no ${kind}`);
  const target = bitrate ?? (lowLatency || fixedWidth ? pts[pts.length - 1].kbps : ladder.defaultKbps);
  const below = pts.filter((p) => p.kbps <= target);
  if (!below.length) {
    throw new CodecError(`no ${kind} at or below ${target} kbps; the ladder has ${pts.map((p) => p.kbps).join(', ')}`);
  }
  return below[below.length - 1];
}

/** The point of model `modelId`. @param {Ladder} ladder @param {string} modelId */
export function findPoint(ladder, modelId) {
  const p = [...ladder.points, ...ladder.retired].find((q) => q.modelId === modelId);
  if (!p) {
    throw new ModelMismatchError(`blob was encoded with model ${modelId}, which is not in this ladder `
      + `(${[...new Set(ladder.points.map((q) => q.modelId))].join(', ')}); pass its model folder`);  // each once
  }
  return p;
}
